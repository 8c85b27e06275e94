"""Running the HTTP service with uvicorn (what ``aedetect serve`` calls)."""

from __future__ import annotations

import sys
from types import FrameType

import uvicorn
from fastapi import FastAPI

from aedetect.app import create_app
from aedetect.config import get_settings

GRACEFUL_SHUTDOWN_S = 10
"""How long requests in progress may still run after a stop signal."""

SWITCH_INTERVAL_S = 0.001
"""How long a thread running Python code (a training, a large scoring) keeps the interpreter lock
when another wants it; Python's default is 5 ms, which a request on the event loop pays at every
step while such a thread runs."""


class _Server(uvicorn.Server):
    """uvicorn's server, which on a stop signal also stops running trainings before their next batch,
    so requests waiting for them are answered (with the interruption) instead of holding the
    shutdown for the rest of the training."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        container = getattr(self._app.state, "container", None)
        if container is not None:
            container.trainer.stop()
            container.runner.stop()  # the trainings in job processes
        super().handle_exit(sig, frame)


def run_server(host: str | None = None, port: int | None = None) -> None:
    """Serve the API until interrupted; ``host``/``port`` override ``AEDETECT_HOST``/``AEDETECT_PORT``."""
    settings = get_settings()
    if host is not None or port is not None:
        settings = settings.model_copy(
            update={"host": host or settings.host, "port": port if port is not None else settings.port}
        )
    app = create_app(settings)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    _Server(config, app).run()
