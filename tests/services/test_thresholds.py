"""The pure functions behind v1 similarity and the threshold strategies."""

from __future__ import annotations

import numpy as np
import pytest

from aedetect.services.scoring import judged_similarity, v1_similarity
from aedetect.services.thresholds import best_f1_threshold, fpr_threshold


def test_v1_similarity_is_strictly_decreasing_over_all_reals() -> None:
    scores = np.array([-1e6, -3.0, -1e-9, 0.0, 1e-9, 0.5, 1.0, 7.0, 1e6, 1e30, 1e300])
    values = v1_similarity(scores, 2.0)
    assert np.all((values > 0) & (values < 1))
    assert np.all(np.diff(values) < 0)
    assert 0 < v1_similarity(np.array([-1e300]), 2.0)[0] <= 1.0  # rounds to 1 far below zero


def test_judged_similarity_is_below_the_reference_exactly_for_anomalies() -> None:
    rng = np.random.default_rng(0)
    threshold = 3.0
    scores = np.concatenate(
        [rng.exponential(2.0, 1000), [threshold, np.nextafter(threshold, 10), 1e308, np.nan]]
    )
    values, reference = judged_similarity(scores, threshold, 2.5)
    finite = ~np.isnan(scores)
    assert np.array_equal((values < reference)[finite], (scores > threshold)[finite])
    assert np.isnan(values[-1])


def test_magnitude_anomaly_gets_the_lower_similarity() -> None:
    ordinary, impossible = v1_similarity(np.array([1.2, 5e9]), 3.0)
    assert impossible < ordinary


def test_fpr_threshold_is_the_smallest_meeting_the_target() -> None:
    normal = np.arange(1.0, 101.0)  # 1..100
    t = fpr_threshold(normal, 0.05)
    assert np.mean(normal > t) <= 0.05
    assert np.mean(normal > np.nextafter(t, 0)) > 0.05


def test_best_f1_threshold_separates_clean_classes() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.9, 1.0, 1.1])
    truth = np.array([0, 0, 0, 1, 1, 1])
    t, f1 = best_f1_threshold(truth, scores)
    assert t == pytest.approx(0.3) and f1 == pytest.approx(1.0)


def test_best_f1_threshold_with_ties_counts_whole_groups() -> None:
    scores = np.array([1.0, 1.0, 2.0, 2.0])
    truth = np.array([0, 1, 1, 1])
    t, f1 = best_f1_threshold(truth, scores)
    predicted = scores > t
    tp = int((predicted & (truth == 1)).sum())
    assert f1 == pytest.approx(2 * tp / (predicted.sum() + truth.sum()))
