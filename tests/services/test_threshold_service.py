"""The threshold service in process (no HTTP): a revision takes effect for scoring at once and
is kept in the version's history; an unknown strategy is refused naming the field."""

from __future__ import annotations

import pytest

from aedetect.bootstrap import Container
from aedetect.domain import TrainingRun
from aedetect.errors import InvalidInput
from support.services import NORMAL_ROW, train


def test_a_revision_takes_effect_for_scoring_without_retraining(
    shared: Container, shared_dataset: str
) -> None:
    run = train(shared, "pump-threshold", shared_dataset)  # a model of its own: this test changes it
    assert run.threshold is not None
    trained_with = run.threshold.value
    (before,) = shared.scoring.score_rows(run, [NORMAL_ROW], top=0)
    assert not before["is_anomaly"]
    lower = before["score"] / 2
    shared.thresholds.set(run, {"strategy": "value", "value": lower}, actor="tester", note="tighter")

    revised = shared.models_v2.resolve("pump-threshold")
    (after,) = shared.scoring.score_rows(revised, [NORMAL_ROW], top=0)
    assert after["threshold"] == lower and after["is_anomaly"]
    first, second = shared.thresholds.history(revised)
    assert first.value == trained_with
    assert (second.value, second.strategy, second.actor, second.note) == (lower, "value", "tester", "tighter")
    assert second.inputs["previous"] == trained_with


def test_an_unknown_strategy_is_invalid_input_naming_the_field(shared: Container, pump: TrainingRun) -> None:
    with pytest.raises(InvalidInput) as caught:
        shared.thresholds.set(pump, {"strategy": "magic"})
    assert caught.value.field == "strategy"
    assert "magic" in caught.value.message
    assert len(shared.thresholds.history(pump)) == 1  # nothing recorded
