"""`python -m services.notifier` runs the notifier service."""

from services.notifier.app import NotifierSettings, create_app
from services.plumbing.service import serve

settings = NotifierSettings()
serve(create_app(settings), settings)
