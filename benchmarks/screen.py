"""Screens of score rules: fit the detector once per dataset, keep its score parts, try rules on them.

A change to how a fitted detector adds up its per-column parts (``error_knee``,
``magnitude_weight``, or a term the code does not have yet) needs no refit. ``fit`` fits the
detector on each dataset's train split, as :mod:`benchmarks.quality` does, and caches what its
score is made of, for the train and the test rows:

- ``recon``: per column, the members' mean reconstruction error over that column's training mean;
- ``magnitude``: per column, the members' mean magnitude of the reconstruction over its training
  mean (0 for a categorical column);
- ``inputs`` and ``codes``: the encoded input (numeric values in the network's units, category
  codes), for terms computed from the input itself;
- ``spread``: per numeric column, the members' variance of their reconstructions (how much the
  ensemble disagrees about a row);
- ``latent``: each member's bottleneck code of the row, (members, rows, code width), for scores
  in the latent space;

plus the labels, the detector's own test scores and IsolationForest's on the same split.
``compare`` then scores every cached run with each rule in seconds and counts, per suite, the
dataset-runs where a rule beats the first one and where it beats IsolationForest. A training change
is screened by running ``fit`` from a copy of the code with the change into a directory of its own
and comparing the two directories (runs match by dataset, split seed and random state).

```
python -m benchmarks.screen fit --out benchmarks/results/screen/rs0             # split 0, random_state 0
python -m benchmarks.screen fit --out benchmarks/results/screen/rs1 --random-state 1
python -m benchmarks.screen compare benchmarks/results/screen/rs0,benchmarks/results/screen/rs1 \\
    --rules default "knee=5" "knee=none" "tails=0.5" "spread=0.1"
```

A rule is ``key=value`` words; a missing key keeps the fitted detector's own setting:
``knee`` (``error_knee``, a number or ``none``), ``magnitude`` (``magnitude_weight``), ``tails``
(weight of the input's per-column tail scores, ECOD-style ``-log`` of the training tail
probability, each over its training mean), ``rarity`` (weight of each categorical value's
``-log`` training frequency, over its training mean), ``spread`` (weight of the members'
variance, over its training mean, averaged over the numeric columns and counted once per column),
``latent`` (weight of the distance of a row's code to its ``k`` nearest training codes, each
member's over its training mean, averaged over the members and counted once per column; ``k``
defaults to 10, or ``kfrac`` of the training codes; the training codes are a sample of at most
``ref`` rows, default 4,096, a training row's own code left out). A cache written while the detector
had a latent part of its own (``latent_weight``, removed after round 7) keeps it in rules without
``latent``; ``latent=0`` drops it.
``default`` is the detector's own rule; :func:`rule_scores` of it reproduces ``decision_function``.

The caches are this harness's own ``.npz`` files, read with ``allow_pickle=False``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from benchmarks.common import (
    DEFAULT_ADBENCH_DIR,
    DEFAULT_MVTEC_DIR,
    DEFAULT_NSL_KDD_DIR,
    Dataset,
    fmt,
    markdown_table,
    parse_list,
    select_datasets,
    set_threads,
)

RULE_KEYS = ("knee", "magnitude", "tails", "rarity", "spread", "latent", "k", "kfrac", "ref")
LATENT_REFERENCE = 4096
DISTANCE_CHUNK_ROWS = 1024
"""Rows whose distances to the latent reference are computed at a time (bounds the matrix)."""
GROUPS = ("adbench", "mvtec", "nsl-kdd")
REPORT_HEADERS = ("fits: rule", "runs", "ROC-AUC", "AP", "ROC up/down", "AP up/down", "beats IForest ROC/AP")


# ------------------------------------------------------------------------------------------ parts


def score_parts(detector: Any, X: Any) -> dict[str, np.ndarray]:
    """The per-row, per-column parts of ``detector``'s score on ``X`` (see the module docstring).

    Reads the fitted detector's internals (its encoded chunks, forward pass and scales): a
    screening tool, kept honest by :func:`rule_scores` reproducing ``decision_function``."""
    from aedetect.detectors.training import to_tensors

    recon, magnitude, inputs, codes, spread, latent = [], [], [], [], [], []
    for table in detector._encoded_chunks(X):
        t = to_tensors(table, detector.device_)
        r, m, out = detector._chunk_terms(t)
        with torch.no_grad():
            members_spread = out[0].var(dim=0) if out[0].shape[0] > 1 else torch.zeros_like(out[0][0])
            code = detector.network_.encode(detector._clip(t[0]), t[1], t[2])
        latent.append(code.cpu().numpy())
        recon.append((r / detector.column_scale_[:, None, :]).mean(axis=0))
        magnitude.append((m / detector.magnitude_scale_[:, None, :]).mean(axis=0))
        inputs.append(table.numeric)
        codes.append(table.codes)
        spread.append(members_spread.cpu().numpy())
    return {
        "recon": np.concatenate(recon),
        "magnitude": np.concatenate(magnitude),
        "inputs": np.concatenate(inputs).astype(np.float64),
        "codes": np.concatenate(codes),
        "spread": np.concatenate(spread).astype(np.float64),
        "latent": np.concatenate(latent, axis=1).astype(np.float32),
    }


def fit_and_cache(
    dataset: Dataset, split_seed: int, random_state: int, ae_params: Mapping[str, Any], out: Path
) -> Path:
    """Fit aedetect and IsolationForest on one split and write the parts to ``out/<name>.npz``."""
    from sklearn.ensemble import IsolationForest

    from aedetect import AutoEncoderDetector

    split = dataset.split(split_seed)
    started = time.perf_counter()
    detector = AutoEncoderDetector(**{**ae_params, "random_state": random_state}).fit(split.train)
    fit_seconds = time.perf_counter() - started
    train, test = score_parts(detector, split.train), score_parts(detector, split.test)
    forest = IsolationForest(random_state=random_state).fit(split.train_numeric)
    effective = detector.effective_params_
    arrays: dict[str, Any] = {f"{k}_train": v for k, v in train.items()}
    arrays.update({f"{k}_test": v for k, v in test.items()})
    arrays.update(
        y=np.asarray(split.y_test, dtype=np.int64),
        score=detector.decision_function(split.test),
        iforest=-forest.score_samples(split.test_numeric),
        kinds=np.array([detector.column_kinds_[c] for c in detector.columns_]),
        name=np.array(dataset.name),
        group=np.array(dataset.group),
        split_seed=np.array(split_seed),
        random_state=np.array(random_state),
        fit_seconds=np.array(fit_seconds),
        knee=np.array(np.nan if effective["error_knee"] is None else effective["error_knee"]),
        magnitude=np.array(effective["magnitude_weight"]),
        params=np.array(json.dumps(dict(ae_params))),
    )
    path = out / f"{dataset.name}.npz"
    np.savez_compressed(path, **arrays)
    return path


# ------------------------------------------------------------------------------------------ rules


def parse_rule(text: str) -> dict[str, float | None]:
    """``"knee=5 magnitude=0.6"`` → ``{"knee": 5.0, "magnitude": 0.6}``; ``"default"`` → ``{}``."""
    rule: dict[str, float | None] = {}
    for word in text.split():
        if word == "default":
            continue
        key, sep, value = word.partition("=")
        if not sep or key not in RULE_KEYS:
            expected = ", ".join(RULE_KEYS)
            raise ValueError(f"rule word {word!r}: expected key=value with a key of {expected}, or 'default'")
        if key == "knee" and value.lower() == "none":
            rule[key] = None
            continue
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"rule word {word!r}: {value!r} is not a number") from None
        if not np.isfinite(number) or number < 0 or (key == "knee" and number == 0):
            needs = "a number above 0 (or none)" if key == "knee" else "a finite number, 0 or more"
            raise ValueError(f"rule word {word!r}: {key} needs {needs}")
        rule[key] = number
    return rule


def _tail_scores(train: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per column, ``-log`` of the smaller training tail probability of each value (ECOD-style)."""
    out = np.zeros(rows.shape)
    n = train.shape[0]
    for j in range(train.shape[1]):
        ordered = np.sort(train[:, j])
        left = (np.searchsorted(ordered, rows[:, j], side="right") + 1) / (n + 1)
        right = (n - np.searchsorted(ordered, rows[:, j], side="left") + 1) / (n + 1)
        out[:, j] = -np.log(np.minimum(left, right))
    return out


def _rarity(train: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per categorical column, ``-log`` of each value's training frequency (unseen: half a row)."""
    out = np.zeros(rows.shape)
    n = train.shape[0]
    for j in range(train.shape[1]):
        values, counts = np.unique(train[:, j], return_counts=True)
        position = np.clip(np.searchsorted(values, rows[:, j]), 0, len(values) - 1)
        seen = values[position] == rows[:, j]
        out[:, j] = -np.log(np.where(seen, counts[position], 0.5) / n)
    return out


def _latent_term(cache: Mapping[str, np.ndarray], k: int, size: int = LATENT_REFERENCE) -> np.ndarray:
    """Each test row's latent distance (see the module docstring), per member over its training mean,
    averaged over the members."""
    train = torch.from_numpy(cache["latent_train"])
    n = train.shape[1]
    ids = np.arange(n)
    if n > size:
        ids = np.sort(np.random.default_rng(0).choice(n, size, replace=False))
    reference = train[:, torch.from_numpy(ids)]
    own = np.full(n, -1)
    own[ids] = np.arange(len(ids))
    scale = neighbour_distances(train, reference, own, k).double().mean(dim=1, keepdim=True).numpy()
    test = neighbour_distances(torch.from_numpy(cache["latent_test"]), reference, None, k).double().numpy()
    return (test / np.maximum(scale, 1e-12)).mean(axis=0)


def neighbour_distances(
    codes: torch.Tensor, reference: torch.Tensor, own: np.ndarray | None, k: int
) -> torch.Tensor:
    """Per member and row, the mean distance of the row's code to its ``k`` nearest reference codes
    (at most the reference rows less one). ``codes`` (members, rows, width), ``reference``
    (members, reference rows, width); ``own``, when given, is each row's position in the reference
    (-1 for none): a training row in the reference is not its own neighbour. Returns (members, rows).

    Distances are computed directly: the faster matrix-product form (|a|^2 + |b|^2 - 2ab) loses the
    small distances to rounding (a training row's score moved with its batch by 1e-4, measured)."""
    k = max(1, min(k, reference.shape[1] - 1))
    out = []
    for start in range(0, codes.shape[1], DISTANCE_CHUNK_ROWS):
        distances = torch.cdist(
            codes[:, start : start + DISTANCE_CHUNK_ROWS],
            reference,
            compute_mode="donot_use_mm_for_euclid_dist",
        )
        if own is not None:
            part = own[start : start + DISTANCE_CHUNK_ROWS]
            rows = np.flatnonzero(part >= 0)
            if len(rows):
                distances[:, torch.from_numpy(rows), torch.from_numpy(part[rows])] = float("inf")
        out.append(distances.topk(k, dim=2, largest=False).values.mean(dim=2))
    return torch.cat(out, dim=1) if out else codes.new_zeros((codes.shape[0], 0))


def _over_training_mean(train: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(train.mean(axis=0), 1e-12)


def rule_scores(cache: Mapping[str, np.ndarray], rule: Mapping[str, float | None]) -> np.ndarray:
    """The test rows' scores under ``rule`` (missing keys: the cached detector's own settings)."""
    knee = rule.get("knee", None if np.isnan(cache["knee"]) else float(cache["knee"]))
    magnitude = rule.get("magnitude", float(cache["magnitude"]))
    parts = cache["recon_test"].astype(np.float64)
    if knee is not None:
        parts = knee * np.log1p(parts / knee)
    if magnitude:
        parts = parts + magnitude * cache["magnitude_test"]
    score = parts.sum(axis=1)
    if rule.get("tails") and cache["inputs_train"].shape[1]:
        tails = _tail_scores(cache["inputs_train"], cache["inputs_train"])
        score = score + rule["tails"] * _over_training_mean(
            tails, _tail_scores(cache["inputs_train"], cache["inputs_test"])
        ).sum(axis=1)
    if rule.get("rarity") and cache["codes_train"].shape[1]:
        rarity = _rarity(cache["codes_train"], cache["codes_train"])
        score = score + rule["rarity"] * _over_training_mean(
            rarity, _rarity(cache["codes_train"], cache["codes_test"])
        ).sum(axis=1)
    if rule.get("spread") and cache["spread_train"].shape[1]:
        columns = cache["recon_test"].shape[1]
        spread = _over_training_mean(cache["spread_train"], cache["spread_test"]).mean(axis=1)
        score = score + rule["spread"] * columns * spread
    columns = cache["recon_test"].shape[1]
    own_weight = float(cache["latent_weight"]) if "latent_weight" in cache else 0.0
    if "latent" not in rule and own_weight:  # the detector's own latent part, as it scored
        score = score + own_weight * columns * cache["own_latent_test"]
    if rule.get("latent"):
        size = int(rule.get("ref") or LATENT_REFERENCE)
        k = int(rule.get("k") or 10)
        if rule.get("kfrac"):
            k = max(1, round(rule["kfrac"] * min(cache["latent_train"].shape[1], size)))
        score = score + rule["latent"] * columns * _latent_term(cache, k, size)
    return np.asarray(score)


# -------------------------------------------------------------------------------------- comparing


@dataclass(frozen=True, order=True)
class Run:
    """One cached fit: dataset, split seed, random state."""

    name: str
    group: str
    split_seed: int
    random_state: int


def load_caches(directories: Sequence[Path]) -> dict[Run, dict[str, np.ndarray]]:
    """Every cached run in ``directories`` (pooled), keyed by :class:`Run`."""
    caches: dict[Run, dict[str, np.ndarray]] = {}
    for directory in directories:
        files = sorted(directory.glob("*.npz"))
        if not files:
            command = f"python -m benchmarks.screen fit --out {directory}"
            raise SystemExit(f"no cached fits in {directory} (make them: {command})")
        for path in files:
            with np.load(path, allow_pickle=False) as data:
                cache = {key: data[key] for key in data.files}
            seeds = int(cache["split_seed"]), int(cache["random_state"])
            run = Run(str(cache["name"]), str(cache["group"]), *seeds)
            caches[run] = cache
    return caches


Scores = dict[Run, tuple[float, float]]
"""ROC-AUC and average precision per run."""


def evaluate(
    fit_sets: Sequence[Sequence[Path]], rules: Sequence[str]
) -> tuple[list[tuple[str, str]], dict[tuple[str, str], Scores], Scores]:
    """ROC-AUC and AP of every (fit set, rule) on every run; runs of the first fit set are the ones
    compared (a later set is matched to them). Also IsolationForest's, per run."""
    sets = [load_caches(dirs) for dirs in fit_sets]
    labels = [",".join(d.name for d in dirs) for dirs in fit_sets]
    parsed = [(text, parse_rule(text)) for text in rules]
    rows: list[tuple[str, str]] = []
    results: dict[tuple[str, str], Scores] = {}
    forest: Scores = {}
    for label, caches in zip(labels, sets, strict=True):
        for text, rule in parsed:
            key = (label, text)
            rows.append(key)
            results[key] = {}
            for run, cache in caches.items():
                if run not in sets[0]:
                    continue
                y, score = cache["y"], rule_scores(cache, rule)
                results[key][run] = (roc_auc_score(y, score), average_precision_score(y, score))
    for run, cache in sets[0].items():
        y, score = cache["y"], cache["iforest"]
        forest[run] = (roc_auc_score(y, score), average_precision_score(y, score))
    return rows, results, forest


def report(
    rows: list[tuple[str, str]],
    results: Mapping[tuple[str, str], Scores],
    forest: Scores,
    per_dataset: bool = False,
) -> str:
    """Markdown tables per suite: means, up/down against the first row, wins over IsolationForest."""
    base = results[rows[0]]
    out = []
    for group in GROUPS:
        table = []
        for key in rows:
            runs = sorted(r for r in results[key] if r.group == group and r in base)
            if not runs:
                continue
            roc = np.array([results[key][r][0] for r in runs])
            ap = np.array([results[key][r][1] for r in runs])
            ref = np.array([base[r] for r in runs])
            wins = np.array([forest[r] for r in runs])
            cells = [f"{key[0]}: {key[1]}", str(len(runs)), fmt(float(roc.mean()), 4)]
            cells.append(fmt(float(ap.mean()), 4))
            cells.append(f"{int((roc > ref[:, 0] + 1e-12).sum())}/{int((roc < ref[:, 0] - 1e-12).sum())}")
            cells.append(f"{int((ap > ref[:, 1] + 1e-12).sum())}/{int((ap < ref[:, 1] - 1e-12).sum())}")
            cells.append(f"{int((roc > wins[:, 0]).sum())}/{int((ap > wins[:, 1]).sum())}")
            table.append(cells)
            if per_dataset:
                for r, a, p in zip(runs, roc, ap, strict=True):
                    run_name = f"  {r.name} (split {r.split_seed}, rs {r.random_state})"
                    table.append([run_name, "", fmt(float(a)), fmt(float(p)), "", "", ""])
        if table:
            out.append(f"{group}\n\n" + markdown_table(REPORT_HEADERS, table))
    return "\n\n".join(out)


# ------------------------------------------------------------------------------------ command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.screen", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("fit", help="fit once per dataset and cache the score parts")
    fit.add_argument("--out", type=Path, required=True, help="directory for the cached fits")
    fit.add_argument(
        "--split-seed", type=int, default=0, help="ADBench split seed (NSL-KDD has a fixed split)"
    )
    fit.add_argument(
        "--random-state", type=int, default=0, help="the detector's and the forest's random_state"
    )
    fit.add_argument("--ae-params", default="{}", help="JSON object of AutoEncoderDetector keyword arguments")
    fit.add_argument(
        "--datasets",
        default=str(DEFAULT_ADBENCH_DIR),
        help="directory of the Classical .npz files (X, y); 'none' to skip",
    )
    fit.add_argument(
        "--mvtec", default=str(DEFAULT_MVTEC_DIR), help="MVTec-AD embedding .npz directory; 'none' to skip"
    )
    fit.add_argument("--nsl-kdd", default=str(DEFAULT_NSL_KDD_DIR), help="NSL-KDD directory; 'none' to skip")
    fit.add_argument("--only", default="", help="comma-separated dataset names")
    fit.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    compare = commands.add_parser("compare", help="score the cached fits with rules")
    compare.add_argument(
        "fits", nargs="+", help="fit sets: comma-separated directories, pooled; later sets match the first"
    )
    compare.add_argument(
        "--rules", nargs="+", default=["default"], help="rules, e.g. default 'knee=5 magnitude=0.6'"
    )
    compare.add_argument("--per-dataset", action="store_true", help="a line per run under each rule")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command == "compare":
        try:
            for text in args.rules:
                parse_rule(text)
        except ValueError as error:
            raise SystemExit(str(error)) from None
        fit_sets = [[Path(p) for p in parse_list(item)] for item in args.fits]
        print(report(*evaluate(fit_sets, args.rules), per_dataset=args.per_dataset))
        return 0
    ae_params = json.loads(args.ae_params)
    if not isinstance(ae_params, dict):
        raise SystemExit("--ae-params must be a JSON object, e.g. '{\"n_members\": 4}'")
    only = parse_list(args.only) or None
    set_threads(args.threads)
    classical = None if args.datasets.lower() == "none" else Path(args.datasets)
    datasets = select_datasets(classical, args.mvtec, args.nsl_kdd, only)
    if not datasets:
        raise SystemExit(f"no dataset selected (--only {args.only!r})")
    args.out.mkdir(parents=True, exist_ok=True)
    for dataset in datasets:
        path = args.out / f"{dataset.name}.npz"
        if path.exists():
            print(f"{dataset.name}: cached", file=sys.stderr)
            continue
        started = time.perf_counter()
        fit_and_cache(dataset, args.split_seed, args.random_state, ae_params, args.out)
        print(f"{dataset.name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
