"""RFC 9457 problem details for the native API: the body of every error under ``/api/v2/`` (and
every other non-v1 path), built from the one error table in :mod:`aedetect.api.errors`.

A body of the wrong shape is told in words a person understands ("``rows`` must be a list of
objects, got a string"), never in validator internals. Routes list their possible problems in the
OpenAPI document with :func:`problem_responses`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aedetect.errors import Hint, quoted

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:aedetect:problem:"

TITLES = {
    "invalid_input": "Invalid input",
    "unauthorized": "API key missing or not valid",
    "forbidden": "Not allowed for this key or origin",
    "insufficient_storage": "Storage full",
    "storage_unavailable": "Storage not writable or not reachable",
    "invalid_request": "Request of the wrong shape",
    "not_found": "Not found",
    "conflict": "Conflict with the current state",
    "not_fitted": "Model not trained yet",
    "cancelled": "Cancelled",
    "payload_too_large": "Payload too large",
    "unsupported_media_type": "Unsupported media type",
    "too_many_requests": "Queue full, try again later",
    "method_not_allowed": "Method not allowed",
    "job_failed": "Job failed",
    "bad_artifact": "Unreadable model artifact",
    "internal_error": "Internal error",
}

RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds after which the request may succeed.",
        "schema": {"type": "integer", "minimum": 1},
    }
}
"""The header of every 429 answer (both APIs)."""

EXPECTED = {
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}
"""Validator error type -> what the field must be, in words."""

V2_HINTS = {
    "train": "POST /api/v2/models/{model}/train",
    "change_model": "PATCH /api/v2/models/{model} to change it, DELETE /api/v2/models/{model} to delete it",
    "list_datasets": "GET /api/v2/datasets",
    "add_feedback": "POST /api/v2/models/{model}/feedback",
    "list_keys": "GET /auth/keys",
}
"""Error hints (:class:`aedetect.errors.Hint`) in v2 words: the route that takes the step. The
problem's ``hint`` member gives the action and its parameters too, for clients that word it
themselves (the dashboard does)."""

FIELD_SHAPES = {
    "rows": "a list of objects (one per row, column name to value)",
    "columns": "a list of column names",
}
"""Fields whose expected shape is worth saying more precisely than their type."""


class ProblemHint(BaseModel):
    """The step that fixes a problem: an action, its parameters and, where this API has one, its route."""

    action: str = Field(description="What to do, as a stable name.", examples=["train"])
    params: dict[str, str | int] = Field(
        description="The action's parameters.", examples=[{"model": "plant-7"}]
    )
    text: str | None = Field(
        None, description="The route that takes the step.", examples=["POST /api/v2/models/plant-7/train"]
    )


class Problem(BaseModel):
    """An RFC 9457 problem: what went wrong, and which field, column or node is at fault."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI of the problem type.", examples=["urn:aedetect:problem:not_found"])
    title: str = Field(description="Short summary of the problem type.", examples=["Not found"])
    status: int = Field(description="The HTTP status code.", examples=[404])
    detail: str = Field(
        description="What is wrong with this request and how to fix it.",
        examples=["dataset 'ds_0123456789ab' not found"],
    )
    field: str | None = Field(
        None, description="The request field at fault, if one is.", examples=["dataset"]
    )
    column: str | None = Field(
        None, description="The data column at fault, if one is.", examples=["src_bytes"]
    )
    node: str | None = Field(None, description="The workflow node at fault, if one is.", examples=["datasrc"])
    hint: ProblemHint | None = Field(None, description="The step that fixes it, if there is one.")


def problem_body(
    status: int,
    code: str,
    detail: str,
    *,
    field: str | None = None,
    column: str | None = None,
    node: str | None = None,
    hint: Hint | None = None,
) -> dict[str, Any]:
    """The problem document for a failure (with a ``hint`` member when the error has one)."""
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": TITLES.get(code, "Error"),
        "status": status,
        "detail": detail,
    }
    for name, value in (("field", field), ("column", column), ("node", node)):
        if value is not None:
            body[name] = value
    if hint is not None:
        text = hint.render(V2_HINTS)
        body["hint"] = {**hint.as_dict(), **({"text": text} if text is not None else {})}
    return body


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def field_name(loc: Sequence[Any]) -> str:
    """``("body", "rows", 0)`` -> ``rows[0]``: the field as the client wrote it."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    if not parts:
        return "body"
    text = str(parts[0])
    for part in parts[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def plain_problem(error: dict[str, Any]) -> str:
    """One validator error in words."""
    kind = error.get("type", "")
    loc = error.get("loc", ())
    name = field_name(loc)
    ctx = error.get("ctx") or {}
    got = _kind(error.get("input"))
    if kind == "json_invalid":
        return f"the body is not valid JSON ({ctx.get('error', 'parse error')})"
    if kind == "missing":
        return "the body is missing: send a JSON object" if name == "body" else f"`{name}` is required"
    if kind == "extra_forbidden":
        return f"`{name}` is not a field of this request"
    if name == "body" and kind in ("model_attributes_type", "dict_type", "model_type"):
        return f"the body must be a JSON object, got {got}"
    if kind in EXPECTED:
        last = str(loc[-1]) if loc else name
        expected = FIELD_SHAPES.get(last, EXPECTED[kind])
        return f"`{name}` must be {expected}, got {got}"
    if kind == "literal_error":
        expected = ctx.get("expected", "the documented values")
        return f"`{name}` must be one of {expected}, got {quoted(error.get('input'))}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        words = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
        limit = next(iter(ctx.values()), "?")
        return f"`{name}` must be {words[kind]} {limit}, got {quoted(error.get('input'))}"
    if kind in ("too_short", "too_long"):
        return f"`{name}` has the wrong length: {str(error.get('msg', '')).lower()}"
    if kind == "string_too_long":
        return f"`{name}` is longer than {ctx.get('max_length')} characters"
    if kind == "value_error":
        return str(ctx.get("error", error.get("msg", "invalid value")))
    return f"`{name}` is not valid ({got})"


def validation_detail(errors: Sequence[Any], limit: int = 5) -> tuple[str, str | None]:
    """The first few validator errors in words, and the first field at fault."""
    problems = [plain_problem(e) for e in errors[:limit]]
    if len(errors) > limit:
        problems.append(f"and {len(errors) - limit} more")
    first = errors[0] if errors else {}
    field = (
        "body"
        if first.get("type") == "json_invalid"
        else field_name(first.get("loc", ()))
        if errors
        else None
    )
    return "; ".join(problems) or "invalid request", field


EXAMPLES: dict[int, tuple[str, str, dict[str, Any]]] = {
    400: (
        "invalid_input",
        "The request names something that does not fit",
        {"field": "columns", "column": "tmp"},
    ),
    404: ("not_found", "An id in the path or body does not exist", {"field": "name"}),
    409: (
        "conflict",
        "The request clashes with the current state (e.g. the model is training)",
        {"field": "name"},
    ),
    413: ("payload_too_large", "The upload is over AEDETECT_MAX_UPLOAD_BYTES", {"field": "file"}),
    415: (
        "unsupported_media_type",
        "The body is not in a content type this endpoint takes",
        {"field": "body"},
    ),
    422: ("invalid_request", "The body or a parameter has the wrong shape", {"field": "rows"}),
    429: (
        "too_many_requests",
        "AEDETECT_MAX_QUEUED_TRAININGS trainings already wait: nothing was queued; try again after "
        "the Retry-After header's seconds",
        {},
    ),
}
DETAILS = {
    400: "columns names column(s) that dataset ds_0123456789ab does not have: tmp",
    404: "model 'plant-7' not found",
    409: "model 'plant-7' is training: change it when the job has finished",
    413: "the upload is over the limit of 209715200 bytes (AEDETECT_MAX_UPLOAD_BYTES)",
    415: "send the CSV as multipart/form-data (field 'file') or as a text/csv body",
    422: "`rows` must be a list of objects (one per row, column name to value), got a string",
    429: "8 trainings already wait for a worker, the limit of 8 (AEDETECT_MAX_QUEUED_TRAININGS): nothing "
    "was queued; send the request again in 30 s",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses (422 always), each with an example."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*statuses, 422}):
        code, description, extra = EXAMPLES[status]
        example = problem_body(status, code, DETAILS[status], **extra)
        documented[status] = {
            "model": Problem,
            "description": description,
            "content": {PROBLEM_MEDIA_TYPE: {"example": example}},
        }
        if status == 429:
            documented[status]["headers"] = RETRY_AFTER_HEADER
    return documented
