"""ASGI middleware that applies to every route, present and future: a request id for each request,
and a size limit on each request body, checked before the route reads it.

Pure ASGI (no ``BaseHTTPMiddleware``), so streamed uploads pass through without being buffered.
"""

from __future__ import annotations

import uuid

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aedetect.api.errors import error_response
from aedetect.errors import PayloadTooLarge

REQUEST_ID_HEADER = "X-Request-ID"

MULTIPART_OVERHEAD = 64 * 1024
"""Bytes of multipart framing (boundaries, part headers) allowed beyond the upload size limit."""

UPLOAD_TYPES = ("multipart/form-data", "text/csv")
"""Content types of file uploads; every other body is held to the JSON body limit."""


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

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.lower().encode(), rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyLimitMiddleware:
    """Refuses a request body over its limit with 413 naming the limit and the setting that
    raises it: uploads (multipart or ``text/csv``) against ``upload_limit`` (plus the multipart
    framing), anything else against ``json_limit``. A declared ``Content-Length`` over the limit is
    refused before the route runs; a streamed body is cut off as soon as it passes the limit, so no
    route ever holds more than the limit in memory."""

    def __init__(self, app: ASGIApp, upload_limit: int, json_limit: int) -> None:
        self.app = app
        self._upload_limit = upload_limit
        self._json_limit = json_limit

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
        seen = 0

        async def receive_limited() -> Message:
            nonlocal seen
            event = await receive()
            if event["type"] == "http.request":
                seen += len(event.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, f"the request body is {message}")
            return event

        await self.app(scope, receive_limited, send)
