"""Detection quality: the ADBench unsupervised protocol for aedetect and its peers, plus NSL-KDD.

For each dataset and seed (stratified 70/30 split, ``random_state=seed``) every detector is fitted on
the train part without labels and scores the test part; ROC-AUC and average precision are averaged
over seeds, then over datasets. NSL-KDD is trained on all train rows and on normal rows only, and
scored on ``KDDTest+``.

Run ``python -m benchmarks.quality --help``; from Python, :func:`run_quality` compares any set of
detector factories on the same splits.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from benchmarks.common import (
    DEFAULT_ADBENCH_DIR,
    DEFAULT_MVTEC_DIR,
    DEFAULT_NSL_KDD_DIR,
    REPO_ROOT,
    RESULTS_DIR,
    Dataset,
    Split,
    command_line,
    display_path,
    load_npz_datasets,
    machine_info,
    now_iso,
    parse_ints,
    parse_list,
    read_json,
    select_datasets,
    set_threads,
    timed,
    write_json,
)
from benchmarks.summary import summarize

DEFAULT_DETECTORS = ("aedetect", "iforest", "pyod_ae", "ecod")
DEFAULT_SEEDS = (0, 1, 2)


class Detector(Protocol):
    """What the harness needs of a detector: unsupervised ``fit`` and higher-is-more-anomalous scores."""

    def fit(self, X: Any, y: Any = None) -> Any:
        """Learn from ``X`` without labels."""

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly score per row, higher = more anomalous."""


DetectorFactory = Callable[[int], Detector]


class IsolationForestScores:
    """scikit-learn's IsolationForest with the scores turned round (sklearn: higher = more normal)."""

    def __init__(self, random_state: int) -> None:
        from sklearn.ensemble import IsolationForest

        self.model = IsolationForest(random_state=random_state)

    def fit(self, X: Any, y: Any = None) -> IsolationForestScores:
        """Fit the forest on ``X``."""
        self.model.fit(X)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Negated ``score_samples``: higher = more anomalous."""
        return -np.asarray(self.model.score_samples(X))


def aedetect_factory(params: Mapping[str, Any] | None = None) -> DetectorFactory:
    """aedetect's ``AutoEncoderDetector(random_state=seed, **params)`` (defaults when ``params`` is empty)."""
    extra = dict(params or {})

    def make(seed: int) -> Detector:
        from aedetect import AutoEncoderDetector

        detector: Detector = AutoEncoderDetector(**{"random_state": seed, **extra})
        return detector

    return make


def iforest_factory(seed: int) -> Detector:
    """scikit-learn's IsolationForest with its defaults and ``random_state=seed``."""
    return IsolationForestScores(random_state=seed)


def pyod_ae_factory(seed: int) -> Detector:
    """PyOD's AutoEncoder with its defaults, ``random_state=seed`` and no progress bar."""
    from pyod.models.auto_encoder import AutoEncoder

    detector: Detector = AutoEncoder(random_state=seed, verbose=0)
    return detector


def ecod_factory(seed: int) -> Detector:
    """PyOD's ECOD (deterministic, so ``seed`` is unused)."""
    from pyod.models.ecod import ECOD

    detector: Detector = ECOD()
    return detector


def builtin_detectors(
    names: Iterable[str], ae_params: Mapping[str, Any] | None = None
) -> dict[str, DetectorFactory]:
    """The named built-in factories: ``aedetect``, ``iforest``, ``pyod_ae``, ``ecod``."""
    known: dict[str, DetectorFactory] = {
        "aedetect": aedetect_factory(ae_params),
        "iforest": iforest_factory,
        "pyod_ae": pyod_ae_factory,
        "ecod": ecod_factory,
    }
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown detector(s) {unknown}; choose from {sorted(known)}")
    return {name: known[name] for name in names}


def takes_mixed_frame(detector: Detector) -> bool:
    """aedetect detectors get the data as a user has it (mixed frame); others the numeric encoding."""
    from aedetect.detectors.base import BaseDetector

    return isinstance(detector, BaseDetector)


def evaluate_once(
    name: str, factory: DetectorFactory, dataset: Dataset, split: Split, seed: int
) -> dict[str, Any]:
    """Fit one detector on one split and score the test part; errors are recorded, not raised."""
    record: dict[str, Any] = {
        "dataset": dataset.name,
        "group": dataset.group,
        "detector": name,
        "seed": seed,
        "n_train": int(np.shape(split.train)[0]),
        "n_test": len(split.y_test),
    }
    try:
        detector = factory(seed)
        mixed = takes_mixed_frame(detector)
        train, test = (split.train, split.test) if mixed else (split.train_numeric, split.test_numeric)
        with timed() as fit_time:
            detector.fit(train)
        with timed() as score_time:
            scores = np.asarray(detector.decision_function(test), dtype=np.float64)
        if not np.all(np.isfinite(scores)):
            raise ValueError(f"{int((~np.isfinite(scores)).sum())} non-finite scores")
        record.update(
            roc_auc=float(roc_auc_score(split.y_test, scores)),
            average_precision=float(average_precision_score(split.y_test, scores)),
            fit_s=fit_time.seconds,
            score_s=score_time.seconds,
            error=None,
        )
    except Exception as exc:  # a failing detector must not lose the other results of a long run
        record.update(
            roc_auc=None,
            average_precision=None,
            fit_s=None,
            score_s=None,
            error=f"{type(exc).__name__}: {exc}",
        )
    return record


def warm_up(detectors: Mapping[str, DetectorFactory], dataset: Dataset) -> None:
    """Fit and score each detector once on a small slice, untimed, so that one-off costs (torch's lazy
    imports on the first optimizer, caches) do not land on the first dataset's fit time."""
    split = dataset.split(0)
    n = min(64, len(split.y_test))
    head = Split(
        _head(split.train, n),
        _head(split.test, n),
        split.y_test[:n],
        split.train_numeric[:n],
        split.test_numeric[:n],
    )
    for name, factory in detectors.items():
        evaluate_once(name, factory, dataset, head, 0)


def _head(data: np.ndarray | pd.DataFrame, n: int) -> np.ndarray | pd.DataFrame:
    return data.iloc[:n] if isinstance(data, pd.DataFrame) else data[:n]


def run_quality(
    detectors: Mapping[str, DetectorFactory],
    datasets: Sequence[Dataset] | Path | str = DEFAULT_ADBENCH_DIR,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run every detector on every dataset and seed, on the same splits; return records and summary.

    Parameters
    ----------
    detectors : mapping of name to ``factory(seed) -> detector``
        Each detector needs ``fit(X)`` and ``decision_function(X)`` (higher = more anomalous).
        aedetect detectors (``BaseDetector``) get mixed-type frames as they are; others get the
        numeric encoding (one-hot + standard scaling on NSL-KDD, the raw array on ADBench).
    datasets : sequence of datasets, or a directory of ``.npz`` files
        See :func:`benchmarks.common.load_npz_datasets` and :func:`benchmarks.common.load_nsl_kdd`.
    seeds : sequence of int
        Split seeds (ADBench datasets) and detector ``random_state``.
    progress : callable, optional
        Called with each record as soon as it is measured.

    Returns
    -------
    dict
        ``{"records": [...], "datasets": {name: info}, "summary": {...}}`` (JSON-serialisable).
    """
    if isinstance(datasets, str | Path):
        datasets = load_npz_datasets(Path(datasets))
    datasets = list(datasets)
    records: list[dict[str, Any]] = []
    if datasets:
        warm_up(detectors, datasets[0])
    for dataset in datasets:
        for seed in seeds:
            split = dataset.split(seed)
            for name, factory in detectors.items():
                record = evaluate_once(name, factory, dataset, split, seed)
                records.append(record)
                if progress is not None:
                    progress(record)
                gc.collect()
    infos = {d.name: {"group": d.group, **d.info} for d in datasets}
    return {"records": records, "datasets": infos, "summary": summarize(records, list(detectors))}


def merge_records(
    previous: Sequence[dict[str, Any]], new: Sequence[dict[str, Any]], replaced: Iterable[str]
) -> list[dict[str, Any]]:
    """Earlier records of detectors not re-run now, followed by the new ones."""
    again = set(replaced)
    return [r for r in previous if r["detector"] not in again] + list(new)


def print_record(record: dict[str, Any]) -> None:
    """One progress line on stderr."""
    if record["error"]:
        line = f"FAILED {record['error']}"
    else:
        line = (
            f"ROC-AUC {record['roc_auc']:.4f}  AP {record['average_precision']:.4f}  "
            f"fit {record['fit_s']:.2f}s  score {record['score_s']:.2f}s"
        )
    print(
        f"{record['dataset']:>16} seed={record['seed']} {record['detector']:>9}: {line}",
        file=sys.stderr,
        flush=True,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.quality",
        description="ADBench unsupervised protocol and NSL-KDD for aedetect and its peers.",
    )
    parser.add_argument(
        "--datasets", type=Path, default=DEFAULT_ADBENCH_DIR, help="directory of .npz files (X, y)"
    )
    parser.add_argument(
        "--mvtec",
        default=str(DEFAULT_MVTEC_DIR),
        help="directory of the ADBench MVTec-AD embedding .npz files (a second suite); 'none' to skip",
    )
    parser.add_argument(
        "--nsl-kdd",
        default=str(DEFAULT_NSL_KDD_DIR),
        help="NSL-KDD directory (columns.txt, KDDTrain+_20Percent.txt, KDDTest+.txt); 'none' to skip",
    )
    parser.add_argument("--detectors", default=",".join(DEFAULT_DETECTORS), help="comma-separated names")
    parser.add_argument(
        "--seeds", default=",".join(map(str, DEFAULT_SEEDS)), help="comma-separated split seeds"
    )
    parser.add_argument(
        "--only", default="", help="comma-separated dataset names (e.g. cardio,6_cardio,nsl_kdd)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "quality.json", help="results JSON")
    parser.add_argument(
        "--ae-params", default="{}", help="JSON object of AutoEncoderDetector keyword arguments"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all usable cores)")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other detectors' records already in --out (the splits are the same for a seed)",
    )
    parser.add_argument("--write-md", action="store_true", help="update the quality section of BENCHMARKS.md")
    parser.add_argument(
        "--combine",
        nargs="+",
        type=Path,
        help="instead of running: join results files of one commit (e.g. suites run in parallel "
        "processes) into --out",
    )
    return parser


def same_library(commit_a: str | None, commit_b: str | None) -> bool:
    """Whether two commits hold the same ``src/`` (commits that changed only benchmarks, tests or
    documents measured the same library)."""
    if commit_a == commit_b:
        return True
    if not commit_a or not commit_b:
        return False
    diff = subprocess.run(
        ["git", "diff", "--quiet", commit_a, commit_b, "--", "src"], cwd=REPO_ROOT, check=False
    )
    return diff.returncode == 0


def combine_results(paths: Sequence[Path]) -> dict[str, Any]:
    """One payload from results files measured on the same commit with the same detectors and
    seeds (suites run side by side in separate processes); refuses files that differ."""
    parts = [read_json(p) for p in paths]
    first = parts[0]
    for path, part in zip(paths, parts, strict=True):
        for key in ("detectors", "seeds", "ae_params", "threads"):
            if part["config"][key] != first["config"][key]:
                raise SystemExit(f"{path}: config {key} {part['config'][key]!r} differs from {paths[0]}")
        if not same_library(first["machine"].get("git_commit"), part["machine"].get("git_commit")):
            raise SystemExit(f"{path} was measured on other library code (src/) than {paths[0]}")
    records = [r for part in parts for r in part["records"]]
    detectors = first["config"]["detectors"]
    return {
        **first,
        "created": max(part["created"] for part in parts),
        "command": " & ".join(part["command"] for part in parts),
        "config": {**first["config"], "combined_from": [display_path(p) for p in paths]},
        "datasets": {k: v for part in parts for k, v in part["datasets"].items()},
        "records": records,
        "summary": summarize(records, detectors),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (1 when a detector failed somewhere)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(args_list)
    if args.combine:
        combined = {**combine_results(args.combine), "results_file": display_path(args.out)}
        write_json(args.out, combined)
        if args.write_md:
            from benchmarks.report import update_markdown

            print(f"updated {update_markdown(quality=combined)}", file=sys.stderr)
        return 0
    ae_params = json.loads(args.ae_params)
    if not isinstance(ae_params, dict):
        raise SystemExit("--ae-params must be a JSON object, e.g. '{\"epochs\": 30}'")
    names = parse_list(args.detectors)
    detectors = builtin_detectors(names, ae_params)
    seeds = parse_ints(args.seeds)
    only = parse_list(args.only) or None
    threads = set_threads(args.threads)

    datasets = select_datasets(args.datasets, args.mvtec, args.nsl_kdd, only)
    if not datasets:
        raise SystemExit(f"no dataset selected (directory {args.datasets}, --only {args.only!r})")
    print(
        f"quality: {len(datasets)} datasets x {len(seeds)} seeds x {len(names)} detectors, {threads} threads",
        file=sys.stderr,
    )

    result = run_quality(detectors, datasets, seeds, progress=print_record)
    records = result["records"]
    all_names = list(names)
    infos = result["datasets"]
    if args.merge and args.out.exists():
        previous = read_json(args.out)
        records = merge_records(previous.get("records", []), records, names)
        all_names = [*(d for d in previous.get("config", {}).get("detectors", []) if d not in names), *names]
        all_names = [d for d in all_names if any(r["detector"] == d for r in records)]
        infos = {**previous.get("datasets", {}), **infos}

    payload = {
        "part": "quality",
        "created": now_iso(),
        "command": command_line("benchmarks.quality", args_list),
        "results_file": display_path(args.out),
        "machine": machine_info(),
        "config": {
            "detectors": all_names,
            "seeds": seeds,
            "ae_params": ae_params,
            "threads": threads,
            "datasets_dir": str(args.datasets),
            "mvtec_dir": args.mvtec,
            "nsl_kdd_dir": args.nsl_kdd,
            "merged": bool(args.merge),
        },
        "datasets": infos,
        "records": records,
        "summary": summarize(records, all_names),
    }
    write_json(args.out, payload)
    print(f"results: {args.out}", file=sys.stderr)
    if args.write_md:
        from benchmarks.report import update_markdown

        print(f"updated {update_markdown(quality=payload)}", file=sys.stderr)
    failed = [r for r in records if r["error"]]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
