"""Bodies of the version and alias routes: what a trained version holds, and which version
each alias names."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aedetect.api.v2.schemas.common import DATASET_EXAMPLE, JOB_EXAMPLE, MAX_VERSION, WHEN, F, Public, Request
from aedetect.api.v2.schemas.jobs import LossHistory
from aedetect.api.v2.schemas.models import PARAMS_EXAMPLE
from aedetect.api.v2.schemas.thresholds import ThresholdPublic


class ColumnKind(Public):
    name: str = F("Column name.", "service")
    kind: Literal["numeric", "categorical"] = F("How the version encodes it.", "categorical")


class VersionPublic(Public):
    version: int = F("Model version number.", 3)
    model: str = F("Model name.", "plant-7")
    run_id: str = F("The v1 model id (nn_batch_ver_id) of this version.", "plant-7_1_3")
    job_id: str | None = F("The training job that made it.", JOB_EXAMPLE)
    dataset: str | None = F("Dataset it was trained on (null: v1 node files).", DATASET_EXAMPLE)
    rows: int | None = F("Training rows.", 125_973)
    columns: list[ColumnKind] = F("Columns and their kinds.", [])
    params: dict[str, Any] = F("Detector parameters after defaults.", PARAMS_EXAMPLE)
    history: LossHistory | None = F("Loss per epoch.", None)
    training_time_s: float | None = F("Seconds training took (fit and baseline).", 84.2)
    threshold: ThresholdPublic | None = F("The threshold in force.", None)
    metrics: dict[str, Any] = F(
        "Training metrics: final losses, epochs, the baseline summary and, with labelled evaluation data, "
        "the evaluation (same shape as the evaluate response).",
        {"epochs": 30},
    )
    aliases: list[str] = F("Aliases pointing at this version.", ["production"])
    created_at: datetime | None = F("When its training was queued (UTC).", WHEN)
    finished_at: datetime | None = F("When its training ended (UTC).", WHEN)


class VersionList(Public):
    items: list[VersionPublic] = F("Every version, oldest first.", [])
    next: str | None = F("Always null: every version is in this page.", None)


class AliasSet(Request):
    version: int = F("Model version the alias should name.", 2, ge=1, le=MAX_VERSION)
    note: str | None = F("Why (kept with the move).", "roll back: v3 flags too much", None, max_length=10_000)


class AliasMovePublic(Public):
    alias: str = F("Alias name.", "production")
    from_version: int | None = F("Version it named before (null: it was new).", 3)
    to_version: int | None = F("Version it names now (null: removed).", 2)
    actor: str | None = F("Who moved it: the API key's name and id (null with auth off).", None)
    note: str | None = F("Why.", None)
    moved_at: datetime | None = F("When (UTC).", WHEN)


class AliasPublic(Public):
    alias: str = F("Alias name.", "production")
    version: int | None = F("Version it names (null when removed).", 2)
    history: list[AliasMovePublic] = F("Every move of this alias, oldest first.", [])


class AliasList(Public):
    items: list[AliasPublic] = F("The model's aliases with their histories.", [])
    next: str | None = F("Always null.", None)
