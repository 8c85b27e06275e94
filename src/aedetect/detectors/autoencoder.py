"""AutoEncoderDetector: an ensemble of autoencoders for mixed numeric/categorical tables.

The estimator holds what is learned and answers for it; its parts live beside it: the parameter
table in :mod:`~aedetect.detectors.params`, the networks in :mod:`~aedetect.detectors.network`,
the training loop in :mod:`~aedetect.detectors.training` and the scoring arithmetic in
:mod:`~aedetect.detectors.scoring`. Saved models are read and upgraded by :mod:`aedetect.artifacts`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
import torch

from aedetect.data.encoding import EncodedTable, TableStatistics, TabularEncoder
from aedetect.data.rows import EncodedRows
from aedetect.data.schema import as_frame, as_records
from aedetect.data.sources import FrameStream
from aedetect.detectors import reading, scoring, state, training
from aedetect.detectors.base import BaseDetector
from aedetect.detectors.network import (
    EnsembleAutoEncoder,
    Outputs,
    default_hidden,
    macs_per_row,
    resolve_device,
)
from aedetect.detectors.params import PARAMETERS, check_params
from aedetect.detectors.threads import auto_threads, torch_threads
from aedetect.detectors.training import EpochCallback, StopCheck, Tensors, to_tensors
from aedetect.domain import ColumnKind, ScoreResult
from aedetect.errors import NotFitted


class AutoEncoderDetector(BaseDetector):
    """Ensemble of autoencoders: rows the networks reconstruct badly score high.

    Numeric columns enter as ``asinh`` of robust units ((x - median) / IQR-based spread: heavy
    tails compressed logarithmically, measured better than plain robust units on both ADBench
    suites and NSL-KDD, see BENCHMARKS.md), limited to the training range; categorical columns as
    codes over their most frequent values. Each parameter's range, default and one-line help is
    in :data:`aedetect.detectors.params.PARAMETERS`.

    Parameters
    ----------
    columns, categorical : list of str, optional
        Ordered columns to model (default: all); numeric columns to treat as categorical
        (strings and booleans always are).
    vocab_size : int, default 10
        Most frequent values one-hot encoded per categorical column; the rest share an
        "other/unseen" bucket, missing values have their own bucket.
    n_hidden : list of int, optional
        Encoder layer widths towards the bottleneck; the decoder mirrors them. Default:
        ``[2 * n_columns, n_columns // 4]`` bounded to [16, 256] and [2, 32].
    n_estimators : int, optional
        Autoencoders in the ensemble, trained together as one batched network; the score is the
        mean of their normalised scores. Default 8.
    epochs, batch_size, learning_rate, weight_decay : optional
        Most passes over the rows (default 100; early stopping normally ends sooner); rows per
        Adam step (default: a 64th of the rows, bounded to [32, 256]); its step size (default
        1e-3, halved after 10 epochs without improvement); its weight decay (default 0).
    contamination : float, default 0.01
        Expected anomaly share of the training data; sets ``threshold_``.
    validation_fraction, patience : optional
        Held-out share of rows for early stopping (default 0.1; 0 disables it); epochs without
        a 1 % fall of the validation loss (per 64 steps, see
        :func:`~aedetect.detectors.training.min_improvement`) before training stops (default 5).
    magnitude_weight : float, default 0.3
        Weight of the second score part: how extreme each reconstructed numeric value is,
        relative to training (0 scores by reconstruction error alone).
    error_knee : float or None, default 20.0
        A column's error (relative to its training mean) counts in full while small and
        logarithmically past this many training means, ``error_knee * log(1 + error /
        error_knee)``, so the noisiest column no longer decides a row's score alone (measured
        better on MVTec-AD and NSL-KDD, level on the Classical sets, see BENCHMARKS.md). None
        counts errors linearly, as models saved before this parameter do.
    activation : str, default "relu"
        Hidden activation: relu, elu, tanh or gelu.
    random_state : int, optional
        Seed for weights, validation split and shuffling: same seed, same model.
    device : str, default "auto"
        "auto" uses a CUDA GPU when present, else the CPU; or a torch device string.
    n_threads : int, optional
        torch intra-op threads while fitting and scoring (the caller's setting is restored).
        Default: chosen from the network's size (1 for small networks, the fastest choice for
        them and the only safe one on a busy machine).

    Attributes
    ----------
    columns_, column_kinds_, n_input_
        The modelled columns in order; each one's kind ("numeric" or "categorical"); the width
        of the encoded input vector.
    history_ : dict
        Per-epoch ``train_loss`` and ``val_loss`` lists (mean over the ensemble).
    effective_params_ : dict
        Every hyperparameter as used, after defaults, and the encoders' ``numeric_transform``.
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
        magnitude_weight: float = 0.3,
        error_knee: float | None = 20.0,
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
        self.magnitude_weight = magnitude_weight
        self.error_knee = error_knee
        self.activation = activation
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads

    def checked_params(self) -> dict[str, Any]:
        """The effective hyperparameters after defaults, or InvalidInput naming the bad one (what
        ``fit`` runs first; callers can check settings before any data is at hand). Values that
        depend on the data or the machine (``n_hidden``, ``batch_size``, ``n_threads`` when not
        given, the resolved ``device``) are completed in ``effective_params_`` by ``fit``."""
        return check_params(self.get_params())

    @staticmethod
    def default_hidden(n_columns: int) -> list[int]:
        """Encoder widths for a table of ``n_columns`` columns (see :func:`network.default_hidden`)."""
        return default_hidden(n_columns)

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
            encoder, statistics, self.n_features_in_ = reading.read_statistics(stream, params, should_stop)
            n = statistics.rows
            n_val = (
                min(round(n * params["validation_fraction"]), reading.MAX_VALIDATION_ROWS) if n >= 20 else 0
            )
            validation = np.zeros(n, dtype=bool)
            validation[rng.permutation(n)[:n_val]] = True
            rows = reading.encode_rows(stream, encoder, validation, should_stop)
            self._fit_network(encoder, statistics, rows, params, rng, callback, should_stop)
        finally:
            if rows is not None:
                rows.close()
            stream.close()
        self._process_decision_scores()
        return self

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
        hidden = params["n_hidden"] or default_hidden(len(encoder.specs))
        device = resolve_device(params["device"])
        net = self._build_network(encoder, statistics, hidden, params, int(rng.integers(2**31 - 1)))
        net.to(device)
        threads = params["n_threads"] or auto_threads(macs_per_row(net.n_input, hidden, net.n_members))
        self.effective_params_ = {
            **params,
            "batch_size": params["batch_size"] or training.default_batch_size(rows.n_train),
            "device": str(device),
            "columns": [s.name for s in encoder.specs],
            "categorical": list(encoder.categorical_names),
            "n_hidden": hidden,
            "n_threads": threads,
            "numeric_transform": encoder.transform_name,
        }
        self._set_fitted(encoder, net, device, hidden)
        self.clip_low_, self.clip_high_ = scoring.clip_bounds(encoder, statistics)
        with torch_threads(threads):
            validation = rows.validation()
            val_t = to_tensors(validation, device) if len(validation) else None
            self.history_, self.best_epoch_ = training.train_network(
                net,
                rows,
                training.Schedule.of(self.effective_params_),
                inputs=self._clip,
                loss=self._batch_loss,
                validation_loss=None if val_t is None else lambda: self._validation_loss(val_t),
                rng=rng,
                device=device,
                callback=callback,
                should_stop=should_stop,
            )
            self.n_epochs_ = len(self.history_["train_loss"])
            self.n_samples_ = rows.rows
            self._fit_scales(rows, should_stop)

    def _build_network(
        self,
        encoder: TabularEncoder,
        statistics: TableStatistics,
        hidden: list[int],
        params: dict[str, Any],
        seed: int,
    ) -> EnsembleAutoEncoder:
        """The untrained networks, their weights drawn from ``seed``. Missing flags enter only for
        the numeric columns that had missing values in training."""
        flagged = [j for j, sketch in enumerate(statistics.numeric) if sketch.count < statistics.rows]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return EnsembleAutoEncoder(
                len(encoder.numeric_names),
                encoder.cardinalities,
                hidden,
                params["activation"],
                params["n_estimators"],
                flagged=flagged,
                missing_penalty=math.log(statistics.rows + 2.0),
            )

    def _set_fitted(
        self, encoder: TabularEncoder, net: EnsembleAutoEncoder, device: torch.device, hidden: list[int]
    ) -> None:
        self.device_ = device
        self.encoder_ = encoder
        self.network_ = net
        self.n_hidden_ = hidden
        self._order = scoring.model_order(encoder)

    def _fit_scales(self, rows: EncodedRows, should_stop: StopCheck | None) -> None:
        """The training means of each column's two score terms (two passes in chunks, so memory
        stays bounded: the means first, then the training rows' scores)."""
        self.numeric_error_ = scoring.NUMERIC_ERROR
        n, members, width = rows.rows, self.network_.n_members, len(self._fitted_encoder().specs)
        recon_sum, magnitude_sum = np.zeros((members, width)), np.zeros((members, width))
        for table in rows.in_order(self._score_chunk_rows()):
            if should_stop is not None:
                should_stop()  # may raise to abort; a True here cannot stop what must finish
            recon, magnitude, _ = self._chunk_terms(to_tensors(table, self.device_))
            recon_sum += recon.sum(axis=1)
            magnitude_sum += magnitude.sum(axis=1)
        self.column_scale_ = np.maximum(recon_sum / n, 1e-6)
        self.magnitude_scale_ = np.maximum(magnitude_sum / n, 1e-6)
        self.decision_scores_ = self._row_scores(rows.in_order(self._score_chunk_rows()))

    def _batch_loss(
        self, inputs: torch.Tensor, num: torch.Tensor, miss: torch.Tensor, codes: torch.Tensor
    ) -> torch.Tensor:
        """What training minimises (see :meth:`EnsembleAutoEncoder.training_loss`)."""
        return self.network_.training_loss(self.network_(inputs, miss, codes), num, miss, codes)

    def _validation_loss(self, val_t: Tensors) -> float:
        self.network_.eval()
        num, miss, codes = val_t
        with torch.no_grad():
            out = self.network_(self._clip(num), miss, codes)
            return float(self.network_.column_errors(out, num, miss, codes).mean())

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
        return scoring.stack(parts, len(self.columns_))

    def score(self, X: Any, y: Any = None) -> ScoreResult:
        """Scores, labels, similarity and per-column contributions in one pass over ``X``
        (``y`` is ignored; unlike scikit-learn's ``score`` this is not a single metric)."""
        threshold = self._fitted_threshold()
        parts: list[np.ndarray] = []
        sims: list[np.ndarray] = []
        with self._scoring_threads():
            for table in self._encoded_chunks(X):
                t = to_tensors(table, self.device_)
                recon, magnitude, out = self._chunk_terms(t)
                parts.append(self._combine(recon, magnitude))
                with torch.no_grad():
                    sims.append(scoring.similarity(self.network_, out, t))
        contributions = scoring.stack(parts, len(self.columns_))
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
                t = to_tensors(table, self.device_)
                with torch.no_grad():
                    sims.append(scoring.similarity(self.network_, self._forward(t), t))
        return np.concatenate(sims) if sims else np.empty(0)

    def encode(self, X: Any, all_members: bool = False) -> np.ndarray:
        """The bottleneck code of each row, shape (n_rows, n_hidden[-1]): that of the ensemble's
        first autoencoder (members' codes are not aligned, so they cannot be averaged). With
        ``all_members``, every member's code side by side: (n_rows, n_estimators * n_hidden[-1])."""
        codes = []
        with self._scoring_threads():
            for table in self._encoded_chunks(X):
                num, miss, cat = to_tensors(table, self.device_)
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
                t = to_tensors(table, self.device_)
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

    # --- persistence (the files are written, and older formats upgraded, by aedetect.artifacts) -
    def get_fitted_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """Everything learned, as a JSON-serialisable description and named tensors (weights and
        training scores); :meth:`from_fitted_state` rebuilds the detector from the two."""
        return state.fitted_state(self)

    @classmethod
    def from_fitted_state(
        cls,
        params: dict[str, Any],
        fitted: dict[str, Any],
        tensors: dict[str, torch.Tensor],
        device: str = "auto",
    ) -> AutoEncoderDetector:
        """The detector described by :meth:`get_fitted_state`'s output (of this release: older
        formats go through :func:`aedetect.artifacts.upgrade.upgrade_model` first), on
        ``device``; raises ValueError or KeyError when the parts do not fit together."""
        return state.restore(cls(**{**params, "device": device}), fitted, tensors)

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
            return torch_threads(int(PARAMETERS["n_threads"].check(self.n_threads)))
        macs = macs_per_row(self.network_.n_input, self.n_hidden_, self.network_.n_members)
        return torch_threads(auto_threads(macs))

    def _encoded_chunks(self, X: Any) -> Iterator[EncodedTable]:
        encoder = self._fitted_encoder()
        return reading.encoded_chunks(encoder, X, self.n_features_in_, self._score_chunk_rows())

    def _score_chunk_rows(self) -> int:
        return max(1024, reading.SCORE_CHUNK_ROWS // self.network_.n_members)

    def _clip(self, numeric: torch.Tensor) -> torch.Tensor:
        return scoring.clip(numeric, self.clip_low_, self.clip_high_)

    def _forward(self, t: Tensors) -> Outputs:
        num, miss, codes = t
        return self.network_(self._clip(num), miss, codes)

    def _term_chunks(self, tables: Iterator[EncodedTable]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Per chunk, the two per-column terms of :meth:`_chunk_terms`."""
        for table in tables:
            recon, magnitude, _ = self._chunk_terms(to_tensors(table, self.device_))
            yield recon, magnitude

    def _chunk_terms(self, t: Tensors) -> tuple[np.ndarray, np.ndarray, Outputs]:
        """One chunk's pass through the networks: :func:`scoring.terms` and the outputs."""
        with torch.no_grad():
            out = self._forward(t)
            errors = scoring.column_errors(
                self.network_, out, t, self.numeric_error_, self._fitted_encoder().transform_name
            )
        recon, magnitude = scoring.terms(errors, out[0], self._order)
        return recon, magnitude, out

    def _row_scores(self, tables: Iterator[EncodedTable]) -> np.ndarray:
        sums = [self._combine(*terms).sum(axis=1) for terms in self._term_chunks(tables)]
        return np.concatenate(sums) if sums else np.empty(0)

    def _combine(self, recon: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
        """Per-column score parts (B, C): :func:`scoring.combine` with this model's settings."""
        effective = self.effective_params_
        return scoring.combine(
            recon,
            magnitude,
            self.column_scale_,
            self.magnitude_scale_,
            float(effective["magnitude_weight"]),
            effective["error_knee"],
        )


__all__ = ["AutoEncoderDetector", "ColumnKind", "EpochCallback", "StopCheck"]
