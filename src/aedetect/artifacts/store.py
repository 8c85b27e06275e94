"""Save and load fitted detectors as data, never pickles.

A model directory holds ``weights.safetensors`` (network weights and the training scores) and
``model.json``: format name and version, library versions, constructor parameters, the fitted
schema and statistics, the SHA-256 of the weights file, and a checksum over the JSON itself.
Loading verifies all of it and refuses a tampered or incompatible artifact with a clear error;
older formats are read through :func:`aedetect.artifacts.upgrade.upgrade_model`, and
:func:`upgrade_directory` rewrites them in the current format.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.torch import load_file, save_file

from aedetect.artifacts.upgrade import upgrade_model
from aedetect.detectors.autoencoder import AutoEncoderDetector
from aedetect.errors import ArtifactError, NotFitted

FORMAT = "aedetect-detector"
FORMAT_VERSION = 5
"""5: the current format. Models written before the options clip_quantile, numeric_transform and
latent_weight were removed name them (read without them, see :mod:`aedetect.artifacts.upgrade`);
they could add a latent part, the distance of a row's code to training rows' codes (a version-4
reader would score these without it, so it must refuse them). 4: column reconstruction errors bend
at ``error_knee`` (a version-3 reader would score these models linearly, so it must refuse them).
3: scores measure numeric errors in robust units (read, and scored linearly as written). 2: an
ensemble of autoencoders and the effective parameters, numeric errors squared in the network's
units (read, and scored as when it was written). 1: one autoencoder, not readable."""
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
    fitted, tensors = detector.get_fitted_state()
    return _write(Path(path), json_params(detector.get_params()), fitted, tensors)


def _write(
    directory: Path,
    params: dict[str, Any],
    fitted: dict[str, Any],
    tensors: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write weights, then the manifest that describes them (each replaced whole, so a reader
    sees the old or the new file, never a part)."""
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".{WEIGHTS}.partial"
    save_file(tensors, str(partial))
    digest = _file_sha256(partial)
    partial.replace(directory / WEIGHTS)
    document: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "detector": AutoEncoderDetector.__name__,
        "library_versions": library_versions(),
        **(extra or {}),
        "params": params,
        "fitted": fitted,
        "weights": {"file": WEIGHTS, "sha256": digest},
    }
    document["checksum"] = _checksum(document)
    text = json.dumps(document, ensure_ascii=False, indent=1)
    (directory / f".{MANIFEST}.partial").write_text(text, encoding="utf-8")
    (directory / f".{MANIFEST}.partial").replace(directory / MANIFEST)
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


def _read(directory: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The verified manifest and tensors of a model directory (any readable format)."""
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
    return document, tensors


def _upgraded(directory: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(manifest, parameters, fitted state, tensors), the last three in the current format."""
    document, tensors = _read(directory)
    try:
        return (document, *upgrade_model(document, tensors))
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{directory} holds an inconsistent model description: {exc}") from exc


def load_detector(
    path: str | Path, *, device: str = "auto", n_threads: int | None = None
) -> AutoEncoderDetector:
    """Load a detector saved by :func:`save_detector` (in any readable format), verifying
    checksums and compatibility.

    ``device`` and ``n_threads`` say where and with how many torch threads it scores (threads
    default to the detector's choice for its size, not to what training used)."""
    directory = Path(path)
    _, params, fitted, tensors = _upgraded(directory)
    try:
        return AutoEncoderDetector.from_fitted_state(
            {**params, "n_threads": n_threads}, fitted, tensors, device
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{directory} holds an inconsistent model description: {exc}") from exc


def upgrade_directory(path: str | Path) -> int | None:
    """Rewrite the model in directory ``path`` in the current format, after checking that the
    rewritten model loads; returns the format it had, None when it was current already."""
    directory = Path(path)
    document, params, fitted, tensors = _upgraded(directory)
    version = int(document["format_version"])
    if version == FORMAT_VERSION and document["params"] == params and document["fitted"] == fitted:
        return None
    try:
        AutoEncoderDetector.from_fitted_state(params, fitted, tensors, "cpu")
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{directory} holds an inconsistent model description: {exc}") from exc
    history = [
        *document.get("upgraded_from", []),
        {"format_version": version, **document["library_versions"]},
    ]
    _write(directory, params, fitted, tensors, {"upgraded_from": history})
    return version
