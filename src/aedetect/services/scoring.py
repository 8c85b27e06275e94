"""Scoring with a model version: loaded once and kept in a thread-safe cache, judged against the
version's current threshold revision.

Models are cached by run id: a run's model never changes once written, so the cache only has to
drop entries when a model stops serving (another run activated, the network deleted), and check
the run's stamp, which comes with the serving read, against a run id made again elsewhere. The
threshold is not part of the cached model: every request reads the current revision with the
serving run (one registry read), so a threshold change takes effect at once in every process.
All rows of a request are scored in one vectorised pass.

The v1 similarity is :func:`v1_similarity`: a strictly decreasing function of the anomaly score,
so a v1 client comparing it with the reference value (the same function of the threshold) gets
exactly the model's verdict.

Every scored row (v1 predictions, v2 JSON rows and CSV bodies) is handed to the scoring log
(:mod:`aedetect.services.scorelog`), which queues it without waiting for the store.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from aedetect.detectors.autoencoder import AutoEncoderDetector
from aedetect.domain import ScoreResult, TrainingRun
from aedetect.errors import Hint, InvalidInput, NotFitted, listed
from aedetect.registry.base import Registry
from aedetect.services.limits import Limits, check_rows
from aedetect.services.paths import DataPaths, check_nn_id, check_version
from aedetect.services.values import finite_or_none, json_value

if TYPE_CHECKING:
    from aedetect.services.scorelog import ScoreLog

ACTIVE = "active"
"""Version selector meaning "the network's active version"."""

DEFAULT_CACHED_MODELS = 16

BATCH_ROWS = 10_000
"""Rows scored at a time by the ``*_batches`` methods. Every batch is scored when the method is
called (so a bad value anywhere is refused before any answer starts), into compact arrays; each
batch becomes JSON-ready values only when asked for, so a large answer can be streamed out and
is never held whole as Python objects."""

Row = Mapping[str, Any]
T = TypeVar("T")


class ModelCache:
    """Loaded detectors by run id, least recently used dropped first.

    Each entry keeps the stamp of the run it was loaded for (:func:`model_stamp`): a run id that
    names another model now (its network was deleted and made again through another process) is
    loaded afresh, so no process serves a model the registry no longer names. Loading happens
    outside the cache-wide lock under a per-run lock, so one slow load neither blocks requests for
    other models nor is repeated by concurrent requests for the same model.
    """

    def __init__(
        self, loader: Callable[[str | Path], AutoEncoderDetector], max_models: int = DEFAULT_CACHED_MODELS
    ) -> None:
        self._loader = loader
        self._max = max_models
        self._models: OrderedDict[str, tuple[str, AutoEncoderDetector]] = OrderedDict()
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def _held(self, run_id: str, stamp: str) -> AutoEncoderDetector | None:
        """The cached model when it was loaded for ``stamp`` (call under the lock)."""
        entry = self._models.get(run_id)
        if entry is None or entry[0] != stamp:
            return None
        self._models.move_to_end(run_id)
        return entry[1]

    def get(self, run_id: str, source: str | Path, stamp: str = "") -> AutoEncoderDetector:
        """The detector of ``run_id``, loaded from ``source`` on first use (and again when the
        run's ``stamp`` differs from the one it was loaded for)."""
        with self._lock:
            model = self._held(run_id, stamp)
            if model is not None:
                return model
            load_lock = self._loading.setdefault(run_id, threading.Lock())
        with load_lock:
            try:
                with self._lock:
                    model = self._held(run_id, stamp)
                if model is None:
                    model = self._loader(source)
                    with self._lock:
                        self._models[run_id] = (stamp, model)
                        self._models.move_to_end(run_id)
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


SCORE_COLUMN = "anomaly_score"
LABEL_COLUMN = "is_anomaly"
TOP_COLUMN = "top_columns"
"""Columns a scored CSV gains (the CLI's ``aedetect score`` and the API's CSV scoring alike)."""


def similarity_scale(training_threshold: float) -> float:
    """The score unit of :func:`v1_similarity`: the threshold the model was trained with (fixed
    for the life of the model version, unlike the threshold revisions), or 1 if unusable."""
    value = float(training_threshold)
    return value if math.isfinite(value) and value > 0 else 1.0


def v1_similarity(scores: Any, scale: float) -> np.ndarray:
    """The v1 number for anomaly ``scores``: ``1 / (1 + exp(asinh(score / scale)))``.

    Strictly decreasing in the score over all real numbers, in (0, 1] (higher = more normal; it
    rounds to 1 only far below zero), never underflowing for large scores (it falls like
    ``scale / (2 * score)``). NaN stays NaN. :func:`judged_similarity` settles floating-point ties.
    """
    return 1.0 / (1.0 + np.exp(np.arcsinh(np.asarray(scores, dtype=np.float64) / scale)))


def judged_similarity(scores: Any, threshold: float, scale: float) -> tuple[np.ndarray, float]:
    """:func:`v1_similarity` of ``scores`` and of ``threshold`` (the reference value), made exact
    at floating-point ties: a row's similarity is below the reference exactly when its score is
    above the threshold."""
    values = np.asarray(scores, dtype=np.float64)
    reference = float(v1_similarity(threshold, scale))
    similarity = v1_similarity(values, scale)
    anomalous, normal = values > threshold, values <= threshold  # NaN is neither and stays NaN
    similarity = np.where(anomalous & (similarity >= reference), np.nextafter(reference, 0.0), similarity)
    similarity = np.where(normal & (similarity < reference), reference, similarity)
    return similarity, reference


def model_stamp(run: TrainingRun) -> str:
    """What tells one model of a run id from another: the job that trained it (unique) and when
    the run was made. It comes with the serving read, so checking it costs nothing."""
    created = run.created_at.isoformat() if run.created_at is not None else ""
    return f"{run.job_id or ''}@{created}"


def run_key(run: TrainingRun, *more: Any) -> str:
    """Cache key of what a run's model yields (with ``more`` inputs): the run id with its
    :func:`model_stamp`, so a model made again under an old name, whose first run gets the same
    run id, never reads what was cached for the model it replaced."""
    return json.dumps([run.run_id, model_stamp(run), *more])


def current_threshold(run: TrainingRun, detector: AutoEncoderDetector) -> float:
    """The threshold a run's verdicts use: its newest revision, or the one it was trained with."""
    return run.threshold.value if run.threshold is not None else float(detector.threshold_)


def scored_frame(
    detector: AutoEncoderDetector, frame: pd.DataFrame, top: int, threshold: float | None = None
) -> pd.DataFrame:
    """``frame`` with the anomaly score, the 0/1 verdict against ``threshold`` (default: the
    model's own) and, if ``top``, the top contributing columns most first, ';'-separated. Columns
    of those names in ``frame`` are replaced."""
    return scored_frame_and_result(detector, frame, top, threshold)[0]


def scored_frame_and_result(
    detector: AutoEncoderDetector, frame: pd.DataFrame, top: int, threshold: float | None = None
) -> tuple[pd.DataFrame, ScoreResult]:
    """:func:`scored_frame` and the scoring result it was made from."""
    result = detector.score(frame)
    limit = float(detector.threshold_) if threshold is None else threshold
    out = frame.drop(columns=[c for c in (SCORE_COLUMN, LABEL_COLUMN, TOP_COLUMN) if c in frame.columns])
    out[SCORE_COLUMN] = result.scores
    out[LABEL_COLUMN] = (np.asarray(result.scores) > limit).astype(np.int64)
    if top > 0:
        order, _ = result.top_columns(top)
        names = np.asarray(result.columns, dtype=object)[order]
        out[TOP_COLUMN] = [";".join(row) for row in names]
    return out, result


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
    return rows if isinstance(rows, list) else list(rows)  # a list stays the caller's, to consume


def native_rows(rows: Sequence[Any], columns: Sequence[str]) -> list[Row]:
    """The rows of a native scoring request, or ``InvalidInput`` naming the first row (and column)
    that is not an object with every model column."""
    if not rows:
        raise InvalidInput("rows holds no row: send at least one object of column values", field="rows")
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidInput(f"rows[{i}] must be an object of column values", field=f"rows[{i}]")
        missing = [c for c in columns if c not in row]
        if missing:
            raise InvalidInput(
                f"rows[{i}] lacks the model column(s) {listed(missing)}; send every column the model uses "
                "(the model version lists them)",
                field=f"rows[{i}]",
                column=missing[0],
            )
    return rows if isinstance(rows, list) else list(rows)  # a list stays the caller's, to consume


class ScoringService:
    """Similarity, codes and reconstructions from the model that serves a version; scored rows
    go to the scoring log when one is given."""

    def __init__(
        self,
        registry: Registry,
        paths: DataPaths,
        cache: ModelCache,
        limits: Limits,
        log: ScoreLog | None = None,
    ) -> None:
        """``cache`` loads models by their store key (``bootstrap`` wires it to the store)."""
        self._registry = registry
        self._paths = paths
        self._cache = cache
        self._limits = limits
        self._log = log

    def _logged(
        self, run: TrainingRun, result: ScoreResult, threshold: float, rows: Any, source: str
    ) -> None:
        if self._log is not None:
            scores = np.asarray(result.scores, dtype=np.float64)
            self._log.record(
                run, scores, scores > threshold, threshold, result.contributions, result.columns, rows, source
            )

    def serving_run(self, nn_id: str, version: str | int) -> TrainingRun:
        """The active run of ``version`` (a number, or "active" for the active version)."""
        check_nn_id(nn_id)
        number, run = self._registry.get_serving_run(
            nn_id, None if str(version) == ACTIVE else check_version(version)
        )
        if run is None or run.model_path is None:
            raise NotFitted(
                f"version {number} of network {nn_id} has no trained model yet: train it first",
                hint=Hint("train", model=nn_id, version=number),
            )
        return run

    def detector(self, run: TrainingRun) -> AutoEncoderDetector:
        """The (cached) detector of a succeeded run."""
        if run.model_path is None:
            raise NotFitted(f"training run {run.run_id} has no model")
        return self._cache.get(run.run_id, self._paths.model_key(run.model_path), model_stamp(run))

    def _model_and_rows(
        self, nn_id: str, version: str | int, rows: Sequence[Row]
    ) -> tuple[TrainingRun, AutoEncoderDetector, list[Row]]:
        check_rows(len(rows), self._limits)
        run = self.serving_run(nn_id, version)
        model = self.detector(run)
        return run, model, checked_rows(rows, model.columns_)

    def similarity(self, nn_id: str, version: str | int, rows: Sequence[Row]) -> list[float | None]:
        """The v1 similarity of each row (:func:`judged_similarity`; higher = more normal)."""
        return [value for batch in self.similarity_batches(nn_id, version, list(rows)) for value in batch]

    def similarity_batches(
        self, nn_id: str, version: str | int, rows: Sequence[Row], batch_rows: int = BATCH_ROWS
    ) -> Iterator[list[float | None]]:
        """:meth:`similarity`, ``batch_rows`` rows at a time (see :data:`BATCH_ROWS`): every check
        and all the scoring happen now, with the model and threshold in force now. A list of
        ``rows`` is consumed (see :func:`_batches`)."""
        run, model, checked = self._model_and_rows(nn_id, version, rows)
        threshold, scale = current_threshold(run, model), similarity_scale(model.threshold_)
        scored = []
        for batch in _batches(checked, batch_rows):
            scores = np.asarray(model.decision_function(batch), dtype=np.float64)
            # The log's writer works out the top columns, off the request's path and many rows at
            # once: computing them here cost a quarter of v1 batch throughput (BENCHMARKS.md).
            if self._log is not None:
                self._log.record(
                    run, scores, scores > threshold, threshold, None, model.columns_, batch, "v1",
                    explain=model.contributions,
                )  # fmt: skip
            scored.append(judged_similarity(scores, threshold, scale)[0])
        return ([finite_or_none(v) for v in values] for values in scored)

    def score_rows(self, run: TrainingRun, rows: Sequence[Row], top: int) -> list[dict[str, Any]]:
        """:meth:`explain` for rows sent to be scored (the v2 score route): they are logged."""
        return [row for batch in self.score_rows_batches(run, list(rows), top) for row in batch]

    def score_rows_batches(
        self, run: TrainingRun, rows: Sequence[Row], top: int, batch_rows: int = BATCH_ROWS
    ) -> Iterator[list[dict[str, Any]]]:
        """:meth:`explain_batches` for rows sent to be scored: they are logged."""
        return self._explain_batches(run, rows, top, None, batch_rows, "v2")

    def explain(
        self, run: TrainingRun, rows: Sequence[Row], top: int, threshold: float | None = None
    ) -> list[dict[str, Any]]:
        """Per row: score, verdict against ``threshold`` (default: the current one), the v1 and
        the cosine similarity, and the ``top`` columns contributing most with their share of the
        score, the value sent and the value the model expected (its reconstruction). Not logged:
        it also explains rows of stored data again."""
        return [row for batch in self.explain_batches(run, list(rows), top, threshold) for row in batch]

    def explain_batches(
        self,
        run: TrainingRun,
        rows: Sequence[Row],
        top: int,
        threshold: float | None = None,
        batch_rows: int = BATCH_ROWS,
    ) -> Iterator[list[dict[str, Any]]]:
        """:meth:`explain`, ``batch_rows`` rows at a time (see :data:`BATCH_ROWS`): every check and
        all the scoring happen now; each batch's answer is built when asked for, and its rows then
        freed. A list of ``rows`` is consumed (see :func:`_batches`)."""
        return self._explain_batches(run, rows, top, threshold, batch_rows, None)

    def _explain_batches(
        self,
        run: TrainingRun,
        rows: Sequence[Row],
        top: int,
        threshold: float | None,
        batch_rows: int,
        source: str | None,
    ) -> Iterator[list[dict[str, Any]]]:
        """:meth:`explain_batches`, each scored batch logged as from ``source`` when one is given."""
        check_rows(len(rows), self._limits, "rows")
        detector = self.detector(run)
        checked = native_rows(rows, detector.columns_)
        limit = current_threshold(run, detector) if threshold is None else threshold
        scored = []
        for batch in _batches(checked, batch_rows):
            result = detector.score(batch)
            if source is not None:
                self._logged(run, result, limit, batch, source)
            scored.append((batch, result, detector.reconstruct(batch) if top > 0 else None))
        return (_explained(detector, *batch, top, limit) for batch in _drained(scored))

    def scored_csv_chunk(
        self, run: TrainingRun, frame: pd.DataFrame, top: int, threshold: float
    ) -> pd.DataFrame:
        """One chunk of a CSV body scored (:func:`scored_frame`) and logged."""
        out, result = scored_frame_and_result(self.detector(run), frame, top, threshold)
        self._logged(run, result, threshold, frame, "csv")
        return out

    def encode(self, nn_id: str, version: str | int, rows: Sequence[Row]) -> list[list[float | None]]:
        """The bottleneck code of each row."""
        return [code for batch in self.encode_batches(nn_id, version, list(rows)) for code in batch]

    def encode_batches(
        self, nn_id: str, version: str | int, rows: Sequence[Row], batch_rows: int = BATCH_ROWS
    ) -> Iterator[list[list[float | None]]]:
        """:meth:`encode`, ``batch_rows`` rows at a time (all checked and scored now; a list of
        ``rows`` is consumed)."""
        _, model, checked = self._model_and_rows(nn_id, version, rows)
        return map(_matrix, [model.encode(batch) for batch in _batches(checked, batch_rows)])

    def reconstruct(self, nn_id: str, version: str | int, rows: Sequence[Row]) -> list[list[float | None]]:
        """The reconstruction of each row in the model's encoded input space."""
        return [vector for batch in self.reconstruct_batches(nn_id, version, list(rows)) for vector in batch]

    def reconstruct_batches(
        self, nn_id: str, version: str | int, rows: Sequence[Row], batch_rows: int = BATCH_ROWS
    ) -> Iterator[list[list[float | None]]]:
        """:meth:`reconstruct`, ``batch_rows`` rows at a time (all checked and scored now; a list
        of ``rows`` is consumed)."""
        _, model, checked = self._model_and_rows(nn_id, version, rows)
        return map(_matrix, [model.reconstruct_vector(batch) for batch in _batches(checked, batch_rows)])


def _explained(
    detector: AutoEncoderDetector,
    checked: Sequence[Row],
    result: ScoreResult,
    expected: pd.DataFrame | None,
    top: int,
    threshold: float,
) -> list[dict[str, Any]]:
    """The answer rows of a scored batch (see :meth:`ScoringService.explain`)."""
    similarity, _ = judged_similarity(result.scores, threshold, similarity_scale(detector.threshold_))
    names = result.columns
    scores = np.asarray(result.scores, dtype=np.float64)
    order, shares = result.top_columns(top)
    guesses = None if expected is None else expected.to_numpy(dtype=object)
    out = []
    for i, row in enumerate(checked):
        contributions = [
            {
                "column": names[j],
                "share": finite_or_none(share),
                "value": json_value(row[names[j]]),
                "expected": None if guesses is None else json_value(guesses[i, j]),
            }
            for j, share in zip(order[i], shares[i], strict=True)
        ]
        out.append(
            {
                "score": finite_or_none(scores[i]),
                "is_anomaly": bool(scores[i] > threshold),
                "threshold": threshold,
                "similarity": finite_or_none(similarity[i]),
                "cosine_similarity": finite_or_none(result.similarity[i]),
                "contributions": contributions,
            }
        )
    return out


def _batches(rows: list[Row], size: int) -> Iterator[list[Row]]:
    """Batches of ``rows``, each taken out of the list as it is handed on, so the rows are freed a
    batch at a time once scored (when no one else holds them): freeing 200,000 rows at once holds
    the interpreter lock, and so every other request, for a third of a second or more."""
    while rows:
        batch = rows[:size]
        del rows[:size]
        yield batch


def _drained(items: list[T]) -> Iterator[T]:
    """The items in order, each dropped from ``items`` as it is handed on (freed once used)."""
    items.reverse()
    while items:
        yield items.pop()


def _matrix(values: np.ndarray) -> list[list[float | None]]:
    return [[finite_or_none(v) for v in row] for row in np.asarray(values, dtype=np.float64)]
