"""A fitted detector as data: a JSON-serialisable description and named tensors, and back.

:mod:`aedetect.artifacts` writes the two into a model directory (and upgrades the descriptions
of older formats to this one before :func:`restore` reads them); nothing here touches files.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

import numpy as np
import torch

from aedetect.data.encoding import TabularEncoder
from aedetect.detectors import scoring
from aedetect.detectors.network import EnsembleAutoEncoder, resolve_device


class FittedParts(Protocol):
    """What this module reads and sets on the estimator (``AutoEncoderDetector`` has all of it),
    so the estimator imports this module and not the other way round."""

    device: str
    network_: EnsembleAutoEncoder
    n_hidden_: list[int]
    numeric_error_: str
    effective_params_: dict[str, Any]
    clip_low_: np.ndarray
    clip_high_: np.ndarray
    column_scale_: np.ndarray
    magnitude_scale_: np.ndarray
    n_features_in_: int
    decision_scores_: np.ndarray
    threshold_: float
    labels_: np.ndarray
    history_: dict[str, list[float]]
    best_epoch_: int
    n_epochs_: int
    n_samples_: int

    def _fitted_encoder(self) -> TabularEncoder: ...

    def _set_fitted(
        self, encoder: TabularEncoder, net: EnsembleAutoEncoder, device: torch.device, hidden: list[int]
    ) -> None: ...


Detector = TypeVar("Detector", bound=FittedParts)

TRAINING_SCORES = "__training_scores__"
"""Name of the training scores among the fitted tensors."""

RESTORED_AS_IS = ("history", "best_epoch", "n_epochs", "n_samples")
"""Fitted attributes kept exactly as described (the training record)."""


def fitted_state(detector: FittedParts) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Everything ``detector`` learned: (description, tensors)."""
    encoder = detector._fitted_encoder()
    net = detector.network_
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    tensors[TRAINING_SCORES] = torch.as_tensor(np.asarray(detector.decision_scores_, dtype=np.float64))
    fitted = {
        "encoder": encoder.to_state(),
        "effective_params": detector.effective_params_,
        "n_hidden": detector.n_hidden_,
        "n_members": net.n_members,
        "flagged": net.flagged,
        "missing_penalty": net.missing_penalty,
        "clip_low": [float(v) for v in detector.clip_low_],
        "clip_high": [float(v) for v in detector.clip_high_],
        "numeric_error": detector.numeric_error_,
        "column_scale": detector.column_scale_.tolist(),
        "magnitude_scale": detector.magnitude_scale_.tolist(),
        "threshold": float(detector.threshold_),
        "history": detector.history_,
        "best_epoch": detector.best_epoch_,
        "n_epochs": detector.n_epochs_,
        "n_samples": detector.n_samples_,
        "n_features_in": detector.n_features_in_,
    }
    return fitted, tensors


def restore(detector: Detector, fitted: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Detector:
    """``detector`` (constructed with the saved parameters) given what :func:`fitted_state`
    described; ValueError or KeyError when the parts do not fit together."""
    encoder = TabularEncoder.from_state(fitted["encoder"])
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
    try:
        net.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"the weights do not match the described network: {exc}") from exc
    device = resolve_device(detector.device)
    detector._set_fitted(encoder, net.to(device).eval(), device, hidden)
    detector.numeric_error_ = str(fitted["numeric_error"])
    if detector.numeric_error_ not in scoring.NUMERIC_ERRORS:
        raise ValueError(f"unknown numeric_error {detector.numeric_error_!r}")
    detector.effective_params_ = effective
    detector.clip_low_ = np.asarray(fitted["clip_low"], dtype=np.float32)
    detector.clip_high_ = np.asarray(fitted["clip_high"], dtype=np.float32)
    detector.column_scale_ = np.asarray(fitted["column_scale"], dtype=np.float64)
    detector.magnitude_scale_ = np.asarray(fitted["magnitude_scale"], dtype=np.float64)
    for name in RESTORED_AS_IS:
        setattr(detector, f"{name}_", fitted[name])
    detector.n_features_in_ = int(fitted["n_features_in"])
    detector.decision_scores_ = scores.numpy() if scores is not None else np.empty(0)
    detector.threshold_ = float(fitted["threshold"])
    detector.labels_ = (detector.decision_scores_ > detector.threshold_).astype(np.int64)
    return detector
