"""One service, started as in production but reading topics of a benchmark run's own
(`python -m bench.restart audit|referral PREFIX`, settings from the environment as
`python -m services.<name>` takes them): bench/scale.py times how long it takes a service,
started cold on a run's data, to be ready. The topics carry the run's prefix, so its consumers
(and their groups, named by topic) never read or commit on the real ones."""

import sys

from schemas.topics import DEADLINE, INBOUND_SCHOOL
from services.audit.app import AuditSettings
from services.audit.app import create_app as create_audit
from services.audit.consumers import AuditTopics
from services.plumbing.service import serve
from services.referral.app import ReferralSettings
from services.referral.app import create_app as create_referral
from services.referral.consumers import ConsumedTopics


def main(argv: list[str]) -> None:
    service, prefix = argv
    if service == "audit":
        audit = AuditSettings()
        defaults = AuditTopics()
        topics = AuditTopics(
            domain=tuple(prefix + topic for topic in defaults.domain),
            inbound=tuple(prefix + topic for topic in defaults.inbound),
            deadlines=prefix + defaults.deadlines,
        )
        serve(create_audit(audit, topics=topics), audit)
    elif service == "referral":
        referral = ReferralSettings()
        consumed = ConsumedTopics(
            inbound_school=prefix + INBOUND_SCHOOL.name, deadline=prefix + DEADLINE.name
        )
        serve(create_referral(referral, consumed_topics=consumed), referral)
    else:
        raise SystemExit(f"no service {service!r}: audit or referral")


if __name__ == "__main__":
    main(sys.argv[1:])
