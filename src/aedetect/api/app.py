"""The FastAPI application factory: services built at start-up (lifespan), error handling, the
native ``/api/v2`` routes, the v1 routes and a health check. OpenAPI docs are served at ``/docs``
and ``/redoc`` from installed assets (they work offline)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from aedetect import __version__
from aedetect.api.docs import install_docs
from aedetect.api.errors import install_error_handlers
from aedetect.api.v1 import v1_router
from aedetect.api.v2 import v2_router
from aedetect.bootstrap import build_services
from aedetect.config import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new application for ``settings`` (default: from the environment)."""
    chosen = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = await run_in_threadpool(build_services, chosen)
        app.state.container = container
        try:
            yield
        finally:
            await run_in_threadpool(container.close)

    app = FastAPI(
        title="aedetect",
        version=__version__,
        description="Anomaly detection in tabular CSV data with autoencoders. The native API under "
        "/api/v2 speaks plain JSON: datasets, models, asynchronous training jobs, versions and aliases, "
        "thresholds, scoring with reasons, evaluation beside an IsolationForest baseline; errors are "
        "RFC 9457 problem details. The v1 routes keep TensorMSA client scripts working (responses are "
        "JSON encoded twice, as those clients expect).",
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    install_docs(app)
    app.include_router(v2_router())
    app.include_router(v1_router())

    @app.get("/healthz", tags=["health"], summary="Liveness: the service is up and its services are built")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
