"""Helpers of the in-process service tests: the services of one aedetect instance built the way
``aedetect serve`` builds them (:func:`aedetect.bootstrap.build_services`), from settings that
point at a folder of the test's own: a real SQLite registry, a local artifact directory and the
embedded job runner; and a small plant table to train on."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from aedetect.bootstrap import Container, build_services
from aedetect.config import Settings
from aedetect.domain import JobStatus, TrainingRun
from aedetect.services.models import ModelSpec

FEATURES = ["temp", "pressure", "mode"]
"""The plant table's columns: two numeric, one categorical."""
PARAMS = {"epochs": 3, "random_state": 0, "n_hidden": [8, 2]}
"""A small network trained briefly: the tests check behaviour, not quality."""
TRAIN_TIMEOUT_S = 120.0
NORMAL_ROW = {"temp": 20.0, "pressure": 5.0, "mode": "a"}
"""A row at the centre of the training data."""
FAR_ROW = {"temp": 90.0, "pressure": 5.0, "mode": "a"}
"""A row whose temperature is seventy standard deviations off: an anomaly, because of ``temp``."""


def service_settings(folder: Path) -> Settings:
    """Settings of an instance that keeps everything under ``folder``; given explicitly, so
    ``AEDETECT_*`` variables of the environment cannot point it elsewhere."""
    return Settings(
        data_dir=folder / "data",
        database_url=f"sqlite:///{folder / 'registry.db'}",
        artifact_url=str(folder / "artifacts"),
        job_runner="embedded",
        job_workers=1,
    )


@contextmanager
def running_services(folder: Path) -> Iterator[Container]:
    """The services of an instance under ``folder``, closed afterwards."""
    container = build_services(service_settings(folder))
    try:
        yield container
    finally:
        container.close()


def plant_frame(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """Normal plant readings: temperature near 20, pressure near 5, a mode 'a' or 'b'."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "temp": rng.normal(20.0, 1.0, rows),
            "pressure": rng.normal(5.0, 0.2, rows),
            "mode": rng.choice(["a", "b"], rows),
        }
    )


def upload(services: Container, frame: pd.DataFrame, name: str = "plant.csv") -> str:
    """Id of ``frame`` stored as a CSV dataset, as an upload stores it."""
    return services.catalog.add(name, io.BytesIO(frame.to_csv(index=False).encode())).dataset_id


def train(services: Container, name: str, dataset: str) -> TrainingRun:
    """Create model ``name`` over ``dataset``, train it on the embedded runner and wait for the
    job; the version that ``production`` then serves."""
    services.models_v2.create(name, ModelSpec(dataset=dataset, columns=FEATURES, params=dict(PARAMS)))
    job = services.models_v2.train(name)
    services.runner.wait(job.job_id, timeout=TRAIN_TIMEOUT_S)
    finished = services.jobs.get(job.job_id)
    assert finished.status == JobStatus.SUCCEEDED, finished.error
    return services.models_v2.resolve(name)
