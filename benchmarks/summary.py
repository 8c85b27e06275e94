"""The summary of quality records: means over seeds per dataset, then per group of datasets (mean
ROC-AUC/AP, mean rank, wins against a reference detector). Shared by the quality run, which
stores it, and the report, which recomputes it so older results files still render."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

WINS_REFERENCE = "iforest"
"""Per-dataset wins and losses are counted against this detector (the strong, cheap baseline)."""

METRICS = ("roc_auc", "average_precision")


def summarize(records: Sequence[dict[str, Any]], detectors: Sequence[str]) -> dict[str, Any]:
    """Mean over seeds per dataset, then per group: mean ROC-AUC/AP, mean rank, total seconds.

    A detector that failed on any seed of a dataset (or was not run there) has no value there;
    ``datasets_done`` says how many datasets each detector's means cover. Mean ranks and the
    ``*_common`` means use only the datasets every detector completed (``ranked_on``).
    """
    groups: dict[str, list[str]] = {}
    for rec in records:
        groups.setdefault(rec["group"], [])
        if rec["dataset"] not in groups[rec["group"]]:
            groups[rec["group"]].append(rec["dataset"])
    per_dataset = {
        dataset: _dataset_cells(records, dataset, detectors)
        for dataset in dict.fromkeys(r["dataset"] for r in records)
    }
    overall = {group: _group_summary(per_dataset, names, detectors) for group, names in groups.items()}
    return {"per_dataset": per_dataset, "groups": overall}


def _dataset_cells(
    records: Sequence[dict[str, Any]], dataset: str, detectors: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Each detector's means over the seeds it ran on ``dataset`` (no metric where one failed)."""
    cells: dict[str, dict[str, Any]] = {}
    for det in detectors:
        runs = [r for r in records if r["dataset"] == dataset and r["detector"] == det]
        if not runs:
            continue
        failed = [r["error"] for r in runs if r["error"]]
        cell: dict[str, Any] = {
            "seeds": len(runs),
            "errors": failed,
            "fit_s": _mean(r["fit_s"] for r in runs),
            "score_s": _mean(r["score_s"] for r in runs),
        }
        for metric in METRICS:
            values = [r[metric] for r in runs]
            ok = not failed
            cell[metric] = _mean(values) if ok else None
            cell[f"{metric}_std"] = float(np.std(values)) if ok else None
        cells[det] = cell
    return cells


def _group_summary(
    per_dataset: Mapping[str, Mapping[str, Any]], names: list[str], detectors: Sequence[str]
) -> dict[str, Any]:
    """One group's means, totals, ranks and wins over its datasets ``names``."""
    complete = [
        d for d in names if all(per_dataset[d].get(det, {}).get("roc_auc") is not None for det in detectors)
    ]
    group_summary: dict[str, Any] = {}
    for det in detectors:
        cells = [per_dataset[d][det] for d in names if det in per_dataset[d]]
        done = [c for c in cells if c["roc_auc"] is not None]
        group_summary[det] = {
            "roc_auc": _mean(c["roc_auc"] for c in done),
            "average_precision": _mean(c["average_precision"] for c in done),
            "datasets_done": len(done),
            "datasets_total": len(names),
            "fit_s_total": float(sum(c["fit_s"] for c in done)),
            "score_s_total": float(sum(c["score_s"] for c in done)),
        }
    for metric in METRICS:
        for det in detectors:
            group_summary[det][f"{metric}_common"] = _mean(per_dataset[d][det][metric] for d in complete)
            if WINS_REFERENCE in detectors and det != WINS_REFERENCE:
                group_summary[det][f"{metric}_wins"] = _wins(per_dataset, complete, det, metric)
        rank_lists: dict[str, list[float]] = {det: [] for det in detectors}
        for d in complete:
            for det, rank in _ranks({det: per_dataset[d][det][metric] for det in detectors}).items():
                rank_lists[det].append(rank)
        for det in detectors:
            group_summary[det][f"mean_rank_{metric}"] = _mean(rank_lists[det])
    return {"datasets": names, "ranked_on": complete, "detectors": group_summary}


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _ranks(scores: Mapping[str, float]) -> dict[str, float]:
    """Rank 1 = highest score; ties share the mean of their ranks."""
    ordered = sorted(scores.values(), reverse=True)
    ranks: dict[str, float] = {}
    for name, value in scores.items():
        positions = [i + 1 for i, v in enumerate(ordered) if v == value]
        ranks[name] = float(np.mean(positions))
    return ranks


def _wins(
    per_dataset: Mapping[str, Mapping[str, Any]], names: Sequence[str], det: str, metric: str
) -> dict[str, Any]:
    """On how many of ``names`` ``det`` beats the reference detector (and loses, ties), and where:
    the breadth of a difference, which a mean can hide."""
    better = [d for d in names if per_dataset[d][det][metric] > per_dataset[d][WINS_REFERENCE][metric]]
    worse = [d for d in names if per_dataset[d][det][metric] < per_dataset[d][WINS_REFERENCE][metric]]
    ties = len(names) - len(better) - len(worse)
    return {"wins": len(better), "losses": len(worse), "ties": ties, "won": better}
