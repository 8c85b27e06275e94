"""Shared pieces of the benchmarks: dataset loading, timing, memory, markdown tables, machine description.

Kept free of aedetect imports so the peers' runs work while the detector is being written.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
BENCHMARKS_MD = REPO_ROOT / "BENCHMARKS.md"
DEFAULT_ADBENCH_DIR = REPO_ROOT.parent / "shared" / "datasets" / "adbench"
DEFAULT_NSL_KDD_DIR = REPO_ROOT.parent / "shared" / "datasets" / "nsl-kdd"
DEFAULT_MVTEC_DIR = REPO_ROOT.parent / "shared" / "datasets" / "adbench-mvtec"

NSL_KDD_CATEGORICAL = ("protocol_type", "service", "flag")
NSL_KDD_TRAIN_FILE = "KDDTrain+_20Percent.txt"
NSL_KDD_TEST_FILE = "KDDTest+.txt"
TEST_SIZE = 0.3


# --------------------------------------------------------------------------------------------- datasets


@dataclass(frozen=True)
class Split:
    """One train/test split, in the two forms the detectors take.

    ``train``/``test`` are what a user would hand to aedetect (a numeric array, or the mixed-type
    frame for NSL-KDD); ``train_numeric``/``test_numeric`` are all-numeric matrices for the peers.
    """

    train: np.ndarray | pd.DataFrame
    test: np.ndarray | pd.DataFrame
    y_test: np.ndarray
    train_numeric: np.ndarray
    test_numeric: np.ndarray


@dataclass(frozen=True)
class ArrayDataset:
    """A numeric dataset split by the ADBench protocol: stratified 70/30, ``random_state=seed``."""

    name: str
    X: np.ndarray
    y: np.ndarray
    group: str = "adbench"

    @property
    def info(self) -> dict[str, Any]:
        """Size and anomaly share, for the report."""
        return {
            "rows": int(self.X.shape[0]),
            "features": int(self.X.shape[1]),
            "anomaly_share": float(self.y.mean()),
        }

    def split(self, seed: int) -> Split:
        """The seed's stratified split; the same seed gives the same split for every detector."""
        X_train, X_test, _, y_test = train_test_split(
            self.X, self.y, test_size=TEST_SIZE, stratify=self.y, random_state=seed, shuffle=True
        )
        return Split(X_train, X_test, np.asarray(y_test), X_train, X_test)


@dataclass(frozen=True)
class FixedSplitDataset:
    """A mixed-type dataset with a given train and test file (NSL-KDD); seeds vary only the detectors.

    The peers' numeric form one-hot encodes ``categorical`` (categories of the train part; unseen
    test categories become all-zero) and standard-scales the numeric columns with train statistics.
    """

    name: str
    train: pd.DataFrame
    test: pd.DataFrame
    y_test: np.ndarray
    categorical: tuple[str, ...]
    y_train: np.ndarray
    group: str = "nsl-kdd"

    @property
    def info(self) -> dict[str, Any]:
        """Sizes and anomaly shares, for the report."""
        return {
            "rows": int(len(self.train) + len(self.test)),
            "train_rows": len(self.train),
            "test_rows": len(self.test),
            "features": int(self.train.shape[1]),
            "categorical": list(self.categorical),
            "anomaly_share": float(self.y_test.mean()),
            "train_anomaly_share": float(self.y_train.mean()),
        }

    def split(self, seed: int) -> Split:
        """The fixed split (``seed`` is unused: the files define it)."""
        train_numeric, test_numeric = encode_numeric(self.train, self.test, self.categorical)
        return Split(self.train, self.test, self.y_test, train_numeric, test_numeric)


Dataset = ArrayDataset | FixedSplitDataset

CATEGORY_SIZES = (3, 5, 8, 12, 20, 4, 6, 30, 2, 10)


def synthetic_mixed(rows: int, numeric: int = 40, categorical: int = 10, seed: int = 0) -> pd.DataFrame:
    """A frame of correlated numeric (``num_00``...) and string categorical (``cat_0``...) columns.

    Every column derives from 4 shared latent factors plus noise, so an autoencoder has structure to
    learn; categorical columns have 2 to 30 values (``CATEGORY_SIZES``, cycled). Built column by
    column to keep temporaries small at a million rows.
    """
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((rows, 4))
    columns: dict[str, Any] = {}
    for j in range(numeric):
        weights = rng.standard_normal(4)
        columns[f"num_{j:02d}"] = latent @ weights + 0.3 * rng.standard_normal(rows) + rng.uniform(-5, 5)
    for k in range(categorical):
        size = CATEGORY_SIZES[k % len(CATEGORY_SIZES)]
        signal = latent @ rng.standard_normal(4) + 0.5 * rng.standard_normal(rows)
        edges = np.quantile(signal[: min(rows, 100_000)], np.linspace(0, 1, size + 1)[1:-1])
        labels = np.array([f"c{k}_{i}" for i in range(size)], dtype=object)
        columns[f"cat_{k}"] = labels[np.searchsorted(edges, signal)]
    return pd.DataFrame(columns)


class SyntheticTable:
    """:func:`synthetic_mixed`'s kind of table, made ``chunk_rows`` rows at a time and the same on
    every iteration: data of any size without holding it (10M rows x 50 columns as one frame
    would take several GiB). The column weights and category edges are fixed by ``seed``; chunk
    ``i`` draws its rows from ``(seed, i)``."""

    def __init__(
        self, rows: int, numeric: int = 40, categorical: int = 10, seed: int = 0, chunk_rows: int = 100_000
    ) -> None:
        self.rows, self.numeric, self.categorical = rows, numeric, categorical
        self.seed, self.chunk_rows = seed, chunk_rows
        rng = np.random.default_rng(seed)
        self._weights = rng.standard_normal((numeric, 4))
        self._offsets = rng.uniform(-5, 5, numeric)
        self._cat_weights = rng.standard_normal((categorical, 4))
        reference = rng.standard_normal((100_000, 4)) @ self._cat_weights.T
        self._edges = [
            np.quantile(reference[:, k], np.linspace(0, 1, CATEGORY_SIZES[k % len(CATEGORY_SIZES)] + 1)[1:-1])
            for k in range(categorical)
        ]

    def __iter__(self) -> Iterator[pd.DataFrame]:
        for index, start in enumerate(range(0, self.rows, self.chunk_rows)):
            yield self.chunk(index, min(self.chunk_rows, self.rows - start), start)

    def chunk(self, index: int, rows: int, start: int) -> pd.DataFrame:
        """Rows ``start`` to ``start + rows`` of the table."""
        rng = np.random.default_rng([self.seed, index])
        latent = rng.standard_normal((rows, 4))
        columns: dict[str, Any] = {}
        values = latent @ self._weights.T + 0.3 * rng.standard_normal((rows, self.numeric)) + self._offsets
        for j in range(self.numeric):
            columns[f"num_{j:02d}"] = values[:, j]
        signal = latent @ self._cat_weights.T + 0.5 * rng.standard_normal((rows, self.categorical))
        for k in range(self.categorical):
            labels = np.array([f"c{k}_{i}" for i in range(len(self._edges[k]) + 1)], dtype=object)
            columns[f"cat_{k}"] = labels[np.searchsorted(self._edges[k], signal[:, k])]
        return pd.DataFrame(columns, index=pd.RangeIndex(start, start + rows))


def dataset_matches(name: str, wanted: Sequence[str]) -> bool:
    """Whether ``name`` is selected by ``--only``: exact, or without ADBench's numeric prefix."""
    short = name.split("_", 1)[1] if name.split("_", 1)[0].isdigit() else name
    return any(w.lower() in (name.lower(), short.lower()) for w in wanted)


def load_npz_datasets(
    directory: Path, only: Sequence[str] | None = None, group: str = "adbench"
) -> list[ArrayDataset]:
    """Every ``*.npz`` (arrays ``X`` and ``y``) of ``directory``, sorted by name, as float64,
    reported under ``group`` (``adbench`` for the classical sets, ``mvtec`` for the embeddings)."""
    if not directory.is_dir():
        raise FileNotFoundError(f"dataset directory {directory} does not exist (pass --datasets DIR)")
    datasets = []
    for path in sorted(directory.glob("*.npz")):
        if only and not dataset_matches(path.stem, only):
            continue
        with np.load(path, allow_pickle=False) as data:
            X = np.asarray(data["X"], dtype=np.float64)
            y = np.asarray(data["y"]).astype(np.int64).ravel()
        datasets.append(ArrayDataset(path.stem, X, y, group))
    return datasets


def read_nsl_kdd(directory: Path, file_name: str) -> tuple[pd.DataFrame, np.ndarray]:
    """One NSL-KDD file: the 41 feature columns and the 0/1 anomaly label (``label != "normal"``)."""
    names = (directory / "columns.txt").read_text(encoding="utf-8").split()
    frame = pd.read_csv(directory / file_name, header=None, names=names)
    y = (frame["label"].astype(str).str.strip() != "normal").to_numpy(np.int64)
    return frame.drop(columns=["label", "difficulty"]), y


def load_nsl_kdd(directory: Path, only: Sequence[str] | None = None) -> list[FixedSplitDataset]:
    """NSL-KDD twice: trained on all train rows (``nsl_kdd_all``) and on normal rows only
    (``nsl_kdd_normal``), both scored on ``KDDTest+``."""
    if not directory.is_dir():
        raise FileNotFoundError(f"NSL-KDD directory {directory} does not exist (pass --nsl-kdd DIR)")
    train, y_train = read_nsl_kdd(directory, NSL_KDD_TRAIN_FILE)
    test, y_test = read_nsl_kdd(directory, NSL_KDD_TEST_FILE)
    normal = y_train == 0
    variants = [
        FixedSplitDataset("nsl_kdd_all", train, test, y_test, NSL_KDD_CATEGORICAL, y_train),
        FixedSplitDataset(
            "nsl_kdd_normal",
            train[normal].reset_index(drop=True),
            test,
            y_test,
            NSL_KDD_CATEGORICAL,
            y_train[normal],
        ),
    ]
    return [d for d in variants if not only or dataset_matches(d.name, only) or "nsl_kdd" in only]


def select_datasets(
    classical: Path | None, mvtec: str, nsl_kdd: str, only: Sequence[str] | None
) -> list[Dataset]:
    """The datasets a run covers: the Classical ``.npz`` directory (``None`` skips it), the MVTec-AD
    embedding directory and the NSL-KDD directory (``"none"`` skips either), filtered by ``only``."""
    datasets: list[Dataset] = [] if classical is None else list(load_npz_datasets(classical, only))
    if mvtec.lower() != "none":
        datasets += load_npz_datasets(Path(mvtec), only, group="mvtec")
    if nsl_kdd.lower() != "none":
        datasets += load_nsl_kdd(Path(nsl_kdd), only)
    return datasets


def encode_numeric(
    train: pd.DataFrame, test: pd.DataFrame, categorical: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """One-hot ``categorical`` and standard-scale the other columns, fitted on ``train`` only."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c in train.columns if c not in categorical]
    encoder = ColumnTransformer(
        [
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(categorical)),
            ("scale", StandardScaler(), numeric),
        ]
    )
    train_numeric = np.asarray(encoder.fit_transform(train), dtype=np.float64)
    test_numeric = np.asarray(encoder.transform(test), dtype=np.float64)
    return train_numeric, test_numeric


# ------------------------------------------------------------------------------------- timing, memory


class Stopwatch:
    """Wall-clock seconds of a ``with`` block (``time.perf_counter``)."""

    seconds: float = 0.0


@contextmanager
def timed() -> Iterator[Stopwatch]:
    """Time the block; read ``.seconds`` after it."""
    watch = Stopwatch()
    start = time.perf_counter()
    try:
        yield watch
    finally:
        watch.seconds = time.perf_counter() - start


_peak_seen_mb = 0.0
"""The largest value :func:`peak_rss_mb` has returned in this process."""


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (``getrusage``; Linux reports KiB).

    It counts everything the process touched (numpy, pandas, torch's C++ allocator), which
    ``tracemalloc`` would miss, so measure each case in a fresh process.
    """
    global _peak_seen_mb
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    # the kernel updates its high-water mark lazily; it can trail the current RSS by a few pages,
    # so a current RSS read earlier may exceed a later high-water mark: keep the largest seen, so
    # the peak never falls between two calls
    _peak_seen_mb = max(_peak_seen_mb, peak_mb, current_rss_mb() or 0.0)
    return _peak_seen_mb


def current_rss_mb() -> float | None:
    """Resident memory of this process now, in MiB (Linux ``/proc``; None elsewhere)."""
    statm = Path("/proc/self/statm")
    if not statm.exists():
        return None
    pages = int(statm.read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


class RssSampler:
    """Highest resident memory seen while a ``with`` block runs, sampled by a thread every ``interval`` s.

    ``getrusage``'s peak only grows, so it cannot tell what a later phase (scoring after training)
    needs on its own; sampling ``/proc/self/statm`` can (it may miss spikes shorter than ``interval``).
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak_mb: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            rss = current_rss_mb()
            if rss is not None:
                self.peak_mb = rss if self.peak_mb is None else max(self.peak_mb, rss)
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def set_threads(threads: int | None) -> int:
    """Use ``threads`` torch intra-op threads (default: every core this process may use)."""
    import torch

    count = threads or available_cores()
    torch.set_num_threads(count)
    return count


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# -------------------------------------------------------------------------------------- machine, files


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    except (ValueError, OSError, AttributeError):
        return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on: CPU, cores, RAM, OS, library versions, git commit."""
    ram = _ram_gib()
    return {
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": available_cores(),
        "ram_gib": round(ram, 1) if ram is not None else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            name: _version(name)
            for name in ("aedetect", "torch", "numpy", "pandas", "scikit-learn", "pyod", "fastapi")
        },
        "git_commit": _git("rev-parse", "--short", "HEAD") or None,
        # results measured with uncommitted library code cannot be reproduced from the commit alone
        "uncommitted_src": bool(_git("status", "--porcelain", "--", "src")),
    }


def describe_machine(info: dict[str, Any]) -> str:
    """One line for the report: CPU, cores, RAM, OS, Python, library versions, commit."""
    versions = info.get("versions", {})
    libs = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
    commit = f", commit {info['git_commit']}" if info.get("git_commit") else ""
    if info.get("uncommitted_src"):
        commit += " with uncommitted changes in src/"
    return (
        f"{info['cpu']}, {info['usable_cores']} usable of {info['logical_cores']} cores, "
        f"{info['ram_gib']} GiB RAM, {info['os']}, Python {info['python']}; {libs}{commit}"
    )


def now_iso() -> str:
    """The current UTC time, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def command_line(module: str, argv: Sequence[str]) -> str:
    """The command that produced a result, as a user would type it."""
    return " ".join(["python", "-m", module, *argv])


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON, creating the directory (atomically via a temp file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def display_path(path: Path) -> str:
    """``path`` relative to the repository root when it lies inside it, else absolute."""
    resolved = path.resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else str(resolved)


def read_json(path: Path) -> dict[str, Any]:
    """Read a results file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a results object")
    return data


def parse_list(text: str) -> list[str]:
    """``"a, b,c"`` → ``["a", "b", "c"]`` (empty items dropped)."""
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_ints(text: str) -> list[int]:
    """``"0,1,2"`` → ``[0, 1, 2]``."""
    return [int(item) for item in parse_list(text)]


# ------------------------------------------------------------------------------------------- markdown


def fmt(value: float | int | None, digits: int = 3) -> str:
    """A number for a table cell; ``–`` for a missing one."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    """A GitHub markdown table; columns from ``numeric_from`` on are right-aligned."""
    align = ["---" if i < numeric_from else "---:" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
