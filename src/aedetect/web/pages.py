"""Routes of the dashboard's pages. A handler checks what the page is about (the model, the
version) through the services, so a wrong address gets a page that says so, and hands the page
its ids; the page's scripts read and change everything else through the native API.

1. ``/``: every model with its status, production version and what it scored recently (the
   scoring log's counts, handed to the page);
2. ``/models/new``: upload data, pick columns and parameters, train and watch it;
3. ``/models/{name}/versions/{n}``: losses, score histogram, drift of its traffic and operator
   feedback, metrics beside the baseline, parameters and schema, versions and aliases (one
   template include per panel);
4. ``/models/{name}/versions/{n}/threshold``: the threshold editor;
5. ``/models/{name}/score``: score a file, review its most anomalous rows, download the result.

Errors on a page (a handler's, or any failure of a request a browser makes for a page) are shown
as a page in words (:func:`error_page`), never a stack trace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import plotly
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from aedetect import __version__
from aedetect.api.deps import ContainerDep
from aedetect.api.v2.problems import TITLES
from aedetect.api.v2.schemas import VersionNumber
from aedetect.errors import NotFound
from aedetect.services.models import PRODUCTION, parameter_defaults, parameter_help

HERE = Path(__file__).resolve().parent
STATIC_ROUTE = "/static/app"
PLOTLY_ROUTE = "/static/vendor/plotly.min.js"
PLOTLY_FILE = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"

VERSION_PANELS = ["losses", "scores", "monitoring", "metrics", "params", "versions"]
"""The panels of the model version page, in order: each is ``templates/panels/<name>.html``
(with its script ``static/js/panels/<name>.js``); a new panel is a template and an entry here."""

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
"""Pages may load and call nothing but this server (charts style themselves inline)."""

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(
    static=lambda path: f"{STATIC_ROUTE}/{path}?v={__version__}", version=__version__
)


def page(request: Request, template: str, title: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A dashboard page; ``context['page']`` is handed to its scripts as JSON."""
    response = templates.TemplateResponse(
        request, template, {"title": title, "page": context.pop("page", {}), **context}, status_code=status
    )
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def wants_page(request: Request) -> bool:
    """Whether a request comes from a browser asking for a page (not from a script, nor from the
    pages' own calls to the API, which get the API's error bodies)."""
    path = request.url.path
    return (
        request.method == "GET"
        and not path.startswith(("/api/", "/auth/", "/static/", "/docs", "/redoc", "/openapi"))
        and "text/html" in request.headers.get("accept", "")
    )


def error_page(request: Request, status: int, code: str, detail: str) -> HTMLResponse | None:
    """What a browser asking for a page gets instead of an error body: the problem in words, and
    a way back (``None`` for every other request)."""
    if not wants_page(request):
        return None
    rid = str(getattr(request.state, "request_id", ""))
    title = TITLES.get(code, "Error")
    return page(
        request, "error.html", title, status=status, status_code=status, detail=detail, request_id=rid
    )


@router.get("/")
def models_page(request: Request, container: ContainerDep) -> HTMLResponse:
    """The models; what each scored recently comes from the scoring log in one query for all."""
    recent = container.scorelog.recent()
    scored = {name: {"rows": rows, "anomalies": flagged} for name, (rows, flagged) in recent.totals.items()}
    days = f"{recent.days:g} day" + ("" if recent.days == 1 else "s")
    return page(
        request,
        "models.html",
        "Models",
        page={"scored": scored, "since": recent.since.isoformat()},
        recent_days=days,
        log_enabled=container.scorelog.enabled,
    )


@router.get("/models/new")
def new_model_page(request: Request) -> HTMLResponse:
    helps = parameter_help()
    params = [
        {**parameter_field(name, default), "help": helps[name]}
        for name, default in parameter_defaults().items()
    ]
    return page(request, "new_model.html", "New model", params=params)


def parameter_field(name: str, default: Any) -> dict[str, str]:
    """A parameter's form field: how to read what is typed (a list of widths, text or a number)
    and its default as the placeholder ("auto" where the library chooses from the data)."""
    if name == "n_hidden":
        kind = "list"
    elif isinstance(default, str):
        kind = "text"
    else:
        kind = "number"
    if default is None:
        shown = "auto"
    elif isinstance(default, list):
        shown = ", ".join(map(str, default))
    else:
        shown = str(default)
    return {"name": name, "type": kind, "placeholder": shown}


@router.get("/models/{name}")
def model_page(request: Request, name: str, container: ContainerDep) -> Response:
    """The model's production version (else its newest) or, before its first training, a word on it."""
    model = container.models_v2.get(name)
    number = model.aliases.get(PRODUCTION, model.latest_version)
    if number is None:
        raise NotFound(f"model {name!r} has no trained version yet: the models page shows its training")
    return RedirectResponse(f"/models/{name}/versions/{number}", status_code=303)


@router.get("/models/{name}/versions/{version}")
def version_page(
    request: Request, name: str, version: VersionNumber, container: ContainerDep
) -> HTMLResponse:
    container.models_v2.version(name, version)
    return page(
        request,
        "version.html",
        f"{name} v{version}",
        page={"model": name, "version": version},
        panels=VERSION_PANELS,
    )


@router.get("/models/{name}/versions/{version}/threshold")
def threshold_page(
    request: Request, name: str, version: VersionNumber, container: ContainerDep
) -> HTMLResponse:
    container.models_v2.version(name, version)
    return page(
        request, "threshold.html", f"{name} v{version}: threshold", page={"model": name, "version": version}
    )


@router.get("/models/{name}/score")
def score_page(request: Request, name: str, container: ContainerDep) -> HTMLResponse:
    model = container.models_v2.get(name)
    if model.latest_version is None:
        raise NotFound(f"model {name!r} has no trained version to score with yet: train it first")
    return page(request, "score.html", f"{name}: score a file", page={"model": name})


def plotly_js() -> FileResponse:
    """Plotly's bundled script, from the installed ``plotly`` package."""
    return FileResponse(PLOTLY_FILE, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})


def install_web(app: FastAPI) -> None:
    """Serve the dashboard's pages and assets on ``app`` (pages last, after the API routes)."""
    app.add_api_route(PLOTLY_ROUTE, plotly_js, include_in_schema=False)
    app.mount(STATIC_ROUTE, StaticFiles(directory=HERE / "static"), name="dashboard-assets")
    app.include_router(router)
    app.state.error_page = error_page
