"""Fixtures of the in-process service tests (``support.services``): a fresh instance per test,
and one instance for the session with a model trained once, for tests that only read it or
write under names of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aedetect.bootstrap import Container
from aedetect.domain import TrainingRun
from support.services import plant_frame, running_services, train, upload


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Container]:
    """The services of a fresh instance in the test's own folder."""
    with running_services(tmp_path) as container:
        yield container


@pytest.fixture
def dataset(services: Container) -> str:
    """Id of the plant table uploaded to ``services``."""
    return upload(services, plant_frame())


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """The services of one instance for the session."""
    with running_services(tmp_path_factory.mktemp("services")) as container:
        yield container


@pytest.fixture(scope="session")
def shared_dataset(shared: Container) -> str:
    """Id of the plant table uploaded to ``shared``."""
    return upload(shared, plant_frame())


@pytest.fixture(scope="session")
def pump(shared: Container, shared_dataset: str) -> TrainingRun:
    """Model ``pump`` of ``shared``, trained once on the plant table: its production version."""
    return train(shared, "pump", shared_dataset)
