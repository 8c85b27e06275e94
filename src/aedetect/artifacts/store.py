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
from safetensors.torch import load_file, save_file

from aedetect.detectors.autoencoder import AutoEncoderDetector
from aedetect.errors import ArtifactError, NotFitted

FORMAT = "aedetect-detector"
FORMAT_VERSION = 5
"""5: a latent part, the distance of a row's code to training rows' codes saved with the model (a
version-4 reader would score these models without it, so it must refuse them). 4: column
reconstruction errors bend at ``error_knee`` (read; a version-3 reader would score these models
linearly, so it must refuse them). 3: scores measure numeric errors in robust units (read, and
scored linearly as written). 2: an ensemble of autoencoders and the effective parameters, numeric
errors squared in the network's units (still read, and scored as when it was written). 1: one
autoencoder, not readable."""
READABLE_VERSIONS = (2, 3, 4, FORMAT_VERSION)
MANIFEST = "model.json"
WEIGHTS = "weights.safetensors"


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


def json_params(params: dict[str, Any]) -> dict[str, Any]:
    """Constructor parameters as JSON values (sequences as lists, numpy scalars as numbers)."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, list | tuple | np.ndarray):
            value = [v.item() if isinstance(v, np.generic) else v for v in value]
        out[name] = value
    return out


def save_detector(detector: AutoEncoderDetector, path: str | Path) -> Path:
    """Write a fitted detector into directory ``path`` (created if missing); returns the path."""
    if detector.__dict__.get("encoder_") is None:
        raise NotFitted("only a fitted detector can be saved: call fit() first")
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    fitted, tensors = detector.get_fitted_state()
    save_file(tensors, str(directory / WEIGHTS))
    document: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "detector": type(detector).__name__,
        "library_versions": library_versions(),
        "params": json_params(detector.get_params()),
        "fitted": fitted,
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
    if version == 1:
        raise ArtifactError(
            f"{manifest} holds a model of format version 1 (a single autoencoder, written by aedetect "
            f"before 0.2); this aedetect reads versions {', '.join(map(str, READABLE_VERSIONS))}: "
            "train the model again"
        )
    if version not in READABLE_VERSIONS:
        raise ArtifactError(
            f"model format version {version!r} is not supported by this aedetect "
            f"(supports {', '.join(map(str, READABLE_VERSIONS))}); retrain the model or use a "
            "matching aedetect release"
        )
    if document.get("checksum") != _checksum(document):
        raise ArtifactError(f"{manifest} fails its checksum: the model description was modified or damaged")
    return document


def load_detector(
    path: str | Path, *, device: str = "auto", n_threads: int | None = None
) -> AutoEncoderDetector:
    """Load a detector saved by :func:`save_detector`, verifying checksums and compatibility.

    ``device`` and ``n_threads`` say where and with how many torch threads it scores (threads
    default to the detector's choice for its size, not to what training used)."""
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

    try:
        params = {**document["params"], "n_threads": n_threads}
        return AutoEncoderDetector.from_fitted_state(params, document["fitted"], tensors, device)
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{directory} holds an inconsistent model description: {exc}") from exc
