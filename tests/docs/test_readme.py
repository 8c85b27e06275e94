"""The README's v2 walk-through, run as written: its code blocks are read from README.md itself
(each ```python fence after a ``<!-- readme-test -->`` line), run in order in one namespace from the
repository root against a real server, with only the server's address and key put in. What each
block prints must read as the ```text block after it shows, numbers aside (they differ a little
between machines); the relations the README states (the autoencoder beats the baseline, the
feedback retraining makes version 2) are asserted on the values themselves."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import Any

import pytest

from support.server import REPO, ServerProcess

README = REPO / "README.md"
MARKER = "<!-- readme-test -->"
SHOWN_URL, SHOWN_KEY = "http://127.0.0.1:8000", "<KEY>"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


@dataclass
class Block:
    """A marked python block of the README and the output shown after it (``None``: none)."""

    line: int
    code: str
    shown: str | None


def _fence(lines: list[str], start: int, language: str) -> tuple[str, int] | None:
    """The body of the fence of ``language`` opening at ``lines[start]`` (blank lines before it
    skipped) and the index after its closing line; ``None`` when no such fence opens there."""
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start >= len(lines) or lines[start].strip() != f"```{language}":
        return None
    end = lines.index("```", start + 1)
    return "\n".join(lines[start + 1 : end]) + "\n", end + 1


def readme_blocks(text: str) -> list[Block]:
    """The marked blocks of the README, in order."""
    lines = text.splitlines()
    blocks = []
    for index, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        code = _fence(lines, index + 1, "python")
        assert code is not None, f"README.md line {index + 1}: {MARKER} is not followed by a python fence"
        shown = _fence(lines, code[1], "text")
        blocks.append(Block(index + 1, code[0], None if shown is None else shown[0]))
    return blocks


def shape(output: str) -> list[str]:
    """``output``'s lines with every number replaced by ``#`` and trailing blanks dropped."""
    return [NUMBER.sub("#", line).rstrip() for line in output.strip().splitlines()]


def test_blocks_are_found_in_order() -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 4, "the walk-through lost its marked blocks"
    assert SHOWN_URL in blocks[0].code and SHOWN_KEY in blocks[0].code
    assert all(block.shown is not None for block in blocks), "every block shows what it prints"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("readme") / "data").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def walk(server: ServerProcess) -> dict[str, Any]:
    """Every marked block run in one namespace: what each printed, what training wrote on
    stderr, and the namespace at the end."""
    assert server.key is not None
    namespace: dict[str, Any] = {"__name__": "readme"}
    printed: list[str] = []
    progress = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO)
        for block in readme_blocks(README.read_text(encoding="utf-8")):
            code = block.code.replace(SHOWN_URL, server.base).replace(SHOWN_KEY, server.key)
            out = io.StringIO()
            with redirect_stdout(out), redirect_stderr(progress):
                exec(compile(code, f"README.md:{block.line}", "exec"), namespace)
            printed.append(out.getvalue())
    return {"printed": printed, "progress": progress.getvalue(), "ns": namespace}


def test_each_block_prints_what_the_readme_shows(walk: dict[str, Any]) -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    for block, output in zip(blocks, walk["printed"], strict=True):
        assert block.shown is not None
        assert shape(output) == shape(block.shown), f"README.md line {block.line} printed:\n{output}"


def test_the_autoencoder_beats_the_baseline(walk: dict[str, Any]) -> None:
    report = walk["ns"]["report"]
    baseline = report["baseline"]
    assert report["rows"] == 1000 and report["anomalies"] == 50
    assert walk["ns"]["version"]["metrics"]["roc_auc"] == pytest.approx(report["roc_auc"])
    for metric in ("roc_auc", "average_precision", "f1"):
        assert report[metric] > baseline[metric], (metric, report[metric], baseline[metric])


def test_training_used_the_chosen_columns_of_normal_rows(walk: dict[str, Any]) -> None:
    version = walk["ns"]["version"]
    assert version["rows"] == 2000
    assert [c["name"] for c in version["columns"]] == walk["ns"]["columns"]
    assert "time" not in [c["name"] for c in version["columns"]]


def test_scoring_flags_mostly_logged_anomalies(walk: dict[str, Any]) -> None:
    flagged = walk["ns"]["flagged"]
    assert flagged and flagged.count("anomaly") > len(flagged) / 2
    rows, worst = walk["ns"]["rows"], walk["ns"]["worst"]
    assert rows[worst]["label"] == "anomaly"


def test_feedback_retraining_follows_the_labels(walk: dict[str, Any]) -> None:
    ns = walk["ns"]
    assert ns["v2"]["version"] == 2
    applied = ns["v2"]["metrics"]["feedback"]
    assert applied["normal_rows_added"] > 0 and applied["anomaly_labels"] == 50, applied
    assert ns["api"].model("plant")["aliases"]["production"] == 1


def test_progress_shows_each_update_once(walk: dict[str, Any]) -> None:
    lines = [line for line in walk["progress"].splitlines() if line.startswith("job ")]
    assert lines, walk["progress"]
    assert len(lines) == len(set(lines)), walk["progress"]
    assert "\r" not in walk["progress"]
