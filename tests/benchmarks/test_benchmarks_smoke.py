"""Smoke runs of the benchmark suite (``benchmarks/``) on tiny data, so the harness cannot rot.

Each part runs through its documented command (``python -m benchmarks.<part>``) from the repository
root; the tests check the results' structure and that values are sane. No timing assertions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
NSL_KDD_CATEGORICAL = ("protocol_type", "service", "flag")
DETECTORS = ("aedetect", "iforest", "pyod_ae", "ecod")


def run_module(module: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """``python -m <module> args...`` from the repository root; fails the test with its stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"{module} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc


def write_tiny_npz(directory: Path) -> None:
    """A 300-row ADBench-style file: Gaussian inliers and 10% shifted anomalies."""
    rng = np.random.default_rng(0)
    inliers = rng.normal(0.0, 1.0, size=(270, 4))
    anomalies = rng.normal(4.0, 1.0, size=(30, 4))
    X = np.vstack([inliers, anomalies])
    y = np.r_[np.zeros(270, dtype=np.int64), np.ones(30, dtype=np.int64)]
    directory.mkdir()
    np.savez(directory / "1_tiny.npz", X=X, y=y)


def write_tiny_wide_npz(directory: Path) -> None:
    """A 120-row, 32-feature file standing in for the MVTec-AD embedding suite."""
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(0.0, 1.0, size=(100, 32)), rng.normal(2.0, 1.0, size=(20, 32))])
    y = np.r_[np.zeros(100, dtype=np.int64), np.ones(20, dtype=np.int64)]
    directory.mkdir()
    np.savez(directory / "MVTec-AD_tiny.npz", X=X, y=y)


def write_tiny_nsl_kdd(directory: Path) -> None:
    """NSL-KDD-shaped files: headerless CSV, 41 features (3 categorical) then label and difficulty."""
    numeric = ["duration", *(f"f{i:02d}" for i in range(37))]
    names = [numeric[0], *NSL_KDD_CATEGORICAL, *numeric[1:], "label", "difficulty"]
    rng = np.random.default_rng(1)

    def frame(rows: int, attack_share: float) -> pd.DataFrame:
        attack = rng.random(rows) < attack_share
        data: dict[str, Any] = {name: rng.normal(0.0, 1.0, rows) + 3.0 * attack for name in numeric}
        data["protocol_type"] = np.where(attack, "icmp", rng.choice(["tcp", "udp"], rows))
        data["service"] = np.where(attack, "ecr_i", rng.choice(["http", "smtp", "ftp"], rows))
        data["flag"] = np.where(attack, "REJ", "SF")
        data["label"] = np.where(attack, "smurf", "normal")
        data["difficulty"] = rng.integers(1, 21, rows)
        return pd.DataFrame(data)[names]

    directory.mkdir()
    (directory / "columns.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    frame(240, 0.2).to_csv(directory / "KDDTrain+_20Percent.txt", header=False, index=False)
    frame(120, 0.4).to_csv(directory / "KDDTest+.txt", header=False, index=False)


@pytest.fixture(scope="module")
def quality_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One tiny quality run of all four detectors, through the command line."""
    tmp = tmp_path_factory.mktemp("quality")
    write_tiny_npz(tmp / "adbench")
    write_tiny_wide_npz(tmp / "mvtec")
    write_tiny_nsl_kdd(tmp / "nsl-kdd")
    out = tmp / "quality.json"
    run_module(
        "benchmarks.quality",
        "--datasets",
        tmp / "adbench",
        "--mvtec",
        tmp / "mvtec",
        "--nsl-kdd",
        tmp / "nsl-kdd",
        "--detectors",
        ",".join(DETECTORS),
        "--seeds",
        "0",
        "--ae-params",
        '{"epochs": 2}',
        "--threads",
        "1",
        "--out",
        out,
    )
    results: dict[str, Any] = json.loads(out.read_text())
    return results


@pytest.fixture(scope="module")
def speed_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One tiny speed run (comparison and one growth size of 2,000 rows), through the command line."""
    out = tmp_path_factory.mktemp("speed") / "speed.json"
    run_module(
        "benchmarks.speed",
        "--sizes",
        "2000",
        "--compare-rows",
        "2000",
        "--compare-features",
        "10",
        "--epochs",
        "1",
        "--load",
        "1",
        "--rounds",
        "2",
        "--threads",
        "1",
        "--out",
        out,
    )
    results: dict[str, Any] = json.loads(out.read_text())
    return results


@pytest.fixture(scope="module")
def service_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One tiny service run against a real server: 20 requests, 2 clients, small batches; and the
    scoring log's overhead with the log off and on (two more servers, two rounds)."""
    out = tmp_path_factory.mktemp("service") / "service.json"
    run_module(
        "benchmarks.service",
        "--log-overhead",
        "--log-samples",
        "1",
        "--log-rounds",
        "2",
        "--requests",
        "20",
        "--clients",
        "2",
        "--batch-rows",
        "50",
        "--batch-requests",
        "3",
        "--train-rows",
        "300",
        "--train-iter",
        "2",
        "--max-seconds",
        "60",
        "--out",
        out,
    )
    results: dict[str, Any] = json.loads(out.read_text())
    return results


def test_quality_records_every_detector_dataset_and_seed(quality_results: dict[str, Any]) -> None:
    records = quality_results["records"]
    seen = {(r["dataset"], r["detector"]) for r in records}
    names = ("1_tiny", "MVTec-AD_tiny", "nsl_kdd_all", "nsl_kdd_normal")
    expected = {(d, det) for d in names for det in DETECTORS}
    assert seen == expected
    assert len(records) == len(expected)
    assert [r["error"] for r in records] == [None] * len(records)


def test_quality_metrics_are_probabilities_and_times_positive(quality_results: dict[str, Any]) -> None:
    for record in quality_results["records"]:
        assert 0.0 <= record["roc_auc"] <= 1.0
        assert 0.0 <= record["average_precision"] <= 1.0
        assert record["fit_s"] > 0
        assert record["score_s"] > 0


def test_quality_summary_ranks_detectors_per_group(quality_results: dict[str, Any]) -> None:
    groups = quality_results["summary"]["groups"]
    assert set(groups) == {"adbench", "mvtec", "nsl-kdd"}
    assert groups["mvtec"]["datasets"] == ["MVTec-AD_tiny"]
    assert groups["nsl-kdd"]["datasets"] == ["nsl_kdd_all", "nsl_kdd_normal"]
    for group in groups.values():
        assert "roc_auc_wins" not in group["detectors"]["iforest"]  # the reference itself
        for d in ("aedetect", "pyod_ae", "ecod"):
            wins = group["detectors"][d]["roc_auc_wins"]
            assert wins["wins"] + wins["losses"] + wins["ties"] == len(group["ranked_on"])
            assert len(wins["won"]) == wins["wins"]
        ranks = [group["detectors"][d]["mean_rank_roc_auc"] for d in DETECTORS]
        assert all(1.0 <= r <= len(DETECTORS) for r in ranks)
        assert sum(ranks) == pytest.approx(sum(range(1, len(DETECTORS) + 1)))


def test_quality_scores_point_the_right_way(quality_results: dict[str, Any]) -> None:
    # the tiny dataset's anomalies lie 4 standard deviations out: a flipped score sign gives ~0
    tiny = quality_results["summary"]["per_dataset"]["1_tiny"]
    assert all(tiny[d]["roc_auc"] > 0.75 for d in DETECTORS)


def test_quality_records_nsl_kdd_train_variants(quality_results: dict[str, Any]) -> None:
    infos = quality_results["datasets"]
    assert infos["nsl_kdd_all"]["train_rows"] == 240
    assert infos["nsl_kdd_normal"]["train_anomaly_share"] == 0.0
    assert infos["nsl_kdd_all"]["categorical"] == list(NSL_KDD_CATEGORICAL)


def test_run_quality_compares_detector_variants_on_the_same_splits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    from benchmarks.quality import run_quality

    from aedetect import AutoEncoderDetector

    write_tiny_npz(tmp_path / "adbench")
    variants = {
        "one_epoch": lambda seed: AutoEncoderDetector(epochs=1, random_state=seed),
        "wide": lambda seed: AutoEncoderDetector(epochs=2, n_hidden=[16, 2], random_state=seed),
    }
    results = run_quality(variants, tmp_path / "adbench", seeds=[0, 1])
    assert [(r["detector"], r["seed"]) for r in results["records"]] == [
        ("one_epoch", 0),
        ("wide", 0),
        ("one_epoch", 1),
        ("wide", 1),
    ]
    assert {r["n_test"] for r in results["records"]} == {90}
    summary = results["summary"]["groups"]["adbench"]["detectors"]
    assert all(0.0 <= summary[name]["roc_auc"] <= 1.0 for name in variants)


def test_speed_compares_aedetect_with_pyod_quiet_and_loaded(speed_results: dict[str, Any]) -> None:
    assert set(speed_results["compare"]) == {"quiet", "loaded", "slowdown"}
    assert len(speed_results["compare_rounds"]) == 2
    for load in ("quiet", "loaded"):
        compare = speed_results["compare"][load]
        for name in ("aedetect", "pyod_ae"):
            case = compare[name]
            assert case["error"] is None
            assert case["load"] == load
            assert case["train_rows_epochs_per_s"] > 0
            assert case["score_rows_per_s"] > 0
            assert case["torch_threads"] == 1
            assert case["peak_rss_score_mb"] >= case["rss_start_mb"] > 0
        assert all(ratio > 0 for ratio in compare["ratios"].values())
        for name in ("aedetect", "pyod_ae"):
            fits = [r[load][name]["fit_s"] for r in speed_results["compare_rounds"]]
            assert compare[name]["fit_s"] == pytest.approx(sum(fits) / 2)  # the median of two
    slowdowns = [
        r["loaded"]["aedetect"]["fit_s"] / r["quiet"]["aedetect"]["fit_s"]
        for r in speed_results["compare_rounds"]
    ]
    assert speed_results["compare"]["slowdown"]["aedetect"] == pytest.approx(sum(slowdowns) / 2)


def test_speed_growth_streams_each_size_and_scores_it_from_csv(speed_results: dict[str, Any]) -> None:
    (case,) = speed_results["growth"]
    assert case["error"] is None
    assert (case["rows"], case["columns"]) == (2000, 50)
    assert case["epochs_run"] == 1
    assert case["score_rows_per_s"] > 0
    assert case["peak_rss_score_mb"] >= case["peak_rss_fit_mb"] > 0
    assert case["csv_score_rows_per_s"] > 0
    assert case["csv_score_peak_rss_mb"] >= case["csv_score_rss_start_mb"] > 0


def test_service_measures_latency_and_throughput(service_results: dict[str, Any]) -> None:
    single, concurrent, batch = (
        service_results["single"],
        service_results["concurrent"],
        service_results["batch"],
    )
    assert single["requests"] == 20
    assert concurrent["requests"] == 20 and concurrent["clients"] == 2
    assert 0 < single["p50_ms"] <= single["p99_ms"] <= single["max_ms"]
    assert concurrent["requests_per_s"] > 0
    assert batch["requests"] == 3
    assert batch["rows_per_s"] > 0
    assert service_results["train_s"] > 0
    native = service_results["v2"]
    assert native["single"]["requests"] == 20 and 0 < native["single"]["p50_ms"] <= native["single"]["p99_ms"]
    assert native["batch"]["requests"] == 3 and native["batch"]["rows_per_s"] > 0
    assert len(service_results["load_average"]["before"]) == 3
    overhead = service_results["log_overhead"]
    assert set(overhead["configs"]) == {"off", "sample 1"} and overhead["rounds"] == 2
    for api in ("v1", "v2"):
        on, off = overhead["configs"]["sample 1"][api], overhead["configs"]["off"][api]
        assert on["requests"] == off["requests"] == 20 and on["p50_ms"] > 0
        assert off["overhead_p50_pct"] == off["overhead_round_p50_pct"] == 0.0
        assert on["cpu_ms_per_request"] is None or on["cpu_ms_per_request"] > 0  # None off Linux


@pytest.fixture(scope="module")
def load_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One tiny load run against a real server: 3 s per phase, small batches and trainings."""
    out = tmp_path_factory.mktemp("load") / "load.json"
    run_module(
        "benchmarks.load",
        "--seconds", "3", "--batch-rows", "50", "--large-rows", "2000", "--train-rows", "300", "--out", out,
    )  # fmt: skip
    results: dict[str, Any] = json.loads(out.read_text())
    return results


def test_load_measures_each_kind_of_request_quiet_and_busy(load_results: dict[str, Any]) -> None:
    assert set(load_results["quiet"]) == {"one row (v1)", "50 rows (v1)", "50 rows (v2, reasons)", "/healthz"}
    assert set(load_results["busy"]) == set(load_results["quiet"]) | {"large CSV (v2)"}
    for phase in ("quiet", "busy"):
        for stats in load_results[phase].values():
            assert stats["requests"] >= 1 and 0 <= stats["errors"] <= stats["requests"]
            assert 0 < stats["p50_ms"] <= stats["p99_ms"] <= stats["max_ms"]
    assert load_results["refused_training"]["status"] == 429
    assert int(load_results["refused_training"]["retry_after"]) >= 1


def test_report_writes_every_section_with_command_and_machine(
    quality_results: dict[str, Any],
    speed_results: dict[str, Any],
    service_results: dict[str, Any],
    load_results: dict[str, Any],
    cluster_results: dict[str, Any],
    tmp_path: Path,
) -> None:
    paths = {}
    for part, payload in (
        ("quality", quality_results),
        ("speed", speed_results),
        ("service", service_results),
        ("load", load_results),
        ("cluster", cluster_results),
    ):
        paths[part] = tmp_path / f"{part}.json"
        paths[part].write_text(json.dumps(payload))
    md = tmp_path / "BENCHMARKS.md"
    run_module("benchmarks.report", *(f"--{p}={path}" for p, path in paths.items()), "--md", md)
    text = md.read_text()
    for heading in (
        "## Quality",
        "### ADBench MVTec-AD",
        "## Speed",
        "## Service",
        "### NSL-KDD",
        "### Growth",
        "### Scoring log overhead",
        "## Load",
        "## Cluster",
    ):
        assert heading in text
    assert text.count("- Machine: ") == 5
    assert "| 2 | " in text and "Ratios 2 workers / 1: trainings" in text
    assert "`python -m benchmarks.quality " in text


def test_report_update_keeps_other_sections_and_the_preamble(
    quality_results: dict[str, Any], speed_results: dict[str, Any], tmp_path: Path
) -> None:
    quality_path, speed_path = tmp_path / "quality.json", tmp_path / "speed.json"
    quality_path.write_text(json.dumps(quality_results))
    speed_path.write_text(json.dumps(speed_results))
    md = tmp_path / "BENCHMARKS.md"
    md.write_text("# Our benchmarks\n\nHand-written notes.\n")
    missing = tmp_path / "none.json"
    run_module(
        "benchmarks.report",
        f"--quality={quality_path}",
        f"--speed={missing}",
        f"--service={missing}",
        f"--load={missing}",
        f"--cluster={missing}",
        "--md",
        md,
    )
    run_module(
        "benchmarks.report",
        f"--quality={missing}",
        f"--speed={speed_path}",
        f"--service={missing}",
        f"--load={missing}",
        f"--cluster={missing}",
        "--md",
        md,
    )
    text = md.read_text()
    assert text.startswith("# Our benchmarks\n\nHand-written notes.\n")
    assert text.count("## Quality") == 1
    assert text.index("## Quality") < text.index("## Speed")


def test_quality_combines_suites_run_in_separate_processes(
    quality_results: dict[str, Any], tmp_path: Path
) -> None:
    paths = []
    for group in ("adbench", "mvtec", "nsl-kdd"):
        part = {**quality_results, "records": [r for r in quality_results["records"] if r["group"] == group]}
        paths.append(tmp_path / f"{group}.json")
        paths[-1].write_text(json.dumps(part))
    out = tmp_path / "combined.json"
    run_module("benchmarks.quality", "--combine", *paths, "--out", out)
    combined = json.loads(out.read_text())
    assert len(combined["records"]) == len(quality_results["records"])
    assert set(combined["summary"]["groups"]) == {"adbench", "mvtec", "nsl-kdd"}
    assert combined["summary"] == json.loads(json.dumps(quality_results["summary"]))
    other = json.loads(paths[0].read_text())
    other["config"]["seeds"] = [0, 1]
    paths[0].write_text(json.dumps(other))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.quality", "--combine", *map(str, paths), "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0 and "seeds" in proc.stderr


@pytest.fixture(scope="module")
def cluster_results(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> dict[str, Any]:
    """One tiny cluster run: two trainings and 2,000 scored rows with 1 and with 2 workers."""
    out = tmp_path_factory.mktemp("cluster") / "cluster.json"
    run_module(
        "benchmarks.cluster", "--trainings", "2", "--train-rows", "300", "--epochs", "1",
        "--score-rows", "2000", "--broker-url", redis_url, "--out", out,
    )  # fmt: skip
    results: dict[str, Any] = json.loads(out.read_text())
    return results


def test_cluster_measures_trainings_and_scoring_per_worker_count(cluster_results: dict[str, Any]) -> None:
    assert set(cluster_results["phases"]) == {"1", "2"}
    for count, phase in cluster_results["phases"].items():
        assert phase["training"]["jobs"] == 2 and phase["training"]["jobs_per_min"] > 0
        assert 1 <= phase["training"]["workers_used"] <= int(count)
        assert phase["scoring"]["rows"] == 2000 and phase["scoring"]["jobs"] == 2
        assert phase["scoring"]["rows_per_s"] > 0
    assert cluster_results["ratios"]["training"] > 0 and len(cluster_results["load_average_before"]) == 3


def test_peak_rss_never_falls_between_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel's high-water mark trails the current RSS, so a peak taken from the current RSS
    can exceed a later high-water mark; a later peak must still not be lower."""
    from benchmarks import common

    monkeypatch.setattr(common, "_peak_seen_mb", common._peak_seen_mb)  # restored afterwards
    high = common.peak_rss_mb() + 100.0
    monkeypatch.setattr(common, "current_rss_mb", lambda: high)  # RSS above the high-water mark
    first = common.peak_rss_mb()
    monkeypatch.setattr(common, "current_rss_mb", lambda: None)  # gone again
    assert first >= high and common.peak_rss_mb() >= first


@pytest.fixture(scope="module")
def screen_fits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Cached score parts of one tiny numeric set and the tiny NSL-KDD (mixed types), via the CLI."""
    tmp = tmp_path_factory.mktemp("screen")
    write_tiny_npz(tmp / "adbench")
    write_tiny_nsl_kdd(tmp / "nsl-kdd")
    fits = tmp / "cached"
    run_module(
        "benchmarks.screen",
        "fit",
        "--out",
        fits,
        "--datasets",
        tmp / "adbench",
        "--mvtec",
        "none",
        "--nsl-kdd",
        tmp / "nsl-kdd",
        "--ae-params",
        '{"epochs": 3}',
    )
    return fits


def test_screen_default_rule_reproduces_the_detectors_own_scores(screen_fits: Path) -> None:
    from benchmarks.screen import load_caches, parse_rule, rule_scores

    caches = load_caches([screen_fits])
    assert sorted(run.name for run in caches) == ["1_tiny", "nsl_kdd_all", "nsl_kdd_normal"]
    for run, cache in caches.items():
        default = rule_scores(cache, parse_rule("default"))
        assert np.allclose(default, cache["score"], rtol=1e-9, atol=1e-9), run
        # every other rule really changes the score
        rules = ("knee=none", "magnitude=0", "tails=0.5", "spread=1", "latent=1 kfrac=0.1 ref=64")
        for text in rules:
            assert not np.allclose(rule_scores(cache, parse_rule(text)), default), (run, text)
        if run.group == "nsl-kdd":  # the only runs with categorical columns
            assert cache["codes_test"].shape[1] == len(NSL_KDD_CATEGORICAL)
            assert not np.allclose(rule_scores(cache, parse_rule("rarity=1")), default)


def test_screen_compare_counts_runs_against_the_first_rule_and_isolation_forest(screen_fits: Path) -> None:
    proc = run_module(
        "benchmarks.screen", "compare", screen_fits, "--rules", "default", "knee=5 magnitude=0.6"
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(f"| {screen_fits.name}: ")]
    assert [line.split("|")[1].strip() for line in lines] == [
        f"{screen_fits.name}: default",
        f"{screen_fits.name}: knee=5 magnitude=0.6",
    ] * 2  # the Classical suite, then NSL-KDD
    cells = [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines]
    assert [row[1] for row in cells] == ["1", "1", "2", "2"]  # runs: the tiny set; NSL-KDD all and normal
    assert cells[0][4:6] == cells[2][4:6] == ["0/0", "0/0"]  # the first rule against itself
    assert 0.5 < float(cells[0][2]) <= 1.0  # the tiny set's anomalies are shifted: far better than chance


def test_screen_rejects_a_rule_it_does_not_know() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.screen", "compare", "nowhere", "--rules", "kne=5"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "'kne=5'" in proc.stderr and "knee" in proc.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("knee=0", "knee needs a number above 0"),
        ("tails=-1", "tails needs a finite number"),
        ("spread=inf", "spread needs a finite number"),
        ("magnitude=lots", "'lots' is not a number"),
        ("knee", "expected key=value"),
    ],
)
def test_screen_rule_words_out_of_range_are_refused_by_name(text: str, message: str) -> None:
    from benchmarks.screen import parse_rule

    with pytest.raises(ValueError, match=message) as caught:
        parse_rule(f"default {text}")
    assert repr(text) in str(caught.value)
    assert parse_rule("knee=none magnitude=0") == {"knee": None, "magnitude": 0.0}


def test_screen_compare_of_a_directory_without_fits_says_how_to_make_them(tmp_path: Path) -> None:
    empty = tmp_path / "no-fits"
    empty.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.screen", "compare", str(empty)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert f"no cached fits in {empty}" in proc.stderr
    assert f"python -m benchmarks.screen fit --out {empty}" in proc.stderr
