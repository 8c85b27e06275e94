"""Operator feedback: labels (``anomaly`` or ``normal``) on logged rows or on rows given with the
label, kept per model (they survive retraining and the log's retention, since each keeps a copy of
what its row was scored with). The labels are a growing evaluation set:

* as served: the precision of the alarms so far and the recall on confirmed anomalies, from the
  verdicts the rows got when they were scored;
* for one model version: the same figures with the rows judged by that version now (its logged
  score where it scored the row, else the row's values scored again);
* the ``feedback`` threshold strategy (:func:`precision_threshold`, or the false-alarm rate on the
  rows confirmed normal) and the ``feedback`` training option (:func:`feedback_frame`: confirmed
  normal rows in, confirmed anomalies out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from aedetect.data.encoding import category_keys
from aedetect.domain import PRODUCTION, Feedback, FeedbackLabel, TrainingRun
from aedetect.errors import InvalidInput, NotFound
from aedetect.registry.base import Registry
from aedetect.services.paths import check_nn_id
from aedetect.services.scorelog import utcnow
from aedetect.services.scoring import ScoringService, current_threshold, native_rows
from aedetect.services.values import json_value

MAX_PAGE = 1000
MIN_LABELLED = 10
"""Fewest labelled rows a version must be judged on before the feedback strategy proposes a threshold."""


@dataclass
class Judged:
    """Labelled rows as one model version judges them: scores, truth (1 = anomaly), the items, and
    how many could not be scored (no values kept, or values lacking the version's columns)."""

    scores: np.ndarray
    truth: np.ndarray
    items: list[Feedback]
    unscored: int


def figures(truth: np.ndarray, flagged: np.ndarray) -> dict[str, Any]:
    """Precision of the alarms, recall on confirmed anomalies, false-alarm rate on confirmed
    normals, and the counts behind them (``None`` where a share has nothing to divide by)."""
    t = np.asarray(truth, dtype=bool)
    f = np.asarray(flagged, dtype=bool)
    tp, fp = int(np.sum(t & f)), int(np.sum(~t & f))
    fn, tn = int(np.sum(t & ~f)), int(np.sum(~t & ~f))
    return {
        "labelled": int(t.size),
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "false_alarm_rate": fp / (fp + tn) if fp + tn else None,
        "confirmed_anomalies": tp,
        "false_alarms": fp,
        "missed_anomalies": fn,
        "confirmed_normals": tn,
    }


def precision_threshold(scores: np.ndarray, truth: np.ndarray, current: float, target: float) -> float:
    """The lowest threshold (the most anomalies caught), among the current one and the labelled
    scores, at which at least ``target`` of the labelled alarms are confirmed anomalies;
    ``InvalidInput`` naming ``target_precision`` when the labels cannot reach it."""
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(truth, dtype=bool)
    if not t.any():
        raise InvalidInput(
            "no labelled row is a confirmed anomaly: label alarms as anomaly or normal first",
            field="target_precision",
        )
    candidates = np.unique(np.concatenate([s, [current]]))  # ascending
    order = np.sort(s)
    # alarms and confirmed ones above each candidate: rows whose score is strictly greater
    above = order.size - np.searchsorted(order, candidates, side="right")
    confirmed_sorted = np.sort(s[t])
    confirmed = confirmed_sorted.size - np.searchsorted(confirmed_sorted, candidates, side="right")
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(above > 0, confirmed / above, np.nan)
    good = np.flatnonzero(precision >= target - 1e-12)
    if not good.size:
        best = int(np.nanargmax(precision))
        raise InvalidInput(
            f"no threshold reaches precision {target} on the {s.size} labelled rows (the best "
            f"is {precision[best]:.3f}, above {candidates[best]:.6g}); lower target_precision or label "
            "more rows",
            field="target_precision",
        )
    return float(candidates[good[0]])


def _row_keys(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """One hash per row over the canonical keys of its model-column values (1 and 1.0 agree)."""
    keys = pd.DataFrame({c: category_keys(frame[c]).fillna("\0missing") for c in columns}, index=frame.index)
    return pd.util.hash_pandas_object(keys, index=False)


def feedback_frame(
    frame: pd.DataFrame, items: Sequence[Feedback], columns: Sequence[str]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The training frame with the feedback applied: rows confirmed normal added, training rows
    equal (in every model column) to a confirmed anomaly removed; and the provenance to record.
    Labels without the row's values (or lacking a model column) are skipped and counted."""
    usable = [i for i in items if i.values is not None and all(c in i.values for c in columns)]
    normals = [i for i in usable if i.label is FeedbackLabel.NORMAL]
    anomalies = [i for i in usable if i.label is FeedbackLabel.ANOMALY]
    kept = frame
    removed = 0
    if anomalies and len(frame):
        bad = pd.DataFrame([i.values for i in anomalies], columns=list(columns))
        hit = _row_keys(frame, columns).isin(set(_row_keys(bad, columns)))
        removed = int(hit.sum())
        kept = frame.loc[~hit.to_numpy()]
    if normals:
        extra = pd.DataFrame([i.values for i in normals], columns=list(columns))
        for c in columns:
            if c in frame.columns and pd.api.types.is_numeric_dtype(frame[c]):
                extra[c] = pd.to_numeric(extra[c], errors="coerce")
        kept = pd.concat([kept, extra], ignore_index=True)
    provenance = {
        "normal_rows_added": len(normals),
        "anomaly_labels": len(anomalies),
        "training_rows_removed": removed,
        "labels_without_values": len(items) - len(usable),
        "feedback_ids": sorted(i.feedback_id for i in usable),
    }
    return kept.reset_index(drop=True), provenance


class FeedbackService:
    """Labels of a model's scored rows, their figures, and the labelled set of a version."""

    def __init__(self, registry: Registry, scoring: ScoringService) -> None:
        self._registry = registry
        self._scoring = scoring

    # --- adding -------------------------------------------------------------------------------
    def label_logged(
        self, name: str, items: Sequence[Mapping[str, Any]], actor: str | None = None
    ) -> list[Feedback]:
        """Label logged rows: ``items`` of ``{"id", "label", "note"?}``. ``NotFound`` naming the
        first id the model's log does not hold (nothing is stored then)."""
        check_nn_id(name)
        if not items:
            raise InvalidInput("items holds no item: send at least one {id, label}", field="items")
        ids = [int(i["id"]) for i in items]
        found = self._registry.get_score_records(name, ids)
        for index, log_id in enumerate(ids):
            if log_id not in found:
                raise NotFound(
                    f"items[{index}].id {log_id}: model '{name}' logged no row with this id (the log "
                    "keeps rows for AEDETECT_LOG_RETENTION_DAYS and _ROWS; label a row that is gone by "
                    "sending its values as rows)",
                    field=f"items[{index}].id",
                )
        labelled = []
        for item in items:
            record = found[int(item["id"])]
            labelled.append(
                Feedback(
                    feedback_id=0,
                    nn_id=name,
                    label=FeedbackLabel(item["label"]),
                    log_id=record.log_id,
                    note=item.get("note"),
                    actor=actor,
                    run_id=record.run_id,
                    model_version=record.model_version,
                    score=record.score,
                    is_anomaly=record.is_anomaly,
                    threshold=record.threshold,
                    scored_at=record.scored_at,
                    values=record.values,
                )
            )
        return self._registry.save_feedback(labelled)

    def label_rows(
        self,
        name: str,
        rows: Sequence[Any],
        label: str,
        note: str | None = None,
        actor: str | None = None,
    ) -> list[Feedback]:
        """Label rows that are not in the log: they are scored by the ``production`` version (so
        each gets a verdict) and kept with their values; they are not logged as traffic."""
        run = self._registry.resolve_alias(check_nn_id(name), PRODUCTION)
        detector = self._scoring.detector(run)
        checked = native_rows(rows, detector.columns_)
        scores = np.asarray(detector.decision_function(checked), dtype=np.float64)
        threshold = current_threshold(run, detector)
        now = utcnow()
        labelled = [
            Feedback(
                feedback_id=0,
                nn_id=name,
                label=FeedbackLabel(label),
                note=note,
                actor=actor,
                run_id=run.run_id,
                model_version=run.model_version,
                score=float(score) if np.isfinite(score) else None,
                is_anomaly=bool(score > threshold),
                threshold=threshold,
                scored_at=now,
                values={c: json_value(row[c]) for c in detector.columns_},
            )
            for row, score in zip(checked, scores, strict=True)
        ]
        return self._registry.save_feedback(labelled)

    def delete(self, name: str, feedback_id: int) -> Feedback:
        return self._registry.delete_feedback(check_nn_id(name), feedback_id)

    # --- reading ------------------------------------------------------------------------------
    def page(
        self, name: str, label: FeedbackLabel | None, cursor: int | None, limit: int
    ) -> tuple[list[Feedback], int | None]:
        """Labels newest first, and the cursor of the next page."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be from 1 to {MAX_PAGE}, got {limit}", field="limit")
        found = self._registry.list_feedback(check_nn_id(name), label=label, before=cursor, limit=limit + 1)
        page = found[:limit]
        return page, (page[-1].feedback_id if len(found) > limit and page else None)

    def judged(self, run: TrainingRun) -> Judged:
        """The model's labelled rows judged by the version ``run``: its logged score where it
        scored the row, else the row's values scored by it."""
        items = self._registry.list_feedback(run.nn_id)
        detector = self._scoring.detector(run)
        columns = detector.columns_
        known: list[tuple[Feedback, float]] = []
        rescore: list[Feedback] = []
        for item in items:
            if item.run_id == run.run_id and item.score is not None:
                known.append((item, item.score))
            elif item.values is not None and all(c in item.values for c in columns):
                rescore.append(item)
        if rescore:
            fresh = detector.decision_function([i.values or {} for i in rescore])
            known += list(zip(rescore, np.asarray(fresh, dtype=np.float64).tolist(), strict=True))
        known = [(i, s) for i, s in known if np.isfinite(s)]
        return Judged(
            scores=np.asarray([s for _, s in known], dtype=np.float64),
            truth=np.asarray([i.label is FeedbackLabel.ANOMALY for i, _ in known], dtype=bool),
            items=[i for i, _ in known],
            unscored=len(items) - len(known),
        )

    def summary(self, name: str, version_run: TrainingRun | None = None) -> dict[str, Any]:
        """The figures of the labels: as served (the verdicts rows got when scored), or as the
        given version judges them now (``version`` and ``unscored`` say which and what it skipped)."""
        if version_run is None:
            items = self._registry.list_feedback(check_nn_id(name))
            truth = np.asarray([i.label is FeedbackLabel.ANOMALY for i in items], dtype=bool)
            flagged = np.asarray([bool(i.is_anomaly) for i in items], dtype=bool)
            return {**figures(truth, flagged), "version": None, "threshold": None, "unscored": 0}
        judged = self.judged(version_run)
        threshold = current_threshold(version_run, self._scoring.detector(version_run))
        return {
            **figures(judged.truth, judged.scores > threshold),
            "version": version_run.model_version,
            "threshold": threshold,
            "unscored": judged.unscored,
        }
