"""Every failure path of the native API: HTTP status, RFC 9457 problem type, and the field (or
column) named, through a real server; and nothing is stored by a refused request."""

from __future__ import annotations

import io
from typing import Any

import pytest
import requests

from aedetect.client import ApiError, Client
from support.server import FEATURES, MAX_UPLOAD_BYTES, ServerProcess, problem


def test_unknown_dataset_is_404(v2_server: ServerProcess) -> None:
    problem(v2_server, "GET", "/datasets/ds_000000000000", 404, "not_found", "dataset")


def test_malformed_dataset_id_is_400(v2_server: ServerProcess) -> None:
    body = problem(v2_server, "GET", "/datasets/DS-1%20OR%201", 400, "invalid_input", "dataset")
    assert "ds_" in body["detail"]


def test_upload_that_is_not_csv_is_400_and_stores_nothing(v2_server: ServerProcess, api: Client) -> None:
    before = len(api.datasets()["items"])
    problem(
        v2_server,
        "POST",
        "/datasets",
        400,
        "invalid_input",
        "file",
        files={"file": ("x.csv", b"\x00\x01\x02binary\xff\xfe")},
    )
    assert len(api.datasets()["items"]) == before


def test_upload_in_the_wrong_field_is_400(v2_server: ServerProcess) -> None:
    body = problem(
        v2_server, "POST", "/datasets", 400, "invalid_input", "file", files={"data": ("x.csv", b"a\n1\n")}
    )
    assert "'file'" in body["detail"]


def test_upload_over_the_limit_is_413(v2_server: ServerProcess) -> None:
    big = b"a,b\n" + b"1,2\n" * (MAX_UPLOAD_BYTES // 4 + 10)
    problem(
        v2_server,
        "POST",
        "/datasets",
        413,
        "payload_too_large",
        "file",
        data=big,
        headers={"Content-Type": "text/csv"},
    )


def test_upload_of_another_content_type_is_415(v2_server: ServerProcess) -> None:
    problem(v2_server, "POST", "/datasets", 415, "unsupported_media_type", "body", json={"a": 1})


def test_model_with_unknown_column_is_400_naming_it(
    v2_server: ServerProcess, api: Client, datasets: dict[str, str]
) -> None:
    body = problem(
        v2_server,
        "POST",
        "/models",
        400,
        "invalid_input",
        "columns",
        json={"name": "bad-cols", "dataset": datasets["train"], "columns": ["src_bytes", "tempreature"]},
    )
    assert body["column"] == "tempreature" and "tempreature" in body["detail"]
    with pytest.raises(ApiError):
        api.model("bad-cols")


def test_model_with_unknown_parameter_is_400(v2_server: ServerProcess, datasets: dict[str, str]) -> None:
    body = problem(
        v2_server,
        "POST",
        "/models",
        400,
        "invalid_input",
        "params.epoch",
        json={"name": "bad-param", "dataset": datasets["train"], "params": {"epoch": 3}},
    )
    assert "epochs" in body["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"epochs": 0}, "params.epochs"),
        ({"learning_rate": -1}, "params.learning_rate"),
        ({"contamination": 0.9}, "params.contamination"),
        ({"n_hidden": []}, "params.n_hidden"),
        ({"numeric_transform": "log"}, "params.numeric_transform"),
    ],
)
def test_model_with_bad_parameter_value_is_400(
    v2_server: ServerProcess, datasets: dict[str, str], params: dict[str, Any], field: str
) -> None:
    problem(
        v2_server,
        "POST",
        "/models",
        400,
        "invalid_input",
        field,
        json={"name": "bad-value", "dataset": datasets["train"], "params": params},
    )


@pytest.mark.parametrize("name", ["latent_weight", "clip_quantile", "numeric_transform"])
def test_model_with_a_removed_parameter_is_400_saying_so(
    v2_server: ServerProcess, datasets: dict[str, str], name: str
) -> None:
    body = problem(
        v2_server,
        "POST",
        "/models",
        400,
        "invalid_input",
        f"params.{name}",
        json={"name": "removed-param", "dataset": datasets["train"], "params": {name: 0.3}},
    )
    assert f"{name} was removed from aedetect" in body["detail"]


def test_label_column_as_feature_is_400(v2_server: ServerProcess, datasets: dict[str, str]) -> None:
    body = problem(
        v2_server,
        "POST",
        "/models",
        400,
        "invalid_input",
        "label_column",
        json={
            "name": "bad-label",
            "dataset": datasets["train"],
            "columns": [*FEATURES, "label"],
            "label_column": "label",
        },
    )
    assert body["column"] == "label"


def test_model_on_unknown_dataset_is_404(v2_server: ServerProcess) -> None:
    problem(
        v2_server,
        "POST",
        "/models",
        404,
        "not_found",
        "dataset",
        json={"name": "nodata", "dataset": "ds_000000000000"},
    )


def test_invalid_model_name_is_400(v2_server: ServerProcess, datasets: dict[str, str]) -> None:
    problem(
        v2_server,
        "POST",
        "/models",
        400,
        "invalid_input",
        "nn_id",
        json={"name": "../x", "dataset": datasets["train"]},
    )


def test_existing_model_name_is_409_with_a_way_forward(
    v2_server: ServerProcess, trained: str, datasets: dict[str, str]
) -> None:
    body = problem(
        v2_server,
        "POST",
        "/models",
        409,
        "conflict",
        "name",
        json={"name": trained, "dataset": datasets["train"]},
    )
    assert "another name" in body["detail"] and "/api/" not in body["detail"]  # a sentence for any surface
    assert body["hint"] == {
        "action": "change_model",
        "params": {"model": trained},
        "text": f"PATCH /api/v2/models/{trained} to change it, DELETE /api/v2/models/{trained} to delete it",
    }


def test_body_of_the_wrong_shape_is_422_in_words(v2_server: ServerProcess, trained: str) -> None:
    body = problem(
        v2_server, "POST", f"/models/{trained}/score", 422, "invalid_request", "rows", json={"rows": "abc"}
    )
    assert body["detail"].startswith("`rows` must be a list of objects") and "got a string" in body["detail"]
    body = problem(
        v2_server, "POST", "/models", 422, "invalid_request", "name", json={"dataset": "ds_000000000000"}
    )
    assert body["detail"] == "`name` is required"
    body = problem(
        v2_server,
        "POST",
        "/models",
        422,
        "invalid_request",
        "body",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert "not valid JSON" in body["detail"]


def test_unknown_field_is_422(v2_server: ServerProcess, datasets: dict[str, str]) -> None:
    body = problem(
        v2_server,
        "POST",
        "/models",
        422,
        "invalid_request",
        "colums",
        json={"name": "typo", "dataset": datasets["train"], "colums": ["a"]},
    )
    assert "not a field" in body["detail"]


def test_score_row_missing_a_column_is_400_naming_row_and_column(
    v2_server: ServerProcess, trained: str
) -> None:
    row = dict.fromkeys(FEATURES, 0)
    del row["src_bytes"]
    body = problem(
        v2_server, "POST", f"/models/{trained}/score", 400, "invalid_input", "rows[0]", json={"rows": [row]}
    )
    assert body["column"] == "src_bytes" and len(body["detail"]) < 300


def test_score_with_bad_number_is_400(v2_server: ServerProcess, trained: str) -> None:
    row: dict[str, Any] = dict.fromkeys(FEATURES, 0)
    row["src_bytes"] = "lots"
    body = problem(
        v2_server, "POST", f"/models/{trained}/score", 400, "invalid_input", "src_bytes", json={"rows": [row]}
    )
    assert "lots" in body["detail"]


def test_score_with_rows_and_dataset_is_422(v2_server: ServerProcess, trained: str) -> None:
    body = problem(
        v2_server,
        "POST",
        f"/models/{trained}/score",
        422,
        "invalid_request",
        "body",
        json={"rows": [{}], "dataset": "ds_000000000000"},
    )
    assert "either `rows`" in body["detail"]


def test_score_unknown_version_and_alias_is_404(v2_server: ServerProcess, trained: str) -> None:
    row = dict.fromkeys(FEATURES, 0)
    problem(
        v2_server,
        "POST",
        f"/models/{trained}/score?version=99",
        404,
        "not_found",
        "version",
        json={"rows": [row]},
    )
    problem(
        v2_server,
        "POST",
        f"/models/{trained}/score?alias=nope",
        404,
        "not_found",
        "alias",
        json={"rows": [row]},
    )


def test_score_unknown_model_is_404(v2_server: ServerProcess) -> None:
    problem(v2_server, "POST", "/models/ghost/score", 404, "not_found", "nn_id", json={"rows": [{"a": 1}]})


def test_score_untrained_model_is_409(
    v2_server: ServerProcess, api: Client, datasets: dict[str, str]
) -> None:
    api.create_model("untrained", dataset=datasets["train"], columns=FEATURES)
    try:
        body = problem(
            v2_server, "POST", "/models/untrained/score", 409, "not_fitted", None, json={"rows": [{"a": 1}]}
        )
        assert body["detail"] == "model 'untrained' has no trained version yet: train it first"
        assert body["hint"]["text"] == "POST /api/v2/models/untrained/train"
    finally:
        api.delete_model("untrained")


def test_csv_score_body_with_a_bad_cell_is_400(v2_server: ServerProcess, trained: str) -> None:
    header = ",".join(FEATURES).encode()
    row = b",".join(b"abc" if c == "src_bytes" else b"1" for c in FEATURES)
    body = problem(
        v2_server,
        "POST",
        f"/models/{trained}/score",
        400,
        "invalid_input",
        "src_bytes",
        data=header + b"\n" + row + b"\n",
        headers={"Content-Type": "text/csv"},
    )
    assert "abc" in body["detail"]


def test_csv_score_body_with_too_many_columns_is_413_naming_the_setting(
    v2_server: ServerProcess, trained: str
) -> None:
    header = ",".join(f"c{i}" for i in range(100_000)).encode()  # 590 kB: under the line limit
    body = problem(
        v2_server,
        "POST",
        f"/models/{trained}/score",
        413,
        "payload_too_large",
        "body",
        data=header + b"\n" + b"1" * 10 + b"\n",
        headers={"Content-Type": "text/csv"},
    )
    assert "AEDETECT_MAX_CSV_COLUMNS" in body["detail"]


def test_csv_score_body_with_an_overlong_line_is_413_naming_the_setting(
    v2_server: ServerProcess, trained: str
) -> None:
    header = ",".join(FEATURES).encode()
    long_row = b"x" * 1_500_000  # one cell longer than the 1 MiB line limit, under the upload limit
    body = problem(
        v2_server,
        "POST",
        f"/models/{trained}/score",
        413,
        "payload_too_large",
        "body",
        data=header + b"\n" + long_row + b"\n",
        headers={"Content-Type": "text/csv"},
    )
    assert "AEDETECT_MAX_CSV_LINE_BYTES" in body["detail"]


def test_threshold_strategy_without_its_inputs_is_422(v2_server: ServerProcess, trained: str) -> None:
    body = problem(
        v2_server,
        "PUT",
        f"/models/{trained}/versions/1/threshold",
        422,
        "invalid_request",
        "body",
        json={"strategy": "fpr", "target": 0.01},
    )
    assert "`dataset`" in body["detail"]
    problem(
        v2_server,
        "PUT",
        f"/models/{trained}/versions/1/threshold",
        422,
        "invalid_request",
        "strategy",
        json={"strategy": "magic"},
    )
    problem(
        v2_server,
        "PUT",
        f"/models/{trained}/versions/1/threshold",
        422,
        "invalid_request",
        "target",
        json={"strategy": "fpr", "target": 2, "dataset": "ds_000000000000"},
    )


def test_threshold_on_dataset_without_model_columns_is_400(
    v2_server: ServerProcess, api: Client, trained: str
) -> None:
    other = api.upload_dataset(io.BytesIO(b"x,y\n1,2\n3,4\n"), "other.csv")
    try:
        body = problem(
            v2_server,
            "PUT",
            f"/models/{trained}/versions/1/threshold",
            400,
            "invalid_input",
            "dataset",
            json={"strategy": "fpr", "target": 0.1, "dataset": other["id"]},
        )
        assert body["column"] == FEATURES[0]
    finally:
        api.delete_dataset(other["id"])


def test_best_f1_needs_both_classes(
    v2_server: ServerProcess, api: Client, trained: str, datasets: dict[str, str]
) -> None:
    problem(
        v2_server,
        "PUT",
        f"/models/{trained}/versions/1/threshold",
        400,
        "invalid_input",
        "label_column",
        json={
            "strategy": "best_f1",
            "dataset": datasets["train"],
            "label_column": "protocol_type",
            "normal_value": "nothing-is-normal",
        },
    )


def test_evaluate_with_unknown_label_column_is_400(
    v2_server: ServerProcess, trained: str, datasets: dict[str, str]
) -> None:
    body = problem(
        v2_server,
        "POST",
        f"/models/{trained}/versions/1/evaluate",
        400,
        "invalid_input",
        "label_column",
        json={"dataset": datasets["test"], "label_column": "lable"},
    )
    assert body["column"] == "lable"


def test_alias_errors(v2_server: ServerProcess, trained: str) -> None:
    problem(
        v2_server,
        "PUT",
        f"/models/{trained}/aliases/production",
        404,
        "not_found",
        "version",
        json={"version": 42},
    )
    problem(
        v2_server,
        "PUT",
        f"/models/{trained}/aliases/Bad%20Alias",
        400,
        "invalid_input",
        "alias",
        json={"version": 1},
    )
    problem(v2_server, "DELETE", f"/models/{trained}/aliases/production", 400, "invalid_input", "alias")
    problem(v2_server, "GET", f"/models/{trained}/aliases/never", 404, "not_found", "alias")


def test_unknown_version_is_404(v2_server: ServerProcess, trained: str) -> None:
    problem(v2_server, "GET", f"/models/{trained}/versions/7", 404, "not_found", "version")
    problem(v2_server, "GET", f"/models/{trained}/versions/0", 422, "invalid_request", "version")


def test_job_errors(v2_server: ServerProcess, api: Client, trained: str) -> None:
    problem(v2_server, "GET", "/jobs/not-a-job", 400, "invalid_input", "job_id")
    problem(v2_server, "GET", "/jobs/" + "0" * 32, 404, "not_found", "job_id")
    problem(v2_server, "GET", "/jobs/" + "0" * 32 + "/events", 404, "not_found", "job_id")
    done = api.jobs(model=trained, status="succeeded")["items"][0]
    problem(v2_server, "POST", f"/jobs/{done['id']}/cancel", 409, "conflict", "job_id")
    problem(v2_server, "GET", f"/jobs/{done['id']}/result", 409, "conflict", "job_id")
    problem(v2_server, "GET", "/jobs?status=done", 422, "invalid_request", "status")


def test_train_without_usable_data_is_400(v2_server: ServerProcess, api: Client) -> None:
    tiny = api.upload_dataset(io.BytesIO(b"a,b\n1,2\n"), "tiny.csv")
    api.create_model("tiny", dataset=tiny["id"])
    try:
        body = problem(v2_server, "POST", "/models/tiny/train", 400, "invalid_input", "dataset")
        assert "fewer than 2 rows" in body["detail"]
    finally:
        api.delete_model("tiny")
        api.delete_dataset(tiny["id"])


def test_unknown_route_and_method(v2_server: ServerProcess) -> None:
    problem(v2_server, "GET", "/nothing-here", 404, "not_found", None)
    problem(v2_server, "PUT", "/datasets", 405, "method_not_allowed", None)


def test_v1_keeps_its_envelope(v2_server: ServerProcess) -> None:
    response = requests.get(f"{v2_server.url}/api/v1/type/common/target/nninfo/nnid/ghost/", timeout=30)
    assert response.status_code == 404 and '"status"' in response.json()


def test_docs_render_from_local_assets(v2_server: ServerProcess) -> None:
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = requests.get(v2_server.url + page, timeout=30).text
        assert f"/docs-assets/{asset}" in html and "cdn" not in html.lower() and "googleapis" not in html
        script = requests.get(f"{v2_server.url}/docs-assets/{asset}", timeout=30)
        assert script.status_code == 200 and len(script.content) > 100_000
