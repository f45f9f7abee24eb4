"""Plumbing shared by every service: settings, database pool, Kafka broker, health, errors.
Services import from here; nothing here imports a service."""
