"""Errors to HTTP: one table maps each domain error code to its status, and one set of handlers
turns every failure into a response. Routes never build error bodies.

Paths under ``/api/v1/`` get the v1 envelope ``{"status": "<http status>", "result": "<message>"}``
(double-encoded, see :mod:`aedetect.api.v1.envelope`); other paths (the native ``/api/v2/`` API)
get RFC 9457 problem details (:mod:`aedetect.api.v2.problems`).

A 5xx answer never carries a server path or exception text: it gives the request id
(``X-Request-ID``) under which the server log holds the details. A full or unwritable data
directory is a 507 or 503 that names the setting (``AEDETECT_DATA_DIR``), not the path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from aedetect.api.v1.envelope import V1Response, is_v1_path, v1_error_body
from aedetect.api.v2.problems import PROBLEM_MEDIA_TYPE, problem_body, validation_detail
from aedetect.errors import (
    AedetectError,
    ArtifactError,
    Cancelled,
    Conflict,
    Forbidden,
    Hint,
    InsufficientStorage,
    InvalidInput,
    JobFailed,
    NotFitted,
    NotFound,
    PayloadTooLarge,
    StorageUnavailable,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    quoted,
    storage_error,
)

logger = logging.getLogger(__name__)

HTTP_STATUS: dict[str, int] = {
    InvalidInput.code: 400,
    Unauthorized.code: 401,
    Forbidden.code: 403,
    NotFound.code: 404,
    Conflict.code: 409,
    NotFitted.code: 409,
    Cancelled.code: 409,
    PayloadTooLarge.code: 413,
    UnsupportedMediaType.code: 415,
    TooManyRequests.code: 429,
    JobFailed.code: 500,
    ArtifactError.code: 500,
    StorageUnavailable.code: 503,
    InsufficientStorage.code: 507,
}
"""Domain error code -> HTTP status (unknown codes: 500)."""

ErrorPage = Callable[[Request, int, str, str], Response | None]
"""Renders an error as a page for a browser (status, code, message), or ``None``: not a page request."""

VALIDATION_CODE = "invalid_request"
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
"""The methods a route may take (OPTIONS is answered by no route)."""
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
SAFE_5XX_CODES = frozenset({JobFailed.code, StorageUnavailable.code, InsufficientStorage.code})
"""5xx errors whose own message is shown: written for users, never holding paths or exception text."""
MAX_LISTED_PROBLEMS = 5


def request_id(request: Request) -> str:
    """The id the request id middleware gave ``request`` (``-`` when it did not run)."""
    return str(getattr(request.state, "request_id", "-"))


def internal_message(request: Request, what: str = "the service could not complete this request") -> str:
    """The body of a 500: what failed, and the request id under which the server log has the rest."""
    return f"internal error: {what} (request id {request_id(request)}; the server log has the details)"


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    *,
    column: str | None = None,
    node: str | None = None,
    hint: Hint | None = None,
) -> Response:
    """The error body for ``request``'s API (v1 envelope or problem details), or the page in
    words that the dashboard (``app.state.error_page``) gives a browser asking for a page. Each
    renders the error's ``hint`` in its own words."""
    if is_v1_path(request.url.path):
        return V1Response(v1_error_body(status, message, hint), status_code=status)
    render: ErrorPage | None = getattr(request.app.state, "error_page", None)
    shown = None if render is None else render(request, status, code, message)
    if shown is not None:
        return shown
    body = problem_body(status, code, message, field=field, column=column, node=node, hint=hint)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def domain_error_response(request: Request, exc: AedetectError) -> Response:
    """The response for a domain error raised outside the routes (by middleware)."""
    return error_response(
        request, HTTP_STATUS.get(exc.code, 500), exc.code, exc.message, exc.field, hint=exc.hint
    )


def _location(loc: Sequence[Any]) -> str:
    """``("body", "n_hidden", 0)`` -> ``n_hidden[0]``: the field as the client wrote it."""
    parts = [p for p in loc if p not in ("body", "path", "query")] or list(loc[-1:]) or ["body"]
    text = str(parts[0])
    for part in parts[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def validation_message(errors: Sequence[Any]) -> tuple[str, str | None]:
    """A readable message naming the bad fields (the first few), and the first field's name."""
    problems = []
    for error in errors[:MAX_LISTED_PROBLEMS]:
        if error.get("type") == "json_invalid":
            problems.append(
                f"the body is not valid JSON ({error.get('ctx', {}).get('error', 'parse error')})"
            )
            continue
        field = _location(error.get("loc", ()))
        if error.get("type") == "missing":
            problems.append(f"{field}: required field is missing")
        else:
            problems.append(
                f"{field}: {error.get('msg', 'invalid value')} (got {quoted(error.get('input'))})"
            )
    if len(errors) > MAX_LISTED_PROBLEMS:
        problems.append(f"and {len(errors) - MAX_LISTED_PROBLEMS} more")
    first = _location(errors[0].get("loc", ())) if errors else None
    return "invalid request: " + "; ".join(problems), first


async def handle_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AedetectError)
    status = HTTP_STATUS.get(exc.code, 500)
    message, hint = exc.message, exc.hint
    if status >= 500:
        logger.error(
            "request %s: %s %s failed: %s", request_id(request), request.method, request.url.path, message
        )
        if exc.code not in SAFE_5XX_CODES:
            message, hint = (
                internal_message(request, f"{exc.code.replace('_', ' ')} while handling this request"),
                None,
            )
    response = error_response(
        request, status, exc.code, message, exc.field, column=exc.column, node=exc.node, hint=hint
    )
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError | ValidationError)
    if is_v1_path(request.url.path):
        message, field = validation_message(exc.errors())
    else:
        message, field = validation_detail(exc.errors())
    return error_response(request, 422, VALIDATION_CODE, message, field)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404 and is_v1_path(request.url.path):
        message = f"no v1 endpoint at {request.url.path}: check the path against the API description"
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    response = error_response(request, exc.status_code, code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405:
        response.headers["Allow"] = allowed_methods(request)
    return response


def allowed_methods(request: Request) -> str:
    """Every method some route takes at the request's path: Starlette's own 405 names only the
    first route that matches the path, where several routes (one per method) share it."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in HTTP_METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    )


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, OSError) and (storage := storage_error(exc, "handling the request")) is not None:
        logger.error(
            "request %s: %s %s: %s", request_id(request), request.method, request.url.path, exc, exc_info=exc
        )
        return await handle_domain_error(request, storage)
    logger.exception(
        "request %s: %s %s failed unexpectedly",
        request_id(request),
        request.method,
        request.url.path,
        exc_info=exc,
    )
    return error_response(request, 500, "internal_error", internal_message(request))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(AedetectError, handle_domain_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(ValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(Exception, handle_unexpected)
