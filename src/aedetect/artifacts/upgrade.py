"""Older saved models in the current format: one function, :func:`upgrade_model`, used on every
load and by ``aedetect models upgrade`` (which writes the result back).

What each older format lacks, and what it means (so the model scores exactly as when written):

- format 2 (the ensemble): numeric errors were squared in the network's units (``numeric_error``
  "squared"); files from its first releases also lack the missing-flag layout (every numeric
  column had a flag input and no fixed missing penalty), the training data's width and the
  encoder's empty ``knots``;
- formats 2 and 3: column errors counted linearly (``error_knee`` None);
- formats 2 to 4: no latent part.

Options removed since (``clip_quantile``, ``numeric_transform``, ``latent_weight``): a model saved
with ``clip_quantile`` keeps its saved clipping bounds and a ``robust`` transform its saved
scaling, so both score as before; a ``quantile`` transform or a latent part is refused with an
error naming the option, since this release no longer has that arithmetic.
"""

from __future__ import annotations

from typing import Any

import torch

from aedetect.detectors.params import PARAMETERS, REMOVED
from aedetect.detectors.scoring import SQUARED_ERROR
from aedetect.errors import ArtifactError

LATENT_REFERENCE = "__latent_reference__"
"""Name of the latent reference codes among the tensors of models saved with a latent part."""


def upgrade_model(
    document: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, torch.Tensor]]:
    """(constructor parameters, fitted state, tensors) of the current format for a verified
    manifest of any readable format and its tensors; ``ArtifactError`` naming the removed option
    where the model depends on arithmetic this release no longer has. The inputs are not changed."""
    version = int(document["format_version"])
    params = dict(document["params"])
    fitted = dict(document["fitted"])
    effective = dict(fitted["effective_params"])
    encoder = dict(fitted["encoder"])
    _refuse_removed_arithmetic(effective, fitted, encoder, tensors)
    for name in REMOVED:
        params.pop(name, None)
        if name != "numeric_transform":  # kept as the record of the encoders' scaling
            effective.pop(name, None)
    effective["numeric_transform"] = encoder["transform"]
    effective.setdefault("error_knee", None)  # formats 2 and 3 count errors linearly
    params["error_knee"] = effective["error_knee"]
    if version == 2:
        fitted.setdefault("numeric_error", SQUARED_ERROR)
        n_numeric = sum(1 for column in encoder["columns"] if column["kind"] == "numeric")
        fitted.setdefault("flagged", list(range(n_numeric)))
        fitted.setdefault("missing_penalty", 0.0)
        fitted.setdefault("n_features_in", len(encoder["columns"]))
    encoder.setdefault("knots", [])
    fitted.pop("latent_scale", None)
    fitted["encoder"] = encoder
    fitted["effective_params"] = effective
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise ArtifactError(f"the model was saved with parameter(s) this aedetect does not know: {unknown}")
    return params, fitted, {k: v for k, v in tensors.items() if k != LATENT_REFERENCE}


def _refuse_removed_arithmetic(
    effective: dict[str, Any], fitted: dict[str, Any], encoder: dict[str, Any], tensors: dict[str, Any]
) -> None:
    """``ArtifactError`` when the model scores with a latent part or the quantile transform."""
    latent = effective.get("latent_weight") or 0.0
    if latent or fitted.get("latent_scale") is not None or LATENT_REFERENCE in tensors:
        raise ArtifactError(
            f"this model scores with latent_weight={latent}, an option removed from aedetect "
            f"({REMOVED['latent_weight']} now): train the model again to use it with this release"
        )
    if encoder.get("transform") not in ("asinh", "robust"):
        raise ArtifactError(
            f"this model scales numeric columns with numeric_transform={encoder.get('transform')!r}, "
            "an option removed from aedetect: train the model again to use it with this release"
        )
