"""Data as plants export it: CP949/EUC-KR or UTF-8 text, Korean column names and values, any
common delimiter. It uploads, trains and predicts through the v1 API like plain CSV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from support.server import V1Client, csv_bytes

COLUMNS = ["제품코드", "라인", "온도", "압력"]


def _plant_frame(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "제품코드": rng.choice(["가공A", "가공B", "압연C"], rows),
            "라인": rng.choice(["1라인", "2라인"], rows),
            "온도": rng.normal(1500.0, 20.0, rows).round(1),
            "압력": rng.normal(3.2, 0.1, rows).round(3),
        }
    )


@pytest.mark.parametrize(
    ("nn_id", "encoding", "sep"),
    [("nncp949", "cp949", ";"), ("nneuckr", "euc-kr", "\t"), ("nnutf8", "utf-8-sig", "|")],
)
def test_korean_csv_trains_and_predicts(client: V1Client, nn_id: str, encoding: str, sep: str) -> None:
    frame = _plant_frame()
    client.create_network(nn_id)
    uploaded = client.upload(nn_id, "datasrc", "공정데이터.csv", csv_bytes(frame, encoding=encoding, sep=sep))
    assert uploaded == ["1 file upload success"]
    files = client.call("GET", client.data_path(nn_id, "datasrc"))["files"]
    assert [(f["name"], f["rows"], f["columns"]) for f in files] == [("공정데이터.csv", 200, COLUMNS)]

    client.feeder(nn_id, "feed_train", COLUMNS)
    client.netconf(nn_id, n_hidden=[8, 3])
    assert client.train(nn_id)[2] == f"{nn_id}_1_netconf_node"

    normal = {"제품코드": "가공A", "라인": "1라인", "온도": 1500.0, "압력": 3.2}
    odd = {"제품코드": "미등록", "라인": "9라인", "온도": 20.0, "압력": 9.9}
    similarities = client.anomaly(nn_id, [normal, odd])
    assert len(similarities) == 2 and all(-1.0 <= s <= 1.0 for s in similarities)
    assert client.anomaly(nn_id, normal) == pytest.approx(similarities[0], abs=1e-5)
