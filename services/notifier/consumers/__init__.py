"""The notifier's Kafka handlers: every domain event topic, handled by `notify`."""
