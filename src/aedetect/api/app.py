"""The HTTP API as a FastAPI application: services built at start-up (lifespan), the middleware
that applies to every route (request ids, access control, body limits), error handling, the native
``/api/v2`` routes, the v1 routes, the access routes and a health check. OpenAPI docs are served at
``/docs`` and ``/redoc`` from installed assets (they work offline). The dashboard is added on top
by :mod:`aedetect.app`, which composes the two."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from aedetect import __version__
from aedetect.api import access
from aedetect.api.docs import install_docs
from aedetect.api.errors import install_error_handlers
from aedetect.api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from aedetect.api.openapi import install_openapi
from aedetect.api.security import LOGIN_PATH, AccessMiddleware
from aedetect.api.streaming import ScoringPool
from aedetect.api.v1 import v1_router
from aedetect.api.v2 import v2_router
from aedetect.bootstrap import build_services
from aedetect.config import Settings, get_settings, is_loopback
from aedetect.errors import InvalidInput


def check_access_settings(settings: Settings) -> None:
    """Refuse to serve without keys anywhere but on loopback."""
    if not settings.auth and not is_loopback(settings.host):
        raise InvalidInput(
            f"AEDETECT_AUTH=false is allowed only when the server binds to loopback (127.0.0.1, ::1, "
            f"localhost), not {settings.host}: anyone who reaches the port could change everything",
            field="auth",
        )


def first_key_banner(secret: str, settings: Settings) -> str:
    """What the first start prints: the admin key and how to use it (shown this once)."""
    host = settings.host if is_loopback(settings.host) else "<this host>"
    base = f"http://{host}:{settings.port}"
    return (
        "\n"
        "aedetect: first start - an admin API key was made (shown only now, stored only as a hash):\n"
        f"    {secret}\n"
        "  scripts: send 'Authorization: Bearer <key>'; "
        f'old v1 scripts: url = "key:<key>@{host}:{settings.port}"\n'
        f"  browser: {base}{LOGIN_PATH}?key={secret}\n"
        "  more keys: aedetect keys create --role reader|writer|admin\n"
    )


def create_api(settings: Settings | None = None) -> FastAPI:
    """A new API application for ``settings`` (default: from the environment), without the
    dashboard (:func:`aedetect.app.create_app` adds it)."""
    chosen = settings or get_settings()
    check_access_settings(chosen)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = await run_in_threadpool(build_services, chosen)
        app.state.container = container
        app.state.scoring_pool = ScoringPool(chosen.scoring_threads)
        if chosen.auth:
            secret = await run_in_threadpool(container.access.ensure_first_key)
            if secret is not None:
                print(first_key_banner(secret, chosen), file=sys.stderr, flush=True)
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
        "JSON encoded twice, as those clients expect). Every route but /healthz, the docs and "
        "/auth/login needs an API key (Bearer, or HTTP Basic with the key as password) unless the "
        "server runs with AEDETECT_AUTH=false on loopback.",
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    # added innermost first: a request meets the request id, then access control, then the body limit
    app.add_middleware(
        BodyLimitMiddleware,
        upload_limit=chosen.max_upload_bytes,
        json_limit=chosen.max_json_bytes,
        json_depth=chosen.max_json_depth,
        body_timeout_s=chosen.body_timeout_s,
    )
    app.add_middleware(AccessMiddleware, settings=chosen)
    app.add_middleware(RequestIdMiddleware)
    install_docs(app)
    app.include_router(v2_router())
    app.include_router(v1_router())
    app.include_router(access.router)
    install_openapi(app)

    @app.get("/healthz", tags=["health"], summary="Liveness: the service is up and its services are built")
    async def healthz() -> dict[str, str]:  # on the event loop: answers whatever the threads do
        return {"status": "ok", "version": __version__}

    return app
