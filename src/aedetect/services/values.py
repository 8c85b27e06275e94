"""Cells, scores and reconstructed values as JSON: what the scoring answers, the scoring log and
feedback store (JSON has no NaN and no numpy types)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def finite_or_none(value: float) -> float | None:
    """``value`` as a plain float, or ``None`` where it is not finite (JSON has no NaN)."""
    number = float(value)
    return number if math.isfinite(number) else None


def json_value(value: Any) -> Any:
    """A cell or reconstructed value as JSON: numbers as numbers (non-finite: null), the rest as text."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return finite_or_none(float(value))
    return str(value)
