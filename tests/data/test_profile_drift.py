"""The training profile and the drift figures as library functions (no server): exact shares at
point masses, KS against a two-sample reference, verdicts on exactly the columns that moved, noise
guards on few rows, anomaly rate verdicts, and feedback recalibration helpers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from aedetect.data.drift import (
    DRIFTED,
    NO_DATA,
    STABLE,
    WATCH,
    binomial_tail,
    compare,
    ks_statistic,
    rate_drift,
)
from aedetect.data.profile import FORMAT, TrainingProfile, distribution, profile_frame
from aedetect.domain import Feedback, FeedbackLabel
from aedetect.errors import InvalidInput
from aedetect.services.feedback import feedback_frame, figures, precision_threshold

KINDS = {"x": "numeric", "z": "numeric", "grade": "categorical", "line": "categorical"}


def plant(n: int, rng: np.random.Generator, shift: float = 0.0, new_grade: float = 0.0) -> pd.DataFrame:
    """Rows of a small plant: a normal sensor, a mostly-zero flow, a grade and a line."""
    grade = rng.choice(["A", "B", "C"], n, p=[0.5, 0.3, 0.2]).astype(object)
    grade[rng.random(n) < new_grade] = "D"
    return pd.DataFrame(
        {
            "x": rng.normal(20.0, 2.0, n) + shift,
            "z": np.where(rng.random(n) < 0.7, 0.0, rng.exponential(100.0, n)),
            "grade": grade,
            "line": rng.choice(["L1", "L2", "L3"], n).astype(object),
        }
    )


@pytest.fixture(scope="module")
def profile() -> TrainingProfile:
    rng = np.random.default_rng(0)
    return profile_frame(plant(5000, rng), KINDS, rng.gamma(2.0, size=5000))


def test_profile_is_small_json_that_round_trips(profile: TrainingProfile) -> None:
    text = json.dumps(profile.to_dict(), allow_nan=False)
    assert len(text) < 10_000
    document = json.loads(text)
    assert document["format"] == FORMAT and document["rows"] == 5000
    again = TrainingProfile.from_dict(document)
    assert again.to_dict() == profile.to_dict()
    grade = again.column("grade")
    assert set(grade.categories) == {"A", "B", "C"} and grade.complete and grade.other_share == 0.0
    assert grade.categories["A"] == pytest.approx(0.5, abs=0.03)


def test_point_masses_are_exact_and_missing_values_counted() -> None:
    values = np.array([0.0] * 700 + list(np.linspace(1, 100, 300)))
    frame = pd.DataFrame({"z": np.concatenate([values, [np.nan] * 100])})
    column = profile_frame(frame, {"z": "numeric"}).column("z")
    assert column.missing_share == pytest.approx(100 / 1100)
    dist = column.distribution
    assert dist is not None
    le, lt = dist.cdf(np.array([0.0, -1.0, 1000.0]))
    assert (le[0], lt[0]) == (0.7, 0.0)  # exactly 70% of the present values are 0
    assert (le[1], le[2]) == (0.0, 1.0)


def test_profile_refuses_a_document_that_is_not_one() -> None:
    with pytest.raises(InvalidInput, match="not a training profile"):
        TrainingProfile.from_dict({"format": "something-else", "format_version": 1})
    broken = {"format": FORMAT, "format_version": 1, "rows": 1, "scores": None}
    broken["columns"] = [
        {"name": "x", "kind": "numeric", "missing_share": 0, "distribution": {"values": [2, 1]}}
    ]
    with pytest.raises(InvalidInput, match="needs values"):
        TrainingProfile.from_dict(broken)


@pytest.mark.parametrize("kind", ["continuous", "mixed"])
def test_ks_statistic_agrees_with_the_two_sample_test(kind: str) -> None:
    rng = np.random.default_rng(1)
    if kind == "continuous":
        train, live = rng.normal(size=5000), rng.normal(0.3, size=3000)
    else:
        train = np.where(rng.random(5000) < 0.7, 0, rng.exponential(100, 5000))
        live = np.where(rng.random(3000) < 0.6, 0, rng.exponential(120, 3000))
    dist = distribution(train)
    assert dist is not None
    measured = ks_statistic(dist, live)
    assert measured is not None
    assert measured == pytest.approx(ks_2samp(train, live).statistic, abs=0.02)


def test_unchanged_traffic_is_stable(profile: TrainingProfile) -> None:
    rng = np.random.default_rng(2)
    live = plant(3000, rng)
    report = compare(profile, live, rng.gamma(2.0, size=3000), anomalies=31, expected_rate=0.01)
    assert report.verdict == STABLE, report.to_dict()
    assert {c.column for c in report.columns} == set(KINDS)


def test_a_shifted_sensor_and_a_new_grade_drift_and_nothing_else(profile: TrainingProfile) -> None:
    rng = np.random.default_rng(3)
    live = plant(3000, rng, shift=2.0, new_grade=0.1)
    report = compare(profile, live, rng.gamma(2.0, size=3000), anomalies=30, expected_rate=0.01)
    verdicts = {c.column: c.verdict for c in report.columns}
    assert verdicts == {"x": DRIFTED, "grade": DRIFTED, "z": STABLE, "line": STABLE}
    assert {c.column for c in report.columns[:2]} == {"x", "grade"}  # ranked most drifted first
    grade = next(c for c in report.columns if c.column == "grade")
    assert grade.unseen_share == pytest.approx(0.1, abs=0.02)
    x = next(c for c in report.columns if c.column == "x")
    assert x.ks is not None and x.ks > 0.3 and x.psi is not None and x.psi > 0.25
    assert report.verdict == DRIFTED and report.scores.verdict == STABLE


def test_a_few_rows_give_figures_but_never_a_verdict(profile: TrainingProfile) -> None:
    rng = np.random.default_rng(4)
    live = plant(20, rng, shift=2.0, new_grade=0.5)
    report = compare(profile, live, rng.gamma(2.0, size=20), anomalies=0, expected_rate=0.01)
    assert all(c.verdict == STABLE for c in report.columns)
    assert all(c.psi is not None for c in report.columns)


def test_no_rows_is_no_data(profile: TrainingProfile) -> None:
    report = compare(profile, pd.DataFrame(), np.empty(0), rows=0)
    assert report.verdict == NO_DATA and all(c.verdict == NO_DATA for c in report.columns)


@pytest.mark.parametrize(
    ("rows", "anomalies", "expected"),
    [
        (10_000, 110, STABLE),  # within noise
        (10_000, 250, WATCH),  # 2.5 times the expected rate
        (10_000, 400, DRIFTED),  # 4 times
        (10_000, 20, DRIFTED),  # a fifth: the model stopped flagging
        (50, 2, STABLE),  # 4 times, but 2 rows out of 50 is chance
    ],
)
def test_anomaly_rate_verdicts(rows: int, anomalies: int, expected: str) -> None:
    assert rate_drift(rows, anomalies, 0.01).verdict == expected


@pytest.mark.parametrize(
    ("rows", "anomalies", "expected"),
    [
        (2000, 1418, DRIFTED),  # 70.9% against 43%: a ratio rule (1.65x) called this stable
        (2000, 1100, WATCH),  # 55%: 12 points up, past one minimum effect (10.75 points)
        (2000, 960, STABLE),  # 48%: significant at 2000 rows, but under the minimum effect
        (40, 24, STABLE),  # 60% of 40 rows: p is about 0.02, chance
        (2000, 400, DRIFTED),  # 20%: the model stopped flagging half of what it used to
        (2000, 860, STABLE),  # exactly as expected
    ],
)
def test_anomaly_rate_verdicts_at_a_large_expected_share(rows: int, anomalies: int, expected: str) -> None:
    """The rule works where a ratio cannot: at 43% expected, a rate can at most double."""
    assert rate_drift(rows, anomalies, 0.43).verdict == expected


def test_anomaly_rate_at_one_percent_needs_a_point_above_and_proof() -> None:
    """At 1% expected the minimum effect is one point: 1.8% over 100,000 rows is proven beyond
    doubt yet no news; 2% is watch, 3% drifted, and 3 alarms out of 100 rows are chance."""
    assert rate_drift(100_000, 1_800, 0.01).verdict == STABLE
    assert rate_drift(100_000, 2_000, 0.01).verdict == WATCH
    assert rate_drift(100_000, 3_000, 0.01).verdict == DRIFTED
    assert rate_drift(100, 3, 0.01).verdict == STABLE


def test_binomial_tail_matches_the_exact_sum() -> None:
    from scipy.stats import binom

    assert binomial_tail(3, 50, 0.01, upper=True) == pytest.approx(binom.sf(2, 50, 0.01))
    assert binomial_tail(5, 1000, 0.01, upper=False) == pytest.approx(binom.cdf(5, 1000, 0.01))
    assert binomial_tail(150, 10_000, 0.01, upper=True) < 1e-4


# --- feedback helpers ---------------------------------------------------------------------------
def test_precision_threshold_is_the_lowest_that_reaches_the_target() -> None:
    scores = np.array([5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    truth = np.array([False, False, True, False, True, True])
    # above 8: 9, 10 -> 1.0; above 6: 7, 8 (normal), 9, 10 -> 0.75; above 5: 3 of 5
    assert precision_threshold(scores, truth, 4.0, 0.9) == 8.0
    assert precision_threshold(scores, truth, 4.0, 0.7) == 6.0
    assert precision_threshold(scores, truth, 4.0, 0.6) == 5.0
    assert precision_threshold(scores, truth, 4.0, 0.5) == 4.0  # 3/6 at the current threshold
    assert figures(truth, scores > 8.0)["precision"] == 1.0


def test_precision_threshold_says_when_the_labels_cannot_reach_the_target() -> None:
    scores, truth = np.array([5.0, 6.0, 7.0]), np.array([True, False, False])
    with pytest.raises(InvalidInput, match=r"no threshold reaches precision 0\.9") as caught:
        precision_threshold(scores, truth, 1.0, 0.9)
    assert caught.value.field == "target_precision"
    with pytest.raises(InvalidInput, match="no labelled row is a confirmed anomaly"):
        precision_threshold(scores, np.zeros(3, dtype=bool), 1.0, 0.9)


def _label(feedback_id: int, label: FeedbackLabel, values: dict[str, object] | None) -> Feedback:
    return Feedback(feedback_id=feedback_id, nn_id="m", label=label, values=values)


def test_feedback_frame_adds_confirmed_normals_and_removes_confirmed_anomalies() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 2.0], "grade": ["A", "B", "A", "B"], "label": [0, 0, 0, 1]})
    items = [
        _label(1, FeedbackLabel.NORMAL, {"x": 9, "grade": "D"}),
        _label(2, FeedbackLabel.ANOMALY, {"x": 2, "grade": "B"}),  # 2 and 2.0 are the same value
        _label(3, FeedbackLabel.NORMAL, None),
        _label(4, FeedbackLabel.NORMAL, {"x": "1.5", "grade": "A"}),
    ]
    out, provenance = feedback_frame(frame, items, ["x", "grade"])
    assert list(out["x"]) == [1.0, 3.0, 9.0, 1.5]
    assert list(out["grade"]) == ["A", "A", "D", "A"]
    assert pd.api.types.is_numeric_dtype(out["x"])
    assert provenance == {
        "normal_rows_added": 2,
        "anomaly_labels": 1,
        "training_rows_removed": 2,
        "labels_without_values": 1,
        "feedback_ids": [1, 2, 4],
    }
