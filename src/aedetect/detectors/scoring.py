"""The scoring arithmetic of the autoencoder detector, as pure functions of the network's outputs
and the fitted scales.

A row's score is the sum of per-column parts: the members' mean reconstruction error of the
column over its training mean (past ``error_knee`` counted logarithmically), plus
``magnitude_weight`` times the members' mean of how extreme the reconstructed value is, over its
training mean. The first finds rows off the structure the networks learned; the second rows that
sit on it but far out along it (as PCA's residual plus T-squared statistics).
"""

from __future__ import annotations

import numpy as np
import torch

from aedetect.data.encoding import TableStatistics, TabularEncoder
from aedetect.detectors.network import EnsembleAutoEncoder, Outputs

Tensors = tuple[torch.Tensor, torch.Tensor, torch.Tensor]

NUMERIC_ERROR = "absolute_robust"
"""How scoring measures a present numeric value's error: the absolute difference from its
reconstruction in robust units (see :func:`column_errors`)."""

SQUARED_ERROR = "squared"
"""The squared error in the network's units, as models saved in format 2 measured it (read only:
their scores and thresholds stay as they were)."""

NUMERIC_ERRORS = (NUMERIC_ERROR, SQUARED_ERROR)


def clip(numeric: torch.Tensor, low: np.ndarray, high: np.ndarray) -> torch.Tensor:
    """Numeric inputs limited to the training range (the reconstruction target is not, so a value
    outside the range learned in training raises the score even where the network could copy it)."""
    lo = torch.as_tensor(low, device=numeric.device)
    hi = torch.as_tensor(high, device=numeric.device)
    return torch.clamp(numeric, lo, hi)


def clip_bounds(encoder: TabularEncoder, statistics: TableStatistics) -> tuple[np.ndarray, np.ndarray]:
    """Per numeric column, the training minimum and maximum of present values in scaled units
    (the scaling is monotone, so the scaled extreme is the extreme's scaled value)."""
    width = len(encoder.numeric_names)
    raw_lo, raw_hi = np.zeros(width), np.zeros(width)
    for j, sketch in enumerate(statistics.numeric):
        if sketch.count:
            raw_lo[j], raw_hi[j] = sketch.quantile([0.0, 1.0])
        else:  # never present: the scaled value of a missing cell is 0
            raw_lo[j] = raw_hi[j] = encoder.center[j]
    lo, hi = encoder.scale_numeric(np.vstack([raw_lo, raw_hi]))
    return lo.astype(np.float32), hi.astype(np.float32)


def column_errors(
    net: EnsembleAutoEncoder, out: Outputs, t: Tensors, numeric_error: str, transform: str
) -> torch.Tensor:
    """Per member, row and network column (E, B, C), the errors scoring uses: a present numeric
    value's is its absolute difference from the reconstruction in robust units
    (:meth:`TabularEncoder.robust_units`).

    Measured on the ADBench suites (BENCHMARKS.md): extreme values, which the ``asinh`` transform
    compresses for training, count again by how far out they lie, and the absolute difference
    keeps one huge error from drowning the other columns as a square would. Models saved with
    :data:`SQUARED_ERROR` keep the squared error in the network's units."""
    if numeric_error == SQUARED_ERROR:
        return net.column_errors(out, *t)
    value, target = out[0], t[0]
    if transform == "asinh":
        # TabularEncoder.robust_units in torch: float32 sinh is several times faster than numpy's,
        # and +-88 keeps it finite (float32 sinh overflows past 89.4)
        difference = torch.sinh(value.clamp(-88.0, 88.0)) - torch.sinh(target.clamp(-88.0, 88.0))
    else:  # "robust" (models saved before asinh): the network's units are robust units
        difference = value - target
    return net.column_errors(out, *t, numeric_error=difference.abs())


def model_order(encoder: TabularEncoder) -> list[int] | None:
    """Positions that put network columns (numeric first, then categorical) in model column
    order; None where the orders agree."""
    network_order = encoder.numeric_names + encoder.categorical_names
    names = [s.name for s in encoder.specs]
    if network_order == names:
        return None
    position = {name: i for i, name in enumerate(network_order)}
    return [position[name] for name in names]


def terms(
    errors: torch.Tensor, values: torch.Tensor, order: list[int] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per member, row and model column (E, B, C): the reconstruction errors, and the magnitude of
    the reconstruction (squared scaled value of a numeric column; 0 for a categorical one)."""
    n_cat = errors.shape[2] - values.shape[2]
    values64 = values.cpu().numpy().astype(np.float64)
    magnitude = np.concatenate([values64**2, np.zeros((*values64.shape[:2], n_cat))], axis=2)
    recon = errors.cpu().numpy().astype(np.float64)
    if order is None:
        return recon, magnitude
    return recon[..., order], magnitude[..., order]


def combine(
    recon: np.ndarray,
    magnitude: np.ndarray,
    column_scale: np.ndarray,
    magnitude_scale: np.ndarray,
    magnitude_weight: float,
    knee: float | None,
) -> np.ndarray:
    """Per-column score parts (B, C) from one chunk's :func:`terms` (see the module docstring).
    The knee bends only the reconstruction part: an extreme value still counts in full through
    the magnitude part."""
    parts = (recon / column_scale[:, None, :]).mean(axis=0)
    if knee is not None:  # knee * log1p(parts / knee), in place: parts is this call's own array
        parts /= knee
        np.log1p(parts, out=parts)
        parts *= knee
    if magnitude_weight:
        parts = parts + magnitude_weight * (magnitude / magnitude_scale[:, None, :]).mean(axis=0)
    return np.asarray(parts)


def similarity(net: EnsembleAutoEncoder, out: Outputs, t: Tensors) -> np.ndarray:
    """Cosine similarity of each encoded row and its (ensemble mean) reconstruction."""
    x = net.input_vector(*t)
    r = net.reconstruction_vector(out)
    return torch.nn.functional.cosine_similarity(x, r, dim=1, eps=1e-12).cpu().numpy().astype(np.float64)


def stack(parts: list[np.ndarray], width: int) -> np.ndarray:
    """Chunks' per-column parts as one (rows, width) array."""
    return np.concatenate(parts) if parts else np.empty((0, width))
