"""What every body of the native API shares: the field helper :func:`F` (a description and an
example on every field), the request and response bases (unknown fields refused), path parameters
and the examples used across resources."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

Scalar = str | int | float | bool | None
DATASET_EXAMPLE = "ds_0123456789ab"
JOB_EXAMPLE = "5f0c6a1e9d2b4c7a8e3f1b2d4c6a8e0f"
WHEN = "2026-12-01T10:15:00Z"


def F(description: str, example: Any, default: Any = ..., **kwargs: Any) -> Any:
    """A field with its description and one example (what every field of this API carries)."""
    return Field(default, description=description, examples=[example], **kwargs)


ModelName = Annotated[str, Path(description="Model name (the v1 nn_id).", examples=["plant-7"])]
DatasetId = Annotated[str, Path(description="Dataset id.", examples=[DATASET_EXAMPLE])]
JobId = Annotated[str, Path(description="Job id.", examples=[JOB_EXAMPLE])]
AliasName = Annotated[
    str, Path(description="Alias name (production: what scoring and v1 use).", examples=["production"])
]
MAX_VERSION = 2**31 - 1
"""Largest version number a request may name (the registry stores 32-bit integers)."""
VersionNumber = Annotated[int, Path(ge=1, le=MAX_VERSION, description="Model version number.", examples=[3])]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Public(BaseModel):
    model_config = ConfigDict(extra="forbid")
