"""AutoEncoderDetector: an autoencoder anomaly detector for mixed numeric/categorical tables."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
import torch
from torch import nn

from aedetect.data.encoding import EncodedTable, TabularEncoder
from aedetect.data.schema import (
    as_frame,
    as_records,
    check_record_columns,
    infer_column_specs,
    select_columns,
)
from aedetect.detectors.base import BaseDetector
from aedetect.detectors.network import ACTIVATIONS, AutoEncoderNet
from aedetect.domain import ColumnKind, ScoreResult
from aedetect.errors import InvalidInput, NotFitted

EpochCallback = Callable[[int, int, float, float | None], None]
"""Called after each epoch with (epoch, max_epochs, train_loss, validation_loss)."""

StopCheck = Callable[[], bool]
"""Polled before every training batch. True ends the epochs there (the best weights so far are
kept and the training rows are still scored); raising aborts ``fit`` with that exception, so a
stop request ends training within one batch rather than one epoch."""

SCORE_CHUNK_ROWS = 32768
"""Rows encoded and scored at a time, so memory stays bounded for any input size."""

LR_PATIENCE_EPOCHS = 10
"""Epochs without improvement before the learning rate is halved."""

RECORDS_FAST_PATH_ROWS = 256
"""Up to this many rows given as mappings are encoded directly, without building a DataFrame
(a single-row request spends most of its time in pandas otherwise)."""


class AutoEncoderDetector(BaseDetector):
    """Autoencoder anomaly detector: rows the network reconstructs badly score high.

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
    epochs : int, optional
        Maximum passes over the training rows (early stopping may end sooner). Default 100.
    batch_size : int, optional
        Rows per optimiser step; every row is used every epoch. Default 128.
    learning_rate : float, optional
        Adam step size, halved after 10 epochs without improvement. Default 1e-3.
    contamination : float, default 0.01
        Expected anomaly share of the training data; sets ``threshold_``.
    validation_fraction : float, default 0.1
        Held-out share of rows for early stopping (0 disables early stopping).
    patience : int, default 20
        Epochs without validation improvement before training stops.
    clip_quantile : float, default 0.0
        Numeric inputs are clipped to the training range between this quantile and its
        complement; the reconstruction target is not, so values outside the range learned in
        training raise the score even where the network could copy them through.
    numeric_transform : str, default "robust"
        "robust": (x - median) / IQR-based spread; "asinh": asinh of that, compressing heavy tails.
    magnitude_weight : float, default 0.3
        Weight of the second score part: how extreme each reconstructed numeric value is,
        relative to training (0 scores by reconstruction error alone).
    activation : str, default "relu"
        Hidden activation: relu, elu, tanh or gelu.
    weight_decay : float, default 0.0
        Adam weight decay.
    random_state : int, optional
        Seed for weights, validation split and shuffling: same seed, same model.
    device : str, default "auto"
        "auto" uses a CUDA GPU when present, else the CPU; or a torch device string.

    Attributes
    ----------
    columns_ : list of str
        The modelled columns, in order.
    column_kinds_ : dict
        Column name to "numeric" or "categorical".
    n_input_ : int
        Width of the encoded input vector.
    history_ : dict
        Per-epoch ``train_loss`` and ``val_loss`` lists.
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
        epochs: int | None = None,
        batch_size: int | None = None,
        learning_rate: float | None = None,
        contamination: float = 0.01,
        validation_fraction: float = 0.1,
        patience: int = 20,
        clip_quantile: float = 0.0,
        numeric_transform: str = "robust",
        magnitude_weight: float = 0.3,
        activation: str = "relu",
        weight_decay: float = 0.0,
        random_state: int | None = None,
        device: str = "auto",
    ) -> None:
        super().__init__(contamination=contamination)
        self.columns = columns
        self.categorical = categorical
        self.vocab_size = vocab_size
        self.n_hidden = n_hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.clip_quantile = clip_quantile
        self.numeric_transform = numeric_transform
        self.magnitude_weight = magnitude_weight
        self.activation = activation
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.device = device

    # --- parameters ---------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (JSON-serialisable)."""
        return {
            "columns": list(self.columns) if self.columns is not None else None,
            "categorical": list(self.categorical) if self.categorical is not None else None,
            "vocab_size": self.vocab_size,
            "n_hidden": list(self.n_hidden) if self.n_hidden is not None else None,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "contamination": self.contamination,
            "validation_fraction": self.validation_fraction,
            "patience": self.patience,
            "clip_quantile": self.clip_quantile,
            "numeric_transform": self.numeric_transform,
            "magnitude_weight": self.magnitude_weight,
            "activation": self.activation,
            "weight_decay": self.weight_decay,
            "random_state": self.random_state,
            "device": self.device,
        }

    def checked_params(self) -> dict[str, Any]:
        """The effective hyperparameters after defaults, or InvalidInput naming the bad one (what
        ``fit`` runs first; callers can check settings before any data is at hand)."""

        def positive_int(name: str, value: Any, default: int) -> int:
            if value is None:
                return default
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise InvalidInput(f"{name} must be a positive integer, got {value!r}", field=name)
            return int(value)

        def fraction(name: str, value: Any, low: float, high: float) -> float:
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value < high:
                raise InvalidInput(f"{name} must be a number in [{low}, {high}), got {value!r}", field=name)
            return float(value)

        learning_rate = 1e-3 if self.learning_rate is None else self.learning_rate
        if (
            isinstance(learning_rate, bool)
            or not isinstance(learning_rate, int | float)
            or not math.isfinite(learning_rate)
            or not 0 < learning_rate <= 10
        ):
            raise InvalidInput(
                f"learning_rate must be a number in (0, 10], got {learning_rate!r}", field="learning_rate"
            )
        if self.n_hidden is not None:
            hidden = list(self.n_hidden)
            if not hidden or any(
                isinstance(h, bool) or not isinstance(h, int | np.integer) or h < 1 for h in hidden
            ):
                raise InvalidInput(
                    f"n_hidden must be a non-empty list of positive integers, got {self.n_hidden!r}",
                    field="n_hidden",
                )
        if self.activation not in ACTIVATIONS:
            raise InvalidInput(
                f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}",
                field="activation",
            )
        if not 0.0 < float(self.contamination) <= 0.5:
            raise InvalidInput(
                f"contamination must be in (0, 0.5], got {self.contamination!r}", field="contamination"
            )
        return {
            "vocab_size": positive_int("vocab_size", self.vocab_size, 10),
            "epochs": positive_int("epochs", self.epochs, 100),
            "batch_size": positive_int("batch_size", self.batch_size, 128),
            "patience": positive_int("patience", self.patience, 20),
            "learning_rate": float(learning_rate),
            "validation_fraction": fraction("validation_fraction", self.validation_fraction, 0.0, 0.5),
            "clip_quantile": fraction("clip_quantile", self.clip_quantile, 0.0, 0.5),
            "weight_decay": fraction("weight_decay", self.weight_decay, 0.0, 1.0),
            "magnitude_weight": fraction("magnitude_weight", self.magnitude_weight, 0.0, 100.0),
        }

    @staticmethod
    def default_hidden(n_columns: int) -> list[int]:
        """Encoder widths for a table of ``n_columns`` columns: a first layer twice as wide, then a
        bottleneck of a quarter of the columns (2 to 32), so the network cannot learn the identity
        and must capture how columns relate. Chosen by measurement (see BENCHMARKS.md)."""
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
        """Learn the column encoders and the network from ``X`` (labels ``y`` are ignored).

        ``callback`` is called after every epoch, ``should_stop`` before every batch (see
        :data:`StopCheck`)."""
        params = self.checked_params()
        frame = as_frame(X)
        if len(frame) < 2:
            raise InvalidInput(f"training needs at least 2 rows, got {len(frame)}", field="X")
        specs = infer_column_specs(frame, self.columns, self.categorical)
        frame = select_columns(frame, [s.name for s in specs])
        encoder = TabularEncoder(specs, params["vocab_size"], self.numeric_transform).fit(frame)
        table = encoder.transform(frame)
        self.device_ = _resolve_device(self.device)
        hidden = list(self.n_hidden) if self.n_hidden is not None else self.default_hidden(len(specs))
        lo, hi = _clip_bounds(table, params["clip_quantile"])

        rng = np.random.default_rng(self.random_state)
        seed = int(rng.integers(2**31 - 1))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = AutoEncoderNet(len(encoder.numeric_names), encoder.cardinalities, hidden, self.activation)
        net.to(self.device_)

        n = len(table)
        n_val = round(n * params["validation_fraction"]) if n >= 20 else 0
        order = rng.permutation(n)
        val_idx, train_idx = np.sort(order[:n_val]), order[n_val:]
        train_t = _to_tensors(table.take(train_idx), self.device_)
        val_t = _to_tensors(table.take(val_idx), self.device_) if n_val else None
        lo_t = torch.as_tensor(lo, device=self.device_)
        hi_t = torch.as_tensor(hi, device=self.device_)

        history, best_epoch = self._train(
            net, train_t, val_t, (lo_t, hi_t), params, rng, callback, should_stop
        )

        self.encoder_ = encoder
        self.network_ = net
        self.n_hidden_ = hidden
        self.clip_low_ = lo
        self.clip_high_ = hi
        self.history_ = history
        self.best_epoch_ = best_epoch
        self.n_epochs_ = len(history["train_loss"])
        self.n_samples_ = n
        # two passes in chunks, so memory stays bounded: column means first, then the scores
        recon_sum, magnitude_sum = np.zeros(len(specs)), np.zeros(len(specs))
        for recon, magnitude in self._term_chunks(self._chunks_of(table)):
            recon_sum += recon.sum(axis=0)
            magnitude_sum += magnitude.sum(axis=0)
        self.column_scale_ = np.maximum(recon_sum / n, 1e-6)
        self.magnitude_scale_ = np.maximum(magnitude_sum / n, 1e-6)
        self.decision_scores_ = self._row_scores(self._chunks_of(table))
        self._process_decision_scores()
        return self

    def _train(
        self,
        net: AutoEncoderNet,
        train_t: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        val_t: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None,
        bounds: tuple[torch.Tensor, torch.Tensor],
        params: dict[str, Any],
        rng: np.random.Generator,
        callback: EpochCallback | None,
        should_stop: StopCheck | None = None,
    ) -> tuple[dict[str, list[float]], int]:
        """Mini-batch Adam over every training row each epoch, early stopping on the validation
        loss; leaves ``net`` with its best weights, in eval mode. Returns (history, best epoch)."""
        lo_t, hi_t = bounds
        n_train = len(train_t[0])
        optimiser = torch.optim.Adam(
            net.parameters(), lr=params["learning_rate"], weight_decay=params["weight_decay"]
        )
        # halve the step size when the monitored loss stalls: steadier minima, measured to help most
        # where anomalies are plentiful in the training data (NSL-KDD, all rows: 0.77 -> 0.84 AUC)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimiser, factor=0.5, patience=LR_PATIENCE_EPOCHS
        )
        history: dict[str, list[float]] = {"train_loss": [], "val_loss": []}
        best_loss, best_state, best_epoch, stale = math.inf, None, 0, 0
        batch = params["batch_size"]
        stopped = False
        for epoch in range(1, params["epochs"] + 1):
            net.train()
            perm = torch.as_tensor(rng.permutation(n_train), device=self.device_)
            total, seen = 0.0, 0
            for start in range(0, n_train, batch):
                if should_stop is not None and should_stop():
                    stopped = True
                    break
                idx = perm[start : start + batch]
                num, miss, codes = (t[idx] for t in train_t)
                out = net(torch.clamp(num, lo_t, hi_t), miss, codes)
                loss = net.column_errors(out, num, miss, codes).mean()
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * len(idx)
                seen += len(idx)
            if seen == 0:  # stopped before the epoch's first batch
                break
            train_loss = total / seen
            val_loss = float(self._errors(net, val_t, lo_t, hi_t).mean()) if val_t is not None else None
            history["train_loss"].append(train_loss)
            if val_loss is not None:
                history["val_loss"].append(val_loss)
            if callback is not None:
                callback(epoch, params["epochs"], train_loss, val_loss)
            monitored = val_loss if val_loss is not None else train_loss
            scheduler.step(monitored)
            if monitored < best_loss - 1e-6:
                best_loss, best_epoch, stale = monitored, epoch, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                stale += 1
                if val_loss is not None and stale >= params["patience"]:
                    break
            if stopped:
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()

        return history, best_epoch

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
        """Anomaly score of each row: the sum of its per-column errors (see :meth:`explain`)."""
        return self._row_scores(self._encoded_chunks(X))

    def explain(self, X: Any) -> pd.DataFrame:
        """Each original column's part of each row's score (rows sum to the score). A column's
        error is divided by its mean error on the training data, so 1.0 is a typical value."""
        frame = as_frame(X)
        return pd.DataFrame(self._contributions(frame), columns=self.columns_, index=frame.index)

    def score(self, X: Any) -> ScoreResult:
        """Scores, labels, similarity and per-column contributions in one pass over ``X``."""
        threshold = self._fitted_threshold()
        parts: list[np.ndarray] = []
        sims: list[np.ndarray] = []
        for table in self._encoded_chunks(X):
            t = _to_tensors(table, self.device_)
            with torch.no_grad():
                out = self._forward(t)
                parts.append(self._combine(*self._terms(self.network_.column_errors(out, *t), out[0])))
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
        """Cosine similarity of each encoded row and its reconstruction (higher = more normal)."""
        sims = []
        for table in self._encoded_chunks(X):
            t = _to_tensors(table, self.device_)
            with torch.no_grad():
                sims.append(self._similarity(self._forward(t), t))
        return np.concatenate(sims) if sims else np.empty(0)

    def encode(self, X: Any) -> np.ndarray:
        """The bottleneck code of each row, shape (n_rows, n_hidden[-1])."""
        codes = []
        for table in self._encoded_chunks(X):
            num, miss, cat = _to_tensors(table, self.device_)
            with torch.no_grad():
                codes.append(self.network_.encode(self._clip(num), miss, cat).cpu().numpy())
        return np.concatenate(codes) if codes else np.empty((0, self.n_hidden_[-1]), dtype=np.float32)

    def reconstruct_vector(self, X: Any) -> np.ndarray:
        """The reconstruction of each row in encoded space, shape (n_rows, n_input_)."""
        vectors = []
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

    def save(self, path: str | Any) -> None:
        """Write the fitted detector to directory ``path`` (see :mod:`aedetect.artifacts`)."""
        from aedetect.artifacts import save_detector  # the artifact format builds on this class

        save_detector(self, path)

    # --- internals ----------------------------------------------------------------------------
    def _fitted_encoder(self) -> TabularEncoder:
        encoder = getattr(self, "encoder_", None)
        if encoder is None:
            raise NotFitted("this AutoEncoderDetector is not fitted yet: call fit() first")
        return encoder

    def _encoded_chunks(self, X: Any) -> Iterator[EncodedTable]:
        encoder = self._fitted_encoder()
        records = as_records(X)
        if records is not None and len(records) <= RECORDS_FAST_PATH_ROWS:
            check_record_columns(records, self.columns_)
            yield encoder.transform_records(records)
            return
        frame = select_columns(as_frame(X), self.columns_)
        for start in range(0, len(frame), SCORE_CHUNK_ROWS):
            yield encoder.transform(frame.iloc[start : start + SCORE_CHUNK_ROWS])

    def _clip(self, numeric: torch.Tensor) -> torch.Tensor:
        lo = torch.as_tensor(self.clip_low_, device=numeric.device)
        hi = torch.as_tensor(self.clip_high_, device=numeric.device)
        return torch.clamp(numeric, lo, hi)

    def _forward(self, t: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        num, miss, codes = t
        return self.network_(self._clip(num), miss, codes)

    def _to_model_order(self, values: np.ndarray) -> np.ndarray:
        """Reorder network columns (numeric first, then categorical) into model column order."""
        encoder = self._fitted_encoder()
        network_order = encoder.numeric_names + encoder.categorical_names
        position = {name: i for i, name in enumerate(network_order)}
        return values[:, [position[s.name] for s in encoder.specs]]

    def _chunks_of(self, table: EncodedTable) -> Iterator[EncodedTable]:
        for start in range(0, len(table), SCORE_CHUNK_ROWS):
            yield table.take(slice(start, start + SCORE_CHUNK_ROWS))

    def _term_chunks(self, tables: Iterator[EncodedTable]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Per chunk, per row and column in model order: the reconstruction error, and the
        magnitude of the reconstruction (squared scaled value of a numeric column; 0 for a
        categorical one)."""
        for table in tables:
            t = _to_tensors(table, self.device_)
            with torch.no_grad():
                out = self._forward(t)
                errors = self.network_.column_errors(out, *t)
            yield self._terms(errors, out[0])

    def _row_scores(self, tables: Iterator[EncodedTable]) -> np.ndarray:
        sums = [self._combine(*terms).sum(axis=1) for terms in self._term_chunks(tables)]
        return np.concatenate(sums) if sums else np.empty(0)

    def _terms(self, errors: torch.Tensor, values: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        n_cat = errors.shape[1] - values.shape[1]
        values64 = values.cpu().numpy().astype(np.float64)
        magnitude = np.concatenate([values64**2, np.zeros((len(values64), n_cat))], axis=1)
        return (
            self._to_model_order(errors.cpu().numpy().astype(np.float64)),
            self._to_model_order(magnitude),
        )

    def _combine(self, recon: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
        """Per-column score parts: reconstruction error relative to its training mean, plus
        ``magnitude_weight`` times how extreme the reconstruction is relative to training.

        The first finds rows off the structure the network learned; the second rows that sit on it
        but far out along it (as in PCA's residual plus T-squared statistics)."""
        return recon / self.column_scale_ + self.magnitude_weight * magnitude / self.magnitude_scale_

    def _contributions(self, X: Any) -> np.ndarray:
        parts = [self._combine(*terms) for terms in self._term_chunks(self._encoded_chunks(X))]
        return _stack(parts, len(self.columns_))

    def _similarity(self, out: tuple[torch.Tensor, ...], t: tuple[torch.Tensor, ...]) -> np.ndarray:
        net = self.network_
        x = net.input_vector(*t)
        r = net.reconstruction_vector(out)  # type: ignore[arg-type]
        return torch.nn.functional.cosine_similarity(x, r, dim=1, eps=1e-12).cpu().numpy().astype(np.float64)

    @staticmethod
    def _errors(
        net: nn.Module, t: tuple[torch.Tensor, ...], lo: torch.Tensor, hi: torch.Tensor
    ) -> torch.Tensor:
        net.eval()
        num, miss, codes = t
        with torch.no_grad():
            out = net(torch.clamp(num, lo, hi), miss, codes)
            return net.column_errors(out, num, miss, codes)  # type: ignore[operator]


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise InvalidInput(
            f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}", field="device"
        ) from exc


def _clip_bounds(table: EncodedTable, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Per numeric column, the training range between quantiles ``q`` and ``1 - q`` (scaled units),
    over present values only."""
    width = table.numeric.shape[1]
    lo, hi = np.zeros(width, np.float32), np.zeros(width, np.float32)
    for j in range(width):  # column by column: memory stays O(rows)
        present = table.numeric[table.missing[:, j] == 0, j].astype(np.float64)
        if len(present):
            lo[j], hi[j] = np.quantile(present, [q, 1.0 - q])
    return lo, hi


def _to_tensors(table: EncodedTable, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (
        torch.as_tensor(table.numeric, device=device),
        torch.as_tensor(table.missing, device=device),
        torch.as_tensor(table.codes, device=device),
    )


def _stack(parts: list[np.ndarray], width: int) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty((0, width))


__all__ = ["AutoEncoderDetector", "ColumnKind", "EpochCallback", "StopCheck"]
