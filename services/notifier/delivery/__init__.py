"""Sending: webhooks over HTTP with Standard Webhooks signatures, and the worker that makes
the attempts of due deliveries."""
