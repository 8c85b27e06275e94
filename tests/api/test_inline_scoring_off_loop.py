"""The event loop never reads the registry or loads a model: a small (inline) scoring request
through the real application, with a cold model cache, does its registry reads and the model's
load in worker threads. Every registry and artifact store method is wrapped to note whether it
ran on the event loop's thread."""

from __future__ import annotations

import asyncio
import functools
import inspect
import io
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from aedetect.app import create_app
from aedetect.bootstrap import Container
from aedetect.config import Settings

MODEL = "loop-check"


def on_event_loop() -> bool:
    """Whether the calling thread is running an event loop (worker threads are not)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class CallWatch:
    """Wraps every public method of some objects (on the instance), noting each call's name and
    whether it ran on the event loop."""

    def __init__(self) -> None:
        self.on_loop: list[str] = []
        self.off_loop: list[str] = []

    def wrap(self, target: object, label: str) -> None:
        for name, method in inspect.getmembers(target, inspect.ismethod):
            if not name.startswith("_"):
                setattr(target, name, self._watched(method, f"{label}.{name}"))

    def _watched(self, method: Callable[..., Any], name: str) -> Callable[..., Any]:
        @functools.wraps(method)
        def watched(*args: Any, **kwargs: Any) -> Any:
            (self.on_loop if on_event_loop() else self.off_loop).append(name)
            return method(*args, **kwargs)

        return watched


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The real application on a fresh data directory, with one trained model."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("loop") / "data", auth=False, host="127.0.0.1")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        rng = np.random.default_rng(0)
        frame = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
        upload = client.post(
            "/api/v2/datasets", files={"file": ("train.csv", io.BytesIO(frame.to_csv(index=False).encode()))}
        )
        assert upload.status_code == 201, upload.text
        params = {"epochs": 2, "n_hidden": [2], "random_state": 0}
        made = client.post(
            "/api/v2/models", json={"name": MODEL, "dataset": upload.json()["id"], "params": params}
        )
        assert made.status_code == 201, made.text
        job = client.post(f"/api/v2/models/{MODEL}/train").json()
        while job["status"] in ("queued", "running"):
            job = client.get(f"/api/v2/jobs/{job['id']}", params={"wait": 30}).json()
        assert job["status"] == "succeeded", job
        yield client


def watched(client: TestClient) -> CallWatch:
    """A cold model cache, and a watch on the registry and the artifact store."""
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    container.model_cache.invalidate(container.model_cache.cached())
    watch = CallWatch()
    watch.wrap(container.registry, "registry")
    watch.wrap(container.store, "store")
    return watch


def unwatch(client: TestClient) -> None:
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    for target in (container.registry, container.store):
        for name in [n for n in vars(target) if not n.startswith("_") and callable(vars(target)[n])]:
            delattr(target, name)


@pytest.fixture
def watch(client: TestClient) -> Iterator[CallWatch]:
    watch = watched(client)
    try:
        yield watch
    finally:
        unwatch(client)


def test_v2_inline_score_reads_the_registry_and_loads_the_model_off_the_loop(
    client: TestClient, watch: CallWatch
) -> None:
    answer = client.post(f"/api/v2/models/{MODEL}/score", json={"rows": [{"a": 0.1, "b": 0.2, "c": 9.0}]})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["rows"]) == 1
    assert watch.on_loop == []
    assert any(name.startswith("registry.") for name in watch.off_loop)
    assert any(name.startswith("store.") for name in watch.off_loop)  # the cold cache loaded the model


def test_v1_inline_predict_reads_the_registry_and_loads_the_model_off_the_loop(
    client: TestClient, watch: CallWatch
) -> None:
    answer = client.post(
        f"/api/v1/type/service/state/predict/type/anomaly/nnid/{MODEL}/ver/active/",
        json={"input_data": {"a": 0.1, "b": 0.2, "c": 9.0}},
    )
    assert answer.status_code == 200, answer.text
    assert watch.on_loop == []
    assert any(name.startswith("registry.") for name in watch.off_loop)
    assert any(name.startswith("store.") for name in watch.off_loop)


def test_the_watch_sees_calls_made_on_the_loop() -> None:
    """The check itself can fail: a call from a coroutine is noted as on the loop."""

    class Probe:
        def read(self) -> int:
            return 1

    probe, watch = Probe(), CallWatch()
    watch.wrap(probe, "probe")

    async def call() -> int:
        return probe.read()

    with ThreadPoolExecutor(1) as pool:  # a thread of its own: no other event loop runs there
        assert pool.submit(asyncio.run, call()).result() == 1
    assert watch.on_loop == ["probe.read"]
    assert watch.off_loop == []
