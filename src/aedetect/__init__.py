"""aedetect: anomaly detection in tabular data with autoencoders.

The estimator and artifact functions are imported on first use, so importing a light part of the
package (the registry, the CSV reader) does not pay for loading PyTorch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["AutoEncoderDetector", "BaseDetector", "__version__", "load_detector", "save_detector"]

if TYPE_CHECKING:
    from aedetect.artifacts import load_detector, save_detector
    from aedetect.detectors import AutoEncoderDetector, BaseDetector

_LAZY = {
    "AutoEncoderDetector": "aedetect.detectors",
    "BaseDetector": "aedetect.detectors",
    "load_detector": "aedetect.artifacts",
    "save_detector": "aedetect.artifacts",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'aedetect' has no attribute {name!r}")
