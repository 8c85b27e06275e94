"""The seed's client code (``seed.txt``), statement for statement, against a real server.

Only ``url`` is set; the training file is written where the seed's relative path
``../../data/seq2seq_mansearch_3.csv`` points, from NSL-KDD rows whose columns carry the seed's
MES column names. Checks run between the seed's statements and never change them.
"""

# ruff: noqa: E501, SIM115, UP030, UP032
# (the seed's statements are kept exactly as written)

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
import requests

from support.server import ServerProcess, V1Client, csv_bytes

SEED_COLUMNS = {
    "protocol_type": "PRODUCT_CD",
    "service": "CUR_FAC_OP_CD",
    "flag": "MC_NO",
    "src_bytes": "CAST_STR_NUM",
    "dst_bytes": "SM_STEEL_GRD",
    "count": "CC_UNCOND_SF_MTH",
}
"""NSL-KDD columns standing in for the seed's plant columns (three categorical, three numeric)."""


@pytest.fixture
def seed_cwd(tmp_path: Path, train_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory from which ``../../data/seq2seq_mansearch_3.csv`` is the seed's data."""
    data = tmp_path / "data"
    data.mkdir()
    frame = train_frame.rename(columns=SEED_COLUMNS)
    (data / "seq2seq_mansearch_3.csv").write_bytes(csv_bytes(frame))
    cwd = tmp_path / "notebooks" / "autoencoder"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    return cwd


def test_seed_code_runs_unchanged(v1_server: ServerProcess, seed_cwd: Path) -> None:
    url = v1_server.url.removeprefix("http://")
    assert os.path.isfile("../../data/seq2seq_mansearch_3.csv")

    # fmt: off
    nn_id = 'nn992798'
    ####(1) 네트워크 생성 ####
    resp = requests.post('http://' + url + '/api/v1/type/common/target/nninfo/nnid/' + nn_id + '/', json={ "biz_cate": "MES", "biz_sub_cate": "M60", "nn_title" : "test", "nn_desc": "test desc", "use_flag" : "Y", "dir": "autoencoder_csv", "config": "N" })
    data = json.loads(resp.json())
    print("evaluation result : {0}".format(data))
    assert data == "nn992798"

    ####(2) 버전 생성 ####
    resp = requests.post('http://' + url + '/api/v1/type/common/target/nninfo/nnid/' + nn_id + '/version/', json={ "nn_def_list_info_nn_id": "", "nn_wf_ver_info": "test version info", "condition": "1", "active_flag": "Y" })
    data = json.loads(resp.json())
    print("evaluation result : {0}".format(data))
    assert data == "nn992798"

    # Work Flow 틀을 구성하도로고 지시한다. (정해진 틀을 강제로 생성)
    resp = requests.post('http://' + url + '/api/v1/type/wf/target/init/mode/simple/' + nn_id +'/wfver/1/', json={ "type": 'autoencoder_csv' })
    data = json.loads(resp.json())
    print("evaluation result : {0}".format(data))
    assert data == "autoencoder_csv"

    return_dict = {}
    return_dict['test'] = open('../../data/seq2seq_mansearch_3.csv', 'rb')
    resp = requests.post('http://' + url + '/api/v1/type/wf/state/framedata/src/local/form/raw/prg/source/nnid/'+nn_id+'/ver/1/node/datasrc/', files = return_dict)
    data = json.loads(resp.json())
    print("evaluation result : {0}".format(data))
    return_dict["test"].close()
    assert data == ["1 file upload success"]

    resp = requests.put('http://' + url + '/api/v1/type/wf/state/framedata/src/local/form/raw/prg/source/nnid/'+nn_id+'/ver/1/node/datasrc/', json={ "type": "csv", "source_server": "local", "source_sql": "all", "preprocess": "none", })
    assert resp.status_code == 200
    settings = json.loads(resp.json())
    assert settings["type"] == "csv" and settings["preprocess"] == "none"

    resp = requests.post('http://' + url + '/api/v1/type/wf/state/pre/detail/feed/src/frame/net/autoencoder/nnid/'+nn_id+'/ver/1/node/feed_train/', json={ "encode_column" : ["PRODUCT_CD","CUR_FAC_OP_CD","MC_NO","CAST_STR_NUM","SM_STEEL_GRD","CC_UNCOND_SF_MTH"], "vocab_size" : 10, "preprocess": "frame", "embed_type" : 'onehot' })
    data = json.loads(resp.json())
    print("evaluation result : {0}".format(data))
    assert data["encode_column"] == list(SEED_COLUMNS.values())
    assert data["vocab_size"] == 10

    resp = requests.put('http://' + url + '/api/v1/type/wf/state/netconf/detail/autoencoder/nnid/' + nn_id + '/ver/1/node/netconf_node/', json={ "learning_rate" : 0.01, "iter" : 10, "batch_size" : 10, "examples_to_show" : 10, "n_hidden" : [200, 100] })
    data = json.loads(resp.json())
    print("evaluation result : {0}".format(data))
    assert data["n_hidden"] == [200, 100] and data["iter"] == 10
    assert data["model_path"] == "models/nn992798/1"

    resp = requests.post('http://' + url + '/api/v1/type/runmanager/state/train/nnid/'+nn_id+'/ver/1/')
    data = json.loads(resp.json())
    print("evaluation result : {0}".format(data))
    assert data == [None, None, "nn992798_1_netconf_node", None, None]
    # fmt: on

    client = V1Client(v1_server.url)
    runs = client.runs(nn_id)
    assert [(r["nn_batch_ver_id"], r["status"], r["active_flag"]) for r in runs] == [
        ("nn992798_1_1", "succeeded", "Y")
    ]
    row = dict(zip(SEED_COLUMNS.values(), ["tcp", "http", "SF", 215, 45076, 1], strict=True))
    similarity = client.anomaly(nn_id, row)
    assert isinstance(similarity, float) and -1.0 <= similarity <= 1.0
