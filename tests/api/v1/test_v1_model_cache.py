"""The serving cache: a model is loaded once per run id however many requests use it, also when
they arrive together, and loaded again only after it was invalidated or evicted."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aedetect import AutoEncoderDetector, load_detector, save_detector
from aedetect.errors import ArtifactError
from aedetect.services.scoring import ModelCache


class CountingLoader:
    """``load_detector`` that counts its calls per model directory."""

    def __init__(self) -> None:
        self.calls: dict[Path, int] = {}
        self._lock = threading.Lock()

    def __call__(self, path: Path) -> AutoEncoderDetector:
        with self._lock:
            self.calls[path] = self.calls.get(path, 0) + 1
        return load_detector(path)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three small saved models."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=40), "b": rng.choice(["x", "y"], 40)})
    dirs = []
    for seed in range(3):
        path = tmp_path_factory.mktemp("models") / f"run_{seed}"
        save_detector(AutoEncoderDetector(n_hidden=[4, 2], epochs=1, random_state=seed).fit(frame), path)
        dirs.append(path)
    return dirs


def test_a_model_is_loaded_once_and_reused(model_dirs: list[Path]) -> None:
    loader = CountingLoader()
    cache = ModelCache(loader)
    first = cache.get("nn_1_1", model_dirs[0])
    assert cache.get("nn_1_1", model_dirs[0]) is first
    assert loader.calls == {model_dirs[0]: 1}


def test_concurrent_first_requests_load_the_model_once(model_dirs: list[Path]) -> None:
    loader = CountingLoader()
    cache = ModelCache(loader)
    with ThreadPoolExecutor(max_workers=8) as pool:
        models = list(pool.map(lambda _: cache.get("nn_1_1", model_dirs[0]), range(16)))
    assert loader.calls == {model_dirs[0]: 1}
    assert all(m is models[0] for m in models)


def test_invalidated_model_is_loaded_again(model_dirs: list[Path]) -> None:
    loader = CountingLoader()
    cache = ModelCache(loader)
    first = cache.get("nn_1_1", model_dirs[0])
    cache.invalidate(["nn_1_1"])
    assert cache.cached() == []
    assert cache.get("nn_1_1", model_dirs[0]) is not first
    assert loader.calls == {model_dirs[0]: 2}


def test_least_recently_used_model_is_evicted_first(model_dirs: list[Path]) -> None:
    cache = ModelCache(CountingLoader(), max_models=2)
    cache.get("r0", model_dirs[0])
    cache.get("r1", model_dirs[1])
    cache.get("r0", model_dirs[0])
    cache.get("r2", model_dirs[2])
    assert cache.cached() == ["r0", "r2"]


def test_a_failed_load_is_not_cached(tmp_path: Path, model_dirs: list[Path]) -> None:
    loader = CountingLoader()
    cache = ModelCache(loader)
    with pytest.raises(ArtifactError, match="not a saved aedetect model"):
        cache.get("broken", tmp_path / "missing")
    assert cache.cached() == []
    cache.get("broken", model_dirs[1])
    assert cache.cached() == ["broken"]
