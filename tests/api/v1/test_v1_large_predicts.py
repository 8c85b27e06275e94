"""Large predictions against a real server: scored in the bounded pool and streamed out batch by
batch, the answer is the same as the one a small request gets (byte for byte in v1's double
encoding), a one-row prediction sent meanwhile is answered, and the server's peak memory grows in
proportion to the rows sent, not to the answer (asserted on its RSS, not on time)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests

from support.server import FEATURES, ServerProcess, V1Client, csv_bytes, nsl_kdd

MIB = 1024 * 1024
BIG = 200_000
PREDICT = "service/state/predict/type/{}/nnid/nnlarge/ver/active/"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, train_frame: pd.DataFrame) -> Iterator[ServerProcess]:
    server = ServerProcess(
        tmp_path_factory.mktemp("large") / "data",
        AEDETECT_MAX_PREDICT_ROWS=str(BIG),
        AEDETECT_MAX_JSON_BYTES=str(128 * MIB),
        AEDETECT_MAX_UPLOAD_BYTES=str(64 * MIB),
        AEDETECT_SCORING_THREADS="1",
    ).start()
    try:
        V1Client(server.url).trained_network("nnlarge", train_frame, FEATURES)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads(
        nsl_kdd("KDDTest+.txt", 1000)[FEATURES].to_json(orient="records")
    )
    return records


def v2_score(server: ServerProcess, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {server.key}", **kwargs.pop("headers", {})}
    return requests.post(f"{server.base}/api/v2/models/nnlarge/score", headers=headers, timeout=900, **kwargs)


def test_streamed_answers_are_the_answers_of_smaller_requests(
    server: ServerProcess, rows: list[dict[str, Any]]
) -> None:
    """Over BATCH_ROWS rows the answer is streamed; it is what two smaller requests answer."""
    client = V1Client(server.url)
    sent = (rows * 11)[:10_500]
    halves = (sent[:5250], sent[5250:])
    small = [v for half in halves for v in client.anomaly("nnlarge", half)]
    streamed = client.raw("POST", PREDICT.format("anomaly"), json={"input_data": sent})
    assert streamed.status_code == 200 and "content-length" not in streamed.headers  # streamed
    # the same answer in v1's double encoding; scores of batches of other sizes may differ in the
    # last bits (compared as numbers: a diff of two 200 KB texts would take pytest minutes)
    answer = json.loads(json.loads(streamed.content))
    assert isinstance(answer, list) and len(answer) == len(small)
    np.testing.assert_allclose(np.array(answer, dtype=float), np.array(small, dtype=float), rtol=1e-6)
    path = PREDICT.format("autoencoder")
    for kind in ("encoder", "decoder"):
        parts = [client.call("POST", path, json={"input_data": half, "type": kind}) for half in halves]
        whole = client.call("POST", path, json={"input_data": sent, "type": kind})
        # the same vectors; matrix products over batches of other sizes may differ in the last bits
        np.testing.assert_allclose(
            np.array(whole, dtype=float), np.array(parts[0] + parts[1], dtype=float), rtol=1e-5, atol=1e-6
        )
    unstreamed = client.anomaly("nnlarge", sent[:100])  # the pool's unstreamed answer
    np.testing.assert_allclose(np.array(unstreamed, dtype=float), np.array(small[:100]), rtol=1e-6)

    pieces = [v2_score(server, json={"rows": half, "top": 2}).json() for half in halves]
    answer = v2_score(server, json={"rows": sent, "top": 2})
    assert answer.status_code == 200 and "content-length" not in answer.headers, answer.text[:500]
    body = answer.json()
    assert {k: body[k] for k in ("model", "version", "threshold")} == {
        k: pieces[0][k] for k in ("model", "version", "threshold")
    }
    expected = pieces[0]["rows"] + pieces[1]["rows"]
    assert len(body["rows"]) == len(expected)
    for got, want in zip(body["rows"], expected, strict=True):
        assert same_row(got, want), (got, want)


def same_row(got: dict[str, Any], want: dict[str, Any]) -> bool:
    """The same scored row: equal verdicts and columns, numbers equal to float32 precision
    (matrix products over batches of other sizes may differ in the last bits)."""

    def close(a: Any, b: Any) -> bool:
        if isinstance(a, float) or isinstance(b, float):
            return a is not None and b is not None and a == pytest.approx(b, rel=1e-5, abs=1e-6)
        return bool(a == b)

    if got.keys() != want.keys() or got["is_anomaly"] != want["is_anomaly"]:
        return False
    numbers = ("score", "threshold", "similarity", "cosine_similarity")
    if not all(close(got[k], want[k]) for k in numbers):
        return False
    pairs = zip(got["contributions"], want["contributions"], strict=True)
    return all(g.keys() == w.keys() and all(close(g[k], w[k]) for k in g) for g, w in pairs)


def test_refusals_of_large_requests_keep_their_status(
    server: ServerProcess, rows: list[dict[str, Any]]
) -> None:
    client = V1Client(server.url)
    lacking = [{k: v for k, v in row.items() if k != "count"} for row in rows[:2000]]
    client.error(
        "POST",
        PREDICT.format("anomaly"),
        400,
        "lacks the model column(s) count",
        json={"input_data": lacking},
    )
    bad = [*(rows * 2)[:1500], {"protocol_type": ["not", "a", "scalar"]}]
    client.error(
        "POST", PREDICT.format("anomaly"), 422, "input_data[1500].protocol_type", json={"input_data": bad}
    )
    # a bad value in a late row is found before the answer starts: a 400, not a stream cut short
    late = [*rows[:150], {**rows[0], "count": "many"}]
    client.error("POST", PREDICT.format("anomaly"), 400, "count", json={"input_data": late})
    refused = v2_score(server, json={"rows": late})
    assert refused.status_code == 400 and "count" in refused.json()["detail"], refused.text
    one = v2_score(server, json={"rows": [{**rows[0], "service": "x" * 100_000}]})  # few rows, big body
    assert one.status_code == 200 and len(one.json()["rows"]) == 1
    assert client.anomaly("nnlarge", {**rows[0], "service": "x" * 100_000}) == pytest.approx(
        client.anomaly("nnlarge", {**rows[0], "service": "unseen"}), abs=1e-6
    )
    over = v2_score(server, json={"rows": rows * 201})
    assert over.status_code == 413 and "AEDETECT_MAX_PREDICT_ROWS" in over.json()["detail"]


def test_200k_row_predicts_stream_in_bounded_memory_while_small_ones_are_answered(
    server: ServerProcess, rows: list[dict[str, Any]]
) -> None:
    client = V1Client(server.url)
    big = (rows * (BIG // len(rows) + 1))[:BIG]
    expected = client.anomaly("nnlarge", rows[:3])
    growth: dict[str, float] = {}

    def measured(what: str, send: Any) -> requests.Response:
        before = server.memory_peak_bytes()
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(send)
            small = [client.anomaly("nnlarge", rows[0]) for _ in range(5)]  # answered meanwhile
            resp: requests.Response = pending.result()
        assert small == pytest.approx([expected[0]] * 5, abs=1e-6)
        growth[what] = (server.memory_peak_bytes() - before) / MIB
        assert resp.status_code == 200, resp.text[:500]
        return resp

    csv = measured("v2 CSV", lambda: v2_score(server, data=csv_bytes(pd.DataFrame(big[:150_000])),
                                                headers={"Content-Type": "text/csv"}))  # fmt: skip
    assert csv.text.count("\n") == 150_001
    v2 = measured("v2 JSON", lambda: v2_score(server, json={"rows": big[:150_000], "top": 3}))
    assert len(v2.json()["rows"]) == 150_000
    decoded = measured(
        "v1 decoder",
        lambda: client.raw(
            "POST", PREDICT.format("autoencoder"), json={"input_data": big, "type": "decoder"}
        ),
    )
    vectors = json.loads(decoded.json())
    first = client.call(
        "POST", PREDICT.format("autoencoder"), json={"input_data": rows[:1], "type": "decoder"}
    )
    assert len(vectors) == BIG and vectors[0] == pytest.approx(first[0], abs=1e-5)
    v1 = measured(
        "v1 anomaly", lambda: client.raw("POST", PREDICT.format("anomaly"), json={"input_data": big})
    )
    values = json.loads(v1.json())
    assert len(values) == BIG and values[:3] == pytest.approx(expected, abs=1e-6)
    # Memory grows with the rows held (about 1.5 KB each), not with the answer: a 200k-row
    # reconstruction answer alone would be about 400 MB as Python numbers and 100 MB as text.
    assert growth["v2 CSV"] < 250, growth
    assert max(growth.values()) < 700, growth
