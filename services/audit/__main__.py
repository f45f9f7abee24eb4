"""`python -m services.audit` runs the audit service."""

from services.audit.app import AuditSettings, create_app
from services.plumbing.service import serve

settings = AuditSettings()
serve(create_app(settings), settings)
