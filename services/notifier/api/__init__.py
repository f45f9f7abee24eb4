"""The notifier's HTTP API: subscriptions and deliveries."""
