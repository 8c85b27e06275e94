"""AutoEncoderDetector: an ensemble of autoencoders for mixed numeric/categorical tables."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from itertools import pairwise
from typing import Any, Self

import numpy as np
import pandas as pd
import torch

from aedetect.data.encoding import NUMERIC_TRANSFORMS, EncodedTable, TableStatistics, TabularEncoder
from aedetect.data.rows import EncodedRows
from aedetect.data.schema import (
    as_frame,
    as_records,
    check_record_columns,
    infer_column_specs,
    select_columns,
)
from aedetect.data.sources import FrameStream
from aedetect.detectors import latent
from aedetect.detectors.base import BaseDetector
from aedetect.detectors.network import ACTIVATIONS, EnsembleAutoEncoder, Outputs
from aedetect.detectors.optim import FlatAdam
from aedetect.detectors.threads import auto_threads, torch_threads
from aedetect.domain import ColumnKind, ScoreResult
from aedetect.errors import InvalidInput, NotFitted

EpochCallback = Callable[[int, int, float, float | None], None]
"""Called after each epoch with (epoch, max_epochs, train_loss, validation_loss)."""

StopCheck = Callable[[], bool]
"""Polled before every training batch and between chunks of the passes over the data. True ends
the epochs there (the best weights so far are kept, the training rows are still scored); while the
data is being read, before any learning, True aborts ``fit`` with NotFitted. Raising aborts ``fit``
with that exception at any point."""

SCORE_CHUNK_ROWS = 32768
"""Rows encoded and scored at a time by one network, so memory stays bounded for any input size;
an ensemble scores ``SCORE_CHUNK_ROWS // n_estimators`` at a time (its per-row terms are that
many times larger)."""

LR_PATIENCE_EPOCHS = 10
"""Epochs without improvement before the learning rate is halved."""

PLATEAU_THRESHOLD = 1e-4
"""Relative fall of the monitored loss that resets the count towards halving the learning rate."""

NUMERIC_ERROR = "absolute_robust"
"""How scoring measures a present numeric value's reconstruction error (see ``_column_errors``)."""

MIN_IMPROVEMENT = 0.01
"""Relative fall of the validation loss that counts as an improvement for early stopping (1 %:
measured to stop sooner at no cost in quality, see BENCHMARKS.md), for an epoch of at most
``MIN_STEPS_PER_EPOCH`` steps; see :func:`min_improvement`."""

MIN_STEPS_PER_EPOCH = 64
"""The default batch size gives an epoch at least this many optimiser steps (within 32 to 256
rows per batch), so small tables converge in a few epochs instead of crawling at a few steps each."""


def default_batch_size(n_train: int) -> int:
    """Rows per step for ``n_train`` training rows: ``n_train // 64`` bounded to [32, 256]."""
    return int(min(256, max(32, n_train // MIN_STEPS_PER_EPOCH)))


def min_improvement(steps_per_epoch: int) -> float:
    """The relative fall of the validation loss that counts as an improvement after an epoch of
    ``steps_per_epoch`` optimiser steps: 1 % per ``MIN_STEPS_PER_EPOCH`` steps, at most 50 %.

    The stopping rule so asks the same progress per optimiser step of every table: one whose
    epochs are longer (more rows than the largest default batch covers in 64 steps) must improve
    more per epoch to go on, rather than training for as many, ever longer, epochs."""
    return min(0.5, MIN_IMPROVEMENT * max(1.0, steps_per_epoch / MIN_STEPS_PER_EPOCH))


MAX_VALIDATION_ROWS = 100_000
"""Most rows held out for early stopping, whatever the data's size (they are kept in memory)."""

IN_MEMORY_BYTES = 256 * 1024 * 1024
"""Encoded training rows up to this size stay in memory; more go to temporary files."""

RECORDS_FAST_PATH_ROWS = 256
"""Up to this many rows given as mappings are encoded directly, without building a DataFrame
(a single-row request spends most of its time in pandas otherwise)."""

DEFAULTS: dict[str, Any] = {
    "vocab_size": 10,
    "n_estimators": 8,
    "epochs": 100,
    "learning_rate": 1e-3,
    "patience": 5,
}
"""Defaults of the parameters whose constructor default is None or that ``checked_params`` fills in."""


class AutoEncoderDetector(BaseDetector):
    """Ensemble of autoencoders: rows the networks reconstruct badly score high.

    Parameters
    ----------
    columns : list of str, optional
        Ordered columns to model (default: all columns of the training data).
    categorical : list of str, optional
        Numeric columns to treat as categorical (strings and booleans always are).
    vocab_size : int, default 10
        Most frequent values one-hot encoded per categorical column; the rest share an
        "other/unseen" bucket, missing values have their own bucket.
    n_hidden : list of int, optional
        Encoder layer widths towards the bottleneck; the decoder mirrors them. Default:
        ``[2 * n_columns, n_columns // 4]`` bounded to [16, 256] and [2, 32].
    n_estimators : int, optional
        Autoencoders in the ensemble, trained together as one batched network; the score is the
        mean of their normalised scores. Default 8.
    epochs : int, optional
        Maximum passes over the training rows; early stopping normally ends training sooner.
        Default 100.
    batch_size : int, optional
        Rows per optimiser step; every row is used every epoch. Default: a 64th of the training
        rows, bounded to [32, 256].
    learning_rate : float, optional
        Adam step size, halved after 10 epochs without improvement. Default 1e-3.
    contamination : float, default 0.01
        Expected anomaly share of the training data; sets ``threshold_``.
    validation_fraction : float, default 0.1
        Held-out share of rows for early stopping (0 disables early stopping).
    patience : int, optional
        Epochs without a 1 % fall of the validation loss before training stops (1 % per 64
        optimiser steps where an epoch has more, see :func:`min_improvement`). Default 5.
    clip_quantile : float, default 0.0
        Numeric inputs are clipped to the training range between this quantile and its
        complement; the reconstruction target is not, so values outside the range learned in
        training raise the score even where the network could copy them through.
    numeric_transform : str, default "asinh"
        "robust": (x - median) / IQR-based spread; "asinh": asinh of that, which compresses heavy
        tails logarithmically (measured better than "robust" on both ADBench suites and NSL-KDD,
        see BENCHMARKS.md); "quantile": normal scores of the training quantiles.
    magnitude_weight : float, default 0.3
        Weight of the second score part: how extreme each reconstructed numeric value is,
        relative to training (0 scores by reconstruction error alone).
    error_knee : float or None, default 20.0
        A column's reconstruction error (relative to its training mean) counts about in full
        while it is small and logarithmically past this many training means:
        ``error_knee * log(1 + error / error_knee)``. One column's extreme error then adds less
        than in proportion, so the noisiest column no longer decides a row's score alone
        (measured better on the MVTec-AD suite and NSL-KDD, and level on the Classical sets, see
        BENCHMARKS.md). Lower knees trade a broken single sensor's lead over rows that are
        moderately off in several columns for more Classical AP. None counts errors linearly,
        as models saved before this parameter do.
    latent_weight : float, default 0.0
        Weight of the latent part: the mean distance of a row's code (the networks' bottleneck)
        to its nearest codes among a sample of 512 training rows, over its training mean,
        added to every column's part alike (so it moves a row's score, not which columns lead
        its explanation). It finds rows the networks map far from the training data even where
        they reconstruct them well (see :mod:`aedetect.detectors.latent`). 0 (the default, as in
        models saved before this parameter) leaves it out; 0.3 is the weight screened in
        BENCHMARKS.md round 7 (higher Classical ROC-AUC and AP, lower NSL-KDD trained on all rows,
        scoring slower).
    activation : str, default "relu"
        Hidden activation: relu, elu, tanh or gelu.
    weight_decay : float, default 0.0
        Adam weight decay.
    random_state : int, optional
        Seed for weights, validation split and shuffling: same seed, same model.
    device : str, default "auto"
        "auto" uses a CUDA GPU when present, else the CPU; or a torch device string.
    n_threads : int, optional
        torch intra-op threads while fitting and scoring; the caller's setting is restored
        afterwards. Default: chosen from the network's size (1 for small networks, which is the
        fastest choice for them and the only safe one on a busy machine).

    Attributes
    ----------
    columns_ : list of str
        The modelled columns, in order.
    column_kinds_ : dict
        Column name to "numeric" or "categorical".
    n_input_ : int
        Width of the encoded input vector.
    history_ : dict
        Per-epoch ``train_loss`` and ``val_loss`` lists (mean over the ensemble).
    effective_params_ : dict
        Every hyperparameter as used, after defaults (JSON-serialisable).
    decision_scores_, threshold_, labels_
        See :class:`~aedetect.detectors.base.BaseDetector`.
    """

    def __init__(
        self,
        *,
        columns: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        vocab_size: int = 10,
        n_hidden: Sequence[int] | None = None,
        n_estimators: int | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        learning_rate: float | None = None,
        contamination: float = 0.01,
        validation_fraction: float = 0.1,
        patience: int | None = None,
        clip_quantile: float = 0.0,
        numeric_transform: str = "asinh",
        magnitude_weight: float = 0.3,
        error_knee: float | None = 20.0,
        latent_weight: float = 0.0,
        activation: str = "relu",
        weight_decay: float = 0.0,
        random_state: int | None = None,
        device: str = "auto",
        n_threads: int | None = None,
    ) -> None:
        super().__init__(contamination=contamination)
        self.columns = columns
        self.categorical = categorical
        self.vocab_size = vocab_size
        self.n_hidden = n_hidden
        self.n_estimators = n_estimators
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.clip_quantile = clip_quantile
        self.numeric_transform = numeric_transform
        self.magnitude_weight = magnitude_weight
        self.error_knee = error_knee
        self.latent_weight = latent_weight
        self.activation = activation
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads

    # --- parameters ---------------------------------------------------------------------------
    def checked_params(self) -> dict[str, Any]:
        """The effective hyperparameters after defaults, or InvalidInput naming the bad one (what
        ``fit`` runs first; callers can check settings before any data is at hand). Values that
        depend on the data or the machine (``n_hidden``, ``batch_size``, ``n_threads`` when not
        given, the resolved ``device``) are completed in ``effective_params_`` by ``fit``."""

        def positive_int(name: str, value: Any) -> int:
            if value is None:
                return int(DEFAULTS[name])
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise InvalidInput(f"{name} must be a positive integer, got {value!r}", field=name)
            return int(value)

        def fraction(name: str, value: Any, low: float, high: float) -> float:
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value < high:
                raise InvalidInput(f"{name} must be a number in [{low}, {high}), got {value!r}", field=name)
            return float(value)

        learning_rate = DEFAULTS["learning_rate"] if self.learning_rate is None else self.learning_rate
        if (
            isinstance(learning_rate, bool)
            or not isinstance(learning_rate, int | float)
            or not math.isfinite(learning_rate)
            or not 0 < learning_rate <= 10
        ):
            raise InvalidInput(
                f"learning_rate must be a number in (0, 10], got {learning_rate!r}", field="learning_rate"
            )
        hidden = None
        if self.n_hidden is not None:
            hidden = list(self.n_hidden)
            if not hidden or any(
                isinstance(h, bool) or not isinstance(h, int | np.integer) or h < 1 for h in hidden
            ):
                raise InvalidInput(
                    f"n_hidden must be a non-empty list of positive integers, got {self.n_hidden!r}",
                    field="n_hidden",
                )
            hidden = [int(h) for h in hidden]
        if self.activation not in ACTIVATIONS:
            raise InvalidInput(
                f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}",
                field="activation",
            )
        if self.numeric_transform not in NUMERIC_TRANSFORMS:
            raise InvalidInput(
                f"numeric_transform must be one of {', '.join(NUMERIC_TRANSFORMS)}, "
                f"got {self.numeric_transform!r}",
                field="numeric_transform",
            )
        contamination = self.contamination
        if (
            isinstance(contamination, bool)
            or not isinstance(contamination, int | float)
            or not 0.0 < contamination <= 0.5
        ):
            raise InvalidInput(
                f"contamination must be in (0, 0.5], got {contamination!r}", field="contamination"
            )
        threads = None if self.n_threads is None else positive_int("n_threads", self.n_threads)
        knee = self.error_knee
        if knee is not None and (
            isinstance(knee, bool) or not isinstance(knee, int | float) or not 0 < knee < math.inf
        ):
            raise InvalidInput(
                f"error_knee must be a positive number or None (errors counted linearly), got {knee!r}",
                field="error_knee",
            )
        return {
            "columns": None if self.columns is None else [str(c) for c in self.columns],
            "categorical": None if self.categorical is None else [str(c) for c in self.categorical],
            "vocab_size": positive_int("vocab_size", self.vocab_size),
            "n_hidden": hidden,
            "n_estimators": positive_int("n_estimators", self.n_estimators),
            "epochs": positive_int("epochs", self.epochs),
            "batch_size": None if self.batch_size is None else positive_int("batch_size", self.batch_size),
            "learning_rate": float(learning_rate),
            "contamination": float(contamination),
            "validation_fraction": fraction("validation_fraction", self.validation_fraction, 0.0, 0.5),
            "patience": positive_int("patience", self.patience),
            "clip_quantile": fraction("clip_quantile", self.clip_quantile, 0.0, 0.5),
            "numeric_transform": str(self.numeric_transform),
            "magnitude_weight": fraction("magnitude_weight", self.magnitude_weight, 0.0, 100.0),
            "error_knee": None if knee is None else float(knee),
            "latent_weight": fraction("latent_weight", self.latent_weight, 0.0, 100.0),
            "activation": str(self.activation),
            "weight_decay": fraction("weight_decay", self.weight_decay, 0.0, 1.0),
            "random_state": None if self.random_state is None else int(self.random_state),
            "device": str(self.device),
            "n_threads": threads,
        }

    @staticmethod
    def default_hidden(n_columns: int) -> list[int]:
        """Encoder widths for a table of ``n_columns`` columns: a first layer twice as wide, then a
        bottleneck of a quarter of the columns (2 to 32), so the network cannot learn the identity
        and must capture how columns relate."""
        return [int(min(256, max(16, 2 * n_columns))), int(max(2, min(32, n_columns // 4)))]

    # --- fitting ------------------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        callback: EpochCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> Self:
        """Learn the column encoders and the networks from ``X`` (labels ``y`` are ignored).

        ``X`` is a table (DataFrame, 2-D array, records) or data larger than memory: a CSV path,
        an iterable of DataFrames, or a zero-argument callable returning a fresh iterator of them
        (e.g. ``functools.partial(iter_csv_chunks, path, delimiter=";")``). Larger data is read
        twice, for the encoders' statistics (bounded-memory sketches) and to encode it into
        temporary files that training reads in shuffled blocks; memory stays bounded either way.

        ``callback`` is called after every epoch; ``should_stop`` before every batch and between
        chunks (see :data:`StopCheck`), so a stop request ends training within one batch."""
        params = self.checked_params()
        rng = np.random.default_rng(params["random_state"])
        stream = FrameStream(X)
        rows: EncodedRows | None = None
        try:
            encoder, statistics = self._fit_encoder(stream, params, should_stop)
            n = statistics.rows
            n_val = min(round(n * params["validation_fraction"]), MAX_VALIDATION_ROWS) if n >= 20 else 0
            validation = np.zeros(n, dtype=bool)
            validation[rng.permutation(n)[:n_val]] = True
            rows = self._encode_rows(stream, encoder, validation, should_stop)
            self._fit_network(encoder, statistics, rows, params, rng, callback, should_stop)
        finally:
            if rows is not None:
                rows.close()
            stream.close()
        self._process_decision_scores()
        return self

    def _fit_encoder(
        self, stream: FrameStream, params: dict[str, Any], should_stop: StopCheck | None
    ) -> tuple[TabularEncoder, TableStatistics]:
        """First pass: the columns' kinds (from the first chunk) and their statistics."""
        encoder: TabularEncoder | None = None
        statistics: TableStatistics | None = None
        for chunk in stream:
            _poll(should_stop)
            if encoder is None:
                self.n_features_in_ = chunk.shape[1]
                specs = infer_column_specs(chunk, params["columns"], params["categorical"])
                encoder = TabularEncoder(specs, params["vocab_size"], params["numeric_transform"])
                statistics = TableStatistics(encoder)
            assert statistics is not None
            statistics.update(select_columns(chunk, [s.name for s in encoder.specs]))
        rows = statistics.rows if statistics is not None else 0
        if encoder is None or statistics is None or rows < 2:
            raise InvalidInput(f"training needs at least 2 rows, got {rows} sample(s)", field="X")
        return encoder.fit_statistics(statistics), statistics

    def _encode_rows(
        self,
        stream: FrameStream,
        encoder: TabularEncoder,
        validation: np.ndarray,
        should_stop: StopCheck | None,
    ) -> EncodedRows:
        """Second pass: every row encoded, in memory when small enough, else in temporary files."""
        row_bytes = 8 * len(encoder.numeric_names) + 8 * len(encoder.categorical_names)
        rows = EncodedRows(
            len(encoder.numeric_names),
            len(encoder.categorical_names),
            in_memory=len(validation) * row_bytes <= IN_MEMORY_BYTES,
        )
        try:
            names = [s.name for s in encoder.specs]
            for chunk in stream:
                frame = select_columns(chunk, names)
                for start in range(0, len(frame), SCORE_CHUNK_ROWS):
                    _poll(should_stop)
                    part = frame.iloc[start : start + SCORE_CHUNK_ROWS]
                    done = rows.rows
                    if done + len(part) > len(validation):
                        break
                    rows.append(encoder.transform(part), validation[done : done + len(part)])
            if rows.rows != len(validation):
                raise InvalidInput(
                    f"the training data gave {len(validation)} rows on its first reading and "
                    f"{rows.rows} on its second; an iterable or callable must give the same rows "
                    "each time it is read",
                    field="X",
                )
            rows.finish()
        except BaseException:
            rows.close()
            raise
        return rows

    def _fit_network(
        self,
        encoder: TabularEncoder,
        statistics: TableStatistics,
        rows: EncodedRows,
        params: dict[str, Any],
        rng: np.random.Generator,
        callback: EpochCallback | None,
        should_stop: StopCheck | None,
    ) -> None:
        """Build and train the networks on ``rows``, then score the training rows."""
        specs = encoder.specs
        hidden = params["n_hidden"] or self.default_hidden(len(specs))
        device = _resolve_device(params["device"])
        members = params["n_estimators"]
        seed = int(rng.integers(2**31 - 1))
        flagged = [j for j, sketch in enumerate(statistics.numeric) if sketch.count < statistics.rows]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = EnsembleAutoEncoder(
                len(encoder.numeric_names),
                encoder.cardinalities,
                hidden,
                params["activation"],
                members,
                flagged=flagged,
                missing_penalty=math.log(statistics.rows + 2.0),
            )
        net.to(device)
        threads = params["n_threads"] or auto_threads(_macs_per_row(net.n_input, hidden, members))
        batch = params["batch_size"] or default_batch_size(rows.n_train)
        self.effective_params_ = {
            **params,
            "batch_size": batch,
            "device": str(device),
            "columns": [s.name for s in specs],
            "categorical": list(encoder.categorical_names),
            "n_hidden": hidden,
            "n_threads": threads,
        }
        self.device_ = device
        self.encoder_ = encoder
        self.network_ = net
        self.numeric_error_ = NUMERIC_ERROR
        self.n_hidden_ = hidden
        self.clip_low_, self.clip_high_ = _clip_bounds(encoder, statistics, params["clip_quantile"])
        n = rows.rows
        with torch_threads(threads):
            validation = rows.validation()
            val_t = _to_tensors(validation, device) if len(validation) else None
            history, best_epoch = self._train(
                net, rows, val_t, self.effective_params_, rng, callback, should_stop
            )
            self.history_ = history
            self.best_epoch_ = best_epoch
            self.n_epochs_ = len(history["train_loss"])
            self.n_samples_ = n
            # two passes in chunks, so memory stays bounded: column means and the latent
            # reference first, then the scores
            positions = latent.reference_positions(n, rng) if params["latent_weight"] else None
            self.latent_reference_ = None  # the first pass measures without the latent part
            recon_sum = np.zeros((members, len(specs)))
            magnitude_sum = np.zeros((members, len(specs)))
            reference: list[torch.Tensor] = []
            done = 0
            for table in rows.in_order(self._score_chunk_rows()):
                if should_stop is not None:
                    should_stop()  # may raise to abort; a True here cannot stop what must finish
                recon, magnitude, _, code = self._chunk_terms(_to_tensors(table, device))
                recon_sum += recon.sum(axis=1)
                magnitude_sum += magnitude.sum(axis=1)
                if positions is not None:
                    mine = positions[(positions >= done) & (positions < done + len(table))] - done
                    reference.append(code[:, torch.from_numpy(mine)])
                done += len(table)
            self.column_scale_ = np.maximum(recon_sum / n, 1e-6)
            self.magnitude_scale_ = np.maximum(magnitude_sum / n, 1e-6)
            own = None
            if positions is not None:
                self.latent_reference_ = torch.cat(reference, dim=1)
                self.latent_scale_ = latent.training_scale(self.latent_reference_)
                own = np.full(n, -1)
                own[positions] = np.arange(len(positions))
            self.decision_scores_ = self._row_scores(rows.in_order(self._score_chunk_rows()), own)

    def _train(
        self,
        net: EnsembleAutoEncoder,
        rows: EncodedRows,
        val_t: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None,
        params: dict[str, Any],
        rng: np.random.Generator,
        callback: EpochCallback | None,
        should_stop: StopCheck | None,
    ) -> tuple[dict[str, list[float]], int]:
        """Mini-batch Adam over every training row each epoch, early stopping on the validation
        loss; leaves ``net`` with its best weights, in eval mode. Returns (history, best epoch)."""
        history: dict[str, list[float]] = {"train_loss": [], "val_loss": []}
        best_loss, best_state, best_epoch, stale = math.inf, None, 0, 0
        plateau_best, plateau_bad = math.inf, 0
        batch = params["batch_size"]
        tolerance = min_improvement(math.ceil(rows.n_train / batch))
        stopped = False
        with FlatAdam(net, lr=params["learning_rate"], weight_decay=params["weight_decay"]) as optimiser:
            for epoch in range(1, params["epochs"] + 1):
                net.train()
                total, seen = torch.zeros(()), 0
                for group in rows.shuffled(rng):
                    num, miss, codes = _to_tensors(group, self.device_)
                    inputs = self._clip(num)
                    for start in range(0, len(group), batch):
                        if should_stop is not None and should_stop():
                            stopped = True
                            break
                        end = start + batch
                        b_num, b_miss, b_codes = num[start:end], miss[start:end], codes[start:end]
                        loss = net.training_loss(
                            net(inputs[start:end], b_miss, b_codes), b_num, b_miss, b_codes
                        )
                        optimiser.zero_grad()
                        loss.backward()
                        optimiser.step()
                        total += loss.detach() * len(b_num)
                        seen += len(b_num)
                    if stopped:
                        break
                if seen == 0:
                    break
                train_loss = float(total) / seen / net.n_members
                val_loss = self._validation_loss(net, val_t) if val_t is not None else None
                history["train_loss"].append(train_loss)
                if val_loss is not None:
                    history["val_loss"].append(val_loss)
                if callback is not None:
                    callback(epoch, params["epochs"], train_loss, val_loss)
                monitored = val_loss if val_loss is not None else train_loss
                # halve the step size when the monitored loss stalls (as torch's ReduceLROnPlateau)
                if monitored < plateau_best * (1.0 - PLATEAU_THRESHOLD):
                    plateau_best, plateau_bad = monitored, 0
                else:
                    plateau_bad += 1
                    if plateau_bad > LR_PATIENCE_EPOCHS:
                        optimiser.lr *= 0.5
                        plateau_bad = 0
                if best_state is None or monitored < best_loss * (1.0 - tolerance):
                    best_loss, best_epoch, stale = monitored, epoch, 0
                    best_state = optimiser.flat.clone()
                else:
                    stale += 1
                    if val_loss is not None and stale >= params["patience"]:
                        break
                if stopped:
                    break
            if best_state is not None:
                optimiser.flat.copy_(best_state)
        net.eval()
        return history, best_epoch

    def _validation_loss(
        self, net: EnsembleAutoEncoder, val_t: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    ) -> float:
        net.eval()
        num, miss, codes = val_t
        with torch.no_grad():
            out = net(self._clip(num), miss, codes)
            return float(net.column_errors(out, num, miss, codes).mean())

    # --- scoring ------------------------------------------------------------------------------
    @property
    def columns_(self) -> list[str]:
        return [s.name for s in self._fitted_encoder().specs]

    @property
    def column_kinds_(self) -> dict[str, str]:
        return {s.name: s.kind.value for s in self._fitted_encoder().specs}

    @property
    def n_input_(self) -> int:
        return self._fitted_encoder().n_input

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly score of each row: the sum of its per-column parts (see :meth:`explain`)."""
        with self._scoring_threads():
            return self._row_scores(self._encoded_chunks(X))

    def explain(self, X: Any) -> pd.DataFrame:
        """Each original column's part of each row's score (rows sum to the score). A column's
        error (for a numeric column the absolute difference from its reconstruction in robust
        units) is divided by its mean error on the training data, so 1.0 is a typical value."""
        frame = as_frame(X)
        return pd.DataFrame(self.contributions(frame), columns=self.columns_, index=frame.index)

    def contributions(self, X: Any) -> np.ndarray:
        """:meth:`explain` as an array (rows × :attr:`columns_`), without building a frame: each
        row sums to its :meth:`decision_function` score. A caller that needs scores and reasons
        together (a service logging what it scored) gets both from one pass."""
        with self._scoring_threads():
            parts = [self._combine(*terms) for terms in self._term_chunks(self._encoded_chunks(X))]
        return _stack(parts, len(self.columns_))

    def score(self, X: Any, y: Any = None) -> ScoreResult:
        """Scores, labels, similarity and per-column contributions in one pass over ``X``
        (``y`` is ignored; unlike scikit-learn's ``score`` this is not a single metric)."""
        threshold = self._fitted_threshold()
        parts: list[np.ndarray] = []
        sims: list[np.ndarray] = []
        with self._scoring_threads():
            for table in self._encoded_chunks(X):
                t = _to_tensors(table, self.device_)
                recon, magnitude, out, code = self._chunk_terms(t)
                parts.append(self._combine(recon, magnitude, self._latent_part(code)))
                with torch.no_grad():
                    sims.append(self._similarity(out, t))
        contributions = _stack(parts, len(self.columns_))
        scores = contributions.sum(axis=1)
        return ScoreResult(
            scores=scores,
            labels=(scores > threshold).astype(np.int64),
            threshold=threshold,
            similarity=np.concatenate(sims) if sims else np.empty(0),
            contributions=contributions,
            columns=self.columns_,
        )

    def similarity(self, X: Any) -> np.ndarray:
        """Cosine similarity of each encoded row and its (ensemble mean) reconstruction
        (higher = more normal)."""
        sims = []
        with self._scoring_threads():
            for table in self._encoded_chunks(X):
                t = _to_tensors(table, self.device_)
                with torch.no_grad():
                    sims.append(self._similarity(self._forward(t), t))
        return np.concatenate(sims) if sims else np.empty(0)

    def encode(self, X: Any, all_members: bool = False) -> np.ndarray:
        """The bottleneck code of each row, shape (n_rows, n_hidden[-1]): that of the ensemble's
        first autoencoder (members' codes are not aligned, so they cannot be averaged). With
        ``all_members``, every member's code side by side: (n_rows, n_estimators * n_hidden[-1])."""
        codes = []
        with self._scoring_threads():
            for table in self._encoded_chunks(X):
                num, miss, cat = _to_tensors(table, self.device_)
                with torch.no_grad():
                    code = self.network_.encode(self._clip(num), miss, cat)
                if not all_members:
                    code = code[:1]
                codes.append(code.transpose(0, 1).reshape(len(table), -1).cpu().numpy())
        width = (self.network_.n_members if all_members else 1) * self.n_hidden_[-1]
        return np.concatenate(codes) if codes else np.empty((0, width), dtype=np.float32)

    def reconstruct_vector(self, X: Any) -> np.ndarray:
        """The ensemble's mean reconstruction of each row in encoded space, shape (n_rows, n_input_)."""
        vectors = []
        with self._scoring_threads():
            for table in self._encoded_chunks(X):
                t = _to_tensors(table, self.device_)
                with torch.no_grad():
                    vectors.append(self.network_.reconstruction_vector(self._forward(t)).cpu().numpy())
        return np.concatenate(vectors) if vectors else np.empty((0, self.n_input_), dtype=np.float32)

    def reconstruct(self, X: Any) -> pd.DataFrame:
        """The reconstruction in the original columns: numbers in original units, categories as
        their labels (``"<other>"`` for the other/unseen bucket, None for missing)."""
        records = as_records(X)  # a few rows as mappings keep the fast path (no DataFrame)
        frame = as_frame(X) if records is None else None
        vectors = self.reconstruct_vector(records if frame is None else frame)
        encoder = self._fitted_encoder()
        n_num = len(encoder.numeric_names)
        probs, start = [], 2 * n_num
        for card in encoder.cardinalities:
            probs.append(vectors[:, start : start + card])
            start += card
        index = None if frame is None else frame.index
        return encoder.decode(vectors[:, :n_num].astype(np.float64), probs, index=index)

    # --- persistence (the files are written by aedetect.artifacts) ----------------------------
    def get_fitted_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """Everything learned, as a JSON-serialisable description and named tensors (weights and
        training scores); :meth:`from_fitted_state` rebuilds the detector from the two."""
        encoder = self._fitted_encoder()
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.network_.state_dict().items()}
        tensors[TRAINING_SCORES] = torch.as_tensor(np.asarray(self.decision_scores_, dtype=np.float64))
        if self.latent_reference_ is not None:
            tensors[LATENT_REFERENCE] = self.latent_reference_.detach().cpu().contiguous()
        fitted = {
            "encoder": encoder.to_state(),
            "effective_params": self.effective_params_,
            "n_hidden": self.n_hidden_,
            "n_members": self.network_.n_members,
            "flagged": self.network_.flagged,
            "missing_penalty": self.network_.missing_penalty,
            "clip_low": [float(v) for v in self.clip_low_],
            "clip_high": [float(v) for v in self.clip_high_],
            "numeric_error": self.numeric_error_,
            "column_scale": self.column_scale_.tolist(),
            "magnitude_scale": self.magnitude_scale_.tolist(),
            "latent_scale": None if self.latent_reference_ is None else self.latent_scale_.tolist(),
            "threshold": float(self.threshold_),
            "history": self.history_,
            "best_epoch": self.best_epoch_,
            "n_epochs": self.n_epochs_,
            "n_samples": self.n_samples_,
            "n_features_in": self.n_features_in_,
        }
        return fitted, tensors

    @classmethod
    def from_fitted_state(
        cls,
        params: dict[str, Any],
        fitted: dict[str, Any],
        tensors: dict[str, torch.Tensor],
        device: str = "auto",
    ) -> AutoEncoderDetector:
        """The detector described by :meth:`get_fitted_state`'s output, on ``device``; raises
        ValueError or KeyError when the parts do not fit together (the caller reports the file)."""
        detector = cls(**{**params, "device": device})
        encoder = TabularEncoder.from_state(fitted["encoder"])
        detector.device_ = _resolve_device(device)
        hidden = [int(h) for h in fitted["n_hidden"]]
        effective = dict(fitted["effective_params"])
        net = EnsembleAutoEncoder(
            len(encoder.numeric_names),
            encoder.cardinalities,
            hidden,
            effective["activation"],
            int(fitted["n_members"]),
            flagged=[int(j) for j in fitted["flagged"]],
            missing_penalty=float(fitted["missing_penalty"]),
        )
        weights = dict(tensors)
        scores = weights.pop(TRAINING_SCORES, None)
        reference = weights.pop(LATENT_REFERENCE, None)
        try:
            net.load_state_dict(weights, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"the weights do not match the described network: {exc}") from exc
        net.to(detector.device_).eval()
        detector.encoder_ = encoder
        detector.n_features_in_ = int(fitted["n_features_in"])
        detector.network_ = net
        # models written before scores measured numeric errors in robust units (format 2)
        detector.numeric_error_ = str(fitted.get("numeric_error", "squared"))
        if detector.numeric_error_ not in (NUMERIC_ERROR, "squared"):
            raise ValueError(f"unknown numeric_error {detector.numeric_error_!r}")
        detector.n_hidden_ = hidden
        # models written before the knee (format 3 and older) count column errors linearly
        effective.setdefault("error_knee", None)
        detector.error_knee = effective["error_knee"]
        # models written before the latent part (format 4 and older) score without it
        effective.setdefault("latent_weight", 0.0)
        detector.latent_weight = effective["latent_weight"]
        detector.latent_reference_ = None
        if fitted.get("latent_scale") is not None:
            if reference is None:
                raise ValueError(f"the latent scale is saved without its reference {LATENT_REFERENCE}")
            detector.latent_scale_ = np.asarray(fitted["latent_scale"], dtype=np.float64)
            if reference.shape[0] != net.n_members or len(detector.latent_scale_) != net.n_members:
                raise ValueError("the latent reference does not have one part per member")
            detector.latent_reference_ = reference.float().to(detector.device_)
        elif reference is not None and "latent_scale" in fitted:
            raise ValueError(f"the tensor {LATENT_REFERENCE} is saved without its latent scale")
        detector.effective_params_ = effective
        detector.clip_low_ = np.asarray(fitted["clip_low"], dtype=np.float32)
        detector.clip_high_ = np.asarray(fitted["clip_high"], dtype=np.float32)
        detector.column_scale_ = np.asarray(fitted["column_scale"], dtype=np.float64)
        detector.magnitude_scale_ = np.asarray(fitted["magnitude_scale"], dtype=np.float64)
        detector.history_ = fitted["history"]
        detector.best_epoch_ = fitted["best_epoch"]
        detector.n_epochs_ = fitted["n_epochs"]
        detector.n_samples_ = fitted["n_samples"]
        detector.decision_scores_ = scores.numpy() if scores is not None else np.empty(0)
        detector.threshold_ = float(fitted["threshold"])
        detector.labels_ = (detector.decision_scores_ > detector.threshold_).astype(np.int64)
        return detector

    # --- internals ----------------------------------------------------------------------------
    def _fitted_encoder(self) -> TabularEncoder:
        encoder = self.__dict__.get("encoder_")
        if encoder is None:
            raise NotFitted("this AutoEncoderDetector is not fitted yet: call fit() first")
        return encoder

    def _scoring_threads(self) -> Any:
        """Threads for scoring: ``n_threads`` as set now (it may differ from training's), else
        the choice for the network's size."""
        self._fitted_encoder()
        if self.n_threads is not None:
            return torch_threads(int(self.checked_params()["n_threads"]))
        macs = _macs_per_row(self.network_.n_input, self.n_hidden_, self.network_.n_members)
        return torch_threads(auto_threads(macs))

    def _encoded_chunks(self, X: Any) -> Iterator[EncodedTable]:
        encoder = self._fitted_encoder()
        records = as_records(X)
        if records is not None and len(records) <= RECORDS_FAST_PATH_ROWS:
            check_record_columns(records, self.columns_)
            yield encoder.transform_records(records)
            return
        frame = as_frame(X)
        if records is None and not isinstance(X, pd.DataFrame) and frame.shape[1] != self.n_features_in_:
            raise InvalidInput(
                f"X has {frame.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input (the columns {', '.join(self.columns_)})",
                field="X",
            )
        frame = select_columns(frame, self.columns_)
        step = self._score_chunk_rows()
        for start in range(0, len(frame), step):
            yield encoder.transform(frame.iloc[start : start + step])

    def _score_chunk_rows(self) -> int:
        return max(1024, SCORE_CHUNK_ROWS // self.network_.n_members)

    def _clip(self, numeric: torch.Tensor) -> torch.Tensor:
        lo = torch.as_tensor(self.clip_low_, device=numeric.device)
        hi = torch.as_tensor(self.clip_high_, device=numeric.device)
        return torch.clamp(numeric, lo, hi)

    def _forward(self, t: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        num, miss, codes = t
        return self.network_(self._clip(num), miss, codes)

    def _to_model_order(self, values: np.ndarray) -> np.ndarray:
        """Reorder network columns (numeric first, then categorical) into model column order
        (the last axis)."""
        encoder = self._fitted_encoder()
        network_order = encoder.numeric_names + encoder.categorical_names
        if network_order == [s.name for s in encoder.specs]:
            return values
        position = {name: i for i, name in enumerate(network_order)}
        return values[..., [position[s.name] for s in encoder.specs]]

    def _term_chunks(
        self, tables: Iterator[EncodedTable], own: np.ndarray | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """Per chunk: the two per-column terms of :meth:`_chunk_terms` and the latent part of each
        row (None when the model has none). ``own`` (training rows only): each row's position in
        the latent reference, -1 for none, so a training row is not its own neighbour."""
        done = 0
        for table in tables:
            recon, magnitude, _, code = self._chunk_terms(_to_tensors(table, self.device_))
            mine = None if own is None else own[done : done + len(table)]
            done += len(table)
            yield recon, magnitude, self._latent_part(code, mine)

    def _chunk_terms(
        self, t: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    ) -> tuple[np.ndarray, np.ndarray, Outputs, torch.Tensor]:
        """One chunk's pass through the networks: per member, row and column in model order
        (E, B, C) the reconstruction error and the magnitude of the reconstruction (squared scaled
        value of a numeric column; 0 for a categorical one); the outputs; the codes (E, B, width)."""
        num, miss, codes = t
        with torch.no_grad():
            out, code = self.network_.forward_and_encode(self._clip(num), miss, codes)
            errors = self._column_errors(out, t)
        recon, magnitude = self._terms(errors, out[0])
        return recon, magnitude, out, code

    def _latent_part(self, code: torch.Tensor, own: np.ndarray | None = None) -> np.ndarray | None:
        """Each row's latent distance (B,): per member over its training mean, averaged over the
        members; None when the weight is 0 or the model has no reference (older models)."""
        reference = getattr(self, "latent_reference_", None)
        if reference is None or not self.effective_params_.get("latent_weight"):
            return None
        with torch.no_grad():
            distances = latent.neighbour_distances(code, reference, own).double().cpu().numpy()
        return (distances / self.latent_scale_[:, None]).mean(axis=0)

    def _column_errors(
        self, out: Outputs, t: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """Per member, row and network column (E, B, C), the errors scoring uses: a present
        numeric value's is its absolute difference from the reconstruction in robust units
        (:meth:`TabularEncoder.robust_units`).

        Measured on the ADBench suites (BENCHMARKS.md): extreme values, which the ``asinh``
        transform compresses for training, count again by how far out they lie, and the absolute
        difference keeps one huge error from drowning the other columns as a square would. Models
        saved before this rule (``numeric_error_ == "squared"``) keep the squared error in the
        network's units, so their scores and thresholds stay as they were."""
        if self.numeric_error_ == "squared":
            return self.network_.column_errors(out, *t)
        value, target = out[0], t[0]
        if self._fitted_encoder().transform_name == "asinh":
            # TabularEncoder.robust_units in torch: float32 sinh there is several times faster
            # than numpy's, and +-88 keeps it finite (float32 sinh overflows past 89.4)
            difference = torch.sinh(value.clamp(-88.0, 88.0)) - torch.sinh(target.clamp(-88.0, 88.0))
        else:
            difference = self._robust_units(value) - self._robust_units(target)
        return self.network_.column_errors(out, *t, numeric_error=difference.abs())

    def _robust_units(self, scaled: torch.Tensor) -> torch.Tensor:
        robust = self._fitted_encoder().robust_units(scaled.cpu().numpy())
        return torch.as_tensor(robust, dtype=scaled.dtype, device=scaled.device)

    def _row_scores(self, tables: Iterator[EncodedTable], own: np.ndarray | None = None) -> np.ndarray:
        sums = [self._combine(*terms).sum(axis=1) for terms in self._term_chunks(tables, own)]
        return np.concatenate(sums) if sums else np.empty(0)

    def _terms(self, errors: torch.Tensor, values: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        n_cat = errors.shape[2] - values.shape[2]
        values64 = values.cpu().numpy().astype(np.float64)
        magnitude = np.concatenate([values64**2, np.zeros((*values64.shape[:2], n_cat))], axis=2)
        return (
            self._to_model_order(errors.cpu().numpy().astype(np.float64)),
            self._to_model_order(magnitude),
        )

    def _combine(
        self, recon: np.ndarray, magnitude: np.ndarray, latent_part: np.ndarray | None = None
    ) -> np.ndarray:
        """Per-column score parts (B, C): the members' mean reconstruction error relative to its
        training mean, past ``error_knee`` counted logarithmically, plus ``magnitude_weight``
        times the members' mean of how extreme the reconstruction is relative to training, plus
        ``latent_weight`` times the row's latent distance (the same in every column).

        The first finds rows off the structure the networks learned; the second rows that sit on
        it but far out along it (as in PCA's residual plus T-squared statistics); the third rows
        the networks map far from the training rows. The knee bends only the first: an extreme
        value still counts in full through the second."""
        weight = float(self.effective_params_["magnitude_weight"])
        knee = self.effective_params_["error_knee"]
        parts = (recon / self.column_scale_[:, None, :]).mean(axis=0)
        if knee is not None:  # knee * log1p(parts / knee), in place: parts is this call's own array
            parts /= knee
            np.log1p(parts, out=parts)
            parts *= knee
        if weight:
            parts = parts + weight * (magnitude / self.magnitude_scale_[:, None, :]).mean(axis=0)
        if latent_part is not None:
            parts = parts + float(self.effective_params_["latent_weight"]) * latent_part[:, None]
        return np.asarray(parts)

    def _similarity(self, out: tuple[torch.Tensor, ...], t: tuple[torch.Tensor, ...]) -> np.ndarray:
        net = self.network_
        x = net.input_vector(*t)
        r = net.reconstruction_vector(out)  # type: ignore[arg-type]
        return torch.nn.functional.cosine_similarity(x, r, dim=1, eps=1e-12).cpu().numpy().astype(np.float64)


TRAINING_SCORES = "__training_scores__"
"""Name of the training scores among the fitted tensors."""

LATENT_REFERENCE = "__latent_reference__"
"""Name of the latent reference codes (members, rows, code width) among the fitted tensors."""


def _macs_per_row(n_input: int, hidden: list[int], members: int) -> int:
    """Multiply-adds of one row's forward pass through all members."""
    sizes = [n_input, *hidden, *reversed(hidden[:-1]), n_input]
    return members * sum(a * b for a, b in pairwise(sizes))


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise InvalidInput(
            f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}", field="device"
        ) from exc


def _clip_bounds(
    encoder: TabularEncoder, statistics: TableStatistics, q: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per numeric column, the training range between quantiles ``q`` and ``1 - q`` in scaled
    units, over present values only (``q`` = 0: the training minimum and maximum). The scaling
    is monotone, so the scaled quantile is the quantile's scaled value."""
    width = len(encoder.numeric_names)
    raw_lo, raw_hi = np.zeros(width), np.zeros(width)
    for j, sketch in enumerate(statistics.numeric):
        if sketch.count:
            raw_lo[j], raw_hi[j] = sketch.quantile([q, 1.0 - q])
        else:  # never present: the scaled value of a missing cell is 0
            raw_lo[j] = raw_hi[j] = encoder.center[j]
    lo, hi = encoder.scale_numeric(np.vstack([raw_lo, raw_hi]))
    return lo.astype(np.float32), hi.astype(np.float32)


def _poll(should_stop: StopCheck | None) -> None:
    """Between chunks of the passes over the data, before any learning: a stop request there
    leaves nothing to keep, so it aborts ``fit``."""
    if should_stop is not None and should_stop():
        raise NotFitted("training was stopped while reading the data: the detector is not fitted")


def _to_tensors(table: EncodedTable, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (
        torch.as_tensor(table.numeric, device=device),
        torch.as_tensor(table.missing, device=device),
        torch.as_tensor(table.codes, device=device),
    )


def _stack(parts: list[np.ndarray], width: int) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty((0, width))


__all__ = ["AutoEncoderDetector", "ColumnKind", "EpochCallback", "StopCheck"]
