"""The native API's routes for choosing a threshold by eye and reviewing scored files (what the
dashboard's pages read), through a real server: the score histogram, the threshold preview, a
scoring job's highest-scoring rows with their reasons, and who changed a threshold or an alias."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests

from aedetect.client import Client
from support.server import FEATURES, ServerProcess, problem

LABELLED = {"label_column": "label", "normal_value": "normal"}


def get(server: ServerProcess, path: str, **params: Any) -> Any:
    response = requests.get(f"{server.url}/api/v2{path}", params=params, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def scores(api: Client, trained: str, kdd_test: pd.DataFrame) -> np.ndarray:
    """The model's scores of the test rows (through the scoring route, the reference)."""
    rows = kdd_test[FEATURES].to_dict(orient="records")
    return np.array([r["score"] for r in api.score(trained, rows, top=0)["rows"]])


def test_histogram_counts_every_training_row_and_each_class_on_common_edges(
    v2_server: ServerProcess, trained: str, datasets: dict[str, str], kdd_train: pd.DataFrame,
    kdd_test: pd.DataFrame, scores: np.ndarray,
) -> None:  # fmt: skip
    hist = get(
        v2_server, f"/models/{trained}/versions/1/histogram", bins=25, dataset=datasets["test"], **LABELLED
    )
    assert len(hist["edges"]) == 26 and hist["edges"] == sorted(hist["edges"])
    training = hist["training"]
    assert training["rows"] == len(kdd_train) and sum(training["counts"]) + training["nonfinite"] == len(
        kdd_train
    )
    normal = (kdd_test["label"] == "normal").to_numpy()
    assert hist["normal"]["rows"] == int(normal.sum()) and hist["anomaly"]["rows"] == int((~normal).sum())
    counts, _ = np.histogram(scores[~normal], bins=np.asarray(hist["edges"]))
    assert hist["anomaly"]["counts"] == [int(c) for c in counts]
    assert hist["edges"][0] <= hist["threshold"] <= hist["edges"][-1]
    assert hist["spacing"] in ("log", "linear") and hist["dataset"] == datasets["test"]


def test_histogram_without_a_dataset_has_training_only(v2_server: ServerProcess, trained: str) -> None:
    hist = get(v2_server, f"/models/{trained}/versions/1/histogram")
    assert len(hist["training"]["counts"]) == 40 and hist["normal"] is None and hist["anomaly"] is None


def test_preview_flags_what_the_threshold_would_and_agrees_with_evaluation(
    v2_server: ServerProcess, api: Client, trained: str, datasets: dict[str, str], scores: np.ndarray
) -> None:
    current = api.version(trained, 1)["threshold"]["value"]
    preview = get(
        v2_server, f"/models/{trained}/versions/1/threshold/preview", value=current, dataset=datasets["test"],
        **LABELLED,
    )  # fmt: skip
    evaluation = api.evaluate(trained, 1, datasets["test"], "label", normal_value="normal")
    seen = preview["evaluation"]
    assert seen["confusion"] == evaluation["confusion"] and seen["f1"] == pytest.approx(evaluation["f1"])
    assert seen["flagged"] == int((scores > current).sum()) and seen["rows"] == len(scores)
    assert preview["training"]["share"] == pytest.approx(0.01, abs=0.005)  # the default contamination
    lower = get(v2_server, f"/models/{trained}/versions/1/threshold/preview", value=current / 2)
    assert lower["training"]["flagged"] > preview["training"]["flagged"] and lower["evaluation"] is None
    assert api.version(trained, 1)["threshold"]["value"] == current  # looking changes nothing


@pytest.mark.parametrize(
    ("path", "params", "status", "kind", "field"),
    [
        ("histogram", {"bins": 0}, 422, "invalid_request", "bins"),
        ("histogram", {"label_column": "label"}, 400, "invalid_input", "label_column"),
        ("histogram", {"dataset": "ds_000000000000"}, 404, "not_found", "dataset"),
        ("threshold/preview", {"value": "nan"}, 400, "invalid_input", "value"),
        ("threshold/preview", {}, 422, "invalid_request", "value"),
    ],
)
def test_review_routes_refuse_bad_queries(
    v2_server: ServerProcess, trained: str, path: str, params: dict[str, Any], status: int, kind: str,
    field: str | None,
) -> None:  # fmt: skip
    problem(v2_server, "GET", f"/models/{trained}/versions/1/{path}", status, kind, field, params=params)


def test_preview_names_a_label_column_the_dataset_lacks(
    v2_server: ServerProcess, trained: str, datasets: dict[str, str]
) -> None:
    body = problem(
        v2_server, "GET", f"/models/{trained}/versions/1/threshold/preview", 400, "invalid_input",
        "label_column", params={"value": 1.0, "dataset": datasets["test"], "label_column": "etiquette"},
    )  # fmt: skip
    assert body["column"] == "etiquette"


def test_scoring_job_rows_come_highest_first_with_every_column_explained(
    v2_server: ServerProcess, api: Client, trained: str, datasets: dict[str, str], kdd_test: pd.DataFrame
) -> None:
    job = api.score_dataset(trained, datasets["test"])
    job = api.follow(job["id"], progress=False)
    assert job["status"] == "succeeded"
    top = get(v2_server, f"/jobs/{job['id']}/rows", limit=15)
    scored = pd.read_csv(io.StringIO(api.job_result(job["id"])))
    expected = scored["anomaly_score"].sort_values(ascending=False, kind="stable")
    assert [r["row"] for r in top["items"]] == [i + 1 for i in expected.index[:15]]
    assert [r["score"] for r in top["items"]] == pytest.approx(list(expected.iloc[:15]), rel=1e-6)
    assert top["rows"] == len(kdd_test) and top["anomalies"] == int(scored["is_anomaly"].sum())
    first = top["items"][0]
    assert len(first["contributions"]) == len(FEATURES)
    assert sum(c["share"] for c in first["contributions"]) == pytest.approx(1.0, abs=1e-6)
    assert first["is_anomaly"] == (first["score"] > top["threshold"])
    original = kdd_test.iloc[first["row"] - 1]
    assert first["values"]["service"] == original["service"] and first["values"]["label"] == original["label"]


def test_rows_of_a_training_job_are_409(v2_server: ServerProcess, api: Client, trained: str) -> None:
    training = api.jobs(model=trained)["items"][-1]
    problem(v2_server, "GET", f"/jobs/{training['id']}/rows", 409, "conflict", "job_id")


def test_threshold_revisions_and_alias_moves_record_who(
    v2_server: ServerProcess, api: Client, trained: str
) -> None:
    current = api.version(trained, 1)["threshold"]["value"]
    revision = api.set_threshold(trained, 1, "value", value=current, note="same again")
    assert revision["actor"] is not None and revision["actor"].endswith(")")
    assert api.thresholds(trained, 1)[-1]["actor"] == revision["actor"]
    moved = api.set_alias(trained, "staging", 1, note="try")
    assert moved["history"][-1]["actor"] == revision["actor"]
