"""Who may do what, for every route at once: an ASGI middleware with one rule table.

Every request passes, in this order:

1. **Host.** The ``Host`` header must name this server (``AEDETECT_ALLOWED_HOSTS``; by default the
   loopback names and the bound address), which defeats DNS rebinding: a web page that makes its
   own host name point at 127.0.0.1 still sends its own name. Else 400.
2. **Origin.** A state-changing request (not GET, HEAD or OPTIONS) sent by a browser from another
   site (``Origin`` not this server's, nor in ``AEDETECT_ALLOWED_ORIGINS``) is refused with 403, so
   no web page can create, upload, train or delete through the user's browser.
3. **Key and role.** With auth on (the default, and always beyond loopback) the request must carry
   an active API key: ``Authorization: Bearer <key>``, HTTP Basic with the key as password (or as
   user name; this is what ``requests`` sends for ``url = "key:<KEY>@host:8000"``, so old v1
   scripts work unchanged), or the HttpOnly cookie that ``/auth/login`` sets for browsers. Else 401.
   The key's role must allow the route (:func:`required_role`); else 403.
4. **Audit.** Each state-changing request that got through steps 1-3 is recorded with its status
   (who, what, when) in the registry's audit log.

Wrong keys (here and at ``/auth/login``) are counted per client address (:class:`KeyFailures`):
beyond ``AEDETECT_AUTH_FAILURES`` in a window of ``AEDETECT_AUTH_FAILURE_WINDOW_S`` an unknown key
from that address is answered 429 with ``Retry-After`` without being looked up (a key that was
accepted moments ago still works), and each address's failures of a window make one audit entry
with their count, not one per failure. :class:`AccessLogMask` keeps keys out of the access log.

Routes added later are covered by the method defaults of :data:`METHOD_ROLES` without any change
here; only exceptions to them are listed in :data:`RULES`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aedetect.api.errors import domain_error_response
from aedetect.api.principal import Principal
from aedetect.config import Settings
from aedetect.domain import ApiKey, Role
from aedetect.errors import (
    AedetectError,
    Forbidden,
    InvalidInput,
    TooManyRequests,
    Unauthorized,
    listed,
    quoted,
)
from aedetect.services.access import AccessService

logger = logging.getLogger(__name__)

COOKIE_NAME = "aedetect_key"
API_PREFIX = "/api/"
LOGIN_PATH = "/auth/login"
LOGOUT_PATH = "/auth/logout"

OPEN_PATHS: Final = frozenset(
    {"/healthz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", LOGIN_PATH, LOGOUT_PATH}
)
"""Paths that need no key (health, the API description and the login page)."""
OPEN_PREFIXES: Final = ("/static/", "/docs-assets/")
"""Static assets (of the documentation pages and the dashboard)."""

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

METHOD_ROLES: Final = {
    "GET": Role.READER,
    "HEAD": Role.READER,
    "OPTIONS": Role.READER,
    "POST": Role.WRITER,
    "PUT": Role.WRITER,
    "PATCH": Role.WRITER,
    "DELETE": Role.ADMIN,
}
"""The role each method needs unless a rule says otherwise (any other method: admin)."""


@dataclass(frozen=True)
class Rule:
    """An exception to :data:`METHOD_ROLES`: requests of ``method`` (any if ``None``) whose path
    matches ``pattern`` need ``role``; ``changes_state`` says whether they are audited."""

    method: str | None
    pattern: re.Pattern[str]
    role: Role
    changes_state: bool


RULES: Final = (
    Rule("POST", re.compile(r"/api/v1/type/service/state/predict/.*"), Role.READER, changes_state=False),
    Rule(
        "POST",
        re.compile(r"/api/v2/models/[^/]+(/versions/[^/]+)?/score/?"),
        Role.READER,
        changes_state=False,
    ),
    Rule(
        "POST",
        re.compile(r"/api/v2/models/[^/]+/versions/[^/]+/threshold/proposal"),
        Role.READER,
        changes_state=False,
    ),
    Rule("DELETE", re.compile(r"/api/v2/models/[^/]+/feedback/[^/]+"), Role.WRITER, changes_state=True),
    Rule("GET", re.compile(r"/api/v2/datasets/[^/]+/?"), Role.WRITER, changes_state=False),
    Rule("GET", re.compile(r"/api/v2/jobs/[^/]+/(result|rows)/?"), Role.WRITER, changes_state=False),
    Rule(None, re.compile(r"/auth/(keys|audit)(/.*)?"), Role.ADMIN, changes_state=True),
)
"""Scoring is reading (readers score), and so is asking what a threshold strategy would set;
withdrawing a feedback label is a writer's correction of a writer's action, not an admin deletion;
key management and the audit log are for admins. Raw row values are a writer's: a reader sees
scores, verdicts, thresholds, column names and shares, but not the rows it did not send, so a
dataset (its first rows) and scoring-job results (the scored file and its top rows) need a writer;
the dataset list, the scoring log and the labels leave their values out for readers
(:func:`aedetect.api.principal.sees_values`)."""


def required_role(method: str, path: str) -> tuple[Role | None, bool]:
    """The role a request needs (``None``: open to all) and whether it changes state."""
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return None, False
    for rule in RULES:
        if (rule.method is None or rule.method == method) and rule.pattern.fullmatch(path):
            return rule.role, rule.changes_state and method not in SAFE_METHODS
    return METHOD_ROLES.get(method, Role.ADMIN), method not in SAFE_METHODS


def presented_secret(request: Request) -> str | None:
    """The key a request carries: Bearer token, Basic password (or user), or the login cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return password or user
    if header:
        return ""
    return request.cookies.get(COOKIE_NAME)


_KEY_PARAM = re.compile(r"([?&]key=)[^&\s\"]*", re.IGNORECASE)
MASK = "***"


class AccessLogMask(logging.Filter):
    """Replaces the value of a ``key`` query parameter in access log lines (``/auth/login?key=``
    signs a browser in) with ``***``: a key never reaches a log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _KEY_PARAM.sub(rf"\g<1>{MASK}", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _KEY_PARAM.sub(rf"\g<1>{MASK}", record.msg)
        return True


@dataclass
class _Failures:
    """The wrong keys of one client address in one window."""

    count: int = 0
    method: str = ""
    path: str = ""


class _Windows:
    """Counts events per subject (a client address, a key) in fixed windows of ``window_s``
    seconds; at the end of a window with events, :meth:`_flush` records them (one audit entry)."""

    def __init__(self, access: AccessService, window_s: float) -> None:
        self._access = access
        self._window_s = window_s
        self._windows: dict[tuple[str, int], _Failures] = {}
        self._flushes: set[asyncio.Task[None]] = set()

    def _window(self) -> int:
        return math.floor(time.time() / self._window_s)

    def _count(self, subject: str, method: str, path: str) -> _Failures:
        """Count one event of ``subject`` now; the first of a window schedules its flush."""
        window = self._window()
        seen = self._windows.get((subject, window))
        if seen is None:
            seen = self._windows[(subject, window)] = _Failures()
            task = asyncio.get_running_loop().create_task(self._flush_later(subject, window))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)
        seen.count += 1
        seen.method, seen.path = method, path
        return seen

    async def _flush_later(self, subject: str, window: int) -> None:
        await asyncio.sleep(max(0.0, (window + 1) * self._window_s - time.time()))
        seen = self._windows.pop((subject, window))
        try:
            await self._flush(subject, seen)
        except Exception:
            logger.exception("could not record the counted requests of %s in the audit log", subject)

    async def _flush(self, subject: str, seen: _Failures) -> None:
        raise NotImplementedError


class KeyFailures(_Windows):
    """Counts wrong keys per client address in fixed windows (the class docstring of the module):
    :meth:`retry_after` says how long an address that used up its allowance must wait, and at the
    end of each window one audit entry per address records how many wrong keys it sent."""

    def __init__(self, access: AccessService, limit: int, window_s: float) -> None:
        super().__init__(access, window_s)
        self._limit = limit

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try keys again, or ``None`` while it may."""
        window = self._window()
        seen = self._windows.get((client, window))
        if seen is None or seen.count < self._limit:
            return None
        return max(1, math.ceil((window + 1) * self._window_s - time.time()))

    def failed(self, client: str, method: str, path: str) -> None:
        """Count one wrong key; the first of a window schedules that window's audit entry."""
        self._count(client, method, path)

    async def _flush(self, client: str, seen: _Failures) -> None:
        actor = f"unknown key: {seen.count} failed key check(s) in {self._window_s:g} s"
        await run_in_threadpool(self._access.record, None, seen.method, seen.path, 401, client, actor)


class RefusedRequests(_Windows):
    """State changes refused for a key's role (403), audited at a bounded rate: the first of each
    key's window at once, the rest of that window as one entry with their count at its end."""

    def __init__(self, access: AccessService, window_s: float) -> None:
        super().__init__(access, window_s)
        self._keys: dict[str, tuple[ApiKey, str | None]] = {}

    async def refused(self, key: ApiKey, method: str, path: str, client: str | None) -> None:
        """Count one refusal of ``key``; the first of its window is recorded now."""
        seen = self._count(key.key_id, method, path)
        self._keys[key.key_id] = (key, client)
        if seen.count == 1:
            await run_in_threadpool(self._access.record, key, method, path, 403, client)

    async def _flush(self, key_id: str, seen: _Failures) -> None:
        key, client = self._keys.pop(key_id)
        if seen.count > 1:
            actor = f"{key.name}: {seen.count - 1} more refused request(s) in {self._window_s:g} s"
            await run_in_threadpool(self._access.record, key, seen.method, seen.path, 403, client, actor)


def refused_requests(request: Request) -> RefusedRequests:
    """The refusal counter of the application ``request`` runs in (made on first use)."""
    state = request.app.state
    counter: RefusedRequests | None = getattr(state, "refused_requests", None)
    if counter is None:
        counter = RefusedRequests(state.container.access, state.container.settings.auth_failure_window_s)
        state.refused_requests = counter
    return counter


def key_failures(request: Request) -> KeyFailures:
    """The failed key counter of the application ``request`` runs in (made on first use)."""
    state = request.app.state
    counter: KeyFailures | None = getattr(state, "key_failures", None)
    if counter is None:
        settings = state.container.settings
        counter = KeyFailures(state.container.access, settings.auth_failures, settings.auth_failure_window_s)
        state.key_failures = counter
    return counter


def client_address(request: Request) -> str:
    """The address a request comes from (``unknown`` without one)."""
    return request.client.host if request.client else "unknown"


async def checked_key(request: Request, secret: str, field_name: str) -> ApiKey:
    """The active key of ``secret``; a wrong one is counted for the client address and refused
    with 401, or with 429 once the address has used up its allowance of wrong keys."""
    access: AccessService = request.app.state.container.access
    found = access.cached(secret)
    if found is not None:
        return found
    failures, client = key_failures(request), client_address(request)
    wait = failures.retry_after(client)
    if wait is None:
        found = await run_in_threadpool(access.authenticate, secret)
        if found is not None:
            return found
    failures.failed(client, request.method, request.url.path)  # refused ones count too, for the audit
    if wait is None:
        wait = failures.retry_after(client)
        if wait is None:
            raise Unauthorized("the API key is not valid (mistyped, or revoked)", field=field_name)
    raise TooManyRequests(
        f"too many wrong API keys from {client} (AEDETECT_AUTH_FAILURES); try again in {wait} s",
        retry_after=wait,
        field=field_name,
    )


def _host_name(host: str) -> str:
    """``Host`` header value without the port, lower case (``[::1]:8000`` -> ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class AccessMiddleware:
    """Host and Origin checks, API keys and roles, and the audit log (module docstring)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self._auth = settings.auth
        self._hosts = settings.host_names()
        self._origins = settings.origin_names()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        method, path = scope["method"], scope["path"]
        needed, changes_state = required_role(method, path)
        try:
            self._check_host(request)
            if method not in SAFE_METHODS:
                self._check_origin(request)
            key = await self._key(request, needed) if self._auth and needed is not None else None
        except AedetectError as exc:
            response = self._refusal(request, exc)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = Principal(self._auth, key)
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            if changes_state and needed is not None:
                await self._record(request, key, status)

    @staticmethod
    def _refusal(request: Request, exc: AedetectError) -> Response:
        """The answer to a refused request: a browser page request without a key (outside the
        APIs) is sent to the sign-in page; everything else gets the error, a 401 with its scheme."""
        if isinstance(exc, Unauthorized):
            page = request.method == "GET" and not request.url.path.startswith(API_PREFIX)
            if page and "text/html" in request.headers.get("accept", ""):
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"{LOGIN_PATH}?{urlencode({'next': target})}", status_code=303)
            response = domain_error_response(request, exc)
            response.headers["WWW-Authenticate"] = 'Bearer realm="aedetect"'
            return response
        response = domain_error_response(request, exc)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    def _check_host(self, request: Request) -> None:
        host = request.headers.get("host", "")
        if "*" in self._hosts or _host_name(host) in self._hosts:
            return
        raise InvalidInput(
            f"this server does not answer to the host name {quoted(_host_name(host) or host)}: it answers "
            f"to {listed(sorted(self._hosts))}; add the name to AEDETECT_ALLOWED_HOSTS to allow it",
            field="host",
        )

    def _check_origin(self, request: Request) -> None:
        origin = request.headers.get("origin")
        if origin is None:
            return
        own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
        if origin.lower().rstrip("/") in (own, *self._origins):
            return
        raise Forbidden(
            f"a {request.method} from the web origin {quoted(origin)} is refused: only pages of this "
            "server may change anything (add the origin to AEDETECT_ALLOWED_ORIGINS to allow it)",
            field="origin",
        )

    @staticmethod
    async def _invalid_key_words(request: Request, secret: str) -> str:
        """Why a key was refused: a valid key sent bare in the header (without ``Bearer``) is told
        how to send it; any other is mistyped or revoked."""
        header = request.headers.get("authorization", "").strip()
        access: AccessService = request.app.state.container.access
        bare = not secret and bool(header) and " " not in header
        if bare and (await run_in_threadpool(access.authenticate, header)) is not None:
            return "the key is valid but sent without its scheme: send it as 'Authorization: Bearer <key>'"
        return (
            "the API key is not valid (mistyped, or revoked): an admin makes a new one with "
            "'aedetect keys create --role reader|writer|admin'"
        )

    async def _key(self, request: Request, needed: Role) -> ApiKey:
        secret = presented_secret(request)
        if secret is None:
            raise Unauthorized(
                "this request needs an API key: send 'Authorization: Bearer <key>', or put it in the "
                'URL of old v1 scripts (url = "key:<key>@host:port"); an admin makes keys with '
                "'aedetect keys create --role reader|writer|admin'",
                field="authorization",
            )
        try:
            key = await checked_key(request, secret, "authorization")
        except Unauthorized:
            words = await self._invalid_key_words(request, secret)
            raise Unauthorized(words, field="authorization") from None
        if not key.role.allows(needed):
            if request.method not in SAFE_METHODS:
                client = request.client.host if request.client else None
                try:
                    await refused_requests(request).refused(key, request.method, request.url.path, client)
                except Exception:
                    logger.exception("could not record the refusal of %s in the audit log", request.url.path)
            raise Forbidden(
                f"{request.method} {request.url.path} needs the {needed.value} role; the key "
                f"{quoted(key.name)} ({key.key_id}) has the {key.role.value} role",
                field="authorization",
            )
        return key

    async def _record(self, request: Request, key: ApiKey | None, status: int) -> None:
        access: AccessService = request.app.state.container.access
        client = request.client.host if request.client else None
        try:
            await run_in_threadpool(access.record, key, request.method, request.url.path, status, client)
        except Exception:
            logger.exception("could not record %s %s in the audit log", request.method, request.url.path)
