"""Behaviour of AutoEncoderDetector: the detector contract, scoring, explanations and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aedetect import AutoEncoderDetector
from aedetect.errors import InvalidInput, NotFitted

FAST = {"epochs": 15, "batch_size": 32, "n_hidden": [16, 4], "random_state": 0}


def mixed_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Two correlated sensors, a noisy one, a machine id and a product code (Korean name)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=n)
    machine = rng.choice(["M1", "M2", "M3"], size=n, p=[0.5, 0.3, 0.2])
    return pd.DataFrame(
        {
            "temp": 50 + 5 * base + rng.normal(scale=0.3, size=n),
            "pressure": 2 * base + rng.normal(scale=0.1, size=n),
            "noise": rng.normal(size=n),
            "machine": machine,
            "제품": np.where(machine == "M1", "A", "B"),
        }
    )


@pytest.fixture(scope="module")
def fitted() -> tuple[AutoEncoderDetector, pd.DataFrame]:
    data = mixed_frame()
    return AutoEncoderDetector(**FAST).fit(data), data


def test_fit_learns_schema_and_history(fitted):
    det, data = fitted
    assert det.columns_ == list(data.columns)
    assert det.column_kinds_ == {
        "temp": "numeric",
        "pressure": "numeric",
        "noise": "numeric",
        "machine": "categorical",
        "제품": "categorical",
    }
    assert len(det.history_["train_loss"]) == det.n_epochs_ >= 1
    assert len(det.history_["val_loss"]) == det.n_epochs_
    assert det.history_["train_loss"][-1] < det.history_["train_loss"][0]


def test_contract_shapes_and_threshold(fitted):
    det, data = fitted
    scores = det.decision_function(data)
    assert scores.shape == (len(data),)
    assert np.all(np.isfinite(scores))
    assert set(np.unique(det.predict(data))) <= {0, 1}
    assert det.labels_.mean() == pytest.approx(0.01, abs=0.01)
    assert det.threshold_ == pytest.approx(np.quantile(det.decision_scores_, 0.99))


def test_broken_correlation_scores_higher_and_explain_names_column(fitted):
    det, data = fitted
    normal = data.iloc[:50].copy()
    broken = normal.copy()
    broken["pressure"] = -broken["pressure"] * 3  # breaks the temp/pressure relation
    assert np.median(det.decision_function(broken)) > 3 * np.median(det.decision_function(normal))
    contrib = det.explain(broken)
    assert list(contrib.columns) == det.columns_
    np.testing.assert_allclose(contrib.sum(axis=1).to_numpy(), det.decision_function(broken), rtol=1e-6)
    assert (contrib.idxmax(axis=1).isin(["pressure", "temp"])).mean() > 0.8


def test_far_out_value_raises_score_even_if_copyable():
    rng = np.random.default_rng(1)
    data = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    det = AutoEncoderDetector(epochs=20, n_hidden=[32, 8], random_state=0).fit(data)  # wide: can copy
    row = pd.DataFrame({"a": [0.0, 1e4], "b": [0.0, 0.0]})
    scores = det.decision_function(row)
    assert scores[1] > 100 * max(scores[0], det.threshold_)
    assert det.explain(row).iloc[1].idxmax() == "a"


def test_unseen_category_and_nan_are_scored_not_errors(fitted):
    det, data = fitted
    odd = data.iloc[:3].copy()
    odd.loc[odd.index[0], "machine"] = "NEVER-SEEN"
    odd.loc[odd.index[1], "temp"] = np.nan
    odd.loc[odd.index[2], "machine"] = None
    scores = det.decision_function(odd)
    assert np.all(np.isfinite(scores))
    base = det.decision_function(data.iloc[:3])
    assert np.all(scores > base)


def test_missing_column_is_named(fitted):
    det, data = fitted
    with pytest.raises(InvalidInput, match="pressure") as info:
        det.decision_function(data.drop(columns=["pressure"]))
    assert info.value.field == "pressure"


def test_infinite_or_text_in_numeric_column_is_named(fitted):
    det, data = fitted
    bad = data.iloc[:2].copy()
    bad["noise"] = [np.inf, 0.0]
    with pytest.raises(InvalidInput, match=r"'noise'.*infinite"):
        det.decision_function(bad)
    text = data.iloc[:2].astype({"temp": object})
    text.loc[text.index[1], "temp"] = "hot"
    with pytest.raises(InvalidInput, match=r"'temp'.*'hot'"):
        det.decision_function(text)


def test_similarity_encode_reconstruct(fitted):
    det, data = fitted
    sim = det.similarity(data.iloc[:20])
    assert sim.shape == (20,) and np.all(sim <= 1.0 + 1e-6) and np.all(sim > -1.0 - 1e-6)
    assert det.encode(data.iloc[:5]).shape == (5, 4)
    assert det.reconstruct_vector(data.iloc[:5]).shape == (5, det.n_input_)
    recon = det.reconstruct(data.iloc[:50])
    assert list(recon.columns) == det.columns_
    assert abs(recon["temp"].mean() - data["temp"].iloc[:50].mean()) < 3  # original units
    assert set(recon["machine"]) <= {"M1", "M2", "M3", "<other>"}


def test_score_matches_separate_calls(fitted):
    det, data = fitted
    result = det.score(data.iloc[:30])
    np.testing.assert_allclose(result.scores, det.decision_function(data.iloc[:30]))
    np.testing.assert_allclose(result.similarity, det.similarity(data.iloc[:30]))
    assert result.columns == det.columns_
    assert result.threshold == det.threshold_


def test_same_seed_same_model():
    data = mixed_frame(200)
    a = AutoEncoderDetector(**FAST).fit(data).decision_function(data)
    b = AutoEncoderDetector(**FAST).fit(data).decision_function(data)
    np.testing.assert_array_equal(a, b)


def test_every_row_used_when_batch_larger_than_data():
    data = mixed_frame(30)
    det = AutoEncoderDetector(epochs=3, batch_size=500, n_hidden=[8, 2], random_state=0).fit(data)
    assert det.n_samples_ == 30
    assert det.history_["train_loss"][-1] < det.history_["train_loss"][0]


def test_numpy_input_and_declared_categorical():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=200), rng.integers(0, 3, size=200)])
    det = AutoEncoderDetector(categorical=["x1"], **FAST).fit(X)
    assert det.column_kinds_ == {"x0": "numeric", "x1": "categorical"}
    assert det.decision_function(X[:5]).shape == (5,)


def test_columns_subset_and_order():
    data = mixed_frame(200)
    det = AutoEncoderDetector(columns=["machine", "temp"], **FAST).fit(data)
    assert det.columns_ == ["machine", "temp"]
    assert det.decision_function(data[["temp", "machine"]]).shape == (200,)


def test_threshold_can_be_set_without_retraining(fitted):
    det, data = fitted
    before = det.decision_function(data)
    det2 = AutoEncoderDetector(**FAST).fit(data)
    det2.set_threshold(0.0)
    assert det2.predict(data).all()
    np.testing.assert_allclose(det2.decision_function(data), before)
    with pytest.raises(InvalidInput, match="threshold"):
        det2.set_threshold(float("nan"))


def test_not_fitted_errors():
    det = AutoEncoderDetector()
    with pytest.raises(NotFitted):
        det.decision_function(mixed_frame(5))
    with pytest.raises(NotFitted):
        det.predict(mixed_frame(5))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"n_hidden": []}, "n_hidden"),
        ({"n_hidden": [10, -1]}, "n_hidden"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": "ten"}, "batch_size"),
        ({"learning_rate": -0.1}, "learning_rate"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"contamination": 0.9}, "contamination"),
        ({"vocab_size": 0}, "vocab_size"),
        ({"columns": ["nope"]}, "columns"),
        ({"activation": "softsign"}, "activation"),
    ],
)
def test_bad_hyperparameters_name_the_field(params, field):
    with pytest.raises(InvalidInput) as info:
        AutoEncoderDetector(**params).fit(mixed_frame(50))
    assert info.value.field == field
    assert field in str(info.value)


def test_training_rejects_infinite_values():
    data = mixed_frame(50)
    data.loc[3, "temp"] = -np.inf
    with pytest.raises(InvalidInput, match="temp"):
        AutoEncoderDetector(**FAST).fit(data)


def test_records_fast_path_matches_frame_path():
    rng = np.random.default_rng(3)
    data = mixed_frame(300)
    data["code"] = rng.integers(0, 4, size=300).astype(float)  # numbers declared categorical
    det = AutoEncoderDetector(categorical=["code"], **FAST).fit(data)
    rows = data.iloc[:5].copy()
    rows.loc[rows.index[0], "machine"] = "NEVER-SEEN"
    rows.loc[rows.index[1], "temp"] = np.nan
    rows.loc[rows.index[2], "code"] = 2  # int where training saw 2.0
    records = [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
        for r in rows.to_dict("records")
    ]
    records[3]["pressure"] = str(records[3]["pressure"])  # numbers sent as text are read
    via_frame = det.score(rows)
    via_records = det.score(records)
    np.testing.assert_allclose(via_records.scores, via_frame.scores, rtol=1e-6)
    np.testing.assert_allclose(via_records.similarity, via_frame.similarity, rtol=1e-6)
    np.testing.assert_allclose(det.decision_function(records[0]), via_frame.scores[:1], rtol=1e-6)


def test_records_missing_column_and_bad_number_are_named(fitted):
    det, data = fitted
    record = data.iloc[0].to_dict()
    del record["machine"]
    with pytest.raises(InvalidInput, match="machine") as info:
        det.score([record])
    assert info.value.field == "machine"
    record = {**data.iloc[0].to_dict(), "temp": "hot"}
    with pytest.raises(InvalidInput, match=r"'temp'.*'hot'"):
        det.score(record)
    record = {**data.iloc[0].to_dict(), "temp": float("inf")}
    with pytest.raises(InvalidInput, match=r"'temp'.*infinite"):
        det.score(record)


def test_asinh_transform_and_clipping_options_round_trip(tmp_path):
    from aedetect import load_detector

    data = mixed_frame(300)
    data["bytes"] = np.exp(np.random.default_rng(5).normal(5, 2, size=300))  # heavy-tailed column
    det = AutoEncoderDetector(numeric_transform="asinh", clip_quantile=0.01, **FAST).fit(data)
    encoder = det.encoder_  # decoding the encoded input gives the original units back
    table = encoder.transform(data[det.columns_])
    probs = [np.eye(card)[table.codes[:, j]] for j, card in enumerate(encoder.cardinalities)]
    decoded = encoder.decode(table.numeric.astype(np.float64), probs)
    np.testing.assert_allclose(decoded["bytes"], data["bytes"], rtol=1e-4)
    assert list(decoded["machine"]) == list(data["machine"])
    det.save(tmp_path / "m")
    np.testing.assert_array_equal(
        load_detector(tmp_path / "m").decision_function(data), det.decision_function(data)
    )
    with pytest.raises(InvalidInput) as info:
        AutoEncoderDetector(numeric_transform="log").fit(data)
    assert info.value.field == "numeric_transform"


def test_should_stop_ends_training_mid_epoch_and_keeps_a_usable_model() -> None:
    data = mixed_frame()
    checks = []

    def stop_after_20_batches() -> bool:
        checks.append(1)
        return len(checks) > 20

    det = AutoEncoderDetector(**{**FAST, "batch_size": 10, "validation_fraction": 0.0})
    det.fit(data, should_stop=stop_after_20_batches)
    # 400 rows in batches of 10 is 40 batches an epoch: it stopped inside the first epoch
    assert len(checks) == 21
    assert det.n_epochs_ == 1 and len(det.history_["train_loss"]) == 1
    assert np.isfinite(det.decision_function(data)).all()


def test_a_raising_stop_check_aborts_fit_with_its_error() -> None:
    calls = []

    def stop() -> bool:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("stop now")
        return False

    det = AutoEncoderDetector(**FAST)
    with pytest.raises(RuntimeError, match="stop now"):
        det.fit(mixed_frame(), should_stop=stop)
    assert len(calls) == 3
    with pytest.raises(NotFitted):
        det.decision_function(mixed_frame(10))
