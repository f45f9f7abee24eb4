#!/bin/sh
# Run by the `topics` service of deploy/compose.yaml (apache/kafka image): creates every topic
# of schemas/topics.py with its partitions, its dead-letter topic (<topic>.dlq, one partition,
# as `overgang stack up` makes them) and the outbox relays' progress topic. Topics that exist
# are left alone. tests/unit/test_deployment_files.py checks the list against schemas/topics.py.
set -eu

create() {
    /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
        --topic "$1" --partitions "$2" --replication-factor 1
}

create overgang.person.v1 12
create overgang.person.v1.dlq 1
create overgang.directory.v1 3
create overgang.directory.v1.dlq 1
create overgang.deadline.v1 6
create overgang.deadline.v1.dlq 1
create overgang.notification.v1 3
create overgang.notification.v1.dlq 1
create overgang.access.v1 3
create overgang.access.v1.dlq 1
create overgang.audit.v1 1
create overgang.audit.v1.dlq 1
create overgang.inbound.school.v1 3
create overgang.inbound.school.v1.dlq 1
create overgang.outbox-progress 1
