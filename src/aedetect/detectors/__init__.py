"""The ML library: the detector contract and the autoencoder detector."""

from aedetect.detectors.autoencoder import AutoEncoderDetector
from aedetect.detectors.base import BaseDetector

__all__ = ["AutoEncoderDetector", "BaseDetector"]
