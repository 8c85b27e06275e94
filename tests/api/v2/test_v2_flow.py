"""The native API end to end on NSL-KDD through a real server process: upload, model, training job
with progress events, version, score (JSON and CSV), each threshold strategy taking effect at once
(also in a second server process), evaluation beside the baseline, v1 following, rollback,
cancel, delete."""

from __future__ import annotations

import io
import json
import math
from datetime import datetime

import pandas as pd
import pytest
import requests

from aedetect.client import ApiError, Client
from support.server import FEATURES, ServerProcess, V1Client, csv_bytes, read_only, wait_for

NAME = "kdd-flow"


def _rows(frame: pd.DataFrame, n: int) -> list[dict[str, object]]:
    return json.loads(frame[FEATURES].head(n).to_json(orient="records"))


@pytest.fixture(scope="module")
def flow(api: Client, datasets: dict[str, str]) -> dict[str, object]:
    """The model trained once with evaluation data, and what the training job streamed."""
    api.create_model(
        NAME,
        dataset=datasets["train"],
        columns=FEATURES,
        label_column="label",
        eval_dataset=datasets["test"],
        normal_value="normal",
        params={"epochs": 6, "random_state": 0, "n_hidden": [16, 4], "batch_size": 64},
    )
    job = api.train(NAME)
    assert job["status"] in ("queued", "running")
    events = list(api.events(job["id"]))
    return {"job": job, "events": events}


def test_upload_answers_id_and_schema(api: Client, datasets: dict[str, str], kdd_train: pd.DataFrame) -> None:
    shown = api.dataset(datasets["train"])
    assert shown["rows"] == len(kdd_train)
    columns = {c["name"]: c for c in shown["columns"]}
    assert columns["protocol_type"]["kind"] == "categorical" and columns["src_bytes"]["kind"] == "numeric"
    assert columns["service"]["distinct"] == kdd_train["service"].nunique()
    assert columns["src_bytes"]["missing_share"] == 0.0 and columns["protocol_type"]["examples"]
    assert [r["protocol_type"] for r in shown["preview"]] == list(kdd_train["protocol_type"].head(10))


def test_raw_csv_upload_with_korean_names_and_cp949(api: Client) -> None:
    frame = pd.DataFrame({"온도": [20.5, 21.0, 22.5], "라인": ["가", "나", "가"]})
    response = requests.post(
        api._http.base_url.join("datasets").__str__() + "?name=plant.csv",
        data=csv_bytes(frame, encoding="cp949", sep=";"),
        headers={"Content-Type": "text/csv", "Authorization": api._http.headers["Authorization"]},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert [c["name"] for c in body["columns"]] == ["온도", "라인"] and body["name"] == "plant.csv"
    api.delete_dataset(body["id"])


def test_training_job_streams_progress_and_makes_version_1(api: Client, flow: dict[str, object]) -> None:
    events = flow["events"]
    assert isinstance(events, list) and events[-1]["status"] == "succeeded"
    running = [e for e in events if e["progress"].get("epoch")]
    assert running, events
    step = running[-1]["progress"]
    assert step["max_epochs"] == 6 and step["epoch"] <= 6 and step["train_loss"] > 0
    assert (
        step["elapsed_s"] >= 0 and step["eta_s"] >= 0 and len(step["history"]["train_loss"]) == step["epoch"]
    )
    done = api.job(events[-1]["id"])
    assert done["version"] == 1 and done["error"] is None and done["model"] == NAME
    assert api.model(NAME)["aliases"] == {"production": 1}


def test_version_records_what_it_was_trained_on(api: Client, datasets: dict[str, str], flow: object) -> None:
    version = api.version(NAME, 1)
    assert version["dataset"] == datasets["train"] and version["rows"] == 1500
    assert [c["name"] for c in version["columns"]] == FEATURES
    assert {c["name"]: c["kind"] for c in version["columns"]}["flag"] == "categorical"
    params = version["params"]
    assert params["epochs"] == 6 and params["n_hidden"] == [16, 4] and params["learning_rate"] == 0.001
    assert params["contamination"] == 0.01 and params["validation_fraction"] == 0.1
    assert version["history"] is not None and len(version["history"]["train_loss"]) >= 1
    assert version["training_time_s"] > 0 and version["aliases"] == ["production"]
    assert version["threshold"] is not None and version["threshold"]["strategy"] == "contamination"
    evaluation = version["metrics"]["evaluation"]
    assert evaluation["rows"] == 400 and 0.5 < evaluation["roc_auc"] <= 1.0
    assert evaluation["baseline"]["detector"] == "IsolationForest"


def test_score_rows_gives_verdict_similarity_and_reasons(
    api: Client, kdd_test: pd.DataFrame, flow: object
) -> None:
    rows = _rows(kdd_test, 20)
    answer = api.score(NAME, rows, top=2)
    assert answer["version"] == 1 and len(answer["rows"]) == 20
    threshold = answer["threshold"]
    reference = 1.0 / (1.0 + math.exp(math.asinh(threshold / api.version(NAME, 1)["metrics"]["threshold"])))
    for row, sent in zip(answer["rows"], rows, strict=True):
        assert row["is_anomaly"] == (row["score"] > threshold)
        assert (row["similarity"] < reference) == row["is_anomaly"]
        assert 0 < row["similarity"] < 1 and -1 <= row["cosine_similarity"] <= 1
        top = row["contributions"]
        assert len(top) == 2 and top[0]["share"] >= top[1]["share"]
        assert top[0]["value"] == sent[top[0]["column"]] and top[0]["expected"] is not None


def test_score_csv_body_answers_scored_csv(api: Client, kdd_test: pd.DataFrame, flow: object) -> None:
    scored = pd.read_csv(io.StringIO(api.score_csv(NAME, csv_bytes(kdd_test[FEATURES].head(50)))))
    assert len(scored) == 50 and {"anomaly_score", "is_anomaly", "top_columns"} <= set(scored.columns)
    json_scores = [r["score"] for r in api.score(NAME, _rows(kdd_test, 50))["rows"]]
    assert scored["anomaly_score"].to_list() == pytest.approx(json_scores, rel=1e-5)


def test_score_dataset_job_gives_downloadable_csv(
    api: Client, datasets: dict[str, str], flow: object
) -> None:
    job = api.score_dataset(NAME, datasets["test"])
    done = api.follow(job["id"], progress=False)
    assert done["status"] == "succeeded" and done["result"]["rows"] == 400 and done["result_url"]
    scored = pd.read_csv(io.StringIO(api.job_result(done["id"])))
    assert len(scored) == 400 and int(scored["is_anomaly"].sum()) == done["result"]["anomalies"]


def test_thresholds_take_effect_at_once_by_every_strategy(
    api: Client, v2_server: ServerProcess, datasets: dict[str, str], kdd_test: pd.DataFrame, flow: object
) -> None:
    rows = _rows(kdd_test, 200)
    scores = [r["score"] for r in api.score(NAME, rows)["rows"]]
    other = ServerProcess(  # a second process on the same registry and files (its own data directory)
        v2_server.data_dir.parent / "other",
        AEDETECT_DATABASE_URL=f"sqlite:///{v2_server.data_dir / 'aedetect.db'}",
        AEDETECT_ARTIFACT_URL=str(v2_server.data_dir),
    ).start()
    try:
        second = Client(other.url)
        high = api.set_threshold(NAME, 1, "value", value=max(scores) + 1, note="quiet")
        assert high["strategy"] == "value" and high["note"] == "quiet"
        for client in (api, second):
            assert not any(r["is_anomaly"] for r in client.score(NAME, rows)["rows"])
        low = api.set_threshold(NAME, 1, "value", value=min(scores) - 1)
        assert all(r["is_anomaly"] for r in second.score(NAME, rows)["rows"])
        assert low["inputs"]["previous"] == max(scores) + 1

        fpr = api.set_threshold(
            NAME, 1, "fpr", target=0.05, dataset=datasets["test"], label_column="label", normal_value="normal"
        )
        assert fpr["inputs"]["achieved_fpr"] <= 0.05 and fpr["inputs"]["normal_rows"] > 0
        assert second.score(NAME, rows)["threshold"] == fpr["value"]
        normal_only = api.set_threshold(NAME, 1, "fpr", target=0.1, dataset=datasets["train"])
        assert normal_only["inputs"]["normal_rows"] == 1500 and normal_only["inputs"]["label_column"] is None

        best = api.set_threshold(
            NAME, 1, "best_f1", dataset=datasets["test"], label_column="label", normal_value="normal"
        )
        assert 0 < best["inputs"]["f1"] <= 1
        evaluation = api.evaluate(NAME, 1, datasets["test"], "label", normal_value="normal")
        assert evaluation["f1"] == pytest.approx(best["inputs"]["f1"])

        back = api.set_threshold(NAME, 1, "contamination", contamination=0.01)
        assert back["value"] == pytest.approx(api.version(NAME, 1)["metrics"]["threshold"])
        assert [t["strategy"] for t in api.thresholds(NAME, 1)] == [
            "contamination",
            "value",
            "value",
            "fpr",
            "fpr",
            "best_f1",
            "contamination",
        ]
        second.close()
    finally:
        other.stop()


def test_v1_verdicts_follow_the_threshold(
    api: Client, v2_server: ServerProcess, kdd_test: pd.DataFrame, flow: object
) -> None:
    v1 = V1Client(v2_server.url)
    rows = _rows(kdd_test, 30)
    scores = [r["score"] for r in api.score(NAME, rows)["rows"]]
    api.set_threshold(NAME, 1, "value", value=sorted(scores)[15])
    result = v1.call("GET", f"result/nnid/{NAME}/ver/1/")
    assert all(
        (float(p) < float(label)) == anomalous
        for p, label, anomalous in zip(
            result["predicts"], result["labels"], result["is_anomaly"], strict=True
        )
    )
    assert result["threshold"] == sorted(scores)[15]
    similarity = v1.anomaly(NAME, rows)
    verdicts = [r["is_anomaly"] for r in api.score(NAME, rows)["rows"]]
    assert [s < float(result["labels"][0]) for s in similarity] == verdicts
    api.set_threshold(NAME, 1, "contamination", contamination=0.01)


def test_evaluation_reports_the_baseline(api: Client, datasets: dict[str, str], flow: object) -> None:
    evaluation = api.evaluate(NAME, 1, datasets["test"], "label", normal_value="normal")
    for result in (evaluation, evaluation["baseline"]):
        assert result is not None
        assert 0 <= result["roc_auc"] <= 1 and 0 <= result["average_precision"] <= 1
        confusion = result["confusion"]
        assert sum(confusion.values()) == 400 and confusion["tp"] + confusion["fn"] == evaluation["anomalies"]
        assert result["quantiles"]["normal"]["median"] is not None
    assert (
        evaluation["baseline"]["detector"] == "IsolationForest" and evaluation["baseline_unavailable"] is None
    )


def test_second_training_moves_production_and_alias_puts_it_back(
    api: Client, v2_server: ServerProcess, kdd_test: pd.DataFrame, flow: object
) -> None:
    api.update_model(NAME, params={"epochs": 2, "random_state": 1, "n_hidden": [8, 2]})
    job = api.train(NAME, wait=True, progress=False)
    assert job["status"] == "succeeded" and job["version"] == 2
    model = api.model(NAME)
    assert model["aliases"]["production"] == 2
    # the model record says what its newest training did, whatever jobs came after it
    last = model["last_training"]
    assert {k: last[k] for k in ("job", "status", "version", "error")} == {
        "job": job["id"],
        "status": "succeeded",
        "version": 2,
        "error": None,
    }
    at = {k: datetime.fromisoformat(v) for k, v in job.items() if k.endswith("_at")}
    assert at["created_at"] <= datetime.fromisoformat(last["created_at"]) <= at["started_at"]
    assert last["finished_at"] == model["last_trained_at"]
    assert at["started_at"] < datetime.fromisoformat(model["last_trained_at"]) <= at["finished_at"]
    rows = _rows(kdd_test, 5)
    v1 = V1Client(v2_server.url)
    assert v1.anomaly(NAME, rows) == pytest.approx([r["similarity"] for r in api.score(NAME, rows)["rows"]])

    api.set_alias(NAME, "production", 1, note="roll back")
    assert api.score(NAME, rows)["version"] == 1
    assert v1.anomaly(NAME, rows) == pytest.approx(
        [r["similarity"] for r in api.score(NAME, rows, version=1)["rows"]]
    )
    api.set_alias(NAME, "candidate", 2)
    assert api.score(NAME, rows, alias="candidate")["version"] == 2
    moves = api.alias(NAME, "production")["history"]
    assert [(m["from_version"], m["to_version"]) for m in moves] == [(None, 1), (1, 2), (2, 1)]
    assert moves[-1]["note"] == "roll back" and moves[-1]["moved_at"]


def test_cancel_stops_a_running_job_and_production_keeps_serving(
    api: Client, v2_server: ServerProcess, kdd_test: pd.DataFrame, flow: object
) -> None:
    v1 = V1Client(v2_server.url)

    def conditions() -> list[str]:
        return [v["condition"] for v in v1.call("GET", f"common/target/nninfo/nnid/{NAME}/version/")]

    before = conditions()
    assert before[-1] == "3"  # the version trained: Finish
    api.update_model(NAME, params={"epochs": 10_000, "batch_size": 16, "validation_fraction": 0.0})
    job = api.train(NAME)
    wait_for(lambda: api.job(job["id"])["progress"].get("epoch"), "the training to run an epoch")
    assert conditions()[-1] == "2"  # Progress
    with pytest.raises(ApiError) as busy:
        api.update_model(NAME, description="changed while training")
    assert busy.value.status == 409 and busy.value.field == "name"
    assert api.cancel(job["id"])["cancel_requested"] is True
    done = api.job(job["id"], wait=60)
    assert done["status"] == "cancelled" and "cancelled" in (done["error"] or "")
    assert conditions() == before  # a cancel is no failure: the version is as it was, not Error ("4")
    assert (
        api.model(NAME)["aliases"]["production"] == 1 and api.score(NAME, _rows(kdd_test, 1))["version"] == 1
    )
    assert [v["version"] for v in api.versions(NAME)] == [1, 2]
    model = api.model(NAME)
    last = model["last_training"]
    assert last["job"] == job["id"] and last["status"] == "cancelled" and last["version"] is None
    assert last["error"] == done["error"] and last["finished_at"] is not None
    made = datetime.fromisoformat(model["last_trained_at"])
    assert made < datetime.fromisoformat(last["finished_at"])  # still when version 2 was made


def test_jobs_are_listed_and_filtered(api: Client, flow: object) -> None:
    mine = api.jobs(model=NAME)["items"]
    assert mine and all(j["model"] == NAME for j in mine)
    assert {j["status"] for j in api.jobs(model=NAME, status="cancelled")["items"]} == {"cancelled"}
    first = api._call("GET", "/jobs", params={"model": NAME, "limit": 1})
    assert len(first["items"]) == 1 and first["next"] == first["items"][0]["id"]
    rest = api._call("GET", "/jobs", params={"model": NAME, "cursor": first["next"]})["items"]
    assert [j["id"] for j in rest] == [j["id"] for j in mine[1:]]


def test_delete_dataset_needed_is_409_then_model_and_dataset_go(
    api: Client, datasets: dict[str, str], flow: object
) -> None:
    with pytest.raises(ApiError) as refused:
        api.delete_dataset(datasets["test"])
    assert refused.value.status == 409 and NAME in refused.value.detail and refused.value.field == "dataset"
    api.delete_model(NAME)
    with pytest.raises(ApiError) as gone:
        api.model(NAME)
    assert gone.value.status == 404
    extra = api.upload_dataset(io.BytesIO(b"a,b\n1,2\n3,4\n"), "small.csv")
    api.delete_dataset(extra["id"])
    with pytest.raises(ApiError) as missing:
        api.dataset(extra["id"])
    assert missing.value.status == 404 and missing.value.type.endswith("not_found")


def test_v1_similarity_flags_a_magnitude_anomaly(
    api: Client, v2_server: ServerProcess, trained: str, kdd_test: pd.DataFrame
) -> None:
    ordinary = _rows(kdd_test, 1)[0]
    impossible = {**ordinary, "src_bytes": 10**12}
    v1 = V1Client(v2_server.url)
    similarity = v1.anomaly(trained, [ordinary, impossible])
    rows = api.score(trained, [ordinary, impossible])["rows"]
    assert rows[1]["is_anomaly"] and similarity[1] < similarity[0]
    assert similarity == pytest.approx([r["similarity"] for r in rows])


def test_model_that_does_not_auto_promote_keeps_production_where_it_is(
    api: Client, datasets: dict[str, str], kdd_test: pd.DataFrame
) -> None:
    api.create_model(
        "kdd-manual",
        dataset=datasets["train"],
        columns=FEATURES,
        auto_promote=False,
        params={"epochs": 1, "random_state": 0, "n_hidden": [8, 2]},
    )
    try:
        assert api.train("kdd-manual", wait=True, progress=False)["version"] == 1
        assert api.model("kdd-manual")["aliases"] == {}
        with pytest.raises(ApiError) as unserved:
            api.score("kdd-manual", _rows(kdd_test, 1))
        assert unserved.value.status == 409
        assert api.score("kdd-manual", _rows(kdd_test, 1), version=1)["version"] == 1
        api.set_alias("kdd-manual", "production", 1)
        assert api.score("kdd-manual", _rows(kdd_test, 1))["version"] == 1
    finally:
        api.delete_model("kdd-manual")


def test_deleting_a_model_removes_its_scoring_results_and_jobs_and_a_failed_delete_changes_nothing(
    api: Client, v2_server: ServerProcess, datasets: dict[str, str]
) -> None:
    """A scored file is the model's data: it goes with the model (and its jobs), a scoring job
    still waiting refuses the delete, and a delete that cannot remove the files changes nothing
    until a retry completes it. Another model's result is untouched."""
    for name in ("kdd-scored", "kdd-other"):
        api.create_model(
            name, dataset=datasets["train"], columns=FEATURES, params={"epochs": 1, "n_hidden": [8, 2]}
        )
        assert api.train(name, wait=True, progress=False)["status"] == "succeeded"
    scored = api.follow(api.score_dataset("kdd-scored", datasets["test"])["id"], progress=False)
    other = api.follow(api.score_dataset("kdd-other", datasets["test"])["id"], progress=False)
    assert scored["status"] == other["status"] == "succeeded"
    results = v2_server.data_dir / "results"
    assert (results / f"{scored['id']}.csv").is_file()

    # the job runner is busy with a long training: a scoring job of the model waits, queued
    api.update_model("kdd-other", params={"epochs": 10_000, "batch_size": 16, "n_hidden": [8, 2]})
    long = api.train("kdd-other")
    wait_for(lambda: api.job(long["id"])["status"] == "running", "the long training to run")
    waiting = api.score_dataset("kdd-scored", datasets["test"])
    try:
        with pytest.raises(ApiError) as busy:
            api.delete_model("kdd-scored")
        assert busy.value.status == 409 and busy.value.field == "name" and waiting["id"] in busy.value.detail
        assert api.cancel(waiting["id"])["status"] == "cancelled"
    finally:
        api.cancel(long["id"])
    assert api.job(long["id"], wait=60)["status"] == "cancelled"

    with read_only(results):
        with pytest.raises(ApiError) as stuck:
            api.delete_model("kdd-scored")
        assert stuck.value.status == 503 and "nothing was changed" in stuck.value.detail
        assert api.model("kdd-scored")["latest_version"] == 1
        assert len(pd.read_csv(io.StringIO(api.job_result(scored["id"])))) == 400
    api.delete_model("kdd-scored")
    assert not [p.name for p in results.iterdir() if scored["id"] in p.name or waiting["id"] in p.name]
    for job_id in (scored["id"], waiting["id"]):
        with pytest.raises(ApiError) as gone:
            api.job(job_id)
        assert gone.value.status == 404
    assert api.jobs(model="kdd-scored")["items"] == []
    assert len(pd.read_csv(io.StringIO(api.job_result(other["id"])))) == 400
    api.delete_model("kdd-other")
