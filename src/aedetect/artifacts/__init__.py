"""Saving and loading fitted detectors: safetensors weights plus a checksummed JSON manifest, and
the training profile beside them."""

from aedetect.artifacts.profile import load_profile, save_profile
from aedetect.artifacts.store import load_detector, read_manifest, save_detector

__all__ = ["load_detector", "load_profile", "read_manifest", "save_detector", "save_profile"]
