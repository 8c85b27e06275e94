"""Scoring in the latent space: how far a row's code lies from the training rows' codes.

An autoencoder under contamination learns to reconstruct some anomalies too, but it still maps
rows unlike the rest to sparse regions of its code space. The detector keeps a random sample of the
training rows' codes (the *reference*, per member) and adds to a row's score the mean distance of
its code to its nearest reference codes, over that distance's training mean (so 1.0 is typical).
Measured in BENCHMARKS.md (round 7): the first term that helped the Classical sets on both halves
and on ROC-AUC and AP together, level on the MVTec-AD embeddings, at a cost on NSL-KDD trained on all
rows, whose attacks come in dense clusters of their own, and at a cost in scoring time. Off by
default (``latent_weight=0``) until a full quality and speed run decides.
"""

from __future__ import annotations

import numpy as np
import torch

REFERENCE_ROWS = 512
"""Training rows whose codes are kept (all of them for a smaller table). 512 and 1,024 scored as
4,096 did in the screen (256 lost on MVTec-AD); each halving halves the scoring cost."""

NEIGHBOURS_FRACTION = 0.03
"""Neighbours averaged, as a share of the reference (15 of 512): wide enough that a small cluster
of anomalies in the training data does not make its members look normal to each other."""

DISTANCE_CHUNK_ROWS = 1024
"""Rows whose distances to the reference are computed at a time (bounds the distance matrix)."""

SCALE_FLOOR = 0.01
"""The training mean distance is at least this share of the mean distance between reference codes,
so a table of many identical rows does not make every new row infinitely far."""


def reference_positions(n_rows: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of the training rows whose codes form the reference."""
    if n_rows <= REFERENCE_ROWS:
        return np.arange(n_rows)
    return np.sort(rng.choice(n_rows, REFERENCE_ROWS, replace=False))


def n_neighbours(reference_rows: int) -> int:
    """Neighbours averaged for a reference of this many rows (at least 1, fewer than the rows)."""
    return max(1, min(round(NEIGHBOURS_FRACTION * reference_rows), reference_rows - 1))


def neighbour_distances(
    codes: torch.Tensor, reference: torch.Tensor, own: np.ndarray | None = None, k: int | None = None
) -> torch.Tensor:
    """Per member and row, the mean distance of the row's code to its ``k`` nearest reference codes
    (default :func:`n_neighbours`; at most the reference rows less one).

    ``codes`` (members, rows, width), ``reference`` (members, reference rows, width); ``own``, when
    given, is each row's position in the reference (-1 for none): a training row in the reference
    is not its own neighbour. Returns (members, rows)."""
    size = reference.shape[1]
    k = n_neighbours(size) if k is None else max(1, min(k, size - 1))
    out = []
    for start in range(0, codes.shape[1], DISTANCE_CHUNK_ROWS):
        distances = _distances(codes[:, start : start + DISTANCE_CHUNK_ROWS], reference)
        if own is not None:
            part = own[start : start + DISTANCE_CHUNK_ROWS]
            rows = np.flatnonzero(part >= 0)
            if len(rows):
                distances[:, torch.from_numpy(rows), torch.from_numpy(part[rows])] = float("inf")
        out.append(distances.topk(k, dim=2, largest=False).values.mean(dim=2))
    return torch.cat(out, dim=1) if out else codes.new_zeros((codes.shape[0], 0))


def training_scale(reference: torch.Tensor) -> np.ndarray:
    """Per member, the mean neighbour distance of the reference rows among themselves (each left
    out of its own neighbours), floored at :data:`SCALE_FLOOR` of their mean distance apart."""
    rows = reference.shape[1]
    if rows < 2:
        return np.ones(reference.shape[0])
    own = np.arange(rows)
    mean = neighbour_distances(reference, reference, own).mean(dim=1)
    apart = _distances(reference, reference).sum(dim=(1, 2)) / (rows * (rows - 1))
    scale = torch.maximum(mean, SCALE_FLOOR * apart).double().cpu().numpy()
    return np.maximum(scale, 1e-6)


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between every code of ``a`` and of ``b``, per member, computed directly.
    The faster matrix-product form (|a|^2 + |b|^2 - 2ab) loses the small distances to rounding: a
    training row scored again is near its own code, and its score then moved with its batch by
    1e-4 (measured)."""
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")
