"""AutoEncoderDetector in scikit-learn and PyOD code: the estimator protocol, scikit-learn's own
estimator checks, pipelines, grid search, and one script run with a PyOD detector and with ours."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from aedetect import AutoEncoderDetector
from aedetect.errors import InvalidInput

TINY = {
    "epochs": 20,
    "patience": 20,
    "batch_size": 32,
    "n_estimators": 2,
    "n_hidden": [8, 2],
    "random_state": 0,
}

EXPECTED_FAILED_CHECKS = {
    "check_outliers_fit_predict": "labels are 0/1 (1 = anomaly), PyOD's convention, not -1/1",
    "check_outliers_train": "labels are 0/1 (1 = anomaly), PyOD's convention, not -1/1",
    "check_estimators_unfitted": (
        "raises aedetect's NotFitted (a ValueError and AttributeError, as NotFittedError is); the "
        "check wants scikit-learn's own class, which the library does not import"
    ),
    "check_methods_sample_order_invariance": (
        "the network computes in float32, and rows at other positions of a batch may take other "
        "SIMD paths, so a shuffled row's probability can differ in the last float32 bit: above the "
        "check's rtol of 1e-7 now and then; test_scores_do_not_depend_on_row_order checks the same "
        "property at float32's precision"
    ),
    "check_pipeline_consistency": (
        "score(X) returns the per-row ScoreResult (scores, labels, similarity, contributions) the "
        "service uses, not one float metric"
    ),
}


def labelled(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Correlated Gaussian inliers and 5 % anomalies moved off the line they lie on."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 1))
    X = np.hstack([base, 2 * base, -base]) + 0.1 * rng.normal(size=(n, 3))
    y = np.zeros(n, dtype=np.int64)
    y[: n // 20] = 1
    X[: n // 20, 1] += 4.0
    return X, y


def test_scores_do_not_depend_on_row_order() -> None:
    X, _ = labelled()
    detector = AutoEncoderDetector(**{**TINY, "contamination": 0.1}).fit(X)
    order = np.random.default_rng(1).permutation(len(X))
    for method in ("decision_function", "predict_proba", "predict"):
        whole = np.asarray(getattr(detector, method)(X))
        shuffled = np.asarray(getattr(detector, method)(X[order]))
        if method == "predict":
            assert np.mean(shuffled == whole[order]) > 0.99  # only rows on the threshold may flip
        else:
            np.testing.assert_allclose(shuffled, whole[order], rtol=1e-5, atol=1e-7)
            # and a row scores the same alone, in a small batch or in the whole table
            alone = np.concatenate([getattr(detector, method)(X[i : i + 1]) for i in range(10)])
            np.testing.assert_allclose(alone, whole[:10], rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(getattr(detector, method)(X[5:60]), whole[5:60], rtol=1e-5, atol=1e-7)


def test_scikit_learn_estimator_checks_pass_except_the_documented_conventions() -> None:
    estimator = AutoEncoderDetector(**{**TINY, "contamination": 0.1})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(
            estimator, expected_failed_checks=EXPECTED_FAILED_CHECKS, on_fail=None, on_skip=None
        )
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert failed == []
    xfailed = {r["check_name"] for r in results if r["status"] == "xfail"}
    # the conventions fail every time; the float32 order check only now and then
    assert set(EXPECTED_FAILED_CHECKS) - {"check_methods_sample_order_invariance"} <= xfailed
    assert xfailed <= set(EXPECTED_FAILED_CHECKS)
    assert sum(r["status"] == "passed" for r in results) >= 30


def test_clone_get_params_and_set_params() -> None:
    det = AutoEncoderDetector(n_hidden=[8, 2], epochs=3, random_state=1)
    params = det.get_params(deep=True)
    assert params["n_hidden"] == [8, 2] and params["epochs"] == 3 and params["n_estimators"] is None
    copy = clone(det)
    assert copy is not det and copy.get_params() == params
    assert det.set_params(epochs=5, contamination=0.05) is det
    assert det.get_params()["epochs"] == 5 and copy.get_params()["epochs"] == 3
    with pytest.raises(InvalidInput, match="no parameter 'epoch'") as info:
        det.set_params(epoch=5)
    assert info.value.field == "epoch"


def test_clone_of_a_fitted_detector_is_unfitted() -> None:
    X, _ = labelled(100)
    det = AutoEncoderDetector(**TINY).fit(X)
    copy = clone(det)
    assert not hasattr(copy, "threshold_")
    assert not hasattr(copy, "columns_")  # NotFitted is an AttributeError, as scikit-learn expects


def test_repr_lists_the_changed_parameters() -> None:
    assert repr(AutoEncoderDetector()) == "AutoEncoderDetector()"
    assert repr(AutoEncoderDetector(n_estimators=4, random_state=0)) == (
        "AutoEncoderDetector(n_estimators=4, random_state=0)"
    )


def test_pipeline_step_and_grid_search_with_a_scorer_on_labels() -> None:
    X, y = labelled()
    pipe = Pipeline([("scale", StandardScaler()), ("detect", AutoEncoderDetector(**TINY))])
    pipe.fit(X)
    assert roc_auc_score(y, pipe.decision_function(X)) > 0.75
    assert set(np.unique(pipe.predict(X))) <= {0, 1}
    search = GridSearchCV(
        AutoEncoderDetector(**TINY),
        {"magnitude_weight": [0.0, 0.3]},
        scoring="roc_auc",
        cv=StratifiedKFold(2, shuffle=True, random_state=0),  # every fold holds anomalies
    )
    search.fit(X, y)
    assert search.best_params_["magnitude_weight"] in (0.0, 0.3)
    assert search.best_score_ > 0.6  # half the rows per fold: a weaker fit, still far from chance


def test_fit_predict_proba_and_confidence() -> None:
    X, _ = labelled()
    det = AutoEncoderDetector(**{**TINY, "contamination": 0.05})
    labels = det.fit_predict(X)
    np.testing.assert_array_equal(labels, det.labels_)
    scores = det.decision_function(X)
    for method in ("linear", "unify"):
        probs = det.predict_proba(X, method=method)
        assert probs.shape == (len(X), 2)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0)
        assert probs.min() >= 0.0 and probs.max() <= 1.0
        order = np.argsort(scores)
        assert np.all(np.diff(probs[order, 1]) >= -1e-12)  # monotone in the score
    linear = det.predict_proba(X, method="linear")
    train = det.decision_scores_
    np.testing.assert_allclose(linear[:, 1], np.clip((scores - train.min()) / np.ptp(train), 0, 1))
    confidence = det.predict_confidence(X)
    assert confidence.shape == (len(X),) and confidence.min() >= 0.0 and confidence.max() <= 1.0
    predicted, conf2 = det.predict(X, return_confidence=True)
    np.testing.assert_array_equal(predicted, det.predict(X))
    np.testing.assert_allclose(conf2, confidence)
    with pytest.raises(InvalidInput, match="linear, unify") as info:
        det.predict_proba(X, method="softmax")
    assert info.value.field == "method"


def pyod_style_script(detector: Any, X_train: np.ndarray, X_test: np.ndarray) -> dict[str, Any]:
    """What PyOD's examples do with any detector, unchanged."""
    detector.fit(X_train)
    out = {
        "train_scores": detector.decision_scores_,
        "train_labels": detector.labels_,
        "threshold": detector.threshold_,
        "test_scores": detector.decision_function(X_test),
        "test_labels": detector.predict(X_test),
        "proba_linear": detector.predict_proba(X_test, method="linear"),
        "proba_unify": detector.predict_proba(X_test, method="unify"),
        "confidence": detector.predict_confidence(X_test),
    }
    out["labels_with_confidence"] = detector.predict(X_test, return_confidence=True)
    out["fit_predict"] = clone(detector).fit_predict(X_train)
    return out


def test_the_same_script_runs_with_a_pyod_detector_and_with_aedetect() -> None:
    iforest = pytest.importorskip("pyod.models.iforest")
    X, y = labelled(600)
    X_train, X_test, y_test = X[::2], X[1::2], y[1::2]
    theirs = pyod_style_script(iforest.IForest(contamination=0.05, random_state=0), X_train, X_test)
    # 40 epochs: TINY's 20 leave the two-member network short of the line the inliers lie on
    ours = pyod_style_script(
        AutoEncoderDetector(**{**TINY, "epochs": 40, "contamination": 0.05}), X_train, X_test
    )
    for key, value in theirs.items():
        mine = ours[key]
        if isinstance(value, tuple):
            assert [np.shape(v) for v in mine] == [np.shape(v) for v in value], key
        else:
            assert np.shape(mine) == np.shape(value), key
    for result in (theirs, ours):
        assert set(np.unique(result["test_labels"])) <= {0, 1}
        assert roc_auc_score(y_test, result["test_scores"]) > 0.75  # higher = more anomalous for both
        assert abs(result["train_labels"].mean() - 0.05) < 0.02
