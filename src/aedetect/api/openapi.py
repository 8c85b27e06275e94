"""The OpenAPI description says who may call what: the key schemes the access middleware
accepts, and on every operation the role it needs (from the same rule table,
:func:`aedetect.api.security.required_role`) with its 401 and 403 answers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from aedetect.api.security import COOKIE_NAME, required_role

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
ACCESS_RESPONSES = {
    "401": {"description": "No API key, or one that is not valid."},
    "403": {
        "description": "The key's role does not allow this, or a state change from a foreign web origin."
    },
}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def install_openapi(app: FastAPI) -> None:
    """Make ``app`` describe its security (computed once, on the first request for it)."""

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
    responses = operation.setdefault("responses", {})
    for status, response in ACCESS_RESPONSES.items():
        responses.setdefault(status, response)
