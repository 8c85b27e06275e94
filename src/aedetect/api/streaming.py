"""Large scoring requests off the event loop: parsed, checked and scored in a bounded pool of
threads (``AEDETECT_SCORING_THREADS``), and answered as a stream, one batch of rows at a time.

So a large request neither holds up the event loop (health, reads and small predictions answer as
usual) nor takes more than its share of threads, and its answer is never held whole in memory:
each batch is scored and encoded in the pool only when the client has taken the previous one.
The checks that can refuse a request (row count, model, columns) run before the answer starts, so
a refusal keeps its status; a failure after that (an internal error) cuts the stream short and is
logged with the request id.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import anyio
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import StreamingResponse

logger = logging.getLogger(__name__)

R = TypeVar("R")
T = TypeVar("T")


class ScoringPool:
    """At most ``threads`` large scoring requests work at once; the others wait their turn
    without holding a thread or the event loop."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._limiter = anyio.CapacityLimiter(threads)

    async def run(self, func: Callable[..., R], *args: Any) -> R:
        """``func(*args)`` in one of the pool's threads."""
        return await to_thread.run_sync(func, *args, limiter=self._limiter)

    def stream(
        self,
        request: Request,
        head: bytes,
        batches: Iterator[T],
        encode: Callable[[T], bytes],
        separator: bytes,
        tail: bytes,
        media_type: str,
    ) -> StreamingResponse:
        """``head``, then each batch encoded (in the pool, one at a time) and joined by
        ``separator``, then ``tail``."""

        def encoded_next() -> bytes | None:
            batch = next(batches, None)
            return None if batch is None else encode(batch)

        async def body() -> AsyncIterator[bytes]:
            yield head
            first = True
            try:
                while (chunk := await self.run(encoded_next)) is not None:
                    yield chunk if first else separator + chunk
                    first = False
            except Exception:
                logger.exception(
                    "request %s: %s %s failed while its answer was streamed; the answer was cut short",
                    getattr(request.state, "request_id", "-"),
                    request.method,
                    request.url.path,
                )
                raise
            finally:
                close = getattr(batches, "close", None)
                if close is not None:
                    close()  # a generator's clean-up (a temporary file, say) runs now, not when collected
            yield tail

        return StreamingResponse(body(), media_type=media_type)
