"""The notifier's tables, in explicit SQL, returning domain objects."""
