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
    # numeric errors are absolute differences (robust units), so they grow with the break
    assert np.median(det.decision_function(broken)) > 2 * np.median(det.decision_function(normal))
    contrib = det.explain(broken)
    assert list(contrib.columns) == det.columns_
    np.testing.assert_allclose(contrib.sum(axis=1).to_numpy(), det.decision_function(broken), rtol=1e-6)
    assert (contrib.idxmax(axis=1).isin(["pressure", "temp"])).mean() > 0.8


def test_contributions_are_explain_as_an_array_and_sum_to_the_scores_exactly(fitted):
    det, data = fitted
    rows = data.iloc[:120].to_dict("records")  # the service hands lists of rows
    parts = det.contributions(rows)
    assert parts.shape == (120, len(det.columns_))
    np.testing.assert_array_equal(parts, det.explain(data.iloc[:120]).to_numpy())
    # the v1 route answers from these sums: they must be the scores, not merely close to them
    np.testing.assert_array_equal(parts.sum(axis=1), det.decision_function(rows))


def test_far_out_value_raises_score_even_if_copyable():
    rng = np.random.default_rng(1)
    data = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    det = AutoEncoderDetector(epochs=20, n_hidden=[32, 8], random_state=0).fit(data)  # wide: can copy
    row = pd.DataFrame({"a": [0.0, 1e4], "b": [0.0, 0.0]})
    scores = det.decision_function(row)
    # far above the threshold (the reconstruction error past error_knee counts logarithmically)
    assert scores[1] > 5 * max(scores[0], det.threshold_)
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
    assert det.encode(data.iloc[:5]).shape == (5, 4)  # the bottleneck width, as v1 clients expect
    members = det.effective_params_["n_estimators"]
    every = det.encode(data.iloc[:5], all_members=True)
    assert every.shape == (5, members * 4)
    np.testing.assert_array_equal(every[:, :4], det.encode(data.iloc[:5]))
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
        ({"error_knee": 0}, "error_knee"),
        ({"error_knee": float("inf")}, "error_knee"),
        ({"error_knee": "5"}, "error_knee"),
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


def test_asinh_scaling_decodes_and_round_trips(tmp_path):
    from aedetect import load_detector, save_detector

    data = mixed_frame(300)
    data["bytes"] = np.exp(np.random.default_rng(5).normal(5, 2, size=300))  # heavy-tailed column
    det = AutoEncoderDetector(**FAST).fit(data)
    assert det.encoder_.transform_name == "asinh" == det.effective_params_["numeric_transform"]
    encoder = det.encoder_  # decoding the encoded input gives the original units back
    table = encoder.transform(data[det.columns_])
    probs = [np.eye(card)[table.codes[:, j]] for j, card in enumerate(encoder.cardinalities)]
    decoded = encoder.decode(table.numeric.astype(np.float64), probs)
    np.testing.assert_allclose(decoded["bytes"], data["bytes"], rtol=1e-4)
    assert list(decoded["machine"]) == list(data["machine"])
    save_detector(det, tmp_path / "m")
    np.testing.assert_array_equal(
        load_detector(tmp_path / "m").decision_function(data), det.decision_function(data)
    )


@pytest.mark.parametrize("name", ["numeric_transform", "clip_quantile", "latent_weight"])
def test_removed_options_cannot_be_chosen(name):
    from aedetect.detectors.params import check_params

    with pytest.raises(TypeError, match=name):
        AutoEncoderDetector(**{name: 0.3})
    with pytest.raises(InvalidInput, match=f"no parameter '{name}'"):
        AutoEncoderDetector().set_params(**{name: 0.3})
    with pytest.raises(InvalidInput, match=f"{name} was removed from aedetect") as info:
        check_params({name: 0.3})
    assert info.value.field == name


def test_effective_params_fill_every_default():
    det = AutoEncoderDetector(**FAST).fit(mixed_frame(100))
    params = det.effective_params_
    assert set(params) == set(det.get_params()) | {"numeric_transform"}
    assert params["n_hidden"] == [16, 4] and params["epochs"] == 15
    assert params["n_estimators"] >= 1 and params["learning_rate"] > 0 and params["n_threads"] >= 1
    assert params["columns"] == det.columns_
    assert params["categorical"] == ["machine", "제품"]
    assert None not in (params["batch_size"], params["patience"], params["vocab_size"])


def test_threads_are_chosen_and_the_callers_setting_restored():
    import torch

    before = torch.get_num_threads()
    seen = []
    data = mixed_frame(100)
    try:
        torch.set_num_threads(3)
        det = AutoEncoderDetector(**FAST, n_threads=2).fit(
            data, callback=lambda *_: seen.append(torch.get_num_threads())
        )
        assert set(seen) == {2}
        assert torch.get_num_threads() == 3
        det.decision_function(data)
        assert torch.get_num_threads() == 3
        small = AutoEncoderDetector(**FAST).fit(data)
        assert small.effective_params_["n_threads"] == 1  # small layers: one thread
    finally:
        torch.set_num_threads(before)


def test_should_stop_ends_training_between_batches_and_keeps_a_usable_model():
    data = mixed_frame(400)
    calls = []

    def stop_after_5() -> bool:
        calls.append(1)
        return len(calls) > 5

    det = AutoEncoderDetector(**{**FAST, "batch_size": 16}).fit(data, should_stop=stop_after_5)
    assert det.n_epochs_ == 1  # stopped inside the first epoch (400 rows = 23 batches)
    assert np.all(np.isfinite(det.decision_function(data)))


def test_should_stop_that_raises_aborts_fit():
    class Cancelled(Exception):
        pass

    def cancel() -> bool:
        raise Cancelled

    det = AutoEncoderDetector(**FAST)
    with pytest.raises(Cancelled):
        det.fit(mixed_frame(100), should_stop=cancel)
    with pytest.raises(NotFitted):
        det.decision_function(mixed_frame(5))


def test_fit_from_a_csv_path_an_iterator_and_a_list_of_frames(tmp_path):
    data = mixed_frame(300)
    path = tmp_path / "train.csv"
    data.to_csv(path, index=False)
    reference = AutoEncoderDetector(**FAST).fit(data).decision_function(data)
    chunks = [data.iloc[:120], data.iloc[120:]]
    for source in (str(path), path, iter(chunks), chunks, lambda: iter(chunks)):
        det = AutoEncoderDetector(**FAST).fit(source)
        assert det.n_samples_ == 300
        np.testing.assert_allclose(det.decision_function(data), reference, rtol=1e-5)


def test_rows_spilled_to_disk_train_the_same_model(monkeypatch):
    import aedetect.data.rows as rows
    import aedetect.detectors.reading as reading

    data = mixed_frame(300)
    in_memory = AutoEncoderDetector(**FAST).fit(data)
    monkeypatch.setattr(reading, "IN_MEMORY_BYTES", 0)
    monkeypatch.setattr(rows, "BLOCK_ROWS", 64)  # several blocks, shuffled in groups
    spilled = AutoEncoderDetector(**FAST).fit(data)
    np.testing.assert_allclose(spilled.decision_scores_[:5], spilled.decision_function(data.iloc[:5]))
    assert spilled.n_samples_ == 300 and len(spilled.decision_scores_) == 300
    # a different visiting order, the same data: close but not identical models
    a, b = in_memory.decision_function(data), spilled.decision_function(data)
    assert np.corrcoef(a, b)[0, 1] > 0.8


def test_training_scores_are_the_scores_of_the_training_rows():
    data = mixed_frame(1500)
    det = AutoEncoderDetector(**FAST).fit(data)
    np.testing.assert_allclose(det.decision_scores_, det.decision_function(data), rtol=1e-6)


def test_a_source_that_changes_between_readings_is_refused():
    data = mixed_frame(100)
    readings = iter([[data], [data.iloc[:50]]])
    with pytest.raises(InvalidInput, match="same rows each time"):
        AutoEncoderDetector(**FAST).fit(lambda: iter(next(readings)))


def test_an_iterable_of_something_else_than_frames_is_named():
    with pytest.raises(InvalidInput, match="not a pandas DataFrame"):
        AutoEncoderDetector(**FAST).fit(iter([mixed_frame(50), [1, 2, 3]]))


def test_missing_value_in_a_column_never_missing_in_training_raises_the_score(fitted):
    det, data = fitted
    assert det.network_.flagged == []  # no numeric column had missing values: no flag inputs
    row = data.iloc[:1].copy()
    gap = row.copy()
    gap["noise"] = np.nan
    assert det.decision_function(gap)[0] > det.decision_function(row)[0] + 1.0
    assert det.explain(gap).iloc[0].idxmax() == "noise"


def test_many_records_with_only_the_model_columns_are_scored():
    """Records name their columns, so a model over a subset of the training columns scores more
    records than the fast path takes (which go through a frame) without a width check."""
    data = mixed_frame(400)
    det = AutoEncoderDetector(columns=["temp", "pressure", "machine"], **FAST).fit(data)
    records = data[["temp", "pressure", "machine"]].to_dict("records")
    assert len(records) > 256
    np.testing.assert_allclose(det.decision_function(records), det.decision_function(data), rtol=1e-6)


@pytest.mark.parametrize("transform", ["robust", "asinh"])
def test_robust_units_undo_each_transform(transform):
    from aedetect.data.encoding import TabularEncoder
    from aedetect.data.schema import infer_column_specs

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.lognormal(size=500), "b": rng.normal(size=500)})
    encoder = TabularEncoder(infer_column_specs(frame, None, None), 10, transform).fit(frame)
    values = np.array([[0.5, -1.0], [3.0, 0.0], [1e6, 40.0]])  # the last row far outside training
    expected = (values - encoder.center) / encoder.scale
    got = encoder.robust_units(encoder.scale_numeric(values))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    # any leading axes (the ensemble's members) are kept
    stacked = encoder.robust_units(np.stack([encoder.scale_numeric(values)] * 2))
    np.testing.assert_allclose(stacked, np.stack([expected] * 2), rtol=1e-6, atol=1e-9)


def test_stopping_asks_the_same_progress_per_step_of_every_table():
    from aedetect.detectors.training import min_improvement

    assert min_improvement(5) == min_improvement(64) == pytest.approx(0.01)
    assert min_improvement(128) == pytest.approx(0.02)
    assert min_improvement(10**6) == 0.5


def test_a_far_out_value_scores_by_how_far_out_it_lies():
    rng = np.random.default_rng(4)
    data = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    det = AutoEncoderDetector(epochs=10, n_hidden=[8, 2], random_state=0, error_knee=None).fit(data)
    rows = pd.DataFrame({"a": [10.0, 100.0, 1000.0], "b": [0.0, 0.0, 0.0]})
    parts = det.explain(rows)["a"].to_numpy()
    # asinh compresses the input for training; scores measure the error in robust units again
    assert parts[1] > 5 * parts[0] and parts[2] > 5 * parts[1]
    # with the default knee the error past 20 training means counts logarithmically: still rising
    kneed = AutoEncoderDetector(epochs=10, n_hidden=[8, 2], random_state=0).fit(data).explain(rows)["a"]
    assert kneed.is_monotonic_increasing and kneed.iloc[2] < parts[2] / 5


def test_error_knee_bends_only_the_reconstruction_part():
    data = mixed_frame(300)
    linear = AutoEncoderDetector(**FAST, error_knee=None).fit(data)
    kneed = AutoEncoderDetector(**FAST, error_knee=2.0).fit(data)
    rows = mixed_frame(40, seed=3)
    rows.loc[:9, "pressure"] *= -4  # some rows far off the learned relation
    rows.loc[10:14, "machine"] = "never seen"
    a, b = linear.contributions(rows), kneed.contributions(rows)
    # the knee changes no training: a categorical part (no magnitude term) is the bent linear one
    cat = [linear.columns_.index("machine"), linear.columns_.index("제품")]
    np.testing.assert_allclose(b[:, cat], 2.0 * np.log1p(a[:, cat] / 2.0), rtol=1e-6)
    # numeric parts: bent reconstruction error plus the unchanged magnitude term, never above linear
    assert np.all(b <= a + 1e-9) and np.all(b > 0)
    assert np.array_equal(kneed.labels_, kneed.decision_scores_ > kneed.threshold_)
    assert kneed.effective_params_["error_knee"] == 2.0 and linear.effective_params_["error_knee"] is None


def test_the_parameter_table_is_the_constructors_and_documents_the_api():
    import inspect

    from aedetect.detectors.params import PARAMETERS, REMOVED, describe_params

    signature = inspect.signature(AutoEncoderDetector.__init__).parameters.values()
    assert {p.name: p.default for p in signature if p.name != "self"} == {
        name: param.default for name, param in PARAMETERS.items()
    }
    listed = describe_params().split(": ", 1)[1].split(".", 1)[0].split(", ")
    assert listed == [name for name, param in PARAMETERS.items() if param.service]
    assert not set(listed) & set(REMOVED) and "columns" not in listed


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("learning_rate", 0, "a number in (0, 10]"),
        ("n_hidden", [16, 0], "a non-empty list of layer widths from 1 to 65536"),
        ("random_state", -1, "an integer from 0 to 4294967295"),
        ("activation", "swish", "one of relu, elu, tanh, gelu"),
        ("error_knee", 0, "a number in (0, inf) or None (errors counted linearly)"),
        ("vocab_size", True, "a positive integer"),
        ("validation_fraction", 0.5, "a number in [0, 0.5)"),
    ],
)
def test_a_bad_value_is_refused_with_its_rule(name, value, rule):
    with pytest.raises(InvalidInput) as info:
        AutoEncoderDetector(**{name: value}).checked_params()
    assert info.value.field == name
    assert info.value.message == f"{name} must be {rule}, got {value!r}"
