"""The v1 wire format: every body is JSON encoded twice (a JSON string holding the JSON value),
because TensorMSA clients decode responses with ``json.loads(resp.json())``; and every path works
with and without its trailing slash, without redirects (a redirect drops POST bodies in some clients).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter

from aedetect.errors import Hint

V1_PREFIX = "/api/v1/"

V1_HINTS = {
    "train": "POST /api/v1/type/runmanager/state/train/nnid/{model}/ver/{version}/",
    "init_workflow": "POST /api/v1/type/wf/target/init/mode/simple/{model}/wfver/{version}/ "
    'with {{"type": "{type}"}}',
    "upload_training_data": "POST /api/v1/type/wf/state/framedata/src/local/form/raw/prg/source/nnid/{model}/"
    "ver/{version}/node/datasrc/",
    "evaluate": "POST /api/v1/type/runmanager/state/single/nnid/{model}/ver/{version}/node/eval_node/",
    "change_network": "PUT or DELETE /api/v1/type/common/target/nninfo/nnid/{model}/",
}
"""Error hints (:class:`aedetect.errors.Hint`) in v1 words: the route that takes the step."""


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


ERROR_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "required": ["status", "result"],
    "properties": {
        "status": {"type": "string", "description": "The HTTP status, as a string.", "example": "400"},
        "result": {"type": "string", "description": "What is wrong and how to fix it."},
    },
}

V1_ERRORS = {
    400: "A value is wrong (the message names the field, column or node), or the Host is not this server.",
    401: "No API key, or one that is not valid.",
    403: "The key's role does not allow this, or a state change from a foreign web origin.",
    404: "Unknown network, version, node, model or endpoint.",
    409: "Clashes with the current state: the id exists, the version trains, no model is trained yet.",
    413: "Over a size limit (the message names the limit and the setting that raises it).",
    422: "A field is missing or of the wrong type (the message names it).",
    500: "Internal error: the message gives the request id under which the server log has the details.",
    503: "The data directory (AEDETECT_DATA_DIR) is not writable: fix it, then send the request again.",
    507: "The data directory (AEDETECT_DATA_DIR) is full: free space, then send the request again.",
}
"""The error answers every v1 route can give, each with the double-encoded envelope."""


def double_encoded(description: str, inner: dict[str, Any] | None) -> dict[str, Any]:
    """An OpenAPI response whose body is a JSON string holding the JSON text of ``inner``."""
    schema: dict[str, Any] = {
        "type": "string",
        "contentMediaType": "application/json",
        "description": "JSON encoded twice: json.loads(resp.json()) gives the value.",
    }
    if inner:
        schema["contentSchema"] = inner
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _answer_schema(endpoint: Callable[..., Any]) -> dict[str, Any] | None:
    """The JSON Schema of what ``endpoint`` returns (encoded once), when it is self-contained."""
    answer = typing.get_type_hints(endpoint).get("return")
    if answer is None:
        return None
    schema = TypeAdapter(answer).json_schema()
    return None if "$defs" in schema or "$ref" in schema else schema


def v1_responses(endpoint: Callable[..., Any]) -> dict[int | str, dict[str, Any]]:
    """The documented answers of a v1 route: its result and every error, all double-encoded."""
    responses: dict[int | str, dict[str, Any]] = {
        200: double_encoded("The result (JSON encoded twice).", _answer_schema(endpoint))
    }
    for status, description in V1_ERRORS.items():
        responses[status] = double_encoded(description, ERROR_ENVELOPE)
    return responses


def v1_error_body(status: int, message: str, hint: Hint | None = None) -> dict[str, str]:
    """The v1 error envelope: the HTTP status as a string, and what is wrong, followed by the
    v1 route that fixes it where the error has a hint (the envelope has no other place for it)."""
    shown = None if hint is None else hint.render(V1_HINTS)
    return {"status": str(status), "result": message if shown is None else f"{message} ({shown})"}


class V1Router(APIRouter):
    """An ``APIRouter`` for v1 resources: double-encoded responses, documented as such with every
    error status they can have, and each route registered both with and without the trailing
    slash (the second hidden from the OpenAPI schema)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default_response_class", V1Response)
        super().__init__(**kwargs)

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["response_model"] = None
        kwargs["responses"] = {**v1_responses(endpoint), **(kwargs.get("responses") or {})}
        super().add_api_route(path, endpoint, **kwargs)
        if len(path) > 1 and path.endswith("/"):
            super().add_api_route(path.rstrip("/"), endpoint, **{**kwargs, "include_in_schema": False})
