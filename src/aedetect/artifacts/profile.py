"""The training profile as part of a model's artifact: ``profile.json`` beside the weights and
manifest of the model directory (plain JSON, a few kilobytes; see :mod:`aedetect.data.profile`)."""

from __future__ import annotations

import json
from pathlib import Path

from aedetect.data.profile import TrainingProfile
from aedetect.errors import ArtifactError, InvalidInput

PROFILE = "profile.json"


def save_profile(profile: TrainingProfile, directory: str | Path) -> Path:
    """Write ``profile`` into a model directory; returns the file."""
    path = Path(directory) / PROFILE
    text = json.dumps(profile.to_dict(), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    path.write_text(text, encoding="utf-8")
    return path


def load_profile(directory: str | Path) -> TrainingProfile | None:
    """The profile of a model directory, ``None`` when the model was saved without one;
    ``ArtifactError`` when the file is damaged."""
    path = Path(directory) / PROFILE
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise InvalidInput("the profile is not a JSON object")
        return TrainingProfile.from_dict(document)
    except (UnicodeDecodeError, json.JSONDecodeError, InvalidInput, ValueError, TypeError) as exc:
        raise ArtifactError(f"the training profile {PROFILE} of this model is damaged ({exc})") from exc
