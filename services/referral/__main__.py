"""`python -m services.referral` runs the referral service."""

from services.plumbing.service import serve
from services.referral.app import ReferralSettings, create_app

settings = ReferralSettings()
serve(create_app(settings), settings)
