"""Every failure is a clear v1 error: the double-encoded envelope with the real HTTP status, a
message naming the field, column or node, and nothing changed by the refused request."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import requests

from support.server import FEATURES, MAX_UPLOAD_BYTES, ServerProcess, V1Client, csv_bytes

NETCONF = "wf/state/netconf/detail/autoencoder/nnid/{}/ver/1/node/netconf_node/"
EVAL = "wf/state/eval/nnid/{}/ver/1/node/eval_node/"
FEED = "wf/state/pre/detail/feed/src/frame/net/autoencoder/nnid/{}/ver/1/node/{}/"


@pytest.fixture(scope="module")
def fresh(client: V1Client) -> str:
    """A network with an initialised workflow and no data."""
    client.create_network("nnfresh")
    return "nnfresh"


def _files_info(client: V1Client, nn_id: str, node: str = "datasrc") -> list[dict[str, object]]:
    files: list[dict[str, object]] = client.call("GET", client.data_path(nn_id, node)).get("files", [])
    return files


def _files(client: V1Client, nn_id: str, node: str = "datasrc") -> list[str]:
    return [f["name"] for f in client.call("GET", client.data_path(nn_id, node)).get("files", [])]


# --- unknown ids ---------------------------------------------------------------------------------
def test_unknown_network_is_404(client: V1Client) -> None:
    client.error("GET", "common/target/nninfo/nnid/nnmissing/", 404, "nnmissing", "not found")


def test_version_of_unknown_network_is_404(client: V1Client) -> None:
    client.error("POST", "common/target/nninfo/nnid/nnmissing/version/", 404, "nnmissing", json={})


def test_unknown_version_is_404(client: V1Client, fresh: str) -> None:
    client.error("GET", f"common/target/nninfo/nnid/{fresh}/version/7/", 404, "7", fresh)
    client.error(
        "POST", f"wf/target/init/mode/simple/{fresh}/wfver/7/", 404, "7", json={"type": "autoencoder_csv"}
    )


def test_unknown_node_is_404_listing_the_nodes(client: V1Client, fresh: str) -> None:
    message = client.error("PUT", FEED.format(fresh, "feed_other"), 404, "feed_other", json={"vocab_size": 5})
    assert "feed_train" in message


def test_node_of_the_wrong_kind_is_400(client: V1Client, fresh: str) -> None:
    path = f"wf/state/netconf/detail/autoencoder/nnid/{fresh}/ver/1/node/datasrc/"
    client.error("PUT", path, 400, "datasrc", "netconf_node", json={"iter": 2})


def test_unknown_endpoint_is_a_404_envelope(client: V1Client) -> None:
    client.error("GET", "no/such/endpoint/", 404, "no v1 endpoint")


def test_unsupported_method_is_a_405_envelope(client: V1Client, fresh: str) -> None:
    client.error("DELETE", f"result/nnid/{fresh}/ver/1/", 405, "DELETE")


# --- conflicts -----------------------------------------------------------------------------------
def test_duplicate_network_is_409_and_keeps_the_original(client: V1Client, fresh: str) -> None:
    path = f"common/target/nninfo/nnid/{fresh}/"
    client.error(
        "POST", path, 409, fresh, "already exists", "another id", "'new'", "PUT", "DELETE",
        json={"nn_title": "replacement"},
    )  # fmt: skip
    assert client.call("GET", path)[0]["nn_title"] == "test"


def test_network_new_generates_an_id(client: V1Client) -> None:
    created = client.call("POST", "common/target/nninfo/nnid/new/", json={"nn_title": "generated"})
    assert created.startswith("nn") and len(created) == 10 and created[2:].isdigit()
    assert client.call("GET", f"common/target/nninfo/nnid/{created}/")[0]["nn_title"] == "generated"


# --- missing and wrong-typed fields --------------------------------------------------------------
def test_missing_field_is_422_naming_it(client: V1Client, fresh: str) -> None:
    client.error("PUT", EVAL.format(fresh), 422, "type", "missing", json={"label_column": "label"})


def test_missing_version_id_is_422_naming_it(client: V1Client, fresh: str) -> None:
    path = f"common/target/nninfo/nnid/{fresh}/version/"
    client.error("PUT", path, 422, "nn_wf_ver_id", json={"active_flag": "Y"})


def test_wrong_typed_field_is_422_naming_it(client: V1Client, fresh: str) -> None:
    client.error("PUT", NETCONF.format(fresh), 422, "iter", "'ten'", json={"iter": "ten"})


def test_wrong_typed_list_item_is_422_naming_it(client: V1Client, fresh: str) -> None:
    client.error(
        "POST", FEED.format(fresh, "feed_train"), 422, "encode_column[1]", json={"encode_column": ["a", 3]}
    )


def test_body_that_is_not_json_is_422(client: V1Client, fresh: str) -> None:
    headers = {"Content-Type": "application/json"}
    client.error("PUT", NETCONF.format(fresh), 422, "not valid JSON", data=b"{iter: 2", headers=headers)


@pytest.mark.parametrize(
    ("field", "value"),
    [("learning_rate", -0.1), ("learning_rate", 0), ("iter", 0), ("batch_size", -5), ("n_hidden", []),
     ("n_hidden", [16, 0])],
)  # fmt: skip
def test_nonsense_hyperparameter_is_400_naming_it_and_keeps_the_settings(
    client: V1Client, fresh: str, field: str, value: object
) -> None:
    before = client.netconf(fresh)
    client.error("PUT", NETCONF.format(fresh), 400, field, json={**before, field: value})
    assert client.call("GET", NETCONF.format(fresh)) == before


def test_bare_integer_n_hidden_is_one_layer(client: V1Client, fresh: str) -> None:
    assert client.netconf(fresh, n_hidden=50)["n_hidden"] == [50]


def test_unsupported_workflow_type_is_400_listing_the_supported(client: V1Client, fresh: str) -> None:
    path = f"wf/target/init/mode/simple/{fresh}/wfver/1/"
    client.error("POST", path, 400, "'frame'", "autoencoder_csv", json={"type": "frame"})


def test_unsupported_preprocess_is_400(client: V1Client, fresh: str) -> None:
    path = client.data_path(fresh, "datasrc").replace("/prg/source/", "/prg/pre/")
    client.error("PUT", path, 400, "preprocess", "none", json={"preprocess": "custom_script"})


def test_unsupported_eval_type_is_400_listing_the_supported(client: V1Client, fresh: str) -> None:
    client.error("PUT", EVAL.format(fresh), 400, "category", "regression", json={"type": "category"})


# --- training preconditions ----------------------------------------------------------------------
def test_training_before_data_is_uploaded_is_400_and_creates_no_run(client: V1Client) -> None:
    client.create_network("nnnodata")
    client.error("POST", "runmanager/state/train/nnid/nnnodata/ver/1/", 400, "no training data", "datasrc")
    assert client.runs("nnnodata") == []


def test_training_an_uninitialised_version_is_404(client: V1Client) -> None:
    client.call("POST", "common/target/nninfo/nnid/nnnoflow/", json={"nn_title": "t"})
    client.call("POST", "common/target/nninfo/nnid/nnnoflow/version/", json={})
    client.error("POST", "runmanager/state/train/nnid/nnnoflow/ver/1/", 404, "no workflow", "wf/target/init")


def test_feeder_columns_missing_from_the_csv_are_listed(client: V1Client, train_frame: pd.DataFrame) -> None:
    nn_id = "nnbadcols"
    client.create_network(nn_id)
    client.upload(nn_id, "datasrc", "train.csv", csv_bytes(train_frame))
    client.feeder(nn_id, "feed_train", ["protocol_type", "no_such_col", "other_missing"])
    client.error(
        "POST",
        f"runmanager/state/train/nnid/{nn_id}/ver/1/",
        400,
        "no_such_col, other_missing",
        "encode_column",
    )
    assert client.runs(nn_id) == []


def test_label_column_in_encode_column_is_400(client: V1Client, train_frame: pd.DataFrame) -> None:
    nn_id = "nnlabelfeat"
    client.create_network(nn_id)
    client.upload(nn_id, "datasrc", "train.csv", csv_bytes(train_frame))
    client.feeder(nn_id, "feed_train", ["protocol_type", "label"])
    client.call("PUT", EVAL.format(nn_id), json={"type": "regression", "label_column": "label"})
    client.error("POST", f"runmanager/state/train/nnid/{nn_id}/ver/1/", 400, "'label'", "never a model input")


def test_eval_data_lacking_model_columns_is_400(
    client: V1Client, train_frame: pd.DataFrame, eval_frame: pd.DataFrame
) -> None:
    nn_id = "nnevalcols"
    client.create_network(nn_id)
    client.upload(nn_id, "datasrc", "train.csv", csv_bytes(train_frame))
    client.upload(nn_id, "evaldata", "eval.csv", csv_bytes(eval_frame.drop(columns=["service"])))
    client.feeder(nn_id, "feed_train", FEATURES)
    client.error("POST", f"runmanager/state/train/nnid/{nn_id}/ver/1/", 400, "evaldata", "service")
    assert client.runs(nn_id) == []


# --- uploads -------------------------------------------------------------------------------------
def test_upload_that_is_not_csv_is_400_and_stores_nothing(client: V1Client, fresh: str) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    client.error("POST", client.data_path(fresh, "datasrc"), 400, "image.png", "not a text CSV",
                 files={"file": ("image.png", png)})  # fmt: skip
    assert _files(client, fresh) == []


def test_malformed_csv_is_400_naming_the_line(client: V1Client, fresh: str) -> None:
    content = b"a,b\n1,2\n3,4\n5,6,7\n8,9\n"
    client.error("POST", client.data_path(fresh, "datasrc"), 400, "broken.csv", "line 4",
                 files={"file": ("broken.csv", content)})  # fmt: skip
    assert _files(client, fresh) == []


def test_header_only_csv_is_400(client: V1Client, fresh: str) -> None:
    client.error("POST", client.data_path(fresh, "datasrc"), 400, "no data rows",
                 files={"file": ("empty.csv", b"a,b,c\n")})  # fmt: skip


def test_reupload_of_a_same_named_file_says_it_replaced_it(client: V1Client) -> None:
    client.create_network("nnreplace")
    assert client.upload("nnreplace", "datasrc", "a.csv", b"x,y\n1,2\n3,4\n") == ["1 file upload success"]
    answer = client.upload("nnreplace", "datasrc", "a.csv", b"x,y\n5,6\n7,8\n9,0\n")
    assert answer[0] == "1 file upload success" and "replaced" in answer[1] and "a.csv" in answer[1]
    assert [(f["name"], f["rows"]) for f in _files_info(client, "nnreplace")] == [("a.csv", 3)]


def test_upload_without_files_is_400(client: V1Client, fresh: str) -> None:
    client.error("POST", client.data_path(fresh, "datasrc"), 400, "no file", files={"field": (None, "x")})


def test_upload_that_is_not_multipart_is_400(client: V1Client, fresh: str) -> None:
    client.error("POST", client.data_path(fresh, "datasrc"), 400, "multipart/form-data", data={"a": "1,2"})


def test_upload_over_the_limit_is_413(client: V1Client, fresh: str) -> None:
    content = b"a,b\n" + b"1,2\n" * (MAX_UPLOAD_BYTES // 4 + 1000)
    client.error("POST", client.data_path(fresh, "datasrc"), 413, str(MAX_UPLOAD_BYTES),
                 files={"file": ("big.csv", content)})  # fmt: skip
    assert _files(client, fresh) == []


def test_streamed_upload_over_the_limit_is_413(client: V1Client, fresh: str) -> None:
    def body() -> object:
        yield b'--B\r\nContent-Disposition: form-data; name="f"; filename="s.csv"\r\n\r\na,b\r\n'
        for _ in range(MAX_UPLOAD_BYTES // 100_000 + 2):
            yield b"1,2\r\n" * 20_000
        yield b"\r\n--B--\r\n"

    headers = {"Content-Type": "multipart/form-data; boundary=B"}
    client.error(
        "POST", client.data_path(fresh, "datasrc"), 413, "over the limit", data=body(), headers=headers
    )
    assert _files(client, fresh) == []


def test_upload_to_a_non_data_node_is_400(client: V1Client, fresh: str) -> None:
    path = client.data_path(fresh, "feed_train")
    client.error("POST", path, 400, "feed_train", "datasrc", files={"file": ("a.csv", b"a,b\n1,2\n")})


def test_file_of_other_columns_than_the_node_holds_is_400(client: V1Client) -> None:
    nn_id = "nnmixed"
    client.create_network(nn_id)
    client.upload(nn_id, "datasrc", "first.csv", b"a,b\n1,2\n3,4\n")
    client.error("POST", client.data_path(nn_id, "datasrc"), 400, "second.csv", "missing b", "extra c",
                 files={"file": ("second.csv", b"a,c\n1,2\n")})  # fmt: skip
    assert _files(client, nn_id) == ["first.csv"]


# --- ids that would leave the data directory -----------------------------------------------------
def test_file_name_with_directories_is_400(client: V1Client, fresh: str, v1_server: ServerProcess) -> None:
    client.error("POST", client.data_path(fresh, "datasrc"), 400, "invalid file name",
                 files={"file": ("../../escape.csv", b"a,b\n1,2\n")})  # fmt: skip
    assert not list(v1_server.data_dir.parent.rglob("escape.csv"))


@pytest.mark.parametrize("nn_id", ["%2E%2E", "nn%20x", "nn$1", "x" * 51])
def test_network_id_outside_the_pattern_is_400(client: V1Client, nn_id: str) -> None:
    client.error("POST", f"common/target/nninfo/nnid/{nn_id}/", 400, "invalid network id", json={})


def test_node_name_outside_the_pattern_is_400(client: V1Client, fresh: str) -> None:
    client.error("GET", client.data_path(fresh, "%2E%2E"), 400, "invalid node name")


def test_version_that_is_not_a_number_is_400(client: V1Client, fresh: str) -> None:
    client.error("GET", client.data_path(fresh, "datasrc", ver="x1"), 400, "invalid version")


def test_model_id_outside_the_pattern_is_400(client: V1Client, trained: str) -> None:
    body = {"nn_batch_ver_id": "../../x", "active_flag": "Y", "eval_flag": "Y"}
    client.error("PUT", f"common/target/nninfo/nnid/{trained}/version/1/", 400, "invalid model id", json=body)


# --- prediction ----------------------------------------------------------------------------------
def test_predict_input_missing_a_model_column_is_400_naming_it(
    client: V1Client, trained: str, eval_frame: pd.DataFrame
) -> None:
    row = eval_frame.iloc[0][FEATURES].drop(["service", "count"]).to_dict()
    path = f"service/state/predict/type/anomaly/nnid/{trained}/ver/active/"
    client.error("POST", path, 400, "service, count", json={"input_data": row})


def test_predict_without_input_data_is_422(client: V1Client, trained: str) -> None:
    path = f"service/state/predict/type/anomaly/nnid/{trained}/ver/active/"
    client.error("POST", path, 422, "input_data", json={"rows": []})


def test_predict_rows_with_nested_values_are_422_with_a_short_message(client: V1Client, trained: str) -> None:
    rows = [{"protocol_type": "tcp", "count": n} for n in range(500)] + [{"protocol_type": {"nested": 1}}]
    path = f"service/state/predict/type/anomaly/nnid/{trained}/ver/active/"
    message = client.error("POST", path, 422, "input_data", json={"input_data": rows})
    assert len(message) < 1000


def test_predict_autoencoder_without_type_is_400(
    client: V1Client, trained: str, eval_frame: pd.DataFrame
) -> None:
    path = f"service/state/predict/type/autoencoder/nnid/{trained}/ver/1/"
    row = eval_frame.iloc[0][FEATURES].to_dict()
    client.error("POST", path, 400, "encoder, decoder", json={"input_data": row})


def test_predict_before_training_is_409(client: V1Client, fresh: str) -> None:
    path = f"service/state/predict/type/anomaly/nnid/{fresh}/ver/active/"
    client.error(
        "POST", path, 409, "no trained model", "runmanager/state/train", json={"input_data": {"a": 1}}
    )


def test_result_before_any_evaluation_is_404(client: V1Client, trained: str) -> None:
    client.error("GET", f"result/nnid/{trained}/ver/1/", 404, "no evaluation result", "evaldata")


def test_choosing_a_model_of_another_version_is_404(client: V1Client, trained: str) -> None:
    body = {"nn_batch_ver_id": "nnother_1_1", "active_flag": "Y", "eval_flag": "Y"}
    client.error("PUT", f"common/target/nninfo/nnid/{trained}/version/1/", 404, "nnother_1_1", json=body)


def test_errors_are_double_encoded_for_tensormsa_clients(v1_server: ServerProcess) -> None:
    resp = requests.get(v1_server.url + "/api/v1/type/common/target/nninfo/nnid/nnmissing/", timeout=30)
    assert resp.headers["content-type"].startswith("application/json")
    assert isinstance(resp.json(), str)
    assert json.loads(resp.json())["status"] == "404"
