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
as a page in words (:func:`error_page`), never a stack trace: the API's error handler calls the
renderer :func:`install_web` leaves in ``app.state.error_page``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import fastapi
import plotly
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from aedetect import __version__
from aedetect.bootstrap import Container
from aedetect.detectors.params import MAX_HIDDEN_UNITS, MAX_SEED, PARAMETERS
from aedetect.domain import PRODUCTION
from aedetect.errors import NotFound
from aedetect.services.models import parameter_defaults, parameter_help
from aedetect.services.paths import MAX_VERSION

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


async def services(request: Request) -> Container:
    """The services the application built at start-up (``app.state.container``)."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(services)]
VersionNumber = Annotated[int, fastapi.Path(ge=1, le=MAX_VERSION)]
"""A version number in a page's address (as the API checks it)."""

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


def error_page(
    request: Request, status: int, code: str, detail: str, titles: Mapping[str, str]
) -> HTMLResponse | None:
    """What a browser asking for a page gets instead of an error body: the problem in words (titled
    by its code from ``titles``), and a way back (``None`` for every other request)."""
    if not wants_page(request):
        return None
    rid = str(getattr(request.state, "request_id", ""))
    title = titles.get(code, "Error")
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


PARAMETER_LABELS = {
    "activation": "activation",
    "batch_size": "batch size",
    "contamination": "expected anomaly share",
    "epochs": "epochs",
    "error_knee": "error knee",
    "learning_rate": "learning rate",
    "magnitude_weight": "magnitude weight",
    "n_estimators": "ensemble size",
    "n_hidden": "hidden sizes",
    "patience": "patience",
    "random_state": "random seed",
    "validation_fraction": "validation share",
    "vocab_size": "values per category",
    "weight_decay": "weight decay",
}
"""What the New model page calls each parameter (its API name is shown beside it)."""


@router.get("/models/new")
def new_model_page(request: Request) -> HTMLResponse:
    helps = parameter_help()
    params = [
        {**parameter_field(name, default), "help": field_help(name, helps[name])}
        for name, default in parameter_defaults().items()
    ]
    return page(request, "new_model.html", "New model", params=params, page={"params": params})


def field_help(name: str, text: str) -> str:
    """A parameter's one line with its default said once, in words ("auto" is not a default a
    newcomer can read: a seed left empty means a new one each training)."""
    if name == "random_state":
        return f"{PARAMETERS[name].help} Default: none (a new seed, so a different model, each training)."
    head, _, default = text.rpartition(" Default: ")
    return head if default == "auto." and "(default:" in head else text


def parameter_field(name: str, default: Any) -> dict[str, Any]:
    """A parameter's form field: how to read what is typed (a list of widths, text or a number),
    its default as the placeholder ("auto" where the library chooses from the data), and the
    rule the API applies, so the page can check every field before sending."""
    spec = PARAMETERS[name]
    kind = {"widths": "list", "choice": "text", "text": "text"}.get(spec.kind, "number")
    if default is None:
        shown = "auto"
    elif isinstance(default, list):
        shown = ", ".join(map(str, default))
    else:
        shown = str(default)
    high = {"widths": MAX_HIDDEN_UNITS, "seed": MAX_SEED}.get(spec.kind, spec.high)
    rule = {
        "kind": spec.kind,
        "low": 0 if spec.kind == "seed" else spec.low,
        "high": None if high is None or high == float("inf") else high,
        "closed": list(spec.closed),
        "choices": list(spec.choices),
    }
    return {
        "name": name,
        "label": PARAMETER_LABELS.get(name, name),
        "type": kind,
        "placeholder": shown,
        "rule": rule,
    }


@router.get("/models/{name}")
def model_page(request: Request, name: str, container: ContainerDep) -> Response:
    """The model's production version (else its newest) or, before its first training, a word on it."""
    model = container.models.get(name)
    number = model.aliases.get(PRODUCTION, model.latest_version)
    if number is None:
        raise NotFound(f"model {name!r} has no trained version yet: the models page shows its training")
    return RedirectResponse(f"/models/{name}/versions/{number}", status_code=303)


@router.get("/models/{name}/versions/{version}")
def version_page(
    request: Request, name: str, version: VersionNumber, container: ContainerDep
) -> HTMLResponse:
    container.models.version(name, version)
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
    container.models.version(name, version)
    return page(
        request, "threshold.html", f"{name} v{version}: threshold", page={"model": name, "version": version}
    )


@router.get("/models/{name}/score")
def score_page(request: Request, name: str, container: ContainerDep) -> HTMLResponse:
    model = container.models.get(name)
    if model.latest_version is None:
        raise NotFound(f"model {name!r} has no trained version to score with yet: train it first")
    return page(request, "score.html", f"{name}: score a file", page={"model": name})


def plotly_js() -> FileResponse:
    """Plotly's bundled script, from the installed ``plotly`` package."""
    return FileResponse(PLOTLY_FILE, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})


def install_web(app: FastAPI, titles: Mapping[str, str]) -> None:
    """Serve the dashboard's pages and assets on ``app`` (pages last, after the API routes); an
    error page is titled by the error's code from ``titles``."""
    app.add_api_route(PLOTLY_ROUTE, plotly_js, include_in_schema=False)
    app.mount(STATIC_ROUTE, StaticFiles(directory=HERE / "static"), name="dashboard-assets")
    app.include_router(router)
    app.state.error_page = partial(error_page, titles=titles)
