"""Speed: training and scoring throughput and peak memory of aedetect, against PyOD's AutoEncoder and
as the number of rows grows.

Every case runs in a fresh subprocess (``--worker``, internal) so each peak-memory figure belongs to
that case alone. Run ``python -m benchmarks.speed --help``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO_ROOT,
    RESULTS_DIR,
    RssSampler,
    SyntheticTable,
    available_cores,
    command_line,
    current_rss_mb,
    display_path,
    machine_info,
    now_iso,
    parse_ints,
    peak_rss_mb,
    set_threads,
    synthetic_mixed,
    timed,
    write_json,
)

DEFAULT_SIZES = (10_000, 100_000, 1_000_000, 10_000_000)
CSV_SCORE_MAX_ROWS = 1_000_000
"""Growth cases up to this size also write their data as CSV and score it from the file in a fresh
process (the ``aedetect score`` path); larger files would only cost disk and time."""


def run_case(spec: dict[str, Any]) -> dict[str, Any]:
    """One case in this process: ``spec["kind"]`` is ``compare`` (an in-memory fit and scoring of
    aedetect or PyOD), ``growth`` (aedetect streaming a synthetic table of any size) or
    ``csv_score`` (a saved model scoring a CSV file chunk by chunk)."""
    if spec.get("threads"):
        set_threads(spec["threads"])
    kind = spec.get("kind", "compare")
    if kind == "growth":
        return run_growth_case(spec)
    if kind == "csv_score":
        return run_csv_score_case(spec)
    cls = _detector_class(spec["detector"])
    _warm_up(cls, spec)
    rss_start = current_rss_mb()
    data = synthetic_mixed(spec["rows"], spec["numeric"], spec["categorical"], spec.get("seed", 0))
    detector, X = _build(cls, spec, data)
    del data
    gc.collect()
    rss_data = current_rss_mb()
    load_before = os.getloadavg()[0]
    with RssSampler() as fit_rss, timed() as fit_time:
        detector.fit(X)
    peak_fit = peak_rss_mb()
    gc.collect()
    with RssSampler() as score_rss, timed() as score_time:
        scores = detector.decision_function(X)
    if len(scores) != spec["rows"]:
        raise RuntimeError(f"{len(scores)} scores for {spec['rows']} rows")
    epochs_run = _epochs_run(detector, spec["epochs"])
    return {
        **spec,
        "torch_threads": _threads_used(detector),
        "load_average_1min": load_before,
        "columns": spec["numeric"] + spec["categorical"],
        "epochs_run": epochs_run,
        "fit_s": fit_time.seconds,
        "score_s": score_time.seconds,
        "train_rows_epochs_per_s": spec["rows"] * epochs_run / fit_time.seconds,
        "score_rows_per_s": spec["rows"] / score_time.seconds,
        "rss_start_mb": rss_start,
        "rss_after_data_mb": rss_data,
        "fit_rss_sampled_mb": fit_rss.peak_mb,
        "score_rss_sampled_mb": score_rss.peak_mb,
        "peak_rss_fit_mb": peak_fit,
        "peak_rss_score_mb": peak_rss_mb(),
        "error": None,
    }


def run_growth_case(spec: dict[str, Any]) -> dict[str, Any]:
    """aedetect with its defaults (except ``epochs``) fitted on a :class:`SyntheticTable` that
    streams in chunks, then scoring it chunk by chunk; with ``csv_to``, the table is also written
    there as CSV; with ``save_to``, the model is saved there."""
    from aedetect import AutoEncoderDetector, save_detector

    table = SyntheticTable(spec["rows"], spec["numeric"], spec["categorical"], spec.get("seed", 0))
    rss_start = current_rss_mb()
    detector = AutoEncoderDetector(epochs=spec["epochs"], random_state=spec.get("seed", 0))
    with RssSampler() as fit_rss, timed() as fit_time:
        detector.fit(table)
    peak_fit = peak_rss_mb()
    gc.collect()
    n_scored = 0
    with RssSampler() as score_rss, timed() as score_time:
        for chunk in table:
            n_scored += len(detector.decision_function(chunk))
    if n_scored != spec["rows"]:
        raise RuntimeError(f"{n_scored} scores for {spec['rows']} rows")
    if spec.get("save_to"):
        save_detector(detector, spec["save_to"])
    if spec.get("csv_to"):
        with open(spec["csv_to"], "w", encoding="utf-8", newline="") as sink:
            for i, chunk in enumerate(table):
                chunk.to_csv(sink, index=False, header=i == 0)
    epochs_run = len(detector.history_["train_loss"])
    return {
        **spec,
        "torch_threads": _threads_used(detector),
        "load_average_1min": os.getloadavg()[0],
        "columns": spec["numeric"] + spec["categorical"],
        "epochs_run": epochs_run,
        "fit_s": fit_time.seconds,
        "score_s": score_time.seconds,
        "train_rows_epochs_per_s": spec["rows"] * epochs_run / fit_time.seconds,
        "score_rows_per_s": spec["rows"] / score_time.seconds,
        "rss_start_mb": rss_start,
        "fit_rss_sampled_mb": fit_rss.peak_mb,
        "score_rss_sampled_mb": score_rss.peak_mb,
        "peak_rss_fit_mb": peak_fit,
        "peak_rss_score_mb": peak_rss_mb(),
        "error": None,
    }


def run_csv_score_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Scoring alone, as ``aedetect score`` and a serving process do it: load the model saved at
    ``spec["model_dir"]`` and score the CSV file ``spec["csv"]`` chunk by chunk."""
    from aedetect import load_detector
    from aedetect.data import iter_csv_chunks

    rss_start = current_rss_mb()
    detector = load_detector(spec["model_dir"])
    n_scored = 0
    with RssSampler() as score_rss, timed() as score_time:
        for chunk in iter_csv_chunks(spec["csv"], chunk_rows=50_000):
            n_scored += len(detector.decision_function(chunk))
    if n_scored != spec["rows"]:
        raise RuntimeError(f"{n_scored} scores for {spec['rows']} rows")
    return {
        "csv_score_s": score_time.seconds,
        "csv_score_rows_per_s": spec["rows"] / score_time.seconds,
        "csv_score_rss_start_mb": rss_start,
        "csv_score_rss_sampled_mb": score_rss.peak_mb,
        "csv_score_peak_rss_mb": peak_rss_mb(),
        "error": None,
    }


def _threads_used(detector: Any) -> int:
    """aedetect's chosen thread count, or torch's setting (PyOD uses torch's)."""
    import torch

    effective = getattr(detector, "effective_params_", None)
    return int(effective["n_threads"]) if effective else torch.get_num_threads()


def _detector_class(name: str) -> type:
    """The detector class, imported now so that the start RSS includes the libraries."""
    if name == "aedetect":
        from aedetect import AutoEncoderDetector

        return AutoEncoderDetector
    if name == "pyod_ae":
        from pyod.models.auto_encoder import AutoEncoder

        return AutoEncoder
    raise ValueError(f"unknown detector {name!r}; choose aedetect or pyod_ae")


def _warm_up(cls: type, spec: dict[str, Any]) -> None:
    """One untimed epoch on a few rows, so one-off costs (torch's lazy imports on the first optimiser
    step) are not counted as training time."""
    tiny = {**spec, "rows": 512, "epochs": 1}
    detector, X = _build(cls, tiny, synthetic_mixed(512, spec["numeric"], spec["categorical"], 1))
    detector.fit(X)
    detector.decision_function(X)


def _build(cls: type, spec: dict[str, Any], data: Any) -> tuple[Any, Any]:
    """The detector of ``spec`` and the input it takes (aedetect: the frame; PyOD: a float matrix)."""
    given = {
        "n_hidden": spec.get("hidden"),
        "epochs": spec["epochs"],
        "batch_size": spec.get("batch_size"),
        "learning_rate": spec.get("learning_rate"),
    }
    if spec["detector"] == "aedetect":
        params = {k: v for k, v in given.items() if v is not None}
        # one network of PyOD's widths on every row for exactly ``epochs``: the same work as PyOD's
        same_work = {"n_estimators": 1, "validation_fraction": 0.0}
        detector = cls(random_state=spec.get("seed", 0), n_threads=spec.get("threads"), **same_work, **params)
        return detector, data
    if spec["categorical"]:
        raise ValueError("PyOD's AutoEncoder takes numeric input only: use categorical=0")
    names = {
        "n_hidden": "hidden_neuron_list",
        "epochs": "epoch_num",
        "batch_size": "batch_size",
        "learning_rate": "lr",
    }
    params = {names[k]: v for k, v in given.items() if v is not None}
    return cls(random_state=spec.get("seed", 0), verbose=0, **params), data.to_numpy(dtype="float64")


def _epochs_run(detector: Any, requested: int | None) -> int:
    """Epochs actually trained: the length of aedetect's ``history_`` (early stopping), else requested."""
    history = getattr(detector, "history_", None)
    if isinstance(history, dict):
        lengths = [len(v) for v in history.values() if isinstance(v, list)]
        if lengths and max(lengths) > 0:
            return max(lengths)
    if requested is None:
        raise ValueError("the detector does not say how many epochs it trained: pass --epochs")
    return requested


def run_in_subprocess(spec: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """:func:`run_case` in a fresh ``python -m benchmarks.speed --worker``; failures become an ``error``."""
    cmd = [sys.executable, "-m", "benchmarks.speed", "--worker", json.dumps(spec)]
    try:
        proc = subprocess.run(
            cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return {**spec, "error": f"timed out after {timeout_s:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        reason = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
        tail = proc.stderr.strip().splitlines()[-3:]
        return {**spec, "error": f"{reason}: {' | '.join(tail)}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _compare_round(
    args: argparse.Namespace, hidden: list[int], cases: list[dict[str, Any]]
) -> dict[str, Any]:
    """One round of the comparison: both detectors quiet, then both with the spinners running."""
    result: dict[str, Any] = {}
    for load in ["quiet", *(["loaded"] if args.load else [])]:
        compare: dict[str, Any] = {}
        with Spinners(args.load if load == "loaded" else 0):
            for detector in ("aedetect", "pyod_ae"):
                spec = {
                    "kind": "compare",
                    "load": load,
                    "detector": detector,
                    "rows": args.compare_rows,
                    "numeric": args.compare_features,
                    "categorical": 0,
                    "epochs": args.epochs,
                    "batch_size": args.batch_size,
                    "hidden": hidden,
                    "learning_rate": args.learning_rate,
                    "threads": args.threads,
                    "seed": 0,
                }
                compare[detector] = run_in_subprocess(spec, args.case_timeout)
                cases.append(compare[detector])
                print(_describe(compare[detector]), file=sys.stderr, flush=True)
        a, p = compare["aedetect"], compare["pyod_ae"]
        compare["ratios"] = {
            "train_throughput": _ratio(a.get("train_rows_epochs_per_s"), p.get("train_rows_epochs_per_s")),
            "score_throughput": _ratio(a.get("score_rows_per_s"), p.get("score_rows_per_s")),
            "peak_rss": _ratio(a.get("peak_rss_score_mb"), p.get("peak_rss_score_mb")),
        }
        result[load] = compare
    return result


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(statistics.median(present)) if present else None


def summarise_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The comparison as the tables show it: for each load and detector the median of every number
    over the rounds, the median of each round's ratios, and each detector's median slowdown under
    load (loaded fit time over the quiet fit time of the same round)."""
    summary: dict[str, Any] = {}
    for load in rounds[0]:
        per_load: dict[str, Any] = {}
        for name in ("aedetect", "pyod_ae"):
            runs = [r[load][name] for r in rounds]
            errors = [run["error"] for run in runs if run.get("error")]
            merged: dict[str, Any] = dict(runs[0])
            for key, value in runs[0].items():
                values = [run.get(key) for run in runs]
                numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
                if numeric and len(set(values)) > 1:
                    merged[key] = _median(values)
            merged["error"] = errors[0] if errors else None
            per_load[name] = merged
        per_load["ratios"] = {
            key: _median([r[load]["ratios"][key] for r in rounds]) for key in rounds[0][load]["ratios"]
        }
        summary[load] = per_load
    if "loaded" in summary:
        summary["slowdown"] = {
            name: _median(
                [_ratio(r["loaded"][name].get("fit_s"), r["quiet"][name].get("fit_s")) for r in rounds]
            )
            for name in ("aedetect", "pyod_ae")
        }
    return summary


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _describe(case: dict[str, Any]) -> str:
    if case.get("error"):
        return f"{case.get('detector', 'aedetect')} {case['rows']:,} rows: FAILED {case['error']}"
    text = (
        f"{case.get('detector', 'aedetect')} {case['rows']:,} rows ({case.get('load', 'quiet')}): "
        f"fit {case['fit_s']:.2f}s ({case['train_rows_epochs_per_s']:,.0f} rows*epochs/s), "
        f"score {case['score_s']:.2f}s ({case['score_rows_per_s']:,.0f} rows/s), "
        f"peak RSS {case['peak_rss_score_mb']:.0f} MiB"
    )
    if "csv_score_peak_rss_mb" in case:
        text += f"; scoring the CSV in a fresh process: peak RSS {case['csv_score_peak_rss_mb']:.0f} MiB"
    return text


class Spinners:
    """``count`` processes spinning on the CPUs while the block runs: a machine busy with other
    work, as a server that trains while it serves is."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Spinners:
        for _ in range(self.count):
            self._procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self._procs:
            proc.kill()
            proc.wait()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed",
        description="Training/scoring throughput and peak memory: aedetect vs PyOD AutoEncoder, and growth.",
    )
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="growth: rows per case")
    parser.add_argument("--epochs", type=int, default=5, help="comparison: training epochs of both")
    parser.add_argument("--growth-epochs", type=int, default=1, help="growth: training epochs")
    parser.add_argument("--batch-size", type=int, default=256, help="comparison: batch size of both")
    parser.add_argument("--hidden", default="64,32", help="comparison: hidden sizes of both (PyOD's default)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="comparison: learning rate of both")
    parser.add_argument("--compare-rows", type=int, default=100_000, help="comparison: rows")
    parser.add_argument("--compare-features", type=int, default=50, help="comparison: numeric columns")
    parser.add_argument("--numeric", type=int, default=40, help="growth: numeric columns")
    parser.add_argument("--categorical", type=int, default=10, help="growth: categorical columns")
    parser.add_argument("--parts", default="compare,growth", help="which parts to run: compare, growth")
    parser.add_argument(
        "--load",
        type=int,
        default=2,
        help="comparison: also run every case with this many spinning processes (0: quiet only)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="comparison: quiet-then-loaded rounds; the tables show medians (a shared machine is noisy)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads of every case (default: each detector's own choice; PyOD's is torch's default)",
    )
    parser.add_argument(
        "--case-timeout", type=float, default=3600.0, help="seconds before a case is abandoned"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "speed.json", help="results JSON")
    parser.add_argument("--write-md", action="store_true", help="update the speed section of BENCHMARKS.md")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns 1 when a case failed."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(args_list)
    if args.worker:
        print(json.dumps(run_case(json.loads(args.worker))), flush=True)
        return 0
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    unknown = parts - {"compare", "growth"}
    if unknown:
        raise SystemExit(f"unknown part(s) {sorted(unknown)}; choose from compare, growth")
    hidden = parse_ints(args.hidden)
    payload: dict[str, Any] = {
        "part": "speed",
        "created": now_iso(),
        "command": command_line("benchmarks.speed", args_list),
        "results_file": display_path(args.out),
        "machine": machine_info(),
        "config": {
            "epochs": args.epochs,
            "growth_epochs": args.growth_epochs,
            "batch_size": args.batch_size,
            "hidden": hidden,
            "learning_rate": args.learning_rate,
            "compare_rows": args.compare_rows,
            "compare_features": args.compare_features,
            "sizes": parse_ints(args.sizes),
            "numeric": args.numeric,
            "categorical": args.categorical,
            "threads": args.threads,
            "load_processes": args.load,
            "rounds": args.rounds,
            "usable_cores": available_cores(),
        },
    }
    cases: list[dict[str, Any]] = []
    if "compare" in parts:
        rounds = [_compare_round(args, hidden, cases) for _ in range(args.rounds)]
        payload["compare_rounds"] = rounds
        payload["compare"] = summarise_rounds(rounds)
    if "growth" in parts:
        growth = []
        for rows in payload["config"]["sizes"]:
            spec = {
                "kind": "growth",
                "rows": rows,
                "numeric": args.numeric,
                "categorical": args.categorical,
                "epochs": args.growth_epochs,
                "threads": args.threads,
                "seed": 0,
            }
            with tempfile.TemporaryDirectory(prefix="aedetect-speed-") as tmp:
                model_dir, csv = str(Path(tmp) / "model"), str(Path(tmp) / "data.csv")
                extra = {"save_to": model_dir, **({"csv_to": csv} if rows <= CSV_SCORE_MAX_ROWS else {})}
                case = run_in_subprocess({**spec, **extra}, args.case_timeout)
                if not case.get("error") and "csv_to" in extra:
                    scored = run_in_subprocess(
                        {"kind": "csv_score", "rows": rows, "model_dir": model_dir, "csv": csv},
                        args.case_timeout,
                    )
                    case.update(scored if not scored.get("error") else {"csv_score_error": scored["error"]})
            case.pop("save_to", None)
            case.pop("csv_to", None)
            growth.append(case)
            cases.append(case)
            print(_describe(case), file=sys.stderr, flush=True)
        payload["growth"] = growth
    write_json(args.out, payload)
    print(f"results: {args.out}", file=sys.stderr)
    if args.write_md:
        from benchmarks.report import update_markdown

        print(f"updated {update_markdown(speed=payload)}", file=sys.stderr)
    return 1 if any(c.get("error") for c in cases) else 0


if __name__ == "__main__":
    raise SystemExit(main())
