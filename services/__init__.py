"""The Overgang services and the one plumbing package they share."""
