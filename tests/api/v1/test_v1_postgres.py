"""The service on PostgreSQL instead of the embedded SQLite: the v1 flow trains, predicts and
keeps its state across a restart (``AEDETECT_TEST_POSTGRES_URL``, see ``.ci/postgres.sh``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from support.server import FEATURES, ServerProcess, V1Client, csv_bytes

NN = "nnpostgres"


@pytest.mark.postgres
def test_v1_flow_on_postgresql(
    postgres_url: str, tmp_path: Path, train_frame: pd.DataFrame, eval_frame: pd.DataFrame
) -> None:
    server = ServerProcess(tmp_path / "data", AEDETECT_DATABASE_URL=postgres_url).start()
    try:
        client = V1Client(server.url)
        client.create_network(NN)
        client.upload(NN, "datasrc", "train.csv", csv_bytes(train_frame))
        client.upload(NN, "evaldata", "eval.csv", csv_bytes(eval_frame))
        client.feeder(NN, "feed_train", FEATURES)
        client.netconf(NN)
        result = client.train(NN)[5]
        row = eval_frame.iloc[0][FEATURES].to_dict()
        assert client.anomaly(NN, row) == pytest.approx(float(result["predicts"][0]), abs=1e-5)

        server.stop()
        server.start()
        assert [(r["nn_batch_ver_id"], r["active_flag"]) for r in client.runs(NN)] == [(f"{NN}_1_1", "Y")]
        assert client.call("GET", f"result/nnid/{NN}/ver/1/")["predicts"] == result["predicts"]
        assert client.anomaly(NN, row) == pytest.approx(float(result["predicts"][0]), abs=1e-5)
        assert not (tmp_path / "data" / "aedetect.db").exists()
    finally:
        server.stop()
