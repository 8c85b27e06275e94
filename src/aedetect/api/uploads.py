"""Request bodies read as streams under the upload limit, for both APIs: the stream is cut off
as soon as it passes the limit, so an oversized body is refused (413) without being read whole."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncGenerator, AsyncIterator
from typing import BinaryIO, cast

from fastapi import Request
from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException, MultiPartParser

from aedetect.errors import InvalidInput, PayloadTooLarge

MULTIPART_OVERHEAD = 64 * 1024
"""Bytes of multipart framing (boundaries, part headers) allowed beyond the file size limit."""

MAX_FILES = 100
SPOOL_BYTES = 1024 * 1024
"""Bodies up to this size stay in memory; larger ones spill to a temporary file."""


async def limited(stream: AsyncIterator[bytes], limit: int, allowed: int) -> AsyncGenerator[bytes, None]:
    """``stream``, raising ``PayloadTooLarge`` as soon as it exceeds ``limit`` bytes."""
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit:
            raise PayloadTooLarge(
                f"the upload is over the limit of {allowed} bytes per request (AEDETECT_MAX_UPLOAD_BYTES)",
                field="file",
            )
        yield chunk


def check_length(request: Request, limit: int, allowed: int) -> None:
    """Refuse at once a request whose declared length is over ``limit``."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(
            f"the upload has {length} bytes, over the limit of {allowed} bytes per request "
            "(AEDETECT_MAX_UPLOAD_BYTES)",
            field="file",
        )


async def read_multipart(request: Request, max_bytes: int) -> FormData:
    """The multipart form of ``request``, each file spooled to a temporary file."""
    limit = max_bytes + MULTIPART_OVERHEAD
    check_length(request, limit, max_bytes)
    parser = MultiPartParser(
        request.headers,
        limited(request.stream(), limit, max_bytes),
        max_files=MAX_FILES,
        max_fields=MAX_FILES,
    )
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise InvalidInput(f"the multipart body cannot be read: {exc.message}", field="file") from exc


async def spool_body(request: Request, max_bytes: int) -> BinaryIO:
    """The raw request body in a spooled temporary file of at most ``max_bytes``; the caller closes it."""
    check_length(request, max_bytes, max_bytes)
    spool = cast(BinaryIO, tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES))  # noqa: SIM115 - caller closes
    try:
        async for chunk in limited(request.stream(), max_bytes, max_bytes):
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool
