"""Networks and versions: changes, the single active version, and the merged data node settings."""

from __future__ import annotations

import requests

from support.server import ServerProcess, V1Client


def test_network_put_changes_only_the_given_fields(client: V1Client) -> None:
    client.create_network("nnedit")
    path = "common/target/nninfo/nnid/nnedit/"
    assert client.call("PUT", path, json={"nn_title": "renamed", "nn_desc": None}) == "nnedit"
    row = client.call("GET", path)[0]
    assert (row["nn_title"], row["nn_desc"], row["biz_cate"]) == ("renamed", "test desc", "MES")


def test_network_put_refuses_an_overlong_field(client: V1Client) -> None:
    client.create_network("nnlong")
    path = "common/target/nninfo/nnid/nnlong/"
    client.error("PUT", path, 400, "biz_cate", "100", json={"biz_cate": "x" * 101})
    assert client.call("GET", path)[0]["biz_cate"] == "MES"


def test_version_put_active_flag_makes_it_the_only_active_version(client: V1Client) -> None:
    client.create_network("nnvers")
    path = "common/target/nninfo/nnid/nnvers/version/"
    assert client.call("POST", path, json={"nn_wf_ver_info": "second", "active_flag": "Y"}) == "nnvers"
    assert [(v["nn_wf_ver_id"], v["active_flag"]) for v in client.call("GET", path)] == [(1, "N"), (2, "Y")]
    assert client.call("PUT", path, json={"nn_wf_ver_id": "1", "active_flag": "Y", "condition": "3"}) == "1"
    versions = client.call("GET", path)
    assert [(v["nn_wf_ver_id"], v["active_flag"], v["condition"]) for v in versions] == [
        (1, "Y", "3"),
        (2, "N", "1"),
    ]
    assert client.call("GET", "common/target/nninfo/nnid/nnvers/")[0]["nn_wf_ver_id"] == 1


def test_version_put_refuses_an_unknown_condition(client: V1Client) -> None:
    client.create_network("nncond")
    path = "common/target/nninfo/nnid/nncond/version/"
    client.error("PUT", path, 400, "condition", json={"nn_wf_ver_id": 1, "condition": "9"})


def test_data_source_settings_merge_with_earlier_ones(client: V1Client) -> None:
    client.create_network("nnsource")
    path = client.data_path("nnsource", "evaldata")
    client.call("PUT", path.replace("/prg/source/", "/prg/pre/"), json={"preprocess": "none"})
    settings = client.call("PUT", path, json={"type": "csv", "source_server": "local", "source_sql": "all"})
    assert settings["preprocess"] == "none" and settings["type"] == "csv"
    assert client.call("GET", path)["source_sql"] == "all"


def test_data_source_other_than_local_csv_is_400(client: V1Client) -> None:
    client.create_network("nnrdb")
    path = client.data_path("nnrdb", "datasrc")
    client.error("PUT", path.replace("/src/local/", "/src/rdb/"), 400, "'rdb'", "local", json={"type": "csv"})
    client.error("PUT", path, 400, "type", "csv", json={"type": "h5"})


def test_feeder_settings_are_echoed_and_readable(client: V1Client) -> None:
    client.create_network("nnfeed")
    path = "wf/state/pre/detail/feed/src/frame/net/autoencoder/nnid/nnfeed/ver/1/node/feed_test/"
    body = {"encode_column": ["a", "b"], "vocab_size": 5, "preprocess": "frame", "embed_type": "onehot"}
    assert client.call("PUT", path, json=body) == body
    assert client.call("GET", path) == body
    client.error("PUT", path, 400, "encode_column", "twice: a", json={**body, "encode_column": ["a", "a"]})
    client.error("PUT", path, 400, "embed_type", json={**body, "embed_type": "word2vec"})
    assert client.call("GET", path) == body


def test_health_and_openapi_docs(v1_server: ServerProcess) -> None:
    assert requests.get(v1_server.url + "/healthz", timeout=30).json()["status"] == "ok"
    docs = requests.get(v1_server.url + "/docs", timeout=30)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    schema = requests.get(v1_server.url + "/openapi.json", timeout=30).json()
    assert "/api/v1/type/runmanager/state/train/nnid/{nnid}/ver/{ver}/" in schema["paths"]
    assert "/api/v1/type/runmanager/state/train/nnid/{nnid}/ver/{ver}" not in schema["paths"]
