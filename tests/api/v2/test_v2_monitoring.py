"""Operating a model through a real server: the scoring log, drift per version, operator feedback
and recalibration from it, on plant data the test makes.

The scenario: a model trained on normal traffic scores a week's worth of normal rows (no drift),
then traffic where one sensor shifts and a new product grade appears (drift on exactly those two
columns, the anomaly rate rises), operators label 50 alarms, and the ``feedback`` threshold
strategy raises the precision of the alarms on a held-back labelled set. Then the ways the log can
fail: a log table that refuses writes and a full queue, with predictions answering correctly."""

from __future__ import annotations

import io
import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from aedetect.client import ApiError, Client
from support.server import ServerProcess, V1Client, csv_bytes, wait_for

NAME = "line-7"
COLUMNS = ["x1", "x2", "x3", "x4", "grade", "line"]
PARAMS = {"epochs": 40, "n_hidden": [8, 3], "batch_size": 128, "random_state": 0}
HOURLY_ROWS = 30
"""A week of traffic at 30 rows an hour: 5,040 rows."""


def traffic(
    n: int, rng: np.random.Generator, shift: float = 0.0, new_grade: float = 0.0, anomalies: float = 0.0
) -> pd.DataFrame:
    """Rows of line 7: ``x2`` follows ``x1``, ``x4`` follows ``x3``; a grade and a line. ``shift``
    moves ``x2`` (a recalibrated sensor: harmless), ``new_grade`` is the share of a grade never made
    before, ``anomalies`` the share of real faults (``x3`` breaks 12 standard deviations away from ``x4``:
    clear of the new grade's rows, whose unseen category also scores high), marked in ``label``."""
    x1 = rng.normal(50, 5, n)
    x3 = rng.normal(10, 1, n)
    grade = rng.choice(["A", "B", "C"], n, p=[0.5, 0.3, 0.2]).astype(object)
    grade[rng.random(n) < new_grade] = "D"
    fault = rng.random(n) < anomalies
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": 2 * x1 + rng.normal(0, 2, n) + shift,
            "x3": np.where(fault, x3 + 12, x3),
            "x4": x3 + rng.normal(0, 0.5, n),
            "grade": grade,
            "line": rng.choice(["L1", "L2", "L3", "L4"], n).astype(object),
            "label": np.where(fault, "fault", "normal"),
        }
    )


def is_fault(values: dict[str, Any]) -> bool:
    """What an operator knows: a fault is x3 far from x4 (normal rows never are)."""
    return float(values["x3"]) - float(values["x4"]) > 4


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame[COLUMNS].to_json(orient="records"))


def score_all(api: Client, frame: pd.DataFrame, per_request: int = 504) -> list[dict[str, Any]]:
    rows = records(frame)
    out: list[dict[str, Any]] = []
    for start in range(0, len(rows), per_request):
        out += api.score(NAME, rows[start : start + per_request])["rows"]
    return out


def logged(api: Client, name: str) -> dict[str, Any]:
    """The log's status once everything queued so far has been written (or counted lost)."""
    status: dict[str, Any] = wait_for(
        lambda: (s := api.scores(name, limit=1)["log"])["queued"] == 0 and s, "the scoring log to drain"
    )
    return status


def iso(moment: datetime) -> str:
    return moment.isoformat()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that keeps the values of every scored row (the scenario checks drift exactly)."""
    process = ServerProcess(tmp_path_factory.mktemp("ops") / "data", AEDETECT_LOG_SAMPLE="1.0").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[Client]:
    with Client(server.base, api_key=server.key) as client:
        yield client


@pytest.fixture(scope="module")
def model(api: Client) -> str:
    rng = np.random.default_rng(7)
    train = traffic(4000, rng)
    dataset = api.upload_dataset(io.BytesIO(csv_bytes(train)), "line7-train.csv")
    api.create_model(NAME, dataset=dataset["id"], columns=COLUMNS, params=PARAMS)
    job = api.train(NAME, wait=True, progress=False)
    assert job["status"] == "succeeded", job
    return NAME


def test_a_week_of_normal_traffic_then_drift_then_feedback_that_recalibrates(api: Client, model: str) -> None:
    rng = np.random.default_rng(11)
    profile = api.profile(model, 1)
    assert [c["name"] for c in profile["columns"]] == COLUMNS and profile["rows"] == 4000

    # a week of normal traffic: no drift
    week_started = datetime.now(UTC)
    week = traffic(7 * 24 * HOURLY_ROWS, rng)
    score_all(api, week)
    week_ended = datetime.now(UTC)
    assert logged(api, model)["written"] >= len(week)
    quiet = api.drift(model, 1, since=iso(week_started), until=iso(week_ended))
    assert quiet["rows"] == len(week) and quiet["sampled_rows"] == len(week)
    assert quiet["verdict"] == "stable", quiet
    assert {c["verdict"] for c in quiet["columns"]} == {"stable"}
    assert quiet["anomaly_rate"]["verdict"] == "stable" and quiet["scores"]["verdict"] == "stable"
    assert sum(p["rows"] for p in quiet["anomaly_rate"]["series"]) == len(week)

    # the sensor x2 is recalibrated (shifted) and grade D appears; 3% real faults
    time.sleep(0.01)
    shift_started = datetime.now(UTC)
    shifted = traffic(3000, rng, shift=8, new_grade=0.1, anomalies=0.03)
    answers = score_all(api, shifted)
    logged(api, model)
    report = api.drift(model, 1, since=iso(shift_started))
    assert report["rows"] == len(shifted)
    moved = {c["column"] for c in report["columns"] if c["verdict"] != "stable"}
    assert moved == {"x2", "grade"}, report["columns"]
    assert {c["column"] for c in report["columns"][:2]} == {"x2", "grade"}  # ranked first
    grade = next(c for c in report["columns"] if c["column"] == "grade")
    assert grade["verdict"] == "drifted" and grade["unseen_share"] == pytest.approx(0.1, abs=0.02)
    x2 = next(c for c in report["columns"] if c["column"] == "x2")
    assert x2["verdict"] == "drifted" and x2["ks"] > 0.2 and "unseen_share" not in x2
    rate = report["anomaly_rate"]
    assert rate["verdict"] == "drifted" and rate["observed"] > 3 * quiet["anomaly_rate"]["observed"]
    assert rate["anomalies"] == sum(a["is_anomaly"] for a in answers)
    both = api.drift(model, 1, window="15m")
    assert both["rows"] == len(week) + len(shifted) and both["window"]["duration"] == "15m"

    # operators label 50 alarms: real faults, or normal rows flagged because of the harmless shift
    alarms = api.scores(model, since=iso(shift_started), anomalies_only=True, limit=1000)["items"]
    assert len(alarms) >= 50 and all(a["is_anomaly"] and "values" in a for a in alarms)
    chosen = alarms[:50]
    labels = [{"id": a["id"], "label": "anomaly" if is_fault(a["values"]) else "normal"} for a in chosen]
    saved = api.add_feedback(model, items=labels)
    assert [s["log_id"] for s in saved] == [a["id"] for a in chosen]
    assert all(s["version"] == 1 and s["is_anomaly"] for s in saved)
    served = api.feedback(model)
    faults = sum(item["label"] == "anomaly" for item in labels)
    assert (served["confirmed_anomalies"], served["false_alarms"]) == (faults, 50 - faults)
    assert served["precision"] == pytest.approx(faults / 50) and served["recall"] == 1.0
    assert 0 < faults < 40  # most alarms are the shift's false alarms

    # a held-back labelled set from the same shifted traffic
    held = traffic(3000, rng, shift=8, new_grade=0.1, anomalies=0.03)
    held_id = api.upload_dataset(io.BytesIO(csv_bytes(held)), "line7-held.csv")["id"]
    before = api.evaluate(model, 1, held_id, "label", normal_value="normal")
    current = api.version(model, 1)["threshold"]
    proposal = api.propose_threshold(model, 1, "feedback", target_precision=0.9)
    assert proposal["value"] > current["value"] and proposal["current"]["threshold"] == current["value"]
    assert proposal["proposed"]["feedback"]["precision"] >= 0.9
    assert proposal["proposed"]["training_alarm_rate"] < proposal["current"]["training_alarm_rate"]
    assert api.version(model, 1)["threshold"] == current  # a proposal changes nothing
    revision = api.set_threshold(model, 1, "feedback", target_precision=0.9, note="from 50 labelled alarms")
    assert revision["value"] == proposal["value"] and revision["inputs"]["labelled"] == 50
    after = api.evaluate(model, 1, held_id, "label", normal_value="normal")
    assert after["precision"] > before["precision"] + 0.3, (before, after)
    assert after["recall"] >= 0.9 * before["recall"]
    judged = api.feedback(model, version=1)
    assert judged["version"] == 1 and judged["threshold"] == revision["value"]
    assert judged["precision"] >= 0.9 and judged["unscored"] == 0


def test_rows_scored_over_v1_and_as_csv_are_logged_with_their_verdicts(
    api: Client, model: str, server: ServerProcess
) -> None:
    rng = np.random.default_rng(21)
    rows = records(traffic(3, rng, anomalies=0.0)) + records(traffic(1, rng, anomalies=1.0))
    started = datetime.now(UTC)
    similarity = V1Client(server.url).anomaly(model, rows)
    reference = api.version(model, 1)["metrics"]["reference_similarity"]
    scored_csv = api.score_csv(model, csv_bytes(pd.DataFrame(rows)))
    logged(api, model)
    items = api.scores(model, since=iso(started))["items"]
    assert [i["source"] for i in items] == ["csv"] * 4 + ["v1"] * 4  # newest first
    v1_rows = items[4:][::-1]
    threshold = api.version(model, 1)["threshold"]["value"]
    assert [i["is_anomaly"] for i in v1_rows] == [i["score"] > threshold for i in v1_rows]
    assert v1_rows[3]["contributions"][0]["column"] in ("x3", "x4")  # the fault row
    assert len(similarity) == 4 and reference is not None
    assert "anomaly_score" in scored_csv.splitlines()[0]
    assert all(len(i["contributions"]) == 3 for i in items)


def test_the_scores_listing_pages_and_filters(api: Client, model: str) -> None:
    started = datetime.now(UTC)
    score_all(api, traffic(25, np.random.default_rng(31)))
    logged(api, model)
    first = api.scores(model, since=iso(started), limit=10)
    second = api.scores(model, since=iso(started), limit=10, cursor=first["next"])
    third = api.scores(model, since=iso(started), limit=10, cursor=second["next"])
    ids = [i["id"] for page in (first, second, third) for i in page["items"]]
    assert len(ids) == 25 == len(set(ids)) and ids == sorted(ids, reverse=True) and third["next"] is None
    assert api.scores(model, since=iso(datetime.now(UTC)))["items"] == []
    assert api.scores(model, version=99)["items"] == []
    with pytest.raises(ApiError) as bad:
        api.scores(model, cursor="not-a-cursor")
    assert bad.value.status == 400 and bad.value.field == "cursor"
    with pytest.raises(ApiError) as missing:
        api.scores("no-such-model")
    assert missing.value.status == 404


def test_drift_asks_for_a_window_it_understands(api: Client, model: str) -> None:
    for window in ("15", "1y", "0m", "400d"):
        with pytest.raises(ApiError) as bad:
            api.drift(model, 1, window=window)
        assert (bad.value.status, bad.value.field) == (400, "window"), window
    with pytest.raises(ApiError) as both:
        api.drift(model, 1, window="1h", since=iso(datetime.now(UTC)))
    assert both.value.field == "window"
    with pytest.raises(ApiError) as unknown:
        api.drift(model, 7)
    assert unknown.value.status == 404
    empty = api.drift(model, 1, since="2020-01-01T00:00:00Z", until="2020-01-02T00:00:00Z")
    assert empty["rows"] == 0 and empty["verdict"] == "no_data"


def test_feedback_refuses_what_it_cannot_use(api: Client, model: str) -> None:
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        ({"items": [{"id": 10**12, "label": "normal"}]}, 404, "not_found", "items[0].id"),
        ({"items": [{"id": 1, "label": "maybe"}]}, 422, "invalid_request", "items[0].label"),
        ({"items": [], "rows": []}, 422, "invalid_request", "body"),
        ({"rows": [{"x1": 1.0}]}, 422, "invalid_request", "body"),
        ({"rows": [{"x1": 1.0}], "label": "anomaly"}, 400, "invalid_input", "rows[0]"),
    ]
    for body, status, kind, field in cases:
        response = api._http.post(f"/models/{model}/feedback", json=body)
        problem = response.json()
        assert (response.status_code, problem["type"], problem.get("field")) == (
            status,
            f"urn:aedetect:problem:{kind}",
            field,
        ), (body, problem)
        assert response.headers["content-type"].startswith("application/problem+json")
    with pytest.raises(ApiError) as unknown:
        api.add_feedback("no-such-model", rows=[{"x1": 1}], label="normal")
    assert unknown.value.status == 404


def test_the_feedback_strategy_needs_labels_and_one_target(api: Client) -> None:
    small_model(api, "unlabelled")
    with pytest.raises(ApiError) as too_few:
        api.propose_threshold("unlabelled", 1, "feedback", target_precision=0.9)
    assert (too_few.value.status, too_few.value.field) == (400, "target_precision")
    assert "at least 10" in too_few.value.detail
    with pytest.raises(ApiError) as both:
        api.set_threshold("unlabelled", 1, "feedback", target_precision=0.9, target_false_alarm_rate=0.1)
    assert both.value.status == 422 and "exactly one" in both.value.detail


def test_given_rows_are_labelled_and_training_with_feedback_records_it(api: Client, model: str) -> None:
    rng = np.random.default_rng(41)
    normals = traffic(30, rng, new_grade=1.0)  # grade D is fine after all
    saved = api.add_feedback(model, rows=records(normals), label="normal", note="grade D is a new product")
    assert len(saved) == 30 and all(s["log_id"] is None and s["version"] == 1 for s in saved)
    assert all(s["values"]["grade"] == "D" for s in saved)
    labels = api.feedback(model, label="normal", limit=1000)["items"]
    normal_with_values = sum(1 for item in labels if item["values"] is not None)
    job = api.train(model, wait=True, progress=False, feedback=True)
    assert job["status"] == "succeeded", job
    version = api.version(model, job["version"])
    provenance = version["metrics"]["feedback"]
    assert provenance["normal_rows_added"] == normal_with_values
    assert version["rows"] == 4000 + provenance["normal_rows_added"] - provenance["training_rows_removed"]
    grades = next(c for c in api.profile(model, job["version"])["columns"] if c["name"] == "grade")
    assert "D" in grades["categories"]
    evaluation = api.evaluate(model, job["version"], version["dataset"], "label", normal_value="normal")
    assert evaluation["baseline_unavailable"] is None  # the baseline refits on the same rows
    assert evaluation["baseline"] is not None


def test_a_label_can_be_removed(api: Client, model: str) -> None:
    [saved] = api.add_feedback(model, rows=records(traffic(1, np.random.default_rng(51))), label="anomaly")
    api.delete_feedback(model, saved["id"])
    assert saved["id"] not in [i["id"] for i in api.feedback(model, limit=1000)["items"]]
    with pytest.raises(ApiError) as gone:
        api.delete_feedback(model, saved["id"])
    assert gone.value.status == 404


def test_readers_read_the_log_drift_and_labels_and_writers_label(
    api: Client, model: str, server: ServerProcess
) -> None:
    with Client(server.base, api_key=server.make_key("reader")) as reader:
        assert reader.scores(model, limit=1)["items"]
        assert reader.drift(model, 1, window="1h")["rows"] > 0
        assert reader.feedback(model)["labelled"] > 0
        assert reader.propose_threshold(model, 1, "contamination", contamination=0.05)["value"] > 0
        with pytest.raises(ApiError) as refused:
            reader.add_feedback(model, rows=records(traffic(1, np.random.default_rng(71))), label="normal")
        assert refused.value.status == 403
    with Client(server.base, api_key=server.make_key("writer")) as writer:
        [saved] = writer.add_feedback(
            model, rows=records(traffic(1, np.random.default_rng(72))), label="normal"
        )
        writer.delete_feedback(model, saved["id"])  # withdrawing a label is the writer's own correction


# --- the log fails; predictions do not ----------------------------------------------------------
def small_model(api: Client, name: str) -> list[dict[str, Any]]:
    frame = traffic(400, np.random.default_rng(61))
    dataset = api.upload_dataset(io.BytesIO(csv_bytes(frame)), f"{name}.csv")
    api.create_model(name, dataset=dataset["id"], columns=COLUMNS, params={"epochs": 2, "random_state": 0})
    assert api.train(name, wait=True, progress=False)["status"] == "succeeded"
    return records(frame.head(20))


def test_a_model_made_again_under_its_old_name_is_profiled_and_evaluated_afresh(api: Client) -> None:
    """Its first run has the first model's run id again; nothing cached for that model may answer."""
    name = "remade"
    labelled = traffic(300, np.random.default_rng(81), anomalies=0.1)
    held = api.upload_dataset(io.BytesIO(csv_bytes(labelled)), "remade-eval.csv")["id"]
    small_model(api, name)
    assert {c["name"] for c in api.profile(name, 1)["columns"]} == set(COLUMNS)
    assert api.evaluate(name, 1, held, "label", normal_value="normal")["baseline"] is not None
    api.delete_model(name)

    frame = traffic(400, np.random.default_rng(62))
    dataset = api.upload_dataset(io.BytesIO(csv_bytes(frame)), "remade-again.csv")
    params = {"epochs": 2, "random_state": 1}
    api.create_model(name, dataset=dataset["id"], columns=["x3", "x4"], params=params)
    assert api.train(name, wait=True, progress=False)["status"] == "succeeded"
    assert [c["name"] for c in api.profile(name, 1)["columns"]] == ["x3", "x4"]
    again = api.evaluate(name, 1, held, "label", normal_value="normal")
    scores = [r["score"] for r in api.score(name, records(labelled), top=0)["rows"]]
    assert again["roc_auc"] == pytest.approx(roc_auc_score(labelled["label"] == "fault", scores))
    assert again["baseline"] is not None and again["baseline_unavailable"] is None


READ_ONLY_TRIGGER = (
    "CREATE TRIGGER read_only BEFORE INSERT ON score_log BEGIN SELECT RAISE(ABORT, 'read-only'); END"
)


def database(server: ServerProcess) -> sqlite3.Connection:
    return sqlite3.connect(Path(server.data_dir) / "aedetect.db", isolation_level=None, timeout=30)


def test_predictions_answer_while_the_log_table_refuses_writes(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        with Client(server.base, api_key=server.key) as api:
            rows = small_model(api, "refused")
            expected = [r["score"] for r in api.score("refused", rows)["rows"]]
            v1_expected = V1Client(server.url).anomaly("refused", rows)
            logged(api, "refused")
            admin = database(server)
            admin.execute(READ_ONLY_TRIGGER)
            try:
                for _ in range(3):
                    assert [r["score"] for r in api.score("refused", rows)["rows"]] == expected
                    assert V1Client(server.url).anomaly("refused", rows) == v1_expected
                status = logged(api, "refused")
                page = api.scores("refused", limit=1000)
                assert len(page["items"]) == 2 * len(rows)  # only the rows from before
                assert status["failed"] == 6 * len(rows)
                assert sum(g["rows"] for g in page["gaps"] if g["reason"] == "store_error") == 6 * len(rows)
            finally:
                admin.execute("DROP TRIGGER read_only")
                admin.close()
            api.score("refused", rows[:1])
            logged(api, "refused")
            assert len(api.scores("refused", limit=1000)["items"]) == 2 * len(rows) + 1
    finally:
        server.stop()


def test_predictions_answer_while_the_log_queue_is_full(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", AEDETECT_LOG_QUEUE_ROWS="5").start()
    try:
        with Client(server.base, api_key=server.key) as api:
            rows = small_model(api, "crowded")
            expected = [api.score("crowded", [row])["rows"][0]["score"] for row in rows]
            logged(api, "crowded")
            blocker = database(server)
            blocker.execute("BEGIN IMMEDIATE")  # the log writer waits for the database from now on
            try:
                for i, row in enumerate(rows):
                    assert api.score("crowded", [row])["rows"][0]["score"] == expected[i]
                status = api.scores("crowded", limit=1)["log"]
                assert status["queued"] <= 5 and status["dropped"] >= len(rows) - 5
            finally:
                blocker.execute("COMMIT")
                blocker.close()
            status = logged(api, "crowded")
            page = api.scores("crowded", limit=1000)
            dropped = sum(g["rows"] for g in page["gaps"] if g["reason"] == "queue_full")
            assert dropped == status["dropped"] >= len(rows) - 5
            assert len(page["items"]) + dropped == 2 * len(rows)  # every row is logged or counted
    finally:
        server.stop()
