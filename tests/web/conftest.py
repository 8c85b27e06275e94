"""Fixtures of the dashboard tests: a real server process (the v1 harness, auth on), a real
headless Chromium from the Debian packages driven by Playwright (never Playwright's own browser
download), signed in with the server's admin key through the login page, recording every request
it makes and every script error of its pages; and the data the walk uses, with Korean names and
values.

Screenshots go to ``test-artifacts/dashboard/`` (``$AEDETECT_TEST_ARTIFACTS``), git-ignored; with
``AEDETECT_DOCS_IMAGES=docs/img`` the README's screenshots are written there too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aedetect.client import Client
from support.dashboard import (
    ARTIFACTS_ENV,
    CHROMIUM_ARGS,
    LABEL,
    Browser,
    Files,
    chromium_path,
    open_browser,
    plant_rows,
)
from support.server import REPO, ServerProcess


@pytest.fixture(scope="session")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    """The training file (normal rows, no label), a labelled evaluation file, a file to score
    (with a few anomalies), a file that is no CSV and one that lacks a model column."""
    folder = tmp_path_factory.mktemp("plant")
    train = plant_rows(400, seed=1).drop(columns=[LABEL])
    evaluation = plant_rows(200, seed=2, anomalies=20)
    score = plant_rows(60, seed=3, anomalies=5).drop(columns=[LABEL])
    paths = Files(
        train=folder / "공장_학습.csv",
        evaluation=folder / "공장_평가.csv",
        score=folder / "공장_점검.csv",
        score_frame=score,
        bad=folder / "not-a-table.csv",
        missing_column=folder / "no-speed.csv",
    )
    train.to_csv(paths.train, index=False)
    evaluation.to_csv(paths.evaluation, index=False)
    score.to_csv(paths.score, index=False)
    paths.bad.write_bytes(b"\x00\x01\x02binary\xff\xfe not a table" * 10)
    score.drop(columns=["속도"]).to_csv(paths.missing_column, index=False)
    return paths


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A running ``python -m aedetect serve`` (auth on) with a fresh data directory."""
    server = ServerProcess(tmp_path_factory.mktemp("web") / "data").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def api(web_server: ServerProcess) -> Iterator[Client]:
    """The v2 client, with the server's admin key."""
    with Client(web_server.base, api_key=web_server.key) as client:
        yield client


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(os.environ.get(ARTIFACTS_ENV, REPO / "test-artifacts")) / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def playwright_browser() -> Iterator[Any]:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser(playwright_browser: Any, web_server: ServerProcess, artifacts: Path) -> Iterator[Browser]:
    opened = open_browser(playwright_browser, web_server, artifacts)
    try:
        yield opened
    finally:
        opened.context.close()
