"""The dashboard walked as a newcomer would, on a server of its own (so the models page starts
empty): sign in (a wrong key first), pick columns from a file as people have them (a row id, a
timestamp, a constant column and the label in it), get every parameter mistake at once in words,
train, read the version page, move the threshold, score a file, and see the traffic. Every page is
saved at 1280 and 1920 pixels wide (``newcomer-*``, into ``docs/img`` with ``AEDETECT_DOCS_IMAGES``).

Files as plants have them come last: an Excel workbook saved under a .csv name and a European CSV
upload on the New model page with the same columns, kinds and reasons as the plain CSV.

The tests of this module run in order, each on what the step before it made."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
import requests

from aedetect.client import Client
from support.dashboard import DOCS_IMAGES_ENV, Browser, number
from support.server import REPO, ServerProcess, wait_for

pytestmark = pytest.mark.browser

WIDTHS = (1280, 1920)
NAME = "sensors"
"""The name the page makes of ``Sensors+.csv``."""
MEASURES = ["temperature", "pressure", "speed", "line"]


def sensor_rows(n: int, seed: int, anomalies: int = 0) -> pd.DataFrame:
    """A plant's log as exported: a row id, a timestamp, a constant site, three sensors tied to
    each other, a production line, and the state (the first ``anomalies`` rows overheat)."""
    rng = np.random.default_rng(seed)
    speed = rng.uniform(40, 60, n)
    temperature = 20 + 0.5 * speed + rng.normal(0, 0.5, n)
    pressure = 100 + 0.8 * speed + rng.normal(0, 0.8, n)
    temperature[:anomalies] += rng.uniform(60, 90, anomalies)
    state = np.where(np.arange(n) < anomalies, "anomaly", "normal")
    start = pd.Timestamp("2026-11-02 06:00:00")
    return pd.DataFrame(
        {
            "row_id": np.arange(1, n + 1) + 1000 * seed,
            "time": [(start + pd.Timedelta(minutes=i)).isoformat(sep=" ") for i in range(n)],
            "site": "A",
            "temperature": temperature.round(2),
            "pressure": pressure.round(2),
            "speed": speed.round(2),
            "line": rng.choice(["north", "south"], n),
            "state": state,
        }
    ).sample(frac=1.0, random_state=seed)


@pytest.fixture(scope="module")
def sensor_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("newcomer")
    files = {"train": folder / "Sensors+.csv", "eval": folder / "Sensors eval.csv"}
    files["score"] = folder / "today.csv"
    sensor_rows(400, seed=1).to_csv(files["train"], index=False)
    sensor_rows(200, seed=2, anomalies=20).to_csv(files["eval"], index=False)
    sensor_rows(80, seed=3, anomalies=6).drop(columns=["state"]).to_csv(files["score"], index=False)
    return files


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("newcomer-server") / "data").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def newcomer(playwright_browser: Any, own_server: ServerProcess, artifacts: Path) -> Iterator[Browser]:
    """A browser that has not signed in yet."""
    context = playwright_browser.new_context(viewport={"width": WIDTHS[0], "height": 900}, locale="en-US")
    context.set_default_timeout(60_000)
    opened = Browser(own_server.base, context, context.new_page(), artifacts)
    opened.page.on("pageerror", lambda error: opened.errors.append(str(error)))
    try:
        yield opened
    finally:
        context.close()


def shots(browser: Browser, name: str) -> None:
    """The whole page at each width of :data:`WIDTHS` (charts redraw at the new width)."""
    page = browser.page
    docs = os.environ.get(DOCS_IMAGES_ENV)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(500)  # Plotly redraws on the window's resize event
        for folder in [browser.artifacts, *([REPO / docs] if docs else [])]:
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"newcomer-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def upload_columns(browser: Browser, path: Path) -> dict[str, str]:
    """Upload ``path`` as training data on the New model page: each column's reason to be left
    out ("" for a column ticked as a feature)."""
    page = browser.page
    browser.goto("/models/new")
    page.set_input_files("#train-file", str(path))
    page.wait_for_selector("#columns tbody tr")
    return column_reasons(browser)


def column_reasons(browser: Browser) -> dict[str, str]:
    reasons = {}
    for row in browser.page.locator("#columns tbody tr").all():
        ticked = row.locator("input.use").is_checked()
        reason = row.locator("td.reason").inner_text().strip()
        assert ticked == (reason == ""), (row.get_attribute("data-column"), reason)
        reasons[str(row.get_attribute("data-column"))] = reason
    return reasons


def test_a_wrong_key_gets_a_sign_in_page_that_says_so(newcomer: Browser, own_server: ServerProcess) -> None:
    page = newcomer.page
    newcomer.goto("/")
    assert "/auth/login" in page.url
    assert "aedetect keys create" in page.inner_text("main")
    shots(newcomer, "sign-in")
    page.fill("input[name=key]", "aed_this-is-not-a-key")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    problem = page.inner_text("#sign-in-problem")
    assert "not valid" in problem and "mistyped" in problem
    assert "application/problem+json" not in page.content() and '"status"' not in page.content()
    assert page.evaluate("getComputedStyle(document.querySelector('nav.top')).display") == "flex"  # styled
    shots(newcomer, "sign-in-failed")
    page.fill("input[name=key]", own_server.key)
    page.click("button[type=submit]")
    page.wait_for_url(newcomer.base + "/")
    page.wait_for_load_state("networkidle")
    first = page.inner_text("#empty")
    assert "upload a CSV" in first and "examples/sample_sensors.csv" in first
    assert "AEDETECT_" not in page.inner_text("main")
    shots(newcomer, "models-empty")
    assert not newcomer.errors


def test_new_model_leaves_out_what_cannot_be_a_feature_and_names_it_from_the_file(
    newcomer: Browser, sensor_files: dict[str, Path]
) -> None:
    page = newcomer.page
    reasons = upload_columns(newcomer, sensor_files["train"])
    assert page.input_value("#model-name") == NAME  # "Sensors+" made a name, no stray dash
    assert "an id" in reasons["row_id"]
    assert "date or time" in reasons["time"]
    assert "same value" in reasons["site"]
    assert all(reasons[c] == "" for c in MEASURES)

    page.set_input_files("#eval-file", str(sensor_files["eval"]))
    page.wait_for_selector("#label-column option[value='state']", state="attached")
    page.select_option("#label-column", "state")
    page.fill("#normal-value", "normal")
    reasons = column_reasons(newcomer)
    assert "label column" in reasons["state"]
    assert page.locator("#columns tr[data-column='state'] input.use").is_disabled()
    for name in ("error_knee", "clip_quantile", "magnitude_weight", "n_hidden", "random_state"):
        field = page.locator(f"#params input[name='{name}']")
        if field.count():
            help_text = field.locator("xpath=..").locator("small.note").inner_text()
            assert len(help_text) > 20 and "default" in help_text.lower(), help_text
            assert "auto." not in help_text, help_text


def test_every_parameter_mistake_is_shown_at_once_in_words(newcomer: Browser) -> None:
    page = newcomer.page
    page.fill("#params input[name='n_hidden']", "64; 16")
    page.fill("#params input[name='epochs']", "0")
    page.fill("#params input[name='learning_rate']", "-0.01")
    page.click("#train")
    page.wait_for_selector("#problem", state="visible")
    shown = page.inner_text("#problem")
    assert "hidden sizes: write numbers separated by commas, e.g. 64, 16" in shown
    assert "epochs:" in shown and "learning rate:" in shown
    assert "None" not in shown and "/api/" not in shown and "got" not in shown
    assert page.locator(".field-error:visible").count() == 3
    shots(newcomer, "new-model-mistakes")


def test_train_then_read_the_version_page(newcomer: Browser, own_server: ServerProcess) -> None:
    page = newcomer.page
    page.fill("#params input[name='n_hidden']", "8, 3")
    page.fill("#params input[name='epochs']", "6")
    page.fill("#params input[name='learning_rate']", "")
    page.fill("#params input[name='random_state']", "0")
    page.click("#train")
    page.wait_for_selector("#train-done", state="visible", timeout=240_000)
    assert page.is_visible("#problem") is False
    shots(newcomer, "new-model-trained")

    page.click("#version-link")
    page.wait_for_url(f"**/models/{NAME}/versions/1")
    page.wait_for_load_state("networkidle")
    wait_for(lambda: page.locator("#trained-on tbody tr").count() > 0, "the trained-on table")
    assert "Sensors+.csv" in page.inner_text("#trained-on")
    with Client(own_server.base, api_key=own_server.key) as api:
        threshold = api.version(NAME, 1)["threshold"]["value"]
    summary = page.inner_text("#summary")
    assert f"threshold {float(f'{threshold:.3g}'):g}" in summary.replace(",", ""), summary
    assert str(threshold) not in summary
    wait_for(lambda: "no traffic in this window" in page.inner_text("#rate-chart"), "the empty rate chart")
    assert "no traffic in this window" in page.inner_text("#drift-chart")
    shots(newcomer, "version")
    assert not newcomer.errors


def test_move_the_threshold(newcomer: Browser) -> None:
    page = newcomer.page
    page.click("text=Edit threshold")
    page.wait_for_url(f"**/models/{NAME}/versions/1/threshold")
    page.wait_for_load_state("networkidle")
    wait_for(lambda: page.inner_text("#train-flagged") != "–", "the first preview")
    before = number(page.inner_text("#train-flagged"))
    page.fill("#value", f"{float(page.input_value('#value')) / 2:.3g}")
    wait_for(lambda: number(page.inner_text("#train-flagged")) > before, "more rows flagged")
    paths = "[...document.querySelectorAll('#threshold-chart .shapelayer path')]"
    drawn = paths + ".filter(p => p.style.strokeDasharray).length"  # not the invisible handle
    assert page.evaluate(drawn) == 1  # the line moved, none left behind
    ticks = page.evaluate("document.getElementById('threshold-chart').layout.xaxis.ticktext || []")
    assert all(re.fullmatch(r"[\d.,e+-]+", t) for t in ticks), ticks  # scores, not minor digits
    shots(newcomer, "threshold")
    assert not newcomer.errors


def test_score_a_file_then_see_the_traffic(
    newcomer: Browser, sensor_files: dict[str, Path], own_server: ServerProcess
) -> None:
    page = newcomer.page
    newcomer.goto(f"/models/{NAME}/score")
    page.set_input_files("#file", str(sensor_files["score"]))
    page.wait_for_selector("#result", state="visible", timeout=120_000)
    for top in page.locator("#rows .top-col").all():
        text = top.inner_text()
        if "→" in text:
            sent, expected = (part.strip() for part in text.split(":", 1)[1].split("→"))
            assert sent != expected, text
    scores = [t.inner_text() for t in page.locator("#rows tbody td:nth-child(2)").all()]
    assert all(len(re.sub(r"[^\d]", "", s).lstrip("0")) <= 3 for s in scores), scores
    page.locator("#rows tbody tr").first.click()
    page.wait_for_selector("#detail", state="visible")
    shots(newcomer, "score")

    # the same rows scored through the API (the scoring log, which drift reads, keeps those)
    rows = pd.read_csv(sensor_files["score"])[MEASURES].to_dict(orient="records")
    with Client(own_server.base, api_key=own_server.key) as api:
        api.score(NAME, rows, top=0)
        wait_for(lambda: api.scores(NAME, limit=1)["log"]["queued"] == 0, "the scoring log to drain")
    newcomer.goto(f"/models/{NAME}/versions/1")
    drawn = "(document.getElementById('rate-chart').data || []).length"
    wait_for(lambda: page.evaluate(drawn) == 2, "the rate chart")
    rate = page.evaluate("document.getElementById('rate-chart').data[0]")
    assert rate["type"] == "bar"
    (bars,) = newcomer.chart("drift-chart")
    ticks = page.evaluate("document.getElementById('drift-chart').layout.yaxis.ticktext")
    assert sorted(ticks) == sorted(bars["y"])  # every bar labelled
    shots(newcomer, "version-traffic")

    newcomer.goto("/")
    assert page.is_visible("#empty") is False
    assert page.locator(f"#models tr[data-model='{NAME}']").count() == 1
    shots(newcomer, "models")
    assert not newcomer.errors


def test_a_key_without_bearer_is_told_how_to_send_it(own_server: ServerProcess) -> None:
    bare = requests.get(
        own_server.base + "/api/v2/models", headers={"Authorization": own_server.key}, timeout=30
    )
    assert bare.status_code == 401
    assert "Authorization: Bearer <key>" in bare.json()["detail"]
    wrong = requests.get(
        own_server.base + "/api/v2/models", headers={"Authorization": "Bearer aed_nope"}, timeout=30
    )
    assert wrong.status_code == 401 and "aedetect keys create" in wrong.json()["detail"]
    assert wrong.headers["content-type"].startswith("application/problem+json")  # API clients get a problem


def test_an_excel_workbook_and_a_european_csv_read_like_the_csv(
    newcomer: Browser, sensor_files: dict[str, Path], tmp_path: Path
) -> None:
    """Files as plants have them: a workbook saved under a .csv name and a European CSV (BOM,
    ';' separators, decimal commas) give the same columns and kinds as the plain CSV, and the page
    says how each was read."""
    frame = pd.read_csv(sensor_files["train"])
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Log"
    sheet.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        sheet.append([v.item() if hasattr(v, "item") else v for v in row])
    excel = tmp_path / "Sensors export.csv"  # renamed, as it happens
    workbook.save(excel)
    european = tmp_path / "Sensors EU.csv"
    european.write_bytes(b"\xef\xbb\xbf" + frame.to_csv(index=False, sep=";", decimal=",").encode("utf-8"))

    expected = upload_columns(newcomer, sensor_files["train"])
    kinds = column_kinds(newcomer)
    readings = {excel: 'Excel workbook, sheet "Log"', european: "semicolon-separated, decimal comma"}
    for path, said in readings.items():
        assert upload_columns(newcomer, path) == expected
        assert column_kinds(newcomer) == kinds
        assert kinds["temperature"] == "numeric"
        assert said in newcomer.page.inner_text("#train-summary")
    shots(newcomer, "new-model-european-csv")
    assert not newcomer.errors


def column_kinds(browser: Browser) -> dict[str, str]:
    return {
        str(row.get_attribute("data-column")): row.locator("td").nth(2).inner_text().strip()
        for row in browser.page.locator("#columns tbody tr").all()
    }
