"""Saving and loading fitted detectors: safetensors weights plus a checksummed JSON manifest."""

from aedetect.artifacts.store import load_detector, read_manifest, save_detector

__all__ = ["load_detector", "read_manifest", "save_detector"]
