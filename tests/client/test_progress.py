"""The client's training progress: each update drawn once, as a bar on a terminal and as one plain
line per change anywhere else (a log file, CI, a pipe)."""

from __future__ import annotations

import io
from typing import Any

from aedetect.client.progress import JobProgress

JOB = "0123456789abcdef"


def _job(status: str, epoch: int | None = None, loss: float | None = None) -> dict[str, Any]:
    progress = {} if epoch is None else {"epoch": epoch, "max_epochs": 10, "train_loss": loss}
    return {"id": JOB, "status": status, "progress": progress}


UPDATES = [
    _job("queued"),
    _job("running"),
    _job("running", 1, 0.5),
    _job("running", 1, 0.5),  # the same state again (a status event between epochs)
    _job("running", 4, 0.125),
    _job("succeeded", 4, 0.125),
]


class Terminal(io.StringIO):
    """Output that says it is a terminal, as a console's stderr does."""

    def isatty(self) -> bool:
        return True


def test_not_a_terminal_prints_one_line_per_change() -> None:
    out = io.StringIO()
    with JobProgress(JOB, out=out) as shown:
        for job in UPDATES:
            shown.show(job)
    assert out.getvalue().splitlines() == [
        "job 01234567: queued",
        "job 01234567: running",
        "job 01234567: running, epoch 1/10, loss 0.5",
        "job 01234567: running, epoch 4/10, loss 0.125",
        "job 01234567: succeeded, epoch 4/10, loss 0.125",
    ]
    assert "\r" not in out.getvalue()


def test_terminal_redraws_the_bar_once_per_update() -> None:
    out = Terminal()
    with JobProgress(JOB, out=out) as shown:
        drawn = out.getvalue().count("\r")  # tqdm draws the empty bar when it opens
        for job in UPDATES:
            shown.show(job)
            assert out.getvalue().count("\r") == drawn + 1, out.getvalue()
            drawn += 1
    last = out.getvalue().split("\r")[-1]
    assert "4/10" in last and "succeeded" in last and "loss=0.125" in last


def test_progress_off_prints_nothing() -> None:
    for out in (io.StringIO(), Terminal()):
        with JobProgress(JOB, enabled=False, out=out) as shown:
            for job in UPDATES:
                shown.show(job)
        assert out.getvalue() == ""
