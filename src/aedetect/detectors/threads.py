"""How many intra-op threads torch may use while a detector trains or scores.

torch's default, one thread per core, is the wrong choice for the small layers of a tabular
autoencoder: each operation is microseconds of arithmetic, so the threads mostly wait for each
other, and when another process holds a core every operation waits for the slowest thread (a
2-core machine with other work trained 10-17x slower with 2 threads than with 1). So the detector
chooses its own count from the size of the network and restores the caller's setting afterwards.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

PARALLEL_MACS_PER_ROW = 16_000_000
"""Multiply-adds per row (all members, forward pass) from which a second thread is used. Measured
on a 2-core machine with other work on it (load average 6.5-7, 3 epochs of 4,000 rows): 2 threads
were slower than 1 at every size tried, 84k (4.43 s vs 0.63 s), 2.2M (33.0 s vs 20.9 s) and 12.6M
multiply-adds per row (58.0 s vs 49.6 s), so one thread serves every network the defaults build."""

MAX_AUTO_THREADS = 4
"""Most threads chosen automatically: beyond this, small-batch products gain nothing."""

_lock = threading.Lock()
_active = {"depth": 0, "caller": 1}
"""Blocks inside :func:`torch_threads` now, and the count the first of them found."""


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def auto_threads(macs_per_row: int) -> int:
    """The thread count for a network doing ``macs_per_row`` multiply-adds per row: 1 for small
    networks, up to ``MAX_AUTO_THREADS`` (and the usable cores) for wide ones."""
    if macs_per_row < PARALLEL_MACS_PER_ROW:
        return 1
    return max(1, min(MAX_AUTO_THREADS, available_cores(), macs_per_row // PARALLEL_MACS_PER_ROW + 1))


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` torch intra-op threads, then restore the caller's setting.

    torch's setting is process-wide: blocks running at once in several Python threads each set
    their count on entry, and the last one to leave restores the count the first one found."""
    with _lock:
        if _active["depth"] == 0:
            _active["caller"] = torch.get_num_threads()
        _active["depth"] += 1
        if torch.get_num_threads() != count:
            torch.set_num_threads(count)
    try:
        yield
    finally:
        with _lock:
            _active["depth"] -= 1
            if _active["depth"] == 0 and torch.get_num_threads() != _active["caller"]:
                torch.set_num_threads(_active["caller"])
