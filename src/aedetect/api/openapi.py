"""The OpenAPI description says who may call what, and every answer a route can give: the key
schemes the access middleware accepts, and on every operation the role it needs (from the same
rule table, :func:`aedetect.api.security.required_role`) with its 401 and 403 answers; the answers
any route may give whatever it does (a stalled body, the request cap, wrong keys), each in its
API's error format; and the patterns of the ids in paths, the same the services check."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from aedetect.api.security import COOKIE_NAME, required_role
from aedetect.api.v1.envelope import ERROR_ENVELOPE, double_encoded, is_v1_path
from aedetect.api.v2.problems import PROBLEM_MEDIA_TYPE, RETRY_AFTER_HEADER
from aedetect.services.models import ALIAS_PATTERN
from aedetect.services.paths import (
    DATASET_ID_PATTERN,
    JOB_ID_PATTERN,
    NN_ID_PATTERN,
    NODE_NAME_PATTERN,
    VERSION_PATTERN,
    schema_pattern,
)

SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <API key>"},
    "basic": {
        "type": "http",
        "scheme": "basic",
        "description": "The API key as password (the user name is not used): what requests sends for "
        'url = "key:<KEY>@host:8000" in old v1 scripts.',
    },
    "cookie": {"type": "apiKey", "in": "cookie", "name": COOKIE_NAME, "description": "Set by /auth/login."},
}
ACCESS_RESPONSES: dict[str, dict[str, Any]] = {
    "401": {"description": "No API key, or one that is not valid."},
    "403": {
        "description": "The key's role does not allow this, or a state change from a foreign web origin."
    },
    "429": {
        "description": "Too many wrong keys from this address: wait the seconds in Retry-After.",
        "headers": RETRY_AFTER_HEADER,
    },
}
"""The answers of every route that needs a key."""
ANY_ROUTE_RESPONSES: dict[str, dict[str, Any]] = {
    "408": {"description": "Part of the request body did not arrive in time (AEDETECT_BODY_TIMEOUT_S)."},
    "503": {
        "description": "The server handles as many requests as it may (AEDETECT_MAX_REQUESTS), or its data "
        "directory is not reachable: send the request again after the seconds in Retry-After.",
        "headers": RETRY_AFTER_HEADER,
    },
}
"""The answers any route may give, before it runs."""
BODY_RESPONSES: dict[str, dict[str, Any]] = {
    "400": {"description": "The body is not readable (e.g. JSON nested deeper than the limit)."},
    "413": {"description": "The body is larger than the limit the message names."},
}
"""The answers any route that reads a body may give."""
PATH_PATTERNS: dict[str, re.Pattern[str]] = {
    "nnid": NN_ID_PATTERN,
    "name": NN_ID_PATTERN,
    "ver": VERSION_PATTERN,
    "wfver": VERSION_PATTERN,
    "node": NODE_NAME_PATTERN,
    "desc": NODE_NAME_PATTERN,
    "dataset_id": DATASET_ID_PATTERN,
    "job_id": JOB_ID_PATTERN,
    "alias": ALIAS_PATTERN,
}
"""Path parameter -> the pattern its value must match (the services check the same), where the
route does not declare its own."""
PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
V1_ERROR_CONTENT = double_encoded("", ERROR_ENVELOPE)["content"]
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def install_openapi(app: FastAPI) -> None:
    """Make ``app`` describe its security and errors (computed once, on the first request for it)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            for path, item in schema.get("paths", {}).items():
                for method in METHODS:
                    if method in item:
                        _describe_access(item[method], method.upper(), path)
                        _describe_errors(item[method], path)
                        _describe_path_patterns(item[method])
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _describe_access(operation: dict[str, Any], method: str, path: str) -> None:
    role, _ = required_role(method, path)
    if role is None:
        operation["security"] = []
        return
    operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
    needs = f"Needs an API key of the {role.value} role (or higher)."
    operation["description"] = f"{operation.get('description', '').strip()}\n\n{needs}".strip()
    _add_responses(operation, ACCESS_RESPONSES)


def _describe_errors(operation: dict[str, Any], path: str) -> None:
    """The answers any route may give, and every error in its API's format (the v1 envelope, or a
    problem document: FastAPI's default 422 body is not what the service sends)."""
    if path == "/healthz":
        return
    _add_responses(operation, ANY_ROUTE_RESPONSES)
    if "requestBody" in operation:
        _add_responses(operation, BODY_RESPONSES)
    v1 = is_v1_path(path)
    for status, response in operation["responses"].items():
        current = set(response.get("content", {}))
        if status[0] in "45" and (not current or (not v1 and current == {"application/json"})):
            response["content"] = V1_ERROR_CONTENT if v1 else PROBLEM_CONTENT


def _add_responses(operation: dict[str, Any], responses: dict[str, dict[str, Any]]) -> None:
    documented = operation.setdefault("responses", {})
    for status, response in responses.items():
        current = documented.setdefault(status, dict(response))
        if "headers" in response:  # a status the route declares already gains the header
            current["headers"] = {**current.get("headers", {}), **response["headers"]}


def _describe_path_patterns(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        pattern = PATH_PATTERNS.get(parameter["name"])
        if parameter["in"] == "path" and pattern is not None:
            parameter["schema"].setdefault("pattern", schema_pattern(pattern)["pattern"])
