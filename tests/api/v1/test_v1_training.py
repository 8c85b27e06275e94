"""Training runs through the job runner: what runs shows on GET, a second train of a training
version is refused, and predictions switch to a new model only once it is complete."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd
import pytest
import requests

from support.server import FEATURES, ServerProcess, V1Client, csv_bytes, wait_for

NN = "nnbusy"


def approx(value: float) -> Any:
    """The same similarity up to float32 rounding (a loaded model vs the one just trained)."""
    return pytest.approx(value, abs=1e-5)


TRAIN = f"runmanager/state/train/nnid/{NN}/ver/1/"


def _running_run(client: V1Client) -> dict[str, Any] | None:
    status = client.call("GET", TRAIN)
    running = [r for r in status["runs"] if r["status"] == "running"]
    return {**running[0], "active": status["active"]} if running else None


def test_second_train_is_409_while_the_previous_model_keeps_serving(
    client: V1Client, train_frame: pd.DataFrame, eval_frame: pd.DataFrame
) -> None:
    client.create_network(NN)
    client.upload(NN, "datasrc", "train.csv", csv_bytes(train_frame))
    client.upload(NN, "evaldata", "eval.csv", csv_bytes(eval_frame))
    client.feeder(NN, "feed_train", FEATURES)
    client.netconf(NN)
    first = client.train(NN)[5]
    row = eval_frame.iloc[0][FEATURES].to_dict()
    assert client.anomaly(NN, row) == approx(float(first["predicts"][0]))

    client.netconf(NN, iter=300, batch_size=100)
    with ThreadPoolExecutor(max_workers=1) as pool:
        second = pool.submit(client.train, NN)
        running = wait_for(lambda: _running_run(client), "the second run to start")
        assert running["nn_batch_ver_id"] == f"{NN}_1_2"
        assert f"{NN}_1_2" in running["active"]  # the run's id, as GET runs lists it

        client.error("POST", TRAIN, 409, "already training", f"{NN}_1_2")
        client.error("DELETE", f"common/target/nninfo/nnid/{NN}/", 409, "training")
        assert client.anomaly(NN, row) == approx(float(first["predicts"][0]))
        assert [(r["nn_batch_ver_id"], r["status"], r["active_flag"]) for r in client.runs(NN)] == [
            (f"{NN}_1_1", "succeeded", "Y"),
            (f"{NN}_1_2", "running", "N"),
        ]
        result = second.result()

    assert result[2] == f"{NN}_1_netconf_node"
    assert [(r["nn_batch_ver_id"], r["active_flag"]) for r in client.runs(NN)] == [
        (f"{NN}_1_1", "N"),
        (f"{NN}_1_2", "Y"),
    ]
    assert client.anomaly(NN, row) == approx(float(result[5]["predicts"][0]))
    assert client.call("GET", TRAIN)["runs"] == []


def test_choosing_an_earlier_model_switches_predictions_back(
    client: V1Client, train_frame: pd.DataFrame, eval_frame: pd.DataFrame
) -> None:
    nn_id = "nnchoose"
    client.create_network(nn_id)
    client.upload(nn_id, "datasrc", "train.csv", csv_bytes(train_frame))
    client.upload(nn_id, "evaldata", "eval.csv", csv_bytes(eval_frame))
    client.feeder(nn_id, "feed_train", FEATURES)
    client.netconf(nn_id, random_state=1)
    first = client.train(nn_id)[5]
    client.netconf(nn_id, random_state=2)
    second = client.train(nn_id)[5]
    # the eval row the two models score most differently tells which one serves
    gaps = [abs(float(a) - float(b)) for a, b in zip(first["predicts"], second["predicts"], strict=True)]
    i = max(range(len(gaps)), key=gaps.__getitem__)
    assert gaps[i] > 1e-3
    row = eval_frame.iloc[i][FEATURES].to_dict()
    assert client.anomaly(nn_id, row) == approx(float(second["predicts"][i]))

    body = {"nn_batch_ver_id": f"{nn_id}_1_1", "active_flag": "Y", "eval_flag": "Y"}
    assert client.call("PUT", f"common/target/nninfo/nnid/{nn_id}/version/1/", json=body) == f"{nn_id}_1_1"
    assert client.anomaly(nn_id, row) == approx(float(first["predicts"][i]))
    assert client.call("GET", f"result/nnid/{nn_id}/ver/1/")["predicts"] == first["predicts"]


def test_v1_choices_of_what_serves_record_the_production_moves(
    client: V1Client, v1_server: ServerProcess, train_frame: pd.DataFrame
) -> None:
    """PUT of active_flag (a version, or a model of a version) moves production like the v2
    alias route: each move is in the alias's history with who made it and when."""
    nn_id = "nnmoves"
    client.trained_network(nn_id, train_frame, FEATURES)  # model version 1 (run 1_1)
    client.train(nn_id)  # model version 2 (run 1_2): production follows
    versions = f"common/target/nninfo/nnid/{nn_id}/version/"
    client.call("POST", versions, json={"nn_wf_ver_info": "second", "active_flag": "N"})
    client.call("POST", f"wf/target/init/mode/simple/{nn_id}/wfver/2/", json={"type": "autoencoder_csv"})
    client.upload(nn_id, "datasrc", "train.csv", csv_bytes(train_frame), ver=2)
    client.feeder(nn_id, "feed_train", FEATURES, ver=2)
    client.netconf(nn_id, ver=2)
    client.train(nn_id, ver=2)  # model version 3, of a version that does not serve
    key = {"Authorization": f"Bearer {v1_server.key}"}
    v2 = f"{v1_server.base}/api/v2"

    def history() -> list[dict[str, Any]]:
        answer = requests.get(f"{v2}/models/{nn_id}/aliases/production", headers=key, timeout=30)
        assert answer.status_code == 200, answer.text
        moves: list[dict[str, Any]] = answer.json()["history"]
        return moves

    before = len(history())
    choice = {"nn_batch_ver_id": f"{nn_id}_1_1", "active_flag": "Y"}
    assert client.call("PUT", f"{versions}1/", json=choice) == f"{nn_id}_1_1"
    assert client.call("PUT", versions, json={"nn_wf_ver_id": "2", "active_flag": "Y"}) == "2"
    assert client.call("PUT", versions, json={"nn_wf_ver_id": "2", "nn_wf_ver_info": "again"}) == "2"
    assert client.call("PUT", versions, json={"nn_wf_ver_id": "1", "active_flag": "Y"}) == "1"
    moves = history()[before:]
    assert [(m["from_version"], m["to_version"]) for m in moves] == [(2, 1), (1, 3), (3, 1)]
    who = requests.get(f"{v1_server.base}/auth/whoami", headers=key, timeout=30).json()["key"]
    actor = f"{who['name']} ({who['key_id']})" if who["name"] else who["key_id"]
    assert {m["actor"] for m in moves} == {actor}
    assert all(m["moved_at"] for m in moves)
    served = requests.get(f"{v2}/models/{nn_id}", headers=key, timeout=30).json()
    assert served["aliases"]["production"] == 1


def test_failed_training_keeps_the_previous_model_and_marks_the_run_failed(
    client: V1Client, v1_server: ServerProcess, train_frame: pd.DataFrame, eval_frame: pd.DataFrame
) -> None:
    nn_id = "nnfail"
    client.trained_network(nn_id, train_frame, FEATURES)
    row = eval_frame.iloc[2][FEATURES].to_dict()
    before = client.anomaly(nn_id, row)
    # The stored training file is damaged on disk after its upload was checked: the run fails
    # inside the job, past every check made when the training was requested.
    (v1_server.data_dir / "networks" / nn_id / "1" / "datasrc" / "train.csv").write_bytes(
        b"\x00\x01\x02" * 100
    )
    message = client.error("POST", f"runmanager/state/train/nnid/{nn_id}/ver/1/", 400, f"{nn_id}_1_2 failed")
    runs = client.runs(nn_id)
    assert [(r["status"], r["active_flag"]) for r in runs] == [("succeeded", "Y"), ("failed", "N")]
    assert runs[1]["error"] in message and runs[1]["model_exists"] == "N"
    assert not (v1_server.data_dir / "models" / nn_id / "1" / f"{nn_id}_1_2").exists()
    assert client.anomaly(nn_id, row) == before

    client.upload(nn_id, "datasrc", "train.csv", csv_bytes(train_frame))
    client.train(nn_id)
    assert client.runs(nn_id)[2]["active_flag"] == "Y"
