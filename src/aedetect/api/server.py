"""Running the HTTP service with uvicorn (what ``aedetect serve`` calls)."""

from __future__ import annotations

import uvicorn

from aedetect.api.app import create_app
from aedetect.config import get_settings


def run_server(host: str | None = None, port: int | None = None) -> None:
    """Serve the API until interrupted; ``host``/``port`` override ``AEDETECT_HOST``/``AEDETECT_PORT``."""
    settings = get_settings()
    if host is not None or port is not None:
        settings = settings.model_copy(
            update={"host": host or settings.host, "port": port if port is not None else settings.port}
        )
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
