"""Overgang notifier service: signed webhooks, e-mail and an in-app inbox per organisation."""
