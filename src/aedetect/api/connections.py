"""Bounds on the server's connections, so that no client can starve the others by holding sockets.

uvicorn alone closes a connection only after a response (its keep-alive timeout): a client that
connects and sends nothing, or half a request line, holds a socket and a file descriptor for as
long as it likes, and about a thousand of them exhaust the usual open-file limit of 1,024, after
which nobody is served. :func:`bounded_protocol` makes uvicorn's HTTP/1.1 protocol

- close a connection whose request head (request line and headers) is not complete within
  ``header_timeout_s`` of its start, or of the end of its previous response (plus the keep-alive
  time), whatever trickles in meanwhile;
- keep at most ``max_connections`` open: each connection beyond it makes the server close the
  connection that has been idle (no request in progress) the longest, so a flood of idle sockets
  pushes out idle sockets, never a request in progress, and new clients are always accepted.

:func:`raise_open_file_limit` raises the soft ``RLIMIT_NOFILE`` to the hard limit at start, and
:func:`connection_budget` keeps the connection cap below what the open-file limit allows.
:class:`RepeatFilter` rate-limits log lines about the same failure.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from dataclasses import dataclass

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger(__name__)

FD_RESERVE = 200
"""File descriptors kept for everything but client connections: the database, uploads, model
files, log files, the pipes of threads and child processes."""

ACCEPT_BACKLOG = 100
"""Connections the kernel queues for the server to accept. asyncio accepts up to this many at once
before the protocol can close idle ones, so it is kept well under :data:`FD_RESERVE`."""

MAX_NOFILE = 1 << 20
"""Where the soft open-file limit is raised to when the hard limit is unlimited."""


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a request head may take, how long an idle keep-alive connection stays open, and
    how many connections are open at most."""

    header_timeout_s: float
    keep_alive_s: float
    max_connections: int


def raise_open_file_limit() -> tuple[int, int]:
    """Raise the soft open-file limit to the hard one where allowed; the (soft, hard) limits after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = MAX_NOFILE if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            logger.warning("could not raise the open-file limit from %d to %d: %s", soft, target, exc)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft, hard


def connection_budget(wanted: int, open_files: int) -> tuple[int, str | None]:
    """The connections the server may keep open with ``open_files`` descriptors, and a warning
    when that is fewer than the ``wanted`` (``AEDETECT_MAX_CONNECTIONS``)."""
    allowed = max(16, open_files - FD_RESERVE - ACCEPT_BACKLOG)
    if allowed >= wanted:
        return wanted, None
    return allowed, (
        f"the open-file limit is {open_files}, so at most {allowed} client connections are kept open "
        f"at once (AEDETECT_MAX_CONNECTIONS is {wanted}); idle connections beyond that are closed. "
        f"Raise the limit ('ulimit -n {wanted + FD_RESERVE + ACCEPT_BACKLOG}' or LimitNOFILE= in a "
        "systemd unit) to keep more"
    )


def bounded_protocol(limits: ConnectionLimits) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a request-head timeout and a connection cap (module docstring);
    one class per server, holding that server's idle connections oldest first."""
    idle: dict[H11Protocol, None] = {}

    class BoundedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._became_idle(limits.header_timeout_s)
            excess = len(self.connections) - limits.max_connections
            while excess > 0 and idle:
                oldest = next(iter(idle))
                oldest._close_idle()  # type: ignore[attr-defined]
                excess -= 1

        def connection_lost(self, exc: Exception | None) -> None:
            self._busy()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self.cycle is not None and not self.cycle.response_complete:
                self._busy()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._became_idle(limits.keep_alive_s + limits.header_timeout_s)

        def _became_idle(self, timeout_s: float) -> None:
            self._busy()
            idle[self] = None
            self._deadline = self.loop.call_later(timeout_s, self._close_idle)

        def _busy(self) -> None:
            idle.pop(self, None)
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _close_idle(self) -> None:
            """Close a connection with no request in progress (too slow, or pushed out)."""
            self._busy()
            self.connections.discard(self)
            if not self.transport.is_closing():
                if self.conn.our_state in (h11.IDLE, h11.DONE):
                    self.conn.send(h11.ConnectionClosed())
                self.transport.close()

    return BoundedH11Protocol


class RepeatFilter(logging.Filter):
    """Lets through the first warning or error about a failure (same logger, text and exception type) and
    then at most one such line every ``window_s`` seconds, which says how many were left out: a
    flood of identical errors cannot fill the disk or bury the line that explains them."""

    def __init__(self, window_s: float = 10.0) -> None:
        super().__init__()
        self._window_s = window_s
        self._seen: dict[tuple[str, str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True  # requests (the access log) and progress, each its own line
        exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        key = (record.name, record.getMessage(), exc)  # a request's own id keeps its line apart
        now = time.monotonic()
        last, dropped = self._seen.get(key, (float("-inf"), 0))
        if now - last < self._window_s:
            self._seen[key] = (last, dropped + 1)
            return False
        if len(self._seen) > 1000:
            self._seen.clear()
        self._seen[key] = (now, 0)
        if dropped:
            record.msg = f"{record.msg} [{dropped} more like this in the last {now - last:.0f}s not logged]"
        return True
