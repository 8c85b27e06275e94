"""The training loop of the detector's networks (PyOD's ``base_dl`` shape: the estimator supplies
the network, its inputs and its loss; this module runs the epochs).

Mini-batch Adam (:class:`~aedetect.detectors.optim.FlatAdam`) over every training row each epoch,
in shuffled blocks; the learning rate halves when the monitored loss stalls; training stops early
when the validation loss no longer improves, and the best weights are kept. A stop request is
polled before every batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from aedetect.data.encoding import EncodedTable
from aedetect.data.rows import EncodedRows
from aedetect.detectors.optim import FlatAdam

EpochCallback = Callable[[int, int, float, float | None], None]
"""Called after each epoch with (epoch, max_epochs, train_loss, validation_loss)."""

StopCheck = Callable[[], bool]
"""Polled before every training batch and between chunks of the passes over the data. True ends
the epochs there (the best weights so far are kept, the training rows are still scored); while the
data is being read, before any learning, True aborts ``fit`` with NotFitted. Raising aborts ``fit``
with that exception at any point."""

Tensors = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
"""A chunk of encoded rows on the device: scaled numeric values, missing flags, category codes."""

BatchLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""The estimator's loss of one batch: (network inputs, numeric targets, missing flags, codes)."""

LR_PATIENCE_EPOCHS = 10
"""Epochs without improvement before the learning rate is halved."""

PLATEAU_THRESHOLD = 1e-4
"""Relative fall of the monitored loss that resets the count towards halving the learning rate."""

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


def to_tensors(table: EncodedTable, device: torch.device) -> Tensors:
    """An encoded chunk's arrays as tensors on ``device`` (no copy on the CPU)."""
    return (
        torch.as_tensor(table.numeric, device=device),
        torch.as_tensor(table.missing, device=device),
        torch.as_tensor(table.codes, device=device),
    )


@dataclass(frozen=True)
class Schedule:
    """How long and how fast to train (the effective parameters of the same names)."""

    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    patience: int

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> Schedule:
        """The schedule in a detector's effective parameters."""
        return cls(*(params[name] for name in cls.__dataclass_fields__))


@dataclass
class _Progress:
    """The stopping rule's state: the learning-rate plateau (as torch's ``ReduceLROnPlateau``) and
    early stopping on the monitored loss, with the best weights so far."""

    tolerance: float
    patience: int
    best_loss: float = math.inf
    best_state: torch.Tensor | None = None
    best_epoch: int = 0
    stale: int = 0
    plateau_best: float = math.inf
    plateau_bad: int = 0
    history: dict[str, list[float]] = field(default_factory=lambda: {"train_loss": [], "val_loss": []})

    def after_epoch(self, epoch: int, monitored: float, validated: bool, optimiser: FlatAdam) -> bool:
        """Record the epoch's monitored loss; whether training should stop now."""
        if monitored < self.plateau_best * (1.0 - PLATEAU_THRESHOLD):
            self.plateau_best, self.plateau_bad = monitored, 0
        else:
            self.plateau_bad += 1
            if self.plateau_bad > LR_PATIENCE_EPOCHS:
                optimiser.lr *= 0.5
                self.plateau_bad = 0
        if self.best_state is None or monitored < self.best_loss * (1.0 - self.tolerance):
            self.best_loss, self.best_epoch, self.stale = monitored, epoch, 0
            self.best_state = optimiser.flat.clone()
            return False
        self.stale += 1
        return validated and self.stale >= self.patience


def train_network(
    net: nn.Module,
    rows: EncodedRows,
    schedule: Schedule,
    *,
    inputs: Callable[[torch.Tensor], torch.Tensor],
    loss: BatchLoss,
    validation_loss: Callable[[], float] | None,
    rng: np.random.Generator,
    device: torch.device,
    callback: EpochCallback | None = None,
    should_stop: StopCheck | None = None,
) -> tuple[dict[str, list[float]], int]:
    """Train ``net`` on ``rows``' training rows; leaves it with its best weights, in eval mode.
    Returns (history of ``train_loss`` and ``val_loss`` per epoch, best epoch).

    ``inputs`` turns a block's numeric values into the network's numeric input; ``loss`` is the
    sum over the members of each one's mean batch loss; ``validation_loss`` (None: no early
    stopping) measures the held-out rows."""
    n_members = int(getattr(net, "n_members", 1))
    progress = _Progress(min_improvement(math.ceil(rows.n_train / schedule.batch_size)), schedule.patience)
    with FlatAdam(net, lr=schedule.learning_rate, weight_decay=schedule.weight_decay) as optimiser:
        for epoch in range(1, schedule.epochs + 1):
            net.train()
            total, seen, stopped = _epoch(
                optimiser, rows, schedule.batch_size, inputs, loss, rng, device, should_stop
            )
            if seen == 0:
                break
            train_loss = float(total) / seen / n_members
            val_loss = validation_loss() if validation_loss is not None else None
            progress.history["train_loss"].append(train_loss)
            if val_loss is not None:
                progress.history["val_loss"].append(val_loss)
            if callback is not None:
                callback(epoch, schedule.epochs, train_loss, val_loss)
            monitored = val_loss if val_loss is not None else train_loss
            if progress.after_epoch(epoch, monitored, val_loss is not None, optimiser) or stopped:
                break
        if progress.best_state is not None:
            optimiser.flat.copy_(progress.best_state)
    net.eval()
    return progress.history, progress.best_epoch


def _epoch(
    optimiser: FlatAdam,
    rows: EncodedRows,
    batch: int,
    inputs: Callable[[torch.Tensor], torch.Tensor],
    loss: BatchLoss,
    rng: np.random.Generator,
    device: torch.device,
    should_stop: StopCheck | None,
) -> tuple[torch.Tensor, int, bool]:
    """One pass over the training rows in shuffled blocks: (summed loss x rows, rows seen,
    whether a stop request ended it)."""
    total, seen = torch.zeros(()), 0
    for group in rows.shuffled(rng):
        num, miss, codes = to_tensors(group, device)
        net_input = inputs(num)
        for start in range(0, len(group), batch):
            if should_stop is not None and should_stop():
                return total, seen, True
            end = start + batch
            b_num = num[start:end]
            step_loss = loss(net_input[start:end], b_num, miss[start:end], codes[start:end])
            optimiser.zero_grad()
            step_loss.backward()
            optimiser.step()
            total += step_loss.detach() * len(b_num)
            seen += len(b_num)
    return total, seen, False
