"""`python -m services.web` runs the web front."""

import uvicorn

from services.web.app import create_app
from services.web.settings import WebSettings

settings = WebSettings()
uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
