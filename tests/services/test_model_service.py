"""The model service in process (no HTTP): creating a model over an uploaded dataset, training it
on the embedded runner, and the domain errors of unknown ids and columns."""

from __future__ import annotations

import pytest

from aedetect.bootstrap import Container
from aedetect.domain import TrainingRun
from aedetect.errors import Conflict, InvalidInput, NotFound
from aedetect.services.models import ModelSpec
from support.services import FEATURES, PARAMS


def test_a_model_created_over_an_uploaded_dataset_keeps_its_configuration(
    services: Container, dataset: str
) -> None:
    services.models.create("pump", ModelSpec(dataset=dataset, columns=FEATURES, params=dict(PARAMS)))
    model = services.models.get("pump")
    assert model.spec.dataset == dataset
    assert model.spec.columns == FEATURES
    assert model.spec.params == PARAMS
    assert model.latest_version is None and not model.training


def test_a_column_the_dataset_lacks_is_invalid_input_naming_it(services: Container, dataset: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        services.models.create("pump", ModelSpec(dataset=dataset, columns=["temp", "flow"]))
    assert caught.value.column == "flow"
    assert "flow" in caught.value.message and dataset in caught.value.message
    with pytest.raises(NotFound):
        services.models.get("pump")  # nothing is stored by a refused create


def test_an_unknown_dataset_is_not_found_naming_it(services: Container) -> None:
    with pytest.raises(NotFound) as caught:
        services.models.create("pump", ModelSpec(dataset="ds_000000000000", columns=FEATURES))
    assert "ds_000000000000" in caught.value.message


def test_training_makes_version_1_the_production_version(pump: TrainingRun) -> None:
    assert pump.nn_id == "pump" and pump.model_version == 1
    assert pump.metrics["columns"] == FEATURES
    assert pump.metrics["epochs"] == PARAMS["epochs"]
    assert pump.threshold is not None and pump.threshold.value > 0


def test_training_an_unknown_model_is_not_found_naming_it(services: Container) -> None:
    with pytest.raises(NotFound) as caught:
        services.models.train("no-such-model")
    assert "no-such-model" in caught.value.message


def test_an_unknown_version_is_not_found_naming_it(shared: Container, pump: TrainingRun) -> None:
    with pytest.raises(NotFound) as caught:
        shared.models.version("pump", 7)
    assert "pump" in caught.value.message and "7" in caught.value.message
    assert caught.value.field == "version"


def test_training_with_feedback_before_any_label_is_refused_and_queues_nothing(
    services: Container, dataset: str
) -> None:
    services.models.create("pump", ModelSpec(dataset=dataset, columns=FEATURES, params=dict(PARAMS)))
    with pytest.raises(Conflict) as caught:
        services.models.train("pump", feedback=True)
    assert caught.value.field == "feedback" and "no labelled rows" in caught.value.message
    assert caught.value.hint is not None and caught.value.hint.action == "add_feedback"
    assert services.registry.list_jobs(model="pump") == []
