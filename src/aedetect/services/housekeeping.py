"""Periodic clean-up of what the service keeps without bound otherwise: audit rows and the result
files of scoring jobs older than their retention. One daemon thread per service container; each
task is idempotent, so several server processes over one registry may all run it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

logger = logging.getLogger(__name__)

INTERVAL_S = 3600.0
"""How often the tasks run (the first run waits :data:`FIRST_RUN_S`, so a short command never
runs them)."""

FIRST_RUN_S = 60.0

Task = tuple[str, Callable[[], int]]
"""A task's name and what it runs; it answers how many things it removed."""


class Housekeeping:
    """Runs its tasks every ``interval_s`` seconds on a daemon thread until :meth:`close`."""

    def __init__(
        self, tasks: Sequence[Task], interval_s: float = INTERVAL_S, first_run_s: float = FIRST_RUN_S
    ) -> None:
        self._tasks = list(tasks)
        self._interval_s = interval_s
        self._first_run_s = first_run_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="aedetect-housekeeping", daemon=True)
            self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the thread was started and has not stopped."""
        return self._thread is not None and self._thread.is_alive()

    def run_once(self) -> dict[str, int]:
        """Run every task now; a failing task is logged and the others still run."""
        removed: dict[str, int] = {}
        for name, task in self._tasks:
            try:
                removed[name] = task()
            except Exception as exc:  # the next interval tries again
                logger.warning("housekeeping task %s failed: %s", name, exc)
                continue
            if removed[name]:
                logger.info("housekeeping: %s removed %d", name, removed[name])
        return removed

    def close(self) -> None:
        """Stop the thread; a task under way finishes first."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        wait = self._first_run_s
        while not self._stop.wait(wait):
            self.run_once()
            wait = self._interval_s
