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
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "v1"))

from v1_support import REPO, ServerProcess

CHROMIUM_ENV = "AEDETECT_TEST_CHROMIUM"
ARTIFACTS_ENV = "AEDETECT_TEST_ARTIFACTS"
DOCS_IMAGES_ENV = "AEDETECT_DOCS_IMAGES"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Headless, as root (no sandbox), and nothing of the browser's own going to the network."""

FEATURES = ["온도", "압력", "속도", "라인", "설비"]
"""Model columns: temperature, pressure, speed (numeric), line (Korean text), machine number
(a number the test marks categorical)."""
LABEL, NORMAL, ANOMALY = "상태", "정상", "이상"
LINES = ["조립", "가공", "포장"]


def chromium_path() -> str:
    """The Debian Chromium (``$AEDETECT_TEST_CHROMIUM`` or on PATH); missing fails under CI and
    skips locally, like the PostgreSQL tests (``.ci/chromium.sh`` installs it)."""
    found = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")
    if found and Path(found).is_file():
        return found
    message = f"no Chromium found (set {CHROMIUM_ENV} or run .ci/chromium.sh)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def plant_rows(n: int, seed: int, anomalies: int = 0) -> pd.DataFrame:
    """Sensor rows of a plant: temperature and pressure tied to speed, per line; the first
    ``anomalies`` rows (shuffled in) run at impossible temperatures and pressures."""
    rng = np.random.default_rng(seed)
    speed = rng.uniform(40, 60, n)
    line = rng.choice(LINES, n)
    temperature = 20 + 0.5 * speed + rng.normal(0, 0.5, n)
    pressure = 100 + 0.8 * speed + rng.normal(0, 0.8, n)
    machine = rng.integers(1, 4, n)
    state = np.full(n, NORMAL, dtype=object)
    temperature[:anomalies] += rng.uniform(60, 90, anomalies)
    pressure[:anomalies] -= rng.uniform(40, 60, anomalies)
    state[:anomalies] = ANOMALY
    frame = pd.DataFrame(
        {"온도": temperature.round(2), "압력": pressure.round(2), "속도": speed.round(2), "라인": line,
         "설비": machine, LABEL: state}
    )  # fmt: skip
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@dataclass
class Files:
    train: Path
    evaluation: Path
    score: Path
    score_frame: pd.DataFrame
    bad: Path
    missing_column: Path


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


@dataclass
class Browser:
    """A signed-in browser context on the server, and what its pages did."""

    base: str
    context: Any
    page: Any
    artifacts: Path
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Uncaught script errors of its pages (a page that broke)."""

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        return response

    def shot(self, name: str, readme_name: str | None = None) -> Path:
        """Screenshot of the whole page as a test artefact (and as a README image when asked)."""
        path = self.artifacts / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        docs = os.environ.get(DOCS_IMAGES_ENV)
        if docs and readme_name:
            target = REPO / docs
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / readme_name)
        return path

    def chart(self, element_id: str) -> list[dict[str, Any]]:
        """The traces Plotly drew in the chart element (x, y, name of each)."""
        traces: list[dict[str, Any]] = self.page.evaluate(
            """id => (document.getElementById(id).data || []).map(t => ({
                name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || [])}))""",
            element_id,
        )
        return traces


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


def open_browser(playwright_browser: Any, server: ServerProcess, artifacts: Path) -> Browser:
    """A new context signed in through ``/auth/login?key=`` (the link the first start prints)."""
    context = playwright_browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="ko-KR"
    )
    context.set_default_timeout(60_000)
    page = context.new_page()
    browser = Browser(server.base, context, page, artifacts)
    context.on("request", lambda request: browser.requests.append(request.url))
    page.on("pageerror", lambda error: browser.errors.append(str(error)))
    response = page.goto(f"{server.base}/auth/login?key={server.key}&next=/")
    assert response is not None and response.ok and page.url == server.base + "/"
    return browser


@pytest.fixture(scope="module")
def browser(playwright_browser: Any, web_server: ServerProcess, artifacts: Path) -> Iterator[Browser]:
    opened = open_browser(playwright_browser, web_server, artifacts)
    try:
        yield opened
    finally:
        opened.context.close()
