"""Save and load fitted detectors as data, never pickles.

A model directory holds ``weights.safetensors`` (network weights and the training scores) and
``model.json``: format name and version, library versions, constructor parameters, the fitted
schema and statistics, the SHA-256 of the weights file, and a checksum over the JSON itself.
Loading verifies all of it and refuses a tampered or incompatible artifact with a clear error.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from aedetect.data.encoding import TabularEncoder
from aedetect.detectors.autoencoder import AutoEncoderDetector, _resolve_device
from aedetect.detectors.network import AutoEncoderNet
from aedetect.errors import ArtifactError, NotFitted

FORMAT = "aedetect-detector"
FORMAT_VERSION = 1
MANIFEST = "model.json"
WEIGHTS = "weights.safetensors"
SCORES_KEY = "__training_scores__"


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a saved model."""
    versions = {}
    for name in ("aedetect", "torch", "numpy", "pandas"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def _checksum(document: dict[str, Any]) -> str:
    body = {k: v for k, v in document.items() if k != "checksum"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_detector(detector: AutoEncoderDetector, path: str | Path) -> Path:
    """Write a fitted detector into directory ``path`` (created if missing); returns the path."""
    if getattr(detector, "encoder_", None) is None:
        raise NotFitted("only a fitted detector can be saved: call fit() first")
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in detector.network_.state_dict().items()}
    tensors[SCORES_KEY] = torch.as_tensor(np.asarray(detector.decision_scores_, dtype=np.float64))
    save_file(tensors, str(directory / WEIGHTS))
    document: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "detector": type(detector).__name__,
        "library_versions": library_versions(),
        "params": detector.get_params(),
        "fitted": {
            "encoder": detector.encoder_.to_state(),
            "n_hidden": detector.n_hidden_,
            "clip_low": [float(v) for v in detector.clip_low_],
            "clip_high": [float(v) for v in detector.clip_high_],
            "column_scale": [float(v) for v in detector.column_scale_],
            "magnitude_scale": [float(v) for v in detector.magnitude_scale_],
            "threshold": float(detector.threshold_),
            "history": detector.history_,
            "best_epoch": detector.best_epoch_,
            "n_epochs": detector.n_epochs_,
            "n_samples": detector.n_samples_,
        },
        "weights": {"file": WEIGHTS, "sha256": _file_sha256(directory / WEIGHTS)},
    }
    document["checksum"] = _checksum(document)
    (directory / MANIFEST).write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    return directory


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The verified ``model.json`` of a model directory (format, version and checksum checked)."""
    directory = Path(path)
    manifest = directory / MANIFEST
    if not manifest.is_file():
        raise ArtifactError(f"{directory} is not a saved aedetect model: {MANIFEST} is missing")
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{manifest} is not valid JSON ({exc}); the model file is damaged") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ArtifactError(f"{manifest} is not an aedetect model (format {document.get('format')!r})")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"model format version {version!r} is not supported by this aedetect "
            f"(supports {FORMAT_VERSION}); retrain the model or use a matching aedetect release"
        )
    if document.get("checksum") != _checksum(document):
        raise ArtifactError(f"{manifest} fails its checksum: the model description was modified or damaged")
    return document


def load_detector(path: str | Path, *, device: str = "auto") -> AutoEncoderDetector:
    """Load a detector saved by :func:`save_detector`, verifying checksums and compatibility."""
    directory = Path(path)
    document = read_manifest(directory)
    if document.get("detector") != AutoEncoderDetector.__name__:
        raise ArtifactError(f"unknown detector type {document.get('detector')!r} in {directory}")
    weights = directory / document["weights"]["file"]
    if weights.name != WEIGHTS or not weights.is_file():
        raise ArtifactError(f"{directory} lacks its weights file {WEIGHTS}")
    if _file_sha256(weights) != document["weights"]["sha256"]:
        raise ArtifactError(f"{weights} fails its checksum: the weights were modified or damaged")
    try:
        tensors = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise ArtifactError(f"cannot read {weights}: {exc}") from exc

    fitted = document["fitted"]
    params = dict(document["params"])
    params["device"] = device
    detector = AutoEncoderDetector(**params)
    encoder = TabularEncoder.from_state(fitted["encoder"])
    detector.device_ = _resolve_device(device)
    net = AutoEncoderNet(
        len(encoder.numeric_names), encoder.cardinalities, list(fitted["n_hidden"]), params["activation"]
    )
    scores = tensors.pop(SCORES_KEY, None)
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise ArtifactError(f"weights in {weights} do not match the described network: {exc}") from exc
    net.to(detector.device_).eval()
    detector.encoder_ = encoder
    detector.network_ = net
    detector.n_hidden_ = list(fitted["n_hidden"])
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
