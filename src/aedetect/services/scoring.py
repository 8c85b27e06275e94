"""Predictions from a version's active model, loaded once and kept in a thread-safe cache.

Models are cached by run id: a run's model never changes once written, so the cache only has to
drop entries when a model stops serving (another run activated, the network deleted). All rows of
a request are scored in one vectorised pass.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aedetect.detectors.autoencoder import AutoEncoderDetector
from aedetect.domain import TrainingRun
from aedetect.errors import InvalidInput, NotFitted, listed
from aedetect.registry.base import Registry
from aedetect.services.limits import Limits, check_rows
from aedetect.services.paths import DataPaths, check_nn_id, check_version

ACTIVE = "active"
"""Version selector meaning "the network's active version"."""

DEFAULT_CACHED_MODELS = 16

Row = Mapping[str, Any]


class ModelCache:
    """Loaded detectors by run id, least recently used dropped first.

    Loading happens outside the cache-wide lock under a per-run lock, so one slow load neither
    blocks requests for other models nor is repeated by concurrent requests for the same model.
    """

    def __init__(
        self, loader: Callable[[Path], AutoEncoderDetector], max_models: int = DEFAULT_CACHED_MODELS
    ) -> None:
        self._loader = loader
        self._max = max_models
        self._models: OrderedDict[str, AutoEncoderDetector] = OrderedDict()
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, run_id: str, path: Path) -> AutoEncoderDetector:
        """The detector of ``run_id``, loaded from ``path`` on first use."""
        with self._lock:
            model = self._models.get(run_id)
            if model is not None:
                self._models.move_to_end(run_id)
                return model
            load_lock = self._loading.setdefault(run_id, threading.Lock())
        with load_lock:
            try:
                with self._lock:
                    model = self._models.get(run_id)
                if model is None:
                    model = self._loader(path)
                    with self._lock:
                        self._models[run_id] = model
                        while len(self._models) > self._max:
                            self._models.popitem(last=False)
                return model
            finally:
                with self._lock:
                    self._loading.pop(run_id, None)

    def invalidate(self, run_ids: Sequence[str]) -> None:
        """Forget the given runs' models (they are reloaded if used again)."""
        with self._lock:
            for run_id in run_ids:
                self._models.pop(run_id, None)

    def cached(self) -> list[str]:
        """Run ids currently held, least recently used first."""
        with self._lock:
            return list(self._models)


def finite_or_none(value: float) -> float | None:
    """``value`` as a plain float, or ``None`` where it is not finite (JSON has no NaN)."""
    number = float(value)
    return number if math.isfinite(number) else None


def checked_rows(rows: Sequence[Row], columns: Sequence[str]) -> list[Row]:
    """The input rows, or ``InvalidInput`` naming every model column they lack. Rows stay plain
    mappings: the detector encodes small batches of them without building a DataFrame."""
    if not rows:
        raise InvalidInput("input_data holds no row", field="input_data")
    missing = [c for c in columns if any(c not in row for row in rows)]
    if missing:
        known = set(columns)
        unknown = list(dict.fromkeys(k for row in rows for k in row if k not in known))
        sent = f"; it sent column(s) the model does not use: {listed(unknown)}" if unknown else ""
        raise InvalidInput(
            f"input_data lacks the model column(s) {listed(missing)}{sent}; the model uses "
            f"{len(columns)} columns: {listed(columns)}",
            field="input_data",
        )
    return list(rows)


class ScoringService:
    """Similarity, codes and reconstructions from the model that serves a version."""

    def __init__(self, registry: Registry, paths: DataPaths, cache: ModelCache, limits: Limits) -> None:
        self._registry = registry
        self._paths = paths
        self._cache = cache
        self._limits = limits

    def serving_run(self, nn_id: str, version: str | int) -> TrainingRun:
        """The active run of ``version`` (a number, or "active" for the active version)."""
        check_nn_id(nn_id)
        number, run = self._registry.get_serving_run(
            nn_id, None if str(version) == ACTIVE else check_version(version)
        )
        if run is None or run.model_path is None:
            raise NotFitted(
                f"version {number} of network {nn_id} has no trained model yet: "
                f"POST /api/v1/type/runmanager/state/train/nnid/{nn_id}/ver/{number}/ first"
            )
        return run

    def detector(self, run: TrainingRun) -> AutoEncoderDetector:
        """The (cached) detector of a succeeded run."""
        if run.model_path is None:
            raise NotFitted(f"training run {run.run_id} has no model")
        return self._cache.get(run.run_id, self._paths.resolve_model(run.model_path))

    def _model_and_rows(
        self, nn_id: str, version: str | int, rows: Sequence[Row]
    ) -> tuple[AutoEncoderDetector, list[Row]]:
        check_rows(len(rows), self._limits)
        model = self.detector(self.serving_run(nn_id, version))
        return model, checked_rows(rows, model.columns_)

    def similarity(self, nn_id: str, version: str | int, rows: Sequence[Row]) -> list[float | None]:
        """Cosine similarity of each row and its reconstruction (higher = more normal)."""
        model, frame = self._model_and_rows(nn_id, version, rows)
        return [finite_or_none(v) for v in model.score(frame).similarity]

    def encode(self, nn_id: str, version: str | int, rows: Sequence[Row]) -> list[list[float | None]]:
        """The bottleneck code of each row."""
        model, frame = self._model_and_rows(nn_id, version, rows)
        return _matrix(model.encode(frame))

    def reconstruct(self, nn_id: str, version: str | int, rows: Sequence[Row]) -> list[list[float | None]]:
        """The reconstruction of each row in the model's encoded input space."""
        model, frame = self._model_and_rows(nn_id, version, rows)
        return _matrix(model.reconstruct_vector(frame))


def _matrix(values: np.ndarray) -> list[list[float | None]]:
    return [[finite_or_none(v) for v in row] for row in np.asarray(values, dtype=np.float64)]
