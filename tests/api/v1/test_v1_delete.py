"""Deleting removes exactly what it names: a network with its versions, files and models, or
the files of one data node."""

from __future__ import annotations

import pandas as pd

from support.server import FEATURES, ServerProcess, V1Client, csv_bytes


def test_network_delete_removes_its_versions_files_and_models_and_nothing_else(
    client: V1Client, v1_server: ServerProcess, train_frame: pd.DataFrame, eval_frame: pd.DataFrame
) -> None:
    client.trained_network("nndela", train_frame, FEATURES)
    client.trained_network("nndelb", train_frame, FEATURES)
    data = v1_server.data_dir
    assert (data / "networks" / "nndela").is_dir() and (data / "models" / "nndela").is_dir()
    row = eval_frame.iloc[0][FEATURES].to_dict()
    b_before = client.anomaly("nndelb", row)

    assert client.call("DELETE", "common/target/nninfo/nnid/nndela/") == "nndela"

    client.error("GET", "common/target/nninfo/nnid/nndela/", 404, "nndela")
    client.error("GET", "common/target/nninfo/nnid/nndela/version/", 404, "nndela")
    assert not (data / "networks" / "nndela").exists() and not (data / "models" / "nndela").exists()
    listed = [r["nn_id"] for r in client.call("GET", "common/target/nninfo/nnid/all/")]
    assert "nndela" not in listed and "nndelb" in listed
    assert [f["name"] for f in client.call("GET", client.data_path("nndelb", "datasrc"))["files"]] == [
        "train.csv"
    ]
    assert (data / "networks" / "nndelb" / "1" / "datasrc" / "train.csv").is_file()
    assert client.anomaly("nndelb", row) == b_before


def test_deleted_network_id_can_be_used_again(client: V1Client) -> None:
    client.call("POST", "common/target/nninfo/nnid/nnreuse/", json={"nn_title": "first"})
    client.call("POST", "common/target/nninfo/nnid/nnreuse/version/", json={})
    client.call("DELETE", "common/target/nninfo/nnid/nnreuse/")
    assert client.call("POST", "common/target/nninfo/nnid/nnreuse/", json={"nn_title": "second"}) == "nnreuse"
    assert client.call("GET", "common/target/nninfo/nnid/nnreuse/version/") == []


def test_deleting_an_unknown_network_is_404(client: V1Client) -> None:
    client.error("DELETE", "common/target/nninfo/nnid/nnnever/", 404, "nnnever")


def test_data_node_delete_removes_only_that_nodes_files(
    client: V1Client, v1_server: ServerProcess, train_frame: pd.DataFrame
) -> None:
    nn_id = "nndelfiles"
    client.create_network(nn_id)
    client.upload(nn_id, "datasrc", "a.csv", csv_bytes(train_frame.iloc[:50]))
    client.upload(nn_id, "datasrc", "b.csv", csv_bytes(train_frame.iloc[50:100]))
    client.upload(nn_id, "evaldata", "e.csv", csv_bytes(train_frame.iloc[:20]))
    assert client.call("DELETE", client.data_path(nn_id, "datasrc")) == "2 file delete success"
    assert client.call("GET", client.data_path(nn_id, "datasrc")).get("files") == []
    assert not (v1_server.data_dir / "networks" / nn_id / "1" / "datasrc").exists()
    assert [f["name"] for f in client.call("GET", client.data_path(nn_id, "evaldata"))["files"]] == ["e.csv"]
