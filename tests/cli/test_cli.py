"""The ``aedetect`` command end to end: train, score and info on a small mixed table the tests
write, through typer's runner and through the installed console script, plus its error paths."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from aedetect.cli.main import app

ANOMALIES = [40, 155, 260]
"""Rows of the test table given values far outside the normal relations."""

TRAIN_ARGS = ["--epochs", "60", "--hidden", "8,3", "--batch-size", "32", "--seed", "0"]
"""Small, fast training: few epochs, tiny layers, deterministic."""

MODEL_COLUMNS = ["설비", "temperature", "pressure", "speed"]

runner = CliRunner()


def plant_table(rows: int = 300, seed: int = 1) -> pd.DataFrame:
    """Sensor readings whose temperature, pressure and speed follow the machine ("설비")."""
    rng = np.random.default_rng(seed)
    machine = rng.choice(["L1", "L2", "L3"], size=rows)
    base = pd.Series(machine).map({"L1": 100.0, "L2": 120.0, "L3": 140.0}).to_numpy()
    temperature = base + rng.normal(0, 1.0, rows)
    pressure = temperature / 50 + rng.normal(0, 0.02, rows)
    speed = base * 10 + rng.normal(0, 5, rows)
    temperature[ANOMALIES[0]] += 60.0
    pressure[ANOMALIES[1]] = 9.0
    speed[ANOMALIES[2]] = 3000.0
    frame = pd.DataFrame(
        {
            "설비": machine,
            "temperature": temperature.round(2),
            "pressure": pressure.round(3),
            "speed": speed.round(1),
        }
    )
    return frame


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli")
    plant_table().to_csv(path / "plant.csv", index=False)
    return path


@pytest.fixture(scope="module")
def model(workdir: Path) -> Path:
    """A model trained once through the CLI; the train test checks its output."""
    out = workdir / "model"
    result = runner.invoke(app, ["train", str(workdir / "plant.csv"), "--out", str(out), *TRAIN_ARGS])
    assert result.exit_code == 0, result.output
    (workdir / "train-stdout.txt").write_text(result.stdout, encoding="utf-8")
    return out


def test_train_prints_a_summary_and_saves_the_model(workdir: Path, model: Path) -> None:
    summary = (workdir / "train-stdout.txt").read_text(encoding="utf-8")
    assert "trained on 300 rows, 4 columns:" in summary
    assert any(line.split() == ["설비", "categorical"] for line in summary.splitlines())
    assert any(line.split() == ["temperature", "numeric"] for line in summary.splitlines())
    assert "epochs run:" in summary
    assert "final loss: train " in summary and "validation " in summary
    assert "threshold: " in summary
    assert f"saved to {model}" in summary
    assert (model / "model.json").is_file()


def test_train_shows_a_progress_bar(workdir: Path) -> None:
    out = workdir / "model-progress"
    result = runner.invoke(
        app, ["train", str(workdir / "plant.csv"), "--out", str(out), "--epochs", "3", "--seed", "0"]
    )
    assert result.exit_code == 0, result.output
    assert "training" in result.stderr
    assert "3/3" in result.stderr


def test_score_adds_score_label_and_top_columns(workdir: Path, model: Path) -> None:
    out = workdir / "scored.csv"
    result = runner.invoke(app, ["score", str(model), str(workdir / "plant.csv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out, encoding="utf-8-sig")
    assert list(scored.columns) == [*MODEL_COLUMNS, "anomaly_score", "is_anomaly", "top_columns"]
    assert len(scored) == 300
    assert set(scored["is_anomaly"]) <= {0, 1}
    tops = scored["top_columns"].str.split(";")
    assert all(len(names) == 3 and set(names) <= set(MODEL_COLUMNS) for names in tops)
    assert f"flagged {int(scored['is_anomaly'].sum())} of 300 rows" in result.stdout


def test_injected_anomalies_rank_on_top(workdir: Path, model: Path) -> None:
    out = workdir / "ranked.csv"
    result = runner.invoke(app, ["score", str(model), str(workdir / "plant.csv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out, encoding="utf-8-sig")
    top = scored["anomaly_score"].nlargest(len(ANOMALIES)).index
    assert sorted(top) == ANOMALIES
    assert scored.loc[ANOMALIES, "is_anomaly"].tolist() == [1, 1, 1]
    assert str(scored.at[ANOMALIES[2], "top_columns"]).split(";")[0] == "speed"


def test_top_option_sets_how_many_columns_are_listed(workdir: Path, model: Path) -> None:
    out = workdir / "top1.csv"
    result = runner.invoke(
        app, ["score", str(model), str(workdir / "plant.csv"), "--out", str(out), "--top", "1"]
    )
    assert result.exit_code == 0, result.output
    assert not pd.read_csv(out)["top_columns"].str.contains(";").any()
    none = workdir / "top0.csv"
    result = runner.invoke(
        app, ["score", str(model), str(workdir / "plant.csv"), "--out", str(none), "--top", "0"]
    )
    assert result.exit_code == 0, result.output
    assert "top_columns" not in pd.read_csv(none).columns


def test_score_replaces_result_columns_of_an_already_scored_file(workdir: Path, model: Path) -> None:
    first, second = workdir / "once.csv", workdir / "twice.csv"
    assert (
        runner.invoke(app, ["score", str(model), str(workdir / "plant.csv"), "--out", str(first)]).exit_code
        == 0
    )
    result = runner.invoke(app, ["score", str(model), str(first), "--out", str(second)])
    assert result.exit_code == 0, result.output
    once, twice = pd.read_csv(first), pd.read_csv(second)
    assert list(twice.columns) == list(once.columns)
    np.testing.assert_allclose(twice["anomaly_score"], once["anomaly_score"])


def test_score_reads_a_headerless_file_with_names(workdir: Path, model: Path) -> None:
    headerless = workdir / "headerless.csv"
    plant_table().to_csv(headerless, index=False, header=False)
    out = workdir / "headerless-scored.csv"
    names = "설비,temperature,pressure,speed"
    result = runner.invoke(
        app, ["score", str(model), str(headerless), "--out", str(out), "--no-header", "--names", names]
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 300


def test_score_of_a_csv_missing_a_model_column_is_a_clear_error(workdir: Path, model: Path) -> None:
    missing = workdir / "no-pressure.csv"
    plant_table().drop(columns=["pressure"]).to_csv(missing, index=False)
    out = workdir / "never.csv"
    result = runner.invoke(app, ["score", str(model), str(missing), "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "pressure" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not list(workdir.glob(".never.csv*"))


def test_info_describes_the_model(model: Path) -> None:
    result = runner.invoke(app, ["info", str(model)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "columns (4):" in lines
    assert any(line.split() == ["설비", "categorical"] for line in lines)
    assert "  n_hidden: [8, 3]" in lines
    assert "  batch_size: 32" in lines
    assert any(line.startswith("threshold: ") for line in lines)
    assert any(line.startswith("training: 300 rows, ") for line in lines)
    assert any(line.startswith("libraries: aedetect ") and "torch " in line for line in lines)


def test_info_of_a_directory_without_a_model_is_an_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["info", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "model.json" in result.stderr


def test_train_on_a_missing_file_is_an_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert result.stderr == f"error: no such file: {tmp_path / 'absent.csv'}\n"


def test_train_with_a_ragged_csv_names_the_line(tmp_path: Path) -> None:
    data = tmp_path / "ragged.csv"
    data.write_text("a,b\n1,2\n3,4,5\n", encoding="utf-8")
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert result.stderr == "error: line 3 has 3 fields, expected 2 (header has 2 columns)\n"


def test_train_with_bad_hidden_sizes_is_an_error(workdir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["train", str(workdir / "plant.csv"), "--out", str(tmp_path / "m"), "--hidden", "8,x"]
    )
    assert result.exit_code == 2
    assert "error: --hidden must be comma-separated whole numbers" in result.stderr


def test_train_with_a_bad_hyperparameter_reports_the_detector_error(workdir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["train", str(workdir / "plant.csv"), "--out", str(tmp_path / "m"), "--contamination", "0.9"]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "contamination" in result.stderr
    assert "Traceback" not in result.output


def test_train_refuses_a_directory_holding_other_files(workdir: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    result = runner.invoke(app, ["train", str(workdir / "plant.csv"), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "already holds files that are not an aedetect model" in result.stderr
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_no_header_without_names_is_an_error(workdir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["train", str(workdir / "plant.csv"), "--out", str(tmp_path / "m"), "--no-header"]
    )
    assert result.exit_code == 2
    assert result.stderr == "error: --no-header needs --names to name the columns\n"


def test_train_uses_only_the_chosen_columns(workdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    result = runner.invoke(
        app,
        ["train", str(workdir / "plant.csv"), "--out", str(out), "--columns", "설비,speed", "--epochs", "2"],
    )
    assert result.exit_code == 0, result.output
    assert "4 columns" not in result.stdout and "2 columns:" in result.stdout
    info = runner.invoke(app, ["info", str(out)])
    assert "columns (2):" in info.stdout


def test_serve_help_lists_host_and_port() -> None:
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--host" in result.stdout and "--port" in result.stdout


def _console_script() -> str:
    """The installed ``aedetect`` script of this interpreter's environment."""
    found = shutil.which("aedetect", path=str(Path(sys.executable).parent)) or shutil.which("aedetect")
    assert found, "the aedetect console script is not installed (pip install -e .)"
    return found


def _script_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"}


def test_console_script_trains_scores_and_describes(tmp_path: Path) -> None:
    script = _console_script()
    data = tmp_path / "plant.csv"
    plant_table().to_csv(data, index=False, encoding="cp949")
    model_dir, scored = tmp_path / "model", tmp_path / "scored.csv"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [script, *args], capture_output=True, text=True, encoding="utf-8", env=_script_env(), timeout=300
        )

    trained = run("train", str(data), "--out", str(model_dir), *TRAIN_ARGS)
    assert trained.returncode == 0, trained.stderr
    assert "trained on 300 rows, 4 columns:" in trained.stdout
    scoring = run("score", str(model_dir), str(data), "--out", str(scored), "--top", "2")
    assert scoring.returncode == 0, scoring.stderr
    frame = pd.read_csv(scored, encoding="utf-8-sig")
    assert sorted(frame["anomaly_score"].nlargest(len(ANOMALIES)).index) == ANOMALIES
    described = run("info", str(model_dir))
    assert described.returncode == 0, described.stderr
    assert "columns (4):" in described.stdout


def test_console_script_error_exits_2_without_traceback(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    done = subprocess.run(
        [_console_script(), "train", str(empty), "--out", str(tmp_path / "m")],
        capture_output=True,
        text=True,
        env=_script_env(),
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr == "error: the file is empty\n"
    assert done.stdout == ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_console_script_serve_starts_the_http_service(tmp_path: Path) -> None:
    port = _free_port()
    env = {**_script_env(), "AEDETECT_DATA_DIR": str(tmp_path / "data")}
    server = subprocess.Popen(
        [_console_script(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status = None
        deadline = time.monotonic() + 120
        while status is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    status = response.status
            except OSError:
                time.sleep(0.5)
        assert status == 200, f"server did not answer on port {port}"
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"127.0.0.1:{port}" in output
