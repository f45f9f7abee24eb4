"""The notifier's rules: who is told of an event, which targets may be called, how deliveries
are retried. No I/O, no clock: times, randomness and ids are passed in."""
