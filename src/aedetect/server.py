"""Running the HTTP service with uvicorn (what ``aedetect serve`` calls).

Before anything is built, :func:`run_server` claims the data directory (one embedded server per
directory, :mod:`aedetect.api.instance`) and binds the port, so a second start is refused before
its start-up housekeeping could fail the first server's jobs. The connections are bounded
(:mod:`aedetect.api.connections`): a request head must arrive within ``AEDETECT_HEADER_TIMEOUT_S``,
idle connections beyond ``AEDETECT_MAX_CONNECTIONS`` are closed oldest first, and requests beyond
``AEDETECT_MAX_REQUESTS`` in progress are answered 503 at once.
"""

from __future__ import annotations

import logging
import sys
from types import FrameType

import uvicorn
from fastapi import FastAPI

from aedetect.api.connections import (
    ACCEPT_BACKLOG,
    ConnectionLimits,
    RepeatFilter,
    bounded_protocol,
    connection_budget,
    raise_open_file_limit,
)
from aedetect.api.instance import bind_port, claim_data_dir
from aedetect.api.middleware import RequestLimitMiddleware
from aedetect.api.security import AccessLogMask
from aedetect.app import create_app
from aedetect.config import Settings, get_settings

logger = logging.getLogger(__name__)

GRACEFUL_SHUTDOWN_S = 10
"""How long requests in progress may still run after a stop signal."""

SWITCH_INTERVAL_S = 0.001
"""How long a thread running Python code (a training, a large scoring) keeps the interpreter lock
when another wants it; Python's default is 5 ms, which a request on the event loop pays at every
step while such a thread runs."""

LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "asyncio")
"""Loggers whose handlers get the repeat filter (and the access log the key mask)."""


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


def _install_log_filters() -> None:
    """Rate-limit repeated failures in every log the server writes, and mask keys in URLs."""
    repeats = RepeatFilter()
    for name in LOGGERS:
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(repeats)
            if name == "uvicorn.access":
                handler.addFilter(AccessLogMask())


def _connection_limits(settings: Settings) -> ConnectionLimits:
    """The connection bounds from the settings, the cap lowered to what the open-file limit allows."""
    soft, hard = raise_open_file_limit()
    max_connections, warning = connection_budget(settings.max_connections, soft)
    if warning:
        logger.warning("%s (hard limit %d)", warning, hard)
    return ConnectionLimits(
        header_timeout_s=settings.header_timeout_s,
        keep_alive_s=settings.keep_alive_s,
        max_connections=max_connections,
    )


def run_server(host: str | None = None, port: int | None = None) -> None:
    """Serve the API until interrupted; ``host``/``port`` override ``AEDETECT_HOST``/``AEDETECT_PORT``."""
    settings = get_settings()
    if host is not None or port is not None:
        settings = settings.model_copy(
            update={"host": host or settings.host, "port": port if port is not None else settings.port}
        )
    lock = claim_data_dir(settings.data_dir, settings.port) if settings.job_runner == "embedded" else None
    sock = bind_port(settings.host, settings.port, ACCEPT_BACKLOG)
    app = create_app(settings)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s:%(name)s: %(message)s")
    config = uvicorn.Config(
        RequestLimitMiddleware(app, settings.max_requests),
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        timeout_keep_alive=max(1, round(settings.keep_alive_s)),
        backlog=ACCEPT_BACKLOG,
        http=bounded_protocol(_connection_limits(settings)),
    )
    _install_log_filters()
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    logging.getLogger("uvicorn.error").info("aedetect: serving on http://%s:%d", shown, settings.port)
    try:
        _Server(config, app).run(sockets=[sock])
    finally:
        sock.close()
        if lock is not None:
            lock.close()
