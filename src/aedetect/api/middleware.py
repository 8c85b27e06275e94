"""ASGI middleware that applies to every route, present and future: a request id for each request
(also on a 500 from an unexpected error), a size, time and nesting limit on each request body,
checked before the route reads it, and a cap on the requests in progress.

Pure ASGI (no ``BaseHTTPMiddleware``), so streamed uploads pass through without being buffered.
"""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aedetect.api.errors import error_response, handle_http_error, handle_unexpected
from aedetect.errors import InvalidInput, PayloadTooLarge

REQUEST_ID_HEADER = "X-Request-ID"

MULTIPART_OVERHEAD = 64 * 1024
"""Bytes of multipart framing (boundaries, part headers) allowed beyond the upload size limit."""

UPLOAD_TYPES = ("multipart/form-data", "text/csv")
"""Content types of file uploads; every other body is held to the JSON body limit."""

_STEPS = np.zeros(256, dtype=np.int8)
_STEPS[[ord("["), ord("{")]] = 1
_STEPS[[ord("]"), ord("}")]] = -1
_QUOTE = ord('"')

THREAD_DEPTH_BYTES = 64 * 1024
"""Bodies from this size on have their nesting measured in a thread, off the event loop."""


def json_depth(body: bytes) -> int:
    """How deep arrays and objects nest in the JSON text ``body`` (brackets inside strings do not
    count), found without parsing, in array operations that release the interpreter lock: the
    parser itself fails with a recursion error far below the body size limit."""
    codes = np.frombuffer(body.replace(b"\\\\", b"").replace(b'\\"', b""), dtype=np.uint8)
    steps = _STEPS[codes]
    at = np.flatnonzero(steps)
    if not at.size:
        return 0
    quotes = np.flatnonzero(codes == _QUOTE)
    outside = np.searchsorted(quotes, at) % 2 == 0  # an even number of quotes before: not in a string
    depth = np.cumsum(steps[at[outside]], dtype=np.int64)
    return int(depth.max()) if depth.size else 0


class RequestIdMiddleware:
    """Gives each request a short random id, kept in ``request.state.request_id``, sent back in
    ``X-Request-ID`` and written in every log line about the request, so a 500 answer can be
    matched with the server log without the answer saying anything about the server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = rid

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.lower().encode(), rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Starlette answers an unexpected error outside every middleware, without this header
            if started:
                raise
            response = await handle_unexpected(Request(scope), exc)
            await response(scope, receive, send_with_id)


class BodyLimitMiddleware:
    """Refuses a request body over its limit with 413 naming the limit and the setting that
    raises it: uploads (multipart or ``text/csv``) against ``upload_limit`` (plus the multipart
    framing), anything else against ``json_limit``. A declared ``Content-Length`` over the limit is
    refused before the route runs; a streamed body is cut off as soon as it passes the limit, so no
    route ever holds more than the limit in memory. A body that stalls for ``body_timeout_s`` is
    refused with 408, and a JSON body nested deeper than ``json_depth`` with 400."""

    def __init__(
        self,
        app: ASGIApp,
        upload_limit: int,
        json_limit: int,
        json_depth: int = 64,
        body_timeout_s: float = 30.0,
    ) -> None:
        self.app = app
        self._upload_limit = upload_limit
        self._json_limit = json_limit
        self._json_depth = json_depth
        self._body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        upload_limit, json_limit = self._upload_limit, self._json_limit
        content_type = headers.get("content-type", "").lower()
        if content_type.startswith(UPLOAD_TYPES):
            limit = upload_limit + MULTIPART_OVERHEAD
            message = f"over the limit of {upload_limit} bytes for uploads (AEDETECT_MAX_UPLOAD_BYTES)"
        else:
            limit = json_limit
            message = f"over the limit of {json_limit} bytes for request bodies (AEDETECT_MAX_JSON_BYTES)"
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            error = PayloadTooLarge(f"the request body has {length} bytes, {message}", field="body")
            response = error_response(Request(scope), 413, error.code, error.message, error.field)
            await response(scope, receive, send)
            return
        seen, complete = 0, False

        async def receive_limited() -> Message:
            nonlocal seen, complete
            if complete:  # after the body only the client's going away can come: no time limit
                return await receive()
            try:
                event = await asyncio.wait_for(receive(), self._body_timeout_s)
            except TimeoutError:
                raise HTTPException(
                    408,
                    f"no part of the request body arrived for {self._body_timeout_s:g} s "
                    "(AEDETECT_BODY_TIMEOUT_S)",
                ) from None
            if event["type"] == "http.request":
                seen += len(event.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, f"the request body is {message}")
                complete = not event.get("more_body", False)
            return event

        has_body = (length.isdigit() and int(length) > 0) or "transfer-encoding" in headers
        if not has_body or ("json" not in content_type and content_type):
            await self.app(scope, receive_limited, send)
            return
        await self._json(scope, receive_limited, send)

    async def _json(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read a JSON body whole (it is under the JSON limit), check its nesting, and hand it on."""
        try:
            chunks, event = [], await receive()
            while event["type"] == "http.request":
                chunks.append(event.get("body", b""))
                if not event.get("more_body", False):
                    break
                event = await receive()
        except HTTPException as exc:
            await (await handle_http_error(Request(scope), exc))(scope, receive, send)
            return
        if event["type"] != "http.request":
            return  # the client went away
        body = b"".join(chunks)
        depth = (
            await run_in_threadpool(json_depth, body) if len(body) >= THREAD_DEPTH_BYTES else json_depth(body)
        )
        if depth > self._json_depth:
            error = InvalidInput(
                f"the JSON body nests arrays and objects {depth} levels deep, over the limit of "
                f"{self._json_depth} (AEDETECT_MAX_JSON_DEPTH)",
                field="body",
            )
            response = error_response(Request(scope), 400, error.code, error.message, error.field)
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class RequestLimitMiddleware:
    """Answers 503 with ``Retry-After`` at once, without running the route, while ``max_requests``
    requests are in progress (``/healthz`` is always answered): a burst cannot queue unbounded
    work, memory and sockets behind the event loop."""

    def __init__(self, app: ASGIApp, max_requests: int, retry_after_s: int = 1) -> None:
        self.app = app
        self._max = max_requests
        self._retry_after = str(retry_after_s)
        self._running = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/healthz":
            await self.app(scope, receive, send)
            return
        if self._running >= self._max:
            scope["app"] = self.app
            response = error_response(
                Request(scope),
                503,
                "unavailable",
                f"the server is handling {self._max} requests already (AEDETECT_MAX_REQUESTS); "
                f"retry in {self._retry_after} s",
            )
            response.headers["Retry-After"] = self._retry_after
            response.headers[REQUEST_ID_HEADER] = uuid.uuid4().hex[:16]
            await response(scope, receive, send)
            return
        self._running += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._running -= 1
