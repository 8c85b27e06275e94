"""Raw row values through a real server: the scoring log keeps each value cut to
``AEDETECT_LOG_VALUE_CHARS`` (a client sending megabyte cells grows neither the log nor its
listing), and the values of rows a client did not send are a writer's: a reader's key scores and
reads scores, verdicts and top columns, but gets no ``values`` in the log or the labels, and 403
naming the writer role for a dataset's rows and scoring-job results (the dataset list answers it
without example values)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
import requests

from aedetect.client import Client
from support.server import FEATURES, ServerProcess, wait_for

NAME = "raw-values"
HUGE = "s" * 1_000_000


@pytest.fixture(scope="module")
def model(api: Client, datasets: dict[str, str]) -> str:
    api.create_model(
        NAME, dataset=datasets["train"], columns=FEATURES, params={"epochs": 1, "n_hidden": [8, 2]}
    )
    job = api.train(NAME, wait=True, progress=False)
    assert job["status"] == "succeeded", job
    return NAME


@pytest.fixture(scope="module")
def reader(v2_server: ServerProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {v2_server.make_key('reader', 'raw values reader')}"}


def drained(api: Client, rows: int) -> list[dict[str, Any]]:
    """The newest ``rows`` logged rows once the log has written them."""
    found: list[dict[str, Any]] = wait_for(
        lambda: len(items := api.scores(NAME, limit=rows)["items"]) >= rows and items, "the log to write"
    )
    return found


def test_huge_cells_are_logged_capped_and_the_listing_stays_small(
    v2_server: ServerProcess, api: Client, model: str, kdd_test: pd.DataFrame
) -> None:
    rows = [{**r, "service": HUGE} for r in kdd_test[FEATURES].head(10).to_dict("records")]
    scored = api.score(model, rows)["rows"]
    assert len(scored) == 10
    logged = drained(api, 10)
    for item in logged:
        assert item["values"]["service"] == HUGE[:255] + "\u2026"
        assert item["truncated"] == ["service"]
        assert all(len(v) <= 256 for v in item["values"].values() if isinstance(v, str))
    listing = requests.get(f"{v2_server.url}/api/v2/models/{model}/scores", params={"limit": 50}, timeout=60)
    assert listing.status_code == 200 and len(listing.content) < 100_000, len(listing.content)


def test_a_reader_scores_and_sees_scores_but_not_the_values_of_rows(
    v2_server: ServerProcess, api: Client, model: str, reader: dict[str, str], kdd_test: pd.DataFrame
) -> None:
    base = f"{v2_server.base}/api/v2"
    rows = kdd_test[FEATURES].iloc[20:23].to_dict("records")
    answer = requests.post(f"{base}/models/{model}/score", json={"rows": rows}, headers=reader, timeout=60)
    assert answer.status_code == 200 and len(answer.json()["rows"]) == 3
    assert all(item.get("values") for item in drained(api, 3))  # a writer sees them
    page = requests.get(f"{base}/models/{model}/scores", params={"limit": 3}, headers=reader, timeout=60)
    assert page.status_code == 200
    items = page.json()["items"]
    assert len(items) == 3 and all("score" in i and "is_anomaly" in i and "contributions" in i for i in items)
    assert all("values" not in i and "truncated" not in i for i in items)
    api._call(
        "POST", f"/models/{model}/feedback", json={"items": [{"id": items[0]["id"], "label": "normal"}]}
    )
    labels = requests.get(f"{base}/models/{model}/feedback", headers=reader, timeout=60)
    assert labels.status_code == 200 and labels.json()["items"]
    assert all(i.get("values") is None for i in labels.json()["items"])


def test_datasets_and_scoring_job_results_need_a_writer(
    v2_server: ServerProcess, api: Client, model: str, datasets: dict[str, str], reader: dict[str, str]
) -> None:
    base = f"{v2_server.base}/api/v2"
    job = api.score_dataset(model, datasets["test"])
    done = api.job(job["id"], wait=60)
    assert done["status"] == "succeeded", done
    for path in (
        f"/datasets/{datasets['test']}",
        f"/jobs/{job['id']}/result",
        f"/jobs/{job['id']}/rows",
    ):
        refused = requests.get(base + path, headers=reader, timeout=60)
        assert refused.status_code == 403, (path, refused.text)
        assert "writer" in refused.json()["detail"], refused.text
    assert requests.get(f"{base}/jobs/{job['id']}", headers=reader, timeout=60).status_code == 200
    listed = requests.get(f"{base}/datasets", headers=reader, timeout=60)
    assert listed.status_code == 200
    test_set = next(d for d in listed.json()["items"] if d["id"] == datasets["test"])
    assert [c["name"] for c in test_set["columns"]] and all(c["examples"] == [] for c in test_set["columns"])
    writer = {"Authorization": f"Bearer {v2_server.make_key('writer', 'raw values writer')}"}
    for path in (f"/datasets/{datasets['test']}", f"/jobs/{job['id']}/result", f"/jobs/{job['id']}/rows"):
        assert requests.get(base + path, headers=writer, timeout=60).status_code == 200, path
    full = requests.get(f"{base}/datasets", headers=writer, timeout=60).json()["items"]
    assert any(c["examples"] for d in full if d["id"] == datasets["test"] for c in d["columns"])
