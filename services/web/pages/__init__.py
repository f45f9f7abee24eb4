"""The pages: sign-in and sign-out, the worklist and a referral with its actions."""
