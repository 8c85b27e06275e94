"""The scoring service in process (no HTTP): verdicts against the current threshold, the columns
that contribute most, the domain errors of bad rows, and the scoring log of what was scored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aedetect.bootstrap import Container
from aedetect.domain import TrainingRun
from aedetect.errors import InvalidInput, NotFound
from support.services import FAR_ROW, NORMAL_ROW


def test_the_far_row_is_an_anomaly_and_the_normal_row_is_not(shared: Container, pump: TrainingRun) -> None:
    assert pump.threshold is not None
    normal, far = shared.scoring.score_rows(pump, [NORMAL_ROW, FAR_ROW], top=2)
    assert normal["threshold"] == far["threshold"] == pump.threshold.value
    assert normal["score"] < pump.threshold.value < far["score"]
    assert (normal["is_anomaly"], far["is_anomaly"]) == (False, True)


def test_contributions_lead_with_the_column_that_moved(shared: Container, pump: TrainingRun) -> None:
    (far,) = shared.scoring.score_rows(pump, [FAR_ROW], top=2)
    first, second = far["contributions"]
    assert first["column"] == "temp" and first["value"] == FAR_ROW["temp"]
    assert 0.5 < first["share"] <= 1.0
    assert second["share"] <= first["share"]


def test_a_missing_column_is_invalid_input_naming_it(shared: Container, pump: TrainingRun) -> None:
    row = {"temp": 20.0, "mode": "a"}
    with pytest.raises(InvalidInput) as caught:
        shared.scoring.score_rows(pump, [row], top=1)
    assert caught.value.column == "pressure"
    assert "pressure" in caught.value.message


def test_a_text_in_a_numeric_column_is_invalid_input_naming_it(shared: Container, pump: TrainingRun) -> None:
    with pytest.raises(InvalidInput) as caught:
        shared.scoring.score_rows(pump, [{**NORMAL_ROW, "temp": "hot"}], top=1)
    assert "temp" in caught.value.message and "hot" in caught.value.message


def test_an_unknown_model_is_not_found_naming_it(shared: Container) -> None:
    with pytest.raises(NotFound) as caught:
        shared.models_v2.resolve("no-such-model")
    assert "no-such-model" in caught.value.message


def test_scored_rows_reach_the_scoring_log(shared: Container, pump: TrainingRun) -> None:
    before = datetime.now(UTC)
    shared.scoring.score_rows(pump, [NORMAL_ROW, FAR_ROW], top=1)
    assert shared.scorelog.flush()
    logged, _ = shared.scorelog.page("pump", since=before)
    assert sorted(r.is_anomaly for r in logged) == [False, True]
    far = next(r for r in logged if r.is_anomaly)
    assert far.model_version == 1 and far.source == "v2"
    assert far.values == FAR_ROW
    assert far.contributions[0]["column"] == "temp"
