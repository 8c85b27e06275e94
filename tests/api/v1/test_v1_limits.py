"""Bounded cost, checked before the work starts, against real servers: every limit refuses with
a 4xx (413 for sizes) naming itself and the setting that raises it, memory stays bounded for a
hostile CSV header, out-of-range integers are a 400, and errors quote input briefly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from support.server import FEATURES, ServerProcess, V1Client, csv_bytes

NETCONF = "wf/state/netconf/detail/autoencoder/nnid/{}/ver/1/node/netconf_node/"
PREDICT = "service/state/predict/type/anomaly/nnid/{}/ver/active/"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose limits are small, so each can be passed cheaply."""
    server = ServerProcess(
        tmp_path_factory.mktemp("limits") / "data",
        AEDETECT_MAX_JSON_BYTES="200000",
        AEDETECT_MAX_PREDICT_ROWS="100",
        AEDETECT_MAX_NETWORK_WEIGHTS="1000000",
        AEDETECT_MAX_NETWORK_LAYERS="4",
        AEDETECT_MAX_EPOCHS="50",
        AEDETECT_MAX_TEXT_CHARS="1000",
        AEDETECT_MAX_CSV_COLUMNS="500",
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def limited(small: ServerProcess) -> V1Client:
    return V1Client(small.url)


def wide_csv(columns: int, rows: int = 3, text_values: int = 0) -> bytes:
    """A CSV of ``columns`` numeric columns (and one text column of ``text_values`` values)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(rows, columns)), columns=[f"c{i}" for i in range(columns)])
    if text_values:
        frame["tag"] = [f"t{i % text_values}" for i in range(rows)]
    return csv_bytes(frame)


# --- request bodies ------------------------------------------------------------------------------
def test_json_body_over_the_limit_is_413_before_it_is_read(small: ServerProcess, limited: V1Client) -> None:
    big = {"nn_title": "t", "nn_desc": "x" * 300_000}
    limited.error(
        "POST", "common/target/nninfo/nnid/nnbig/", 413, "200000 bytes", "AEDETECT_MAX_JSON_BYTES", json=big
    )
    limited.error("GET", "common/target/nninfo/nnid/nnbig/", 404)


def test_streamed_json_body_over_the_limit_is_cut_off(limited: V1Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"nn_title": "t", "nn_desc": "'
        for _ in range(40):
            yield b"x" * 10_000
        yield b'"}'

    headers = {"Content-Type": "application/json"}
    limited.error(
        "POST",
        "common/target/nninfo/nnid/nnchunked/",
        413,
        "AEDETECT_MAX_JSON_BYTES",
        data=chunks(),
        headers=headers,
    )
    limited.error("GET", "common/target/nninfo/nnid/nnchunked/", 404)


def test_text_field_over_the_limit_is_413_and_listings_stay_small(limited: V1Client) -> None:
    limited.error(
        "POST",
        "common/target/nninfo/nnid/nnlongdesc/",
        413,
        "nn_desc has 5000 characters",
        "AEDETECT_MAX_TEXT_CHARS",
        json={"nn_desc": "d" * 5000},
    )
    limited.create_network("nntexts")
    limited.error(
        "POST",
        "common/target/nninfo/nnid/nntexts/version/",
        413,
        "nn_wf_ver_info",
        "AEDETECT_MAX_TEXT_CHARS",
        json={"nn_wf_ver_info": "v" * 5000},
    )
    source = limited.data_path("nntexts", "datasrc")
    limited.error("PUT", source, 413, "source_sql", json={"type": "csv", "source_sql": "s" * 5000})
    assert len(limited.raw("GET", "common/target/nninfo/nnid/all/").content) < 20_000


# --- CSV files -----------------------------------------------------------------------------------
def test_hostile_csv_header_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    """The issue's case: a header of 1.2M columns (2.4 MB) took the server to +4.9 GB before its
    400. Now the header line is refused as soon as it passes the line limit, and a header under
    it but of too many columns is refused from its first line: the peak memory hardly moves."""
    server = ServerProcess(tmp_path / "data").start()
    try:
        client = V1Client(server.url)
        client.create_network("nnwide")
        client.upload("nnwide", "datasrc", "warm.csv", wide_csv(5))  # the CSV code paths are loaded
        before = server.memory_peak_bytes()
        header = ",".join("c" for _ in range(1_200_000)).encode() + b"\n" + b"1\n"
        client.error(
            "POST",
            client.data_path("nnwide", "datasrc"),
            413,
            "hostile.csv",
            "line 1",
            "AEDETECT_MAX_CSV_LINE_BYTES",
            files={"file": ("hostile.csv", header)},
        )
        columns = ",".join(f"c{i}" for i in range(100_000)).encode() + b"\n"
        client.error(
            "POST", client.data_path("nnwide", "datasrc"), 413, "100000 columns", "AEDETECT_MAX_CSV_COLUMNS",
            files={"file": ("columns.csv", columns + b"1\n")},
        )  # fmt: skip
        growth = server.memory_peak_bytes() - before
        assert growth < 150 * MIB, f"peak memory grew by {growth / MIB:.0f} MiB"
        files = client.call("GET", client.data_path("nnwide", "datasrc"))["files"]
        assert [f["name"] for f in files] == ["warm.csv"]
    finally:
        server.stop()


def test_csv_of_more_columns_than_allowed_is_413(limited: V1Client) -> None:
    limited.create_network("nntoowide")
    limited.error(
        "POST",
        limited.data_path("nntoowide", "datasrc"),
        413,
        "501 columns",
        "limit of 500",
        "AEDETECT_MAX_CSV_COLUMNS",
        files={"file": ("wide.csv", wide_csv(501))},
    )


def test_mixed_encodings_upload_is_refused_naming_the_line(limited: V1Client) -> None:
    limited.create_network("nnmixedenc")
    content = "설비,온도\n1호기,20\n".encode() + "2호기,21\n".encode("cp949")
    limited.error(
        "POST", limited.data_path("nnmixedenc", "datasrc"), 400, "mixed.csv", "line 3 is not valid UTF-8",
        "mixes text encodings", files={"file": ("mixed.csv", content)},
    )  # fmt: skip
    assert limited.call("GET", limited.data_path("nnmixedenc", "datasrc")).get("files", []) == []


# --- training ------------------------------------------------------------------------------------
def test_network_over_the_weight_or_layer_limit_is_413_when_it_is_set(limited: V1Client) -> None:
    limited.create_network("nnhuge")
    before = limited.netconf("nnhuge")
    path = NETCONF.format("nnhuge")
    message = limited.error(
        "PUT",
        path,
        413,
        "8,590,196,736 weights",
        "over the limit of 1,000,000",
        "AEDETECT_MAX_NETWORK_WEIGHTS",
        json={**before, "n_hidden": [65536, 65536]},
    )
    assert "n_hidden" in message
    limited.error(
        "PUT",
        path,
        413,
        "5 layers",
        "AEDETECT_MAX_NETWORK_LAYERS",
        json={**before, "n_hidden": [8, 8, 8, 8, 8]},
    )
    limited.error("PUT", path, 400, "at most 50", "AEDETECT_MAX_EPOCHS", json={**before, "iter": 100_000})
    assert limited.call("GET", path) == before


def test_network_too_big_for_its_columns_is_refused_before_a_run(limited: V1Client) -> None:
    """400 columns into 700 units: at least 2 x 800 x 700 weights, known from the file alone."""
    limited.create_network("nnmanycols")
    limited.upload("nnmanycols", "datasrc", "cols.csv", wide_csv(400))
    limited.netconf("nnmanycols", n_hidden=[700])
    limited.error(
        "POST",
        "runmanager/state/train/nnid/nnmanycols/ver/1/",
        413,
        "400 columns",
        "AEDETECT_MAX_NETWORK_WEIGHTS",
    )
    assert limited.runs("nnmanycols") == []


def test_network_too_big_for_its_categories_fails_before_fitting(limited: V1Client) -> None:
    """A text column of 3000 values one-hot encoded (vocab_size 5000) is known only from the data:
    the run fails at once with the count of encoded inputs, before any epoch."""
    limited.create_network("nnmanycats")
    limited.upload("nnmanycats", "datasrc", "cats.csv", wide_csv(2, rows=3000, text_values=3000))
    feed = "wf/state/pre/detail/feed/src/frame/net/autoencoder/nnid/nnmanycats/ver/1/node/feed_train/"
    limited.call("POST", feed, json={"vocab_size": 5000, "preprocess": "frame", "embed_type": "onehot"})
    limited.netconf("nnmanycats", n_hidden=[200], iter=50)
    limited.error(
        "POST",
        "runmanager/state/train/nnid/nnmanycats/ver/1/",
        413,
        "3006 encoded inputs",
        "AEDETECT_MAX_NETWORK_WEIGHTS",
    )
    run = limited.runs("nnmanycats")[0]
    assert run["status"] == "failed" and "AEDETECT_MAX_NETWORK_WEIGHTS" in run["error"]


# --- prediction ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_trained(limited: V1Client, train_frame: pd.DataFrame) -> str:
    limited.trained_network("nnsmall", train_frame.iloc[:100], FEATURES)
    return "nnsmall"


def test_predict_of_more_rows_than_allowed_is_413(
    limited: V1Client, small_trained: str, eval_frame: pd.DataFrame
) -> None:
    rows = [eval_frame.iloc[0][FEATURES].to_dict()] * 101
    limited.error(
        "POST", PREDICT.format(small_trained), 413, "101 rows", "limit of 100", "AEDETECT_MAX_PREDICT_ROWS",
        json={"input_data": rows},
    )  # fmt: skip
    assert len(limited.anomaly(small_trained, rows[:100])) == 100


def test_numbers_out_of_range_are_400(
    limited: V1Client, small: ServerProcess, small_trained: str, eval_frame: pd.DataFrame
) -> None:
    """Version numbers of 2^63 and more were a 500 that advised a retry."""
    limited.error(
        "GET", f"common/target/nninfo/nnid/{small_trained}/version/{2**63}/", 400, "invalid version"
    )
    limited.error("GET", limited.data_path(small_trained, "datasrc", ver=2**64), 400, "invalid version")
    limited.error(
        "PUT", f"common/target/nninfo/nnid/{small_trained}/version/", 400, "invalid version",
        json={"nn_wf_ver_id": 2**63},
    )  # fmt: skip
    limited.error("PUT", NETCONF.format(small_trained), 400, "random_state", json={"random_state": 2**64})
    row = eval_frame.iloc[0][FEATURES].to_dict()
    raw = '{"input_data": {%s, "count": 1%s}}' % (  # noqa: UP031 - a number json.dumps cannot write
        ", ".join(f'"{k}": {json.dumps(v)}' for k, v in row.items() if k != "count"),
        "0" * 400,
    )
    limited.error(
        "POST", PREDICT.format(small_trained), 400, "count", "out of range",
        data=raw.encode(), headers={"Content-Type": "application/json"},
    )  # fmt: skip
    infinite = raw.replace("1" + "0" * 400, "1e400").encode()
    limited.error(
        "POST", PREDICT.format(small_trained), 400, "count", "infinite",
        data=infinite, headers={"Content-Type": "application/json"},
    )  # fmt: skip


# --- errors quote input briefly ------------------------------------------------------------------
def test_a_megabyte_value_is_not_echoed_back(
    client: V1Client, trained: str, eval_frame: pd.DataFrame
) -> None:
    """Errors echoed input unbounded: a 1 MB value came back whole."""
    row = {**eval_frame.iloc[0][FEATURES].to_dict(), "count": "y" * 1_000_000}
    message = client.error(
        "POST", PREDICT.format(trained), 400, "column 'count' is numeric", "(1000000 characters)",
        json={"input_data": row},
    )  # fmt: skip
    assert len(message) < 400
    path = "wf/state/eval/nnid/nntrained/ver/1/node/eval_node/"
    message = client.error("PUT", path, 413, "type has 1000000 characters", json={"type": "y" * 1_000_000})
    assert len(message) < 400


def test_missing_columns_error_is_short_and_names_what_was_sent(
    client: V1Client, trained: str, eval_frame: pd.DataFrame
) -> None:
    """A 10k-column mismatch gave a 69 KB message listing every model column, not the ones sent."""
    row = {f"unknown_{i}": i for i in range(10_000)}
    row.update(eval_frame.iloc[0][FEATURES[:2]].to_dict())
    message = client.error(
        "POST", PREDICT.format(trained), 400, "lacks the model column(s)", "unknown_0", "and 9995 more",
        "the model uses 10 columns", json={"input_data": row},
    )  # fmt: skip
    assert len(message) < 1000
