"""aedetect: anomaly detection in tabular data with autoencoders."""

from aedetect.artifacts import load_detector, save_detector
from aedetect.detectors import AutoEncoderDetector, BaseDetector

__version__ = "0.1.0"

__all__ = ["AutoEncoderDetector", "BaseDetector", "__version__", "load_detector", "save_detector"]
