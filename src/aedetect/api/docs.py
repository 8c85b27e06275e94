"""Interactive API documentation that works offline: Swagger UI at ``/docs`` and ReDoc at
``/redoc``, their scripts and styles served from an installed package (``fastapi-offline``
ships them), never from a CDN; plants are often air-gapped."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSET_ROUTE = "/docs-assets"


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` and their assets (the app must be built with ``docs_url=None``
    and ``redoc_url=None``)."""
    app.mount(ASSET_ROUTE, StaticFiles(directory=ASSETS), name="docs-assets")
    schema = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=schema,
            title=f"{app.title} - API documentation",
            swagger_js_url=f"{ASSET_ROUTE}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSET_ROUTE}/swagger-ui.css",
            swagger_favicon_url=f"{ASSET_ROUTE}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=schema,
            title=f"{app.title} - API reference",
            redoc_js_url=f"{ASSET_ROUTE}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSET_ROUTE}/favicon.png",
            with_google_fonts=False,
        )
