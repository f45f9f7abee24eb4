"""The notifier's verbs: each a transaction around the domain and the store."""
