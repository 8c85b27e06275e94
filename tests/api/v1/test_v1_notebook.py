"""The longer client flow of the TensorMSA ``autoencoder_type2`` notebook (reference section 15):
training and evaluation data, evaluation node, train, single-node evaluation, result, and both
kinds of prediction, on NSL-KDD rows."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from support.server import FEATURES, V1Client, csv_bytes

NN = "nn793962"


def _data_node_setup(client: V1Client, node: str, frame: pd.DataFrame) -> None:
    """Steps 4-5 of the notebook for one data node: upload, then source, pre and store settings."""
    assert client.upload(NN, node, "mes.csv", csv_bytes(frame)) == ["1 file upload success"]
    path = client.data_path(NN, node)
    source = client.call("PUT", path, json={"type": "csv", "source_server": "local", "source_sql": "all"})
    assert source["source_type"] == "local" and source["source_parse_type"] == "raw"
    assert source["source_path"] == f"networks/{NN}/1/{node}"
    pre = path.replace("/prg/source/", "/prg/pre/")
    assert client.call("PUT", pre, json={"preprocess": "none"}) == "none"
    store = path.replace("/prg/source/", "/prg/store/")
    assert client.call("PUT", store) == f"networks/{NN}/1/{node}"


@pytest.fixture(scope="module")
def notebook_flow(client: V1Client, train_frame: pd.DataFrame, eval_frame: pd.DataFrame) -> list[object]:
    """Steps 1-10 of the notebook; returns the train response."""
    client.create_network(NN)
    _data_node_setup(client, "datasrc", train_frame)
    assert client.feeder(NN, "feed_train", FEATURES)["encode_column"] == FEATURES
    netconf = client.netconf(NN, iter=3, batch_size=5, n_hidden=[32, 8])
    assert netconf == {"learning_rate": 0.01, "iter": 3, "batch_size": 5, "examples_to_show": 10,
                       "n_hidden": [32, 8], "model_path": f"models/{NN}/1"}  # fmt: skip
    _data_node_setup(client, "evaldata", eval_frame)
    client.feeder(NN, "feed_test", FEATURES)
    eval_path = f"wf/state/eval/nnid/{NN}/ver/1/node/eval_node/"
    assert client.call("PUT", eval_path, json={"type": "regression"}) == {"type": "regression"}
    status = client.call("GET", f"runmanager/state/train/nnid/{NN}/ver/1/")
    assert status["active"] == [] and status["runs"] == []
    result: list[object] = client.train(NN)
    return result


def test_train_returns_node_results_in_execution_order(notebook_flow: list[object]) -> None:
    assert notebook_flow[:5] == [None, None, f"{NN}_1_netconf_node", None, None]
    assert len(notebook_flow) == 6


def test_train_result_has_one_similarity_per_eval_row(
    notebook_flow: list[object], eval_frame: pd.DataFrame
) -> None:
    result = notebook_flow[5]
    assert isinstance(result, dict)
    assert len(result["predicts"]) == len(result["labels"]) == len(eval_frame)
    assert all(isinstance(p, str) and -1.0 <= float(p) <= 1.0 for p in result["predicts"])
    assert len(set(result["labels"])) == 1 and math.isfinite(float(result["labels"][0]))
    assert float(result["labels"][0]) == result["reference_similarity"]


def test_train_result_adds_scores_verdicts_and_threshold(
    notebook_flow: list[object], eval_frame: pd.DataFrame
) -> None:
    result = notebook_flow[5]
    assert isinstance(result, dict)
    assert len(result["scores"]) == len(result["is_anomaly"]) == len(eval_frame)
    threshold = result["threshold"]
    assert [s > threshold for s in result["scores"]] == result["is_anomaly"]
    assert "roc_auc" not in result


def test_single_eval_node_reevaluates_the_serving_model(
    client: V1Client, notebook_flow: list[object]
) -> None:
    single = client.call("POST", f"runmanager/state/single/nnid/{NN}/ver/1/node/eval_node/")
    assert isinstance(single, list) and len(single) == 1
    assert single[0]["predicts"] == notebook_flow[5]["predicts"]  # type: ignore[index]


def test_result_returns_the_last_evaluation(client: V1Client, notebook_flow: list[object]) -> None:
    result = client.call("GET", f"result/nnid/{NN}/ver/1/")
    assert result["labels"] == notebook_flow[5]["labels"]  # type: ignore[index]
    assert result["predicts"] == notebook_flow[5]["predicts"]  # type: ignore[index]


def test_anomaly_prediction_matches_the_evaluated_similarity(
    client: V1Client, notebook_flow: list[object], eval_frame: pd.DataFrame
) -> None:
    row = eval_frame.iloc[0].to_dict()
    similarity = client.anomaly(NN, row)
    assert similarity == pytest.approx(float(notebook_flow[5]["predicts"][0]), abs=1e-5)  # type: ignore[index]


def test_anomaly_prediction_of_a_list_scores_every_row(
    client: V1Client, notebook_flow: list[object], eval_frame: pd.DataFrame
) -> None:
    rows = eval_frame.iloc[:5].to_dict(orient="records")
    similarities = client.anomaly(NN, rows, ver="1")
    expected = [float(p) for p in notebook_flow[5]["predicts"][:5]]  # type: ignore[index]
    assert similarities == pytest.approx(expected, abs=1e-5)


def test_anomaly_prediction_of_a_long_list_matches_the_evaluation(
    client: V1Client, notebook_flow: list[object], eval_frame: pd.DataFrame
) -> None:
    """Long lists are scored off the event loop and through the DataFrame path: same numbers."""
    count = min(len(eval_frame), 300)
    rows = eval_frame.iloc[:count].to_dict(orient="records")
    similarities = client.anomaly(NN, rows)
    expected = [float(p) for p in notebook_flow[5]["predicts"][:count]]  # type: ignore[index]
    assert len(similarities) == count > 64
    assert similarities == pytest.approx(expected, abs=1e-5)


def test_autoencoder_encoder_returns_the_bottleneck_code(
    client: V1Client, notebook_flow: list[object], eval_frame: pd.DataFrame
) -> None:
    path = f"service/state/predict/type/autoencoder/nnid/{NN}/ver/active/"
    codes = client.call("POST", path, json={"input_data": eval_frame.iloc[0].to_dict(), "type": "encoder"})
    assert len(codes) == 1 and len(codes[0]) == 8


def test_autoencoder_decoder_returns_one_reconstruction_per_row(
    client: V1Client, notebook_flow: list[object], eval_frame: pd.DataFrame
) -> None:
    path = f"service/state/predict/type/autoencoder/nnid/{NN}/ver/1/"
    rows = eval_frame.iloc[:3].to_dict(orient="records")
    vectors = client.call("POST", path, json={"input_data": rows, "type": "decoder"})
    assert len(vectors) == 3 and len({len(v) for v in vectors}) == 1 and len(vectors[0]) > len(FEATURES)


def test_label_column_adds_roc_auc_and_is_never_a_feature(
    client: V1Client, train_frame: pd.DataFrame, eval_frame: pd.DataFrame
) -> None:
    nn_id = "nnlabelled"
    client.create_network(nn_id)
    client.upload(nn_id, "datasrc", "train.csv", csv_bytes(train_frame[[*FEATURES, "label"]]))
    client.upload(nn_id, "evaldata", "eval.csv", csv_bytes(eval_frame))
    client.netconf(nn_id)
    eval_path = f"wf/state/eval/nnid/{nn_id}/ver/1/node/eval_node/"
    client.call("PUT", eval_path, json={"type": "regression", "label_column": "label"})
    result = client.train(nn_id)[5]
    assert 0.0 <= result["roc_auc"] <= 1.0
    assert result["known_anomalies"] == int((eval_frame["label"] != "normal").sum())
    run = client.runs(nn_id)[0]
    assert run["metrics"]["columns"] == FEATURES
    assert run["metrics"]["roc_auc"] == result["roc_auc"]


def test_network_listing_shows_active_version_and_model(
    client: V1Client, notebook_flow: list[object]
) -> None:
    rows = client.call("GET", f"common/target/nninfo/nnid/{NN}/")
    assert len(rows) == 1
    row = rows[0]
    assert (row["nn_id"], row["nn_wf_ver_id"], row["nn_batch_ver_id"]) == (NN, 1, f"{NN}_1_1")
    assert row["biz_cate"] == "MES" and row["use_flag"] == "Y" and row["condition"] == "3"
    assert NN in [r["nn_id"] for r in client.call("GET", "common/target/nninfo/nnid/all/")]


def test_version_listing_and_model_listing(client: V1Client, notebook_flow: list[object]) -> None:
    versions = client.call("GET", f"common/target/nninfo/nnid/{NN}/version/")
    assert [(v["nn_wf_ver_id"], v["active_flag"], v["pred_batch_ver_id"]) for v in versions] == [
        (1, "Y", f"{NN}_1_1")
    ]
    runs = client.runs(NN)
    assert runs[0]["eval_flag"] == "Y" and runs[0]["model_exists"] == "Y"
    assert runs[0]["metrics"]["epochs"] == 3


def test_node_description_lists_the_six_template_nodes(client: V1Client, notebook_flow: list[object]) -> None:
    nodes = client.call("GET", f"wf/target/init/mode/simple/{NN}/wfver/1/desc/all/")
    assert [n["fields"]["nn_wf_node_name"] for n in nodes] == [
        "datasrc", "feed_train", "netconf_node", "evaldata", "feed_test", "eval_node"
    ]  # fmt: skip
    assert [n["fields"]["wf_task_menu_id"] for n in nodes] == [
        "data", "preprocess", "netconf", "data", "preprocess", "eval"
    ]  # fmt: skip
    one = client.call("GET", f"wf/target/init/mode/simple/{NN}/wfver/1/desc/netconf_node/")
    assert one[0]["pk"] == f"{NN}_1_netconf_node" and one[0]["fields"]["node_config_data"]["iter"] == 3
    assert one[0]["fields"]["node_prev"] == ["feed_train"] and one[0]["fields"]["node_next"] == ["eval_node"]


def test_reinit_keeps_node_settings(client: V1Client, notebook_flow: list[object]) -> None:
    init = f"wf/target/init/mode/simple/{NN}/wfver/1/"
    assert client.call("POST", init, json={"type": "autoencoder_csv"}) == "autoencoder_csv"
    path = f"wf/state/netconf/detail/autoencoder/nnid/{NN}/ver/1/node/netconf_node/"
    assert client.call("GET", path)["n_hidden"] == [32, 8]


def test_paths_work_without_trailing_slash(client: V1Client, notebook_flow: list[object]) -> None:
    resp = client.raw("GET", f"result/nnid/{NN}/ver/1", allow_redirects=False)
    assert resp.status_code == 200
    resp = client.raw(
        "POST", "common/target/nninfo/nnid/nnslash", json={"nn_title": "t"}, allow_redirects=False
    )
    assert (resp.status_code, resp.json()) == (200, '"nnslash"')
