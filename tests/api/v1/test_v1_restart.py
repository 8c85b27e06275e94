"""A server killed or stopped in the middle of a training run: after a restart the run is failed,
the previous model still serves, nothing half-written is left, and the version trains again."""

from __future__ import annotations

import json
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import requests

from support.server import FEATURES, ServerProcess, V1Client, wait_for

NN = "nncrash"


def _train_until_interrupted(client: V1Client) -> str:
    """How the waiting train request ends: its connection dropped, or an error envelope."""
    try:
        resp = client.raw("POST", f"runmanager/state/train/nnid/{NN}/ver/1/")
    except requests.ConnectionError:
        return "connection dropped"
    return f"{resp.status_code} {json.loads(resp.json())['result']}"


@pytest.mark.parametrize("stop", ["kill", "terminate"])
def test_stop_mid_training_fails_the_run_and_keeps_the_previous_model(
    tmp_path: Path, train_frame: pd.DataFrame, eval_frame: pd.DataFrame, stop: str
) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        client = V1Client(server.url)
        client.trained_network(NN, train_frame, FEATURES)
        row = eval_frame.iloc[0][FEATURES].to_dict()
        before = client.anomaly(NN, row)

        client.netconf(NN, iter=10_000, batch_size=10)
        train_status = f"runmanager/state/train/nnid/{NN}/ver/1/"
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(_train_until_interrupted, client)
            wait_for(
                lambda: any(r["status"] == "running" for r in client.call("GET", train_status)["runs"]),
                "the second run to start",
            )
            if stop == "kill":
                server.kill()
                assert pending.result() == "connection dropped"
            else:
                server.stop()
                assert server.process is not None and server.process.returncode in (0, -signal.SIGTERM)
                assert "Application shutdown complete" in server.log()
                answer = pending.result()
                assert answer.startswith("500 ") and "interrupted" in answer

        # What a crash while writing leaves behind: a partial model directory, a partial upload.
        models = server.data_dir / "models" / NN / "1"
        (models / f".tmp-{NN}_1_2-0000").mkdir()
        partial_upload = server.data_dir / "networks" / NN / "1" / "datasrc" / ".tmp-upload"
        partial_upload.write_bytes(b"a,b\n1,")

        server.start()
        runs = client.runs(NN)
        assert [(r["nn_batch_ver_id"], r["status"], r["active_flag"]) for r in runs] == [
            (f"{NN}_1_1", "succeeded", "Y"),
            (f"{NN}_1_2", "failed", "N"),
        ]
        assert "interrupted" in runs[1]["error"]
        assert client.call("GET", train_status)["runs"] == []
        assert client.anomaly(NN, row) == pytest.approx(before, abs=1e-5)
        assert sorted(p.name for p in models.iterdir()) == [f"{NN}_1_1", f"{NN}_1_1.scores.npy"]
        assert not partial_upload.exists()

        client.netconf(NN)
        client.train(NN)
        assert client.runs(NN)[2]["active_flag"] == "Y"
    finally:
        server.stop()
