"""Routes of access control under ``/auth``: browser login (an HttpOnly cookie), who am I, API
keys and the audit log. Who may call them is decided by :mod:`aedetect.api.security` like for
every other route (keys and audit log: admins; login and logout: anyone)."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from aedetect.api.deps import ContainerDep
from aedetect.api.principal import principal
from aedetect.api.security import COOKIE_NAME, LOGIN_PATH, checked_key
from aedetect.api.v2.problems import RETRY_AFTER_HEADER, problem_responses
from aedetect.domain import ApiKey, AuditEntry, Role
from aedetect.errors import TooManyRequests, Unauthorized
from aedetect.services.access import MAX_AUDIT_ENTRIES, MAX_NAME_CHARS

router = APIRouter(prefix="/auth", tags=["access"])

COOKIE_MAX_AGE_S = 7 * 24 * 3600
MAX_ID = 2**31 - 1
DEFAULT_NEXT = "/"

HTML = {"text/html": {"schema": {"type": "string"}}}
REDIRECT = {"Location": {"description": "Where the browser goes next.", "schema": {"type": "string"}}}
SIGN_IN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The sign-in page (also where a followed redirect leads).", "content": HTML},
    303: {
        "description": "Signed in: the cookie is set, and the browser goes to `next`.",
        "headers": REDIRECT,
    },
    401: {"description": "The key is not valid: the sign-in page says so.", "content": HTML},
    429: {
        "description": "Too many wrong keys from this address: the sign-in page says when to try again.",
        "content": HTML,
        "headers": RETRY_AFTER_HEADER,
    },
}
"""The answers of signing in: pages for a person at a browser, not problem documents."""

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in · aedetect</title>
<link rel="stylesheet" href="/static/app/css/app.css"><link rel="icon" href="data:,">
</head><body class="signin">
<nav class="top"><span class="brand">aedetect</span></nav>
<main><section class="panel">
<h1>Sign in</h1>
{error}<p>Paste an API key. The server printed the first admin key, with a sign-in link, when it
started for the first time. Without a key, an admin of the server makes one with
<code>aedetect keys create --role reader</code> (or <code>writer</code> to upload and train).</p>
<form method="post" action="/auth/login" class="row">
<input type="hidden" name="next" value="{next}">
<input type="password" name="key" size="50" autofocus required aria-label="API key" placeholder="aed_…">
<button type="submit">Sign in</button>
</form>
</section></main>
</body></html>
"""
"""The sign-in page (styled by the dashboard's stylesheet, which is served without a key);
``{error}`` holds why the last attempt failed, ``{next}`` where to go after signing in."""

SIGN_IN_FAILED = (
    '<div class="problem" role="alert" id="sign-in-problem">This key is not valid: it may be mistyped '
    "(paste it whole, without quotes) or revoked. Ask an admin for a new one.</div>"
)


SIGN_IN_PROBLEM = '<div class="problem" role="alert" id="sign-in-problem">{}</div>'
"""A refusal of the sign-in in words (HTML-escaped text goes in the braces)."""


def login_html(target: str | None, error: str = "", status: int = 200) -> HTMLResponse:
    """The sign-in page, with ``error`` (HTML) shown above the form."""
    page = LOGIN_PAGE.format(next=html.escape(_safe_next(target), quote=True), error=error)
    return HTMLResponse(page, status_code=status)


class KeyCreate(BaseModel):
    role: Role = Field(description="reader (list and score), writer (also upload and train) or admin.")
    name: str = Field(
        "", max_length=MAX_NAME_CHARS, description="What the key is for, e.g. 'line 3 scripts'."
    )


class KeyPublic(BaseModel):
    key_id: str = Field(description="Public id of the key (for listing and revoking).")
    name: str
    role: Role
    created_at: datetime | None
    revoked_at: datetime | None = Field(description="When the key was revoked; null while it works.")


class KeyCreated(KeyPublic):
    key: str = Field(description="The secret: shown only in this answer, stored only as a hash.")


class Whoami(BaseModel):
    auth: bool = Field(description="Whether the server requires keys.")
    key: KeyPublic | None = Field(description="The key this request was sent with (null when auth is off).")


class AuditPublic(BaseModel):
    id: int
    at: datetime
    key_id: str | None
    actor: str
    role: Role | None
    method: str
    path: str
    status: int
    client: str | None


def _public(key: ApiKey) -> KeyPublic:
    return KeyPublic(
        key_id=key.key_id, name=key.name, role=key.role, created_at=key.created_at, revoked_at=key.revoked_at
    )


def _audit(entry: AuditEntry) -> AuditPublic:
    return AuditPublic(
        id=entry.entry_id or 0,
        at=entry.at,
        key_id=entry.key_id,
        actor=entry.actor,
        role=entry.role,
        method=entry.method,
        path=entry.path,
        status=entry.status,
        client=entry.client,
    )


def _safe_next(target: str | None) -> str:
    """A redirect target on this server only (a path, never ``//host`` or a URL)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return DEFAULT_NEXT


async def _signed_in(request: Request, container: ContainerDep, key: str, target: str | None) -> Response:
    try:
        await checked_key(request, key, "key")
    except Unauthorized:  # a person at a browser: a page that says so, not a problem document
        return login_html(target, SIGN_IN_FAILED, status=401)
    except TooManyRequests as exc:
        page = login_html(target, SIGN_IN_PROBLEM.format(html.escape(exc.message)), status=429)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    response = RedirectResponse(_safe_next(target), status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        key,
        max_age=COOKIE_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.get(
    "/login",
    summary="Sign in page; with ?key= signs in at once",
    response_class=HTMLResponse,
    responses=SIGN_IN_RESPONSES,
)
async def login_page(
    request: Request,
    container: ContainerDep,
    key: Annotated[str | None, Query(description="An API key: sets the sign-in cookie.")] = None,
    next: Annotated[str | None, Query(description="Where to go after signing in (a path).")] = None,
) -> Response:
    if key:
        return await _signed_in(request, container, key, next)
    return login_html(next)


@router.post(
    "/login",
    summary="Sign in with a key (form field 'key'): sets the cookie",
    response_class=HTMLResponse,
    responses=SIGN_IN_RESPONSES,
)
async def login(
    request: Request,
    container: ContainerDep,
    key: Annotated[str, Form(min_length=1, description="An API key.")],
    next: Annotated[str | None, Form(description="Where to go after signing in (a path).")] = None,
) -> Response:
    return await _signed_in(request, container, key.strip(), next)


@router.post(
    "/logout",
    summary="Sign out: removes the cookie",
    response_class=HTMLResponse,
    responses={
        200: {"description": "The sign-in page, where a followed redirect leads.", "content": HTML},
        303: {
            "description": "Signed out: the cookie is removed; the browser goes to the sign-in page.",
            "headers": REDIRECT,
        },
    },
)
async def logout() -> Response:
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


@router.get("/whoami", summary="The key this request is sent with")
async def whoami(request: Request) -> Whoami:
    who = principal(request)
    return Whoami(auth=who.auth, key=_public(who.key) if who.key else None)


@router.get("/keys", summary="Every API key (ids, names, roles; never the secrets)")
def list_keys(container: ContainerDep) -> list[KeyPublic]:
    return [_public(k) for k in container.access.list_keys()]


@router.post("/keys", status_code=201, summary="Make an API key; its secret is in this answer only")
def create_key(body: KeyCreate, container: ContainerDep) -> KeyCreated:
    key, secret = container.access.create_key(body.role, body.name)
    return KeyCreated(**_public(key).model_dump(), key=secret)


@router.delete(
    "/keys/{key_id}",
    summary="Revoke an API key (it stops working at once)",
    responses=problem_responses(404),
)
def revoke_key(key_id: str, container: ContainerDep) -> KeyPublic:
    return _public(container.access.revoke_key(key_id))


@router.get(
    "/audit",
    summary="The audit log of state-changing requests, newest first",
    responses=problem_responses(),
)
def audit(
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_ENTRIES, description="How many entries.")] = 100,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Entries older than this id.")] = None,
) -> dict[str, Any]:
    entries = container.access.audit(limit, before)
    return {
        "items": [_audit(e) for e in entries],
        "next": entries[-1].entry_id if len(entries) == limit else None,
    }
