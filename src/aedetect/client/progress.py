"""How :meth:`aedetect.client.Client.follow` shows a job's progress: a tqdm bar on a terminal, and
one plain line per change elsewhere (a log file, CI, a pipe), where a bar's carriage-return
redraws pile up as repeated text."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from tqdm import tqdm


class JobProgress:
    """Shows each state of one job once; ``show`` takes the job as its events carry it."""

    def __init__(self, job_id: str, enabled: bool = True, out: TextIO | None = None) -> None:
        self.label = f"job {job_id[:8]}"
        self.enabled = enabled
        self.out = out if out is not None else sys.stderr
        terminal = enabled and _is_terminal(self.out)
        self.bar = tqdm(desc=self.label, unit="epoch", file=self.out) if terminal else None
        self.last_line: str | None = None

    def show(self, job: Any) -> None:
        """Draw ``job``'s progress: the bar once (one redraw per update), or a line when it says
        something the previous line did not."""
        if not self.enabled:
            return
        step = job["progress"]
        total = step.get("max_epochs") or step.get("rows_total")
        done = step.get("epoch") or step.get("rows_done") or 0
        loss = step.get("train_loss")
        if self.bar is not None:
            if total and self.bar.total != total:
                self.bar.total = total
            self.bar.n = done
            postfix = {"status": job["status"], **({"loss": f"{loss:.4g}"} if loss is not None else {})}
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.refresh()
            return
        line = f"{self.label}: {job['status']}"
        if total:
            line += f", {'epoch' if step.get('max_epochs') else 'rows'} {done}/{total}"
        if loss is not None:
            line += f", loss {loss:.4g}"
        if line != self.last_line:
            self.last_line = line
            print(line, file=self.out, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> JobProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_terminal(out: TextIO) -> bool:
    isatty = getattr(out, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False
