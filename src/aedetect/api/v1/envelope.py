"""The v1 wire format: every body is JSON encoded twice (a JSON string holding the JSON value),
because TensorMSA clients decode responses with ``json.loads(resp.json())``; and every path works
with and without its trailing slash, without redirects (a redirect drops POST bodies in some clients).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

V1_PREFIX = "/api/v1/"


def is_v1_path(path: str) -> bool:
    """Whether a request path belongs to the v1 API (and so gets the v1 envelope)."""
    return path.startswith(V1_PREFIX) or path == V1_PREFIX.rstrip("/")


class V1Response(JSONResponse):
    """A JSON response whose body is the JSON text of the content, encoded again as a JSON string.

    The inner encoding uses Python's defaults (``", "``/``": "`` separators, ASCII escapes), as
    the old server did.
    """

    def render(self, content: Any) -> bytes:
        return json.dumps(json.dumps(content)).encode("ascii")


def v1_error_body(status: int, message: str) -> dict[str, str]:
    """The v1 error envelope: the HTTP status as a string, and what is wrong."""
    return {"status": str(status), "result": message}


class V1Router(APIRouter):
    """An ``APIRouter`` for v1 resources: double-encoded responses, and each route registered
    both with and without the trailing slash (the second hidden from the OpenAPI schema)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default_response_class", V1Response)
        super().__init__(**kwargs)

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().add_api_route(path, endpoint, **kwargs)
        if len(path) > 1 and path.endswith("/"):
            super().add_api_route(path.rstrip("/"), endpoint, **{**kwargs, "include_in_schema": False})
