"""Helpers of the dashboard tests: the Chromium to drive, the plant data the walk uses (Korean
names and values), and a signed-in browser that records every request and script error."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from support.server import REPO, ServerProcess

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


def number(text: str) -> float:
    """The first number in a figure's text ("1,204 (3.2%)" -> 1204)."""
    found = re.search(r"-?[\d,]*\.?\d+(?:e[+-]?\d+)?", text)
    assert found, text
    return float(found.group(0).replace(",", ""))


@dataclass
class Files:
    train: Path
    evaluation: Path
    score: Path
    score_frame: pd.DataFrame
    bad: Path
    missing_column: Path


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

    def shot(self, name: str, readme_name: str | None = None, readme_full_page: bool = True) -> Path:
        """Screenshot of the whole page as a test artefact (and as a README image when asked:
        the whole page, or what the window shows)."""
        path = self.artifacts / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        docs = os.environ.get(DOCS_IMAGES_ENV)
        if docs and readme_name:
            target = REPO / docs
            target.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(target / readme_name), full_page=readme_full_page)
        return path

    def chart(self, element_id: str) -> list[dict[str, Any]]:
        """The traces Plotly drew in the chart element (x, y, name of each)."""
        traces: list[dict[str, Any]] = self.page.evaluate(
            """id => (document.getElementById(id).data || []).map(t => ({
                name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || [])}))""",
            element_id,
        )
        return traces


def open_browser(playwright_browser: Any, server: ServerProcess, artifacts: Path) -> Browser:
    """A new context signed in through ``/auth/login?key=`` (the link the first start prints)."""
    context = playwright_browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="en-US"
    )
    context.set_default_timeout(60_000)
    page = context.new_page()
    browser = Browser(server.base, context, page, artifacts)
    context.on("request", lambda request: browser.requests.append(request.url))
    page.on("pageerror", lambda error: browser.errors.append(str(error)))
    response = page.goto(f"{server.base}/auth/login?key={server.key}&next=/")
    assert response is not None and response.ok and page.url == server.base + "/"
    return browser
