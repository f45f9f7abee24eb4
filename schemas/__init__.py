"""The event contract: the CloudEvents envelope and a versioned model per event type."""
