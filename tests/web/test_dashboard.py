"""The dashboard walked in a real headless Chromium against a real server, as a person would:
page 2 (new model: upload, columns, evaluation file, parameters, training with a live progress
bar and loss curve) -> page 3 (model version) -> page 4 (threshold editor) -> page 5 (score a
file) -> page 1 (models), on plant data with Korean column names and values. Each step saves a
screenshot. The walk's browser records every request it makes: none leaves the server.

The tests of this module run in order: each page works on what the step before it made. Waits
poll from Python (the pages' Content-Security-Policy forbids the evaluated strings of Playwright's
own waits, and the walk runs under it as a user's browser does)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from support.dashboard import FEATURES, LABEL, NORMAL, Browser, Files, number, plant_rows
from support.server import ServerProcess, wait_for

pytestmark = pytest.mark.browser

MODEL = "line-7"
EPOCHS = 8
MODEL_COLUMNS = len(FEATURES)


def test_page2_new_model_uploads_picks_columns_and_trains_live(browser: Browser, files: Files) -> None:
    page = browser.page
    browser.goto("/models/new")
    page.set_input_files("#train-file", str(files.train))
    page.wait_for_selector("#columns tbody tr")
    rows = page.locator("#columns tbody tr")
    assert rows.count() == len(FEATURES)
    table = page.inner_text("#columns")
    for name in FEATURES:
        assert name in table  # Korean column names render
    assert "조립" in table or "가공" in table  # and Korean example values
    assert page.get_attribute("#train-upload", "aria-valuenow") == "100"
    assert "400 rows" in page.inner_text("#train-summary")
    page.check("#columns tr[data-column='설비'] input.categorical")

    page.set_input_files("#eval-file", str(files.evaluation))
    page.wait_for_selector(f"#label-column option[value='{LABEL}']", state="attached")
    page.select_option("#label-column", LABEL)
    page.fill("#normal-value", NORMAL)
    page.fill("#model-name", MODEL)
    # each parameter says what it does and its default (from the detector's parameter table)
    assert "Adam step size, halved when the loss stalls. Default: 0.001." in page.inner_text("#params")
    assert page.get_attribute("#params input[name='n_estimators']", "placeholder") == "8"
    page.fill("#params input[name='epochs']", str(EPOCHS))
    page.fill("#params input[name='n_hidden']", "8, 3")
    page.fill("#params input[name='batch_size']", "32")
    page.fill("#params input[name='random_state']", "0")
    page.fill("#params input[name='patience']", str(EPOCHS))
    page.click("#train")

    page.wait_for_selector("#train-done", state="visible", timeout=240_000)
    assert page.get_attribute("#train-progress", "aria-valuenow") == "100"
    assert "done" in page.inner_text("#train-progress")
    train, val = browser.chart("loss-chart")
    assert train["name"] == "train loss" and len(train["x"]) == EPOCHS and len(train["y"]) == EPOCHS
    assert val["name"] == "validation loss" and len(val["y"]) == EPOCHS
    assert page.is_visible("#problem") is False
    browser.shot("2-new-model-trained")
    assert not browser.errors


def test_page2_cancel_stops_a_running_training(browser: Browser, files: Files, api: Any) -> None:
    page = browser.page
    browser.goto("/models/new")
    page.set_input_files("#train-file", str(files.train))
    page.wait_for_selector("#columns tbody tr")
    page.fill("#model-name", "line-7-long")
    page.fill("#params input[name='epochs']", "10000")
    page.fill("#params input[name='n_hidden']", "8, 3")
    page.click("#train")
    wait_for(lambda: re.search(r"epoch \d+ of 10000", page.inner_text("#train-progress")), "a running epoch")

    # meanwhile the models page shows the training with a live progress bar
    models = browser.context.new_page()
    models.goto(browser.base + "/")
    bar = models.locator("#models tr[data-model='line-7-long'] .progress")
    first = wait_for(lambda: re.search(r"epoch (\d+) of 10000", bar.inner_text()), "the models page's bar")
    wait_for(
        lambda: (m := re.search(r"epoch (\d+) of 10000", bar.inner_text())) and int(m[1]) > int(first[1]),
        "the bar to move",
    )
    models.close()
    page.click("#cancel")
    page.wait_for_selector("#problem", state="visible", timeout=120_000)
    assert "training cancelled" in page.inner_text("#problem")
    jobs = api.jobs(model="line-7-long")["items"]
    assert jobs[0]["status"] == "cancelled" and jobs[0]["version"] is None
    browser.shot("2-new-model-cancelled")
    assert not browser.errors


def test_page3_model_version_shows_losses_scores_metrics_params_and_versions(
    browser: Browser, api: Any
) -> None:
    page = browser.page
    browser.goto("/")
    page.click(f"#models tr[data-model='{MODEL}'] a")
    page.wait_for_url(f"**/models/{MODEL}/versions/1")
    page.wait_for_load_state("networkidle")
    version = api.version(MODEL, 1)

    train, val = browser.chart("loss-chart")
    assert len(train["y"]) == EPOCHS and len(val["y"]) == EPOCHS
    assert train["y"] == pytest.approx(version["history"]["train_loss"])

    histogram = browser.chart("score-chart")
    assert [t["name"].split(" (")[0] for t in histogram] == ["training", "eval: normal", "eval: anomaly"]
    assert all(len(t["x"]) == 40 for t in histogram)
    assert "(400 rows)" in histogram[0]["name"] and "(20 rows)" in histogram[2]["name"]
    line = page.evaluate("document.getElementById('score-chart').layout.shapes[0].x0")
    assert line == pytest.approx(version["threshold"]["value"])

    metrics = {
        r.locator("th").inner_text(): [c.inner_text() for c in r.locator("td").all()]
        for r in page.locator("#metrics tbody tr").all()
    }
    auto, forest = metrics["ROC-AUC"]
    assert number(auto) == pytest.approx(version["metrics"]["evaluation"]["roc_auc"], abs=1e-3)
    assert number(forest) == pytest.approx(version["metrics"]["evaluation"]["baseline"]["roc_auc"], abs=1e-3)
    assert number(auto) > 0.9  # the impossible temperatures are found

    params = page.inner_text("#params")
    assert "n_hidden\t8, 3" in params and f"epochs\t{EPOCHS}" in params
    schema = page.inner_text("#schema")
    assert all(name in schema for name in FEATURES) and "설비\tcategorical" in schema
    assert page.locator("#versions tbody tr").count() == 1
    assert "production" in page.inner_text("#versions tbody tr")
    browser.shot("3-model-version", readme_name="model-version.png")
    assert not browser.errors


def test_page4_threshold_editor_moves_counts_and_saves_a_revision(
    browser: Browser, api: Any, web_server: ServerProcess
) -> None:
    page = browser.page
    page.click("text=Edit threshold")
    page.wait_for_url(f"**/models/{MODEL}/versions/1/threshold")
    page.wait_for_load_state("networkidle")
    wait_for(lambda: page.inner_text("#train-flagged") != "–", "the first preview")
    trained = api.version(MODEL, 1)["threshold"]["value"]
    assert float(page.input_value("#value")) == pytest.approx(trained, rel=5e-3)  # 3 significant figures
    before = number(page.inner_text("#train-flagged"))
    assert before == pytest.approx(0.01 * 400, abs=2)  # contamination 1% of the training rows
    histogram = browser.chart("threshold-chart")
    assert len(histogram) == 3 and all(len(t["x"]) == 60 for t in histogram)

    # typing a lower threshold moves the line and flags more rows, with precision/recall/F1
    lower = trained / 3
    page.fill("#value", f"{lower:.6g}")
    wait_for(lambda: number(page.inner_text("#train-flagged")) > before, "more rows flagged")
    line = page.evaluate("document.getElementById('threshold-chart').layout.shapes[0].x0")
    assert line == pytest.approx(lower, rel=1e-5)
    typed_flagged = number(page.inner_text("#train-flagged"))
    preview = requests.get(
        f"{browser.base}/api/v2/models/{MODEL}/versions/1/threshold/preview",
        params={"value": f"{lower:.6g}"},
        headers={"Authorization": f"Bearer {web_server.key}"},
        timeout=30,
    ).json()
    assert typed_flagged == preview["training"]["flagged"]
    for figure in ("#precision", "#recall", "#f1"):
        assert 0 <= number(page.inner_text(figure)) <= 1
    assert "false alarms" in page.inner_text("#confusion")

    # dragging the line on the histogram moves the threshold too
    box = page.locator("#threshold-chart .shapelayer path").first.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y, steps=8)
    page.mouse.up()
    wait_for(lambda: float(page.input_value("#value") or 0) > lower * 1.01, "the dragged value")
    dragged = float(page.input_value("#value"))
    wait_for(lambda: number(page.inner_text("#train-flagged")) < typed_flagged, "fewer rows flagged")

    # save it as a revision with a reason: it is in force for scoring at once
    page.fill("#note", "둘째 라인 경보 줄이기")
    page.click("#save button[type='submit']")
    wait_for(lambda: page.inner_text("#saved").startswith("Saved"), "the saved revision")
    assert api.version(MODEL, 1)["threshold"]["value"] == pytest.approx(dragged, rel=1e-5)
    revisions = page.locator("#revisions tbody tr")
    wait_for(lambda: revisions.count() == 2, "the revisions to be listed again")  # after "Saved"
    newest = revisions.first.inner_text()
    assert "value" in newest and "둘째 라인 경보 줄이기" in newest and "first admin key" in newest
    assert "contamination" in revisions.nth(1).inner_text()
    browser.shot("4-threshold-editor")
    assert not browser.errors


def test_page5_score_a_file_shows_rows_by_score_with_reasons_and_downloads(
    browser: Browser, files: Files, api: Any
) -> None:
    page = browser.page
    browser.goto(f"/models/{MODEL}/score")
    page.set_input_files("#file", str(files.score))
    page.wait_for_selector("#result", state="visible", timeout=120_000)
    assert page.get_attribute("#upload", "aria-valuenow") == "100"
    assert page.get_attribute("#scoring", "aria-valuenow") == "100"

    rows = page.locator("#rows tbody tr")
    assert rows.count() == len(files.score_frame)
    scores = [number(r.locator("td").nth(1).inner_text()) for r in rows.all()]
    assert scores == sorted(scores, reverse=True)
    expected = api.score(MODEL, json.loads(files.score_frame[FEATURES].to_json(orient="records")), top=3)
    flagged = sum(r["is_anomaly"] for r in expected["rows"])
    assert page.locator("#rows tbody tr .anomaly").count() == flagged
    assert f"{flagged} anomalies in {len(files.score_frame)} rows" in page.inner_text("#result-title")
    first = rows.first
    shown = first.locator(".top-col")
    assert shown.count() == 3
    assert "온도" in first.inner_text() or "압력" in first.inner_text()
    assert "→" in shown.first.inner_text()  # the value sent and the value expected

    first.click()
    page.wait_for_selector("#detail", state="visible")
    (bars,) = browser.chart("contribution-chart")
    assert len(bars["y"]) == MODEL_COLUMNS and sorted(bars["y"]) == sorted(FEATURES)
    assert sum(bars["x"]) == pytest.approx(1.0, abs=1e-6)
    assert page.locator("#detail-values tbody tr").count() == MODEL_COLUMNS
    browser.shot("5-scored-file", readme_name="scored-file.png", readme_full_page=False)

    with page.expect_download() as download:
        page.click("#download")
    saved = download.value.path()
    scored = pd.read_csv(Path(saved))
    assert {"anomaly_score", "is_anomaly", "top_columns", *FEATURES} <= set(scored.columns)
    assert len(scored) == len(files.score_frame)
    assert int(scored["is_anomaly"].sum()) == flagged
    assert set(scored["라인"]) <= {"조립", "가공", "포장"}
    assert download.value.suggested_filename.endswith(".csv")
    assert not browser.errors


def test_page1_models_lists_status_production_and_recent_scoring(
    browser: Browser, files: Files, api: Any
) -> None:
    wait_for(lambda: api.scores(MODEL, limit=1)["log"]["queued"] == 0, "the scoring log to drain")
    page = browser.page
    browser.goto("/")
    row = page.locator(f"#models tr[data-model='{MODEL}']")
    cells = [c.inner_text() for c in row.locator("td").all()]
    assert cells[1] == "v1" and "ready" in cells[2] and cells[3] != "–"
    # the file scored as a job on page 5, and the same rows scored through the API there (logged)
    assert number(cells[4]) == 2 * len(files.score_frame) and cells[5].endswith("%")
    cancelled = [c.inner_text() for c in page.locator("#models tr[data-model='line-7-long'] td").all()]
    assert "cancelled" in cancelled[2] and "stopped on request" in cancelled[2]
    browser.shot("1-models")
    assert not browser.errors


def test_page6_errors_are_shown_in_words(browser: Browser, files: Files) -> None:
    page = browser.page
    response = browser.goto("/models/no-such-model/versions/1")
    assert response is not None and response.status == 404
    assert "not found" in page.inner_text("#page-problem") and "Traceback" not in page.content()
    browser.shot("6-error-page")

    browser.goto("/models/new")
    page.set_input_files("#train-file", str(files.bad))
    page.wait_for_selector("#problem", state="visible")
    assert page.inner_text("#problem").strip()
    assert "Traceback" not in page.inner_text("#problem")

    browser.goto(f"/models/{MODEL}/score")
    page.set_input_files("#file", str(files.missing_column))
    page.wait_for_selector("#problem", state="visible")
    assert "속도" in page.inner_text("#problem") and "lacks the model column" in page.inner_text("#problem")
    browser.shot("6-score-error")

    browser.goto("/models/new")  # a taken name: the API's hint in the dashboard's words, no route
    page.set_input_files("#train-file", str(files.train))
    page.wait_for_selector("#columns tbody tr")
    page.fill("#model-name", MODEL)
    page.click("#train")
    page.wait_for_selector("#problem", state="visible")
    shown = page.inner_text("#problem")
    assert "already exists" in shown and "from the Models page" in shown and "/api/" not in shown
    assert not browser.errors


def plant_traffic(api: Any) -> None:
    """Traffic of the plant after training: 300 ordinary rows, then 300 where the temperature
    sensor reads 8 degrees high, a fifth come from a new line (도장), and 15 are real faults."""
    ordinary = plant_rows(300, seed=11).drop(columns=[LABEL])
    drifted = plant_rows(300, seed=12, anomalies=15)
    normal = drifted[LABEL] == NORMAL
    drifted.loc[normal, "온도"] += 8
    drifted.loc[drifted.index % 5 == 0, "라인"] = "도장"
    for frame in (ordinary, drifted.drop(columns=[LABEL])):
        api.score(MODEL, json.loads(frame[FEATURES].to_json(orient="records")), top=0)
    wait_for(lambda: api.scores(MODEL, limit=1)["log"]["queued"] == 0, "the scoring log to drain")


def is_fault(values: dict[str, Any]) -> bool:
    """What the operators know: a fault runs far hotter than its speed explains (the 8 degree
    drift of the sensor does not)."""
    return float(values["온도"]) - (20 + 0.5 * float(values["속도"])) > 30


def test_page3_drift_and_feedback_then_the_threshold_editor_recalibrates(
    browser: Browser, api: Any, web_server: ServerProcess
) -> None:
    plant_traffic(api)
    alarms = api.scores(MODEL, anomalies_only=True, version=1, limit=1000)["items"]
    assert len(alarms) > 20
    labels = [{"id": a["id"], "label": "anomaly" if is_fault(a["values"]) else "normal"} for a in alarms[3:]]
    api.add_feedback(MODEL, items=labels)  # the older alarms; the newest three are left to the page

    page = browser.page
    browser.goto(f"/models/{MODEL}/versions/1")
    wait_for(lambda: page.locator("#drift-columns tbody tr").count() == MODEL_COLUMNS, "the drift table")
    verdicts = {
        r.get_attribute("data-column"): r.locator(".badge").inner_text()
        for r in page.locator("#drift-columns tbody tr").all()
    }
    assert verdicts["온도"] == "drifted" and verdicts["라인"] == "drifted", verdicts
    assert {verdicts[c] for c in ("압력", "속도", "설비")} == {"stable"}, verdicts
    assert page.inner_text("#drift-verdict") == "drifted"
    (bars,) = browser.chart("drift-chart")
    assert sorted(bars["y"]) == sorted(FEATURES) and set(bars["y"][-2:]) == {"온도", "라인"}  # most on top
    report = api.drift(MODEL, 1, window="24h")
    assert bars["x"][::-1] == pytest.approx([c["psi"] for c in report["columns"]])
    rate, expected = browser.chart("rate-chart")
    assert len(rate["x"]) == 24 and rate["name"] == "anomaly rate" and expected["name"] == "expected"
    shown = report["anomaly_rate"]
    assert page.inner_text("#rate-verdict") == shown["verdict"].replace("_", " ")
    assert shown["observed"] > shown["expected"], shown
    assert number(page.inner_text("#rate-observed")) == pytest.approx(100 * shown["observed"], abs=0.05)
    assert number(page.inner_text("#fb-labelled")) == len(labels)
    precision = api.feedback(MODEL)["precision"]
    assert number(page.inner_text("#fb-precision")) == pytest.approx(precision, abs=1e-3)
    page.evaluate("document.getElementById('panel-monitoring').scrollIntoView()")
    browser.shot("3-drift-and-feedback", readme_name="drift-feedback.png", readme_full_page=False)

    # an operator labels the newest alarm on the page: the figures follow
    newest = page.locator("#alarms tbody tr").first
    log_id = int(newest.get_attribute("data-log") or 0)
    assert log_id == alarms[0]["id"]
    newest.locator("button.label-normal").click()
    wait_for(lambda: number(page.inner_text("#fb-labelled")) == len(labels) + 1, "the new label")
    assert newest.locator(".badge").inner_text() == "normal"
    stored = api.feedback(MODEL, limit=1)["items"][0]
    assert stored["log_id"] == log_id and stored["label"] == "normal"
    assert stored["actor"] and stored["actor"].startswith("first admin key")

    # the threshold editor proposes a threshold from the labels, then saves it as a revision
    page.click("text=Edit threshold")
    page.wait_for_url(f"**/models/{MODEL}/versions/1/threshold")
    page.wait_for_load_state("networkidle")
    page.select_option("#strategy", "feedback-precision")
    page.fill("#strategy-input", "0.9")
    page.click("#propose")
    wait_for(lambda: "would set" in page.inner_text("#proposal"), "the proposal")
    proposal = api.propose_threshold(MODEL, 1, "feedback", target_precision=0.9)
    assert float(page.input_value("#value")) == pytest.approx(proposal["value"], rel=1e-6)
    assert proposal["proposed"]["feedback"]["precision"] >= 0.9
    line = page.evaluate("document.getElementById('threshold-chart').layout.shapes[0].x0")
    assert line == pytest.approx(proposal["value"], rel=1e-6)
    page.fill("#note", "운전원 라벨로 재보정")
    page.click("#save button[type='submit']")
    wait_for(lambda: page.inner_text("#saved").startswith("Saved"), "the saved revision")
    revision = api.version(MODEL, 1)["threshold"]
    assert revision["strategy"] == "feedback" and revision["value"] == pytest.approx(proposal["value"])
    newest = page.locator("#revisions tbody tr").first
    wait_for(lambda: "feedback" in newest.inner_text(), "the new revision listed first")  # after "Saved"
    browser.shot("4-threshold-from-feedback")
    assert not browser.errors


def test_no_request_leaves_the_server(browser: Browser) -> None:
    """Every request the walk's pages made (documents, scripts, styles, the chart library, API
    calls, event streams, uploads, the download) went to the server itself."""
    assert browser.requests
    outside = [url for url in browser.requests if not url.startswith(browser.base + "/")]
    assert outside == []
    assert any(url.endswith("/static/vendor/plotly.min.js") for url in browser.requests)
    assert any("/events" in url for url in browser.requests)


def test_pages_say_nothing_leaves_the_server_and_need_a_key(web_server: ServerProcess) -> None:
    """The pages forbid loading or calling anything but the server (a Content-Security-Policy),
    and a browser without a key is sent to sign in."""
    signed = {"Authorization": f"Bearer {web_server.key}", "Accept": "text/html"}
    for path in ("/", "/models/new", f"/models/{MODEL}/versions/1", f"/models/{MODEL}/versions/1/threshold",
                 f"/models/{MODEL}/score"):  # fmt: skip
        answer = requests.get(web_server.base + path, headers=signed, timeout=30)
        assert answer.status_code == 200, (path, answer.text)
        policy = answer.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "connect-src 'self'" in policy
        assert '<script src="http' not in answer.text and "cdn" not in answer.text.lower()
        anonymous = requests.get(
            web_server.base + path, headers={"Accept": "text/html"}, allow_redirects=False, timeout=30
        )
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/auth/login?next=")


def test_model_page_redirects_to_production(web_server: ServerProcess) -> None:
    answer = requests.get(
        f"{web_server.base}/models/{MODEL}",
        headers={"Authorization": f"Bearer {web_server.key}"},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/models/{MODEL}/versions/1"
