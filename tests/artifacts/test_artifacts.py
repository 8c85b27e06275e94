"""Saved models: identical scores after a round trip and after an upgrade of an older format, and
clear errors for damaged artifacts and for options this release removed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aedetect import AutoEncoderDetector, load_detector, save_detector
from aedetect.artifacts.store import MANIFEST, WEIGHTS
from aedetect.errors import ArtifactError, NotFitted


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        {"x": rng.normal(size=200), "y": rng.normal(size=200), "kind": rng.choice(["a", "b", "c"], 200)}
    )
    data.loc[5, "x"] = np.nan
    det = AutoEncoderDetector(epochs=5, n_hidden=[8, 2], random_state=0).fit(data)
    path = tmp_path_factory.mktemp("model")
    save_detector(det, path)
    return det, data, path


def test_round_trip_gives_identical_scores(saved):
    det, data, path = saved
    loaded = load_detector(path)
    np.testing.assert_array_equal(loaded.decision_function(data), det.decision_function(data))
    np.testing.assert_array_equal(loaded.similarity(data), det.similarity(data))
    assert loaded.threshold_ == det.threshold_
    assert loaded.columns_ == det.columns_
    assert loaded.get_params() == {**det.get_params(), "device": "auto"}
    np.testing.assert_array_equal(loaded.labels_, det.labels_)


def test_manifest_is_json_with_versions_and_no_pickle(saved):
    _, _, path = saved
    document = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    assert document["format_version"] == 5
    assert document["fitted"]["numeric_error"] == "absolute_robust"
    assert set(document["library_versions"]) >= {"aedetect", "torch", "numpy"}
    assert sorted(p.name for p in path.iterdir()) == sorted([MANIFEST, WEIGHTS])


def copy_model(src, dst):
    dst.mkdir()
    for name in (MANIFEST, WEIGHTS):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_tampered_manifest_is_refused(saved, tmp_path):
    _, _, path = saved
    copy = copy_model(path, tmp_path / "m")
    document = json.loads((copy / MANIFEST).read_text(encoding="utf-8"))
    document["fitted"]["threshold"] = 0.0
    (copy / MANIFEST).write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ArtifactError, match="checksum"):
        load_detector(copy)


def test_tampered_weights_are_refused(saved, tmp_path):
    _, _, path = saved
    copy = copy_model(path, tmp_path / "m")
    raw = bytearray((copy / WEIGHTS).read_bytes())
    raw[-1] ^= 0xFF
    (copy / WEIGHTS).write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match="weights"):
        load_detector(copy)


def test_incompatible_format_version_is_refused(saved, tmp_path):
    from aedetect.artifacts.store import _checksum

    _, _, path = saved
    copy = copy_model(path, tmp_path / "m")
    document = json.loads((copy / MANIFEST).read_text(encoding="utf-8"))
    document["format_version"] = 99
    document["checksum"] = _checksum(document)
    (copy / MANIFEST).write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ArtifactError, match="version 99"):
        load_detector(copy)


def test_not_a_model_directory(tmp_path):
    with pytest.raises(ArtifactError, match="not a saved aedetect model"):
        load_detector(tmp_path)
    (tmp_path / MANIFEST).write_text("{not json", encoding="utf-8")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_detector(tmp_path)


def test_unfitted_detector_cannot_be_saved(tmp_path):
    with pytest.raises(NotFitted):
        save_detector(AutoEncoderDetector(), tmp_path / "m")


def test_manifest_records_the_effective_parameters(saved):
    det, _, path = saved
    document = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    effective = document["fitted"]["effective_params"]
    assert effective == det.effective_params_
    assert effective["n_hidden"] == [8, 2] and effective["batch_size"] >= 1
    assert load_detector(path).effective_params_ == effective


def test_a_format_1_model_is_refused_with_what_to_do(saved, tmp_path):
    from aedetect.artifacts.store import _checksum

    _, _, path = saved
    copy = copy_model(path, tmp_path / "m")
    document = json.loads((copy / MANIFEST).read_text(encoding="utf-8"))
    document["format_version"] = 1
    document["checksum"] = _checksum(document)
    (copy / MANIFEST).write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"format version 1.*train the model again"):
        load_detector(copy)


def test_scoring_threads_of_a_loaded_model_are_chosen_at_load(saved):
    _, data, path = saved
    loaded = load_detector(path, n_threads=2)
    assert loaded.n_threads == 2
    assert np.all(np.isfinite(loaded.decision_function(data)))


def rewrite_manifest(path, tmp_path, change):
    from aedetect.artifacts.store import _checksum

    copy = copy_model(path, tmp_path / "m")
    document = json.loads((copy / MANIFEST).read_text(encoding="utf-8"))
    change(document)
    document["checksum"] = _checksum(document)
    (copy / MANIFEST).write_text(json.dumps(document), encoding="utf-8")
    return copy


def test_a_format_2_model_is_read_and_scores_with_squared_errors(saved, tmp_path):
    _, data, path = saved

    def to_format_2(document):
        document["format_version"] = 2
        del document["fitted"]["numeric_error"]

    loaded = load_detector(rewrite_manifest(path, tmp_path, to_format_2))
    assert loaded.numeric_error_ == "squared"
    # same network, other error measure: numeric parts change, the categorical part does not
    old, new = loaded.explain(data.iloc[:50]), load_detector(path).explain(data.iloc[:50])
    assert np.all(np.isfinite(old.to_numpy()))
    assert not np.allclose(old[["x", "y"]], new[["x", "y"]])
    np.testing.assert_allclose(old["kind"], new["kind"])


def test_a_format_3_model_is_read_and_counts_column_errors_linearly(saved, tmp_path):
    det, data, path = saved

    def to_format_3(document):
        document["format_version"] = 3
        del document["params"]["error_knee"]
        del document["fitted"]["effective_params"]["error_knee"]

    loaded = load_detector(rewrite_manifest(path, tmp_path, to_format_3))
    assert loaded.error_knee is None and loaded.effective_params_["error_knee"] is None
    # same network: the categorical part is the default knee's unbent value
    old, new = loaded.explain(data.iloc[:50]), load_detector(path).explain(data.iloc[:50])
    knee = det.effective_params_["error_knee"]
    np.testing.assert_allclose(new["kind"], knee * np.log1p(old["kind"] / knee), rtol=1e-6)
    assert np.all(old.to_numpy() >= new.to_numpy() - 1e-9)


def test_options_removed_since_a_model_was_saved_keep_their_saved_arithmetic(saved, tmp_path):
    det, data, path = saved

    def with_removed_options(document):  # what a format-5 model saved before the removal holds
        for where in (document["params"], document["fitted"]["effective_params"]):
            where.update(clip_quantile=0.01, latent_weight=0.0, numeric_transform="asinh")
        document["fitted"]["latent_scale"] = None

    loaded = load_detector(rewrite_manifest(path, tmp_path, with_removed_options))
    np.testing.assert_array_equal(loaded.decision_function(data), det.decision_function(data))
    assert "clip_quantile" not in loaded.get_params() and "latent_weight" not in loaded.effective_params_


def test_a_model_with_a_latent_part_is_refused_naming_the_option(saved, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    from aedetect.artifacts.store import _checksum, _file_sha256
    from aedetect.artifacts.upgrade import LATENT_REFERENCE

    _, _, path = saved
    copy = copy_model(path, tmp_path / "m")
    tensors = load_file(copy / WEIGHTS)
    tensors[LATENT_REFERENCE] = torch.zeros((1, 4, 2))
    save_file(tensors, copy / WEIGHTS)
    document = json.loads((copy / MANIFEST).read_text(encoding="utf-8"))
    for where in (document["params"], document["fitted"]["effective_params"]):
        where["latent_weight"] = 0.3
    document["fitted"]["latent_scale"] = [1.0]
    document["weights"]["sha256"] = _file_sha256(copy / WEIGHTS)
    document["checksum"] = _checksum(document)
    (copy / MANIFEST).write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"latent_weight=0\.3, an option removed.*train the model"):
        load_detector(copy)


FORMAT_2 = Path(__file__).parent / "fixtures" / "format2"
"""A model saved by the detector's first format-2 release, its data and its scores then (README)."""


def format_2_scores(model):
    """The fixture model's scores now, and those it gave when it was saved."""
    expected = json.loads((FORMAT_2 / "expected.json").read_text(encoding="utf-8"))
    return load_detector(model).decision_function(pd.read_csv(FORMAT_2 / "data.csv")), expected


def test_a_model_saved_by_the_first_format_2_release_scores_as_it_did(tmp_path):
    from typer.testing import CliRunner

    from aedetect.artifacts.store import read_manifest
    from aedetect.cli.main import app

    assert read_manifest(FORMAT_2 / "model")["format_version"] == 2
    scores, expected = format_2_scores(FORMAT_2 / "model")
    # the same arithmetic; float64 parts are summed in another order than that release did
    np.testing.assert_allclose(scores, expected["scores"], rtol=1e-12, atol=0)
    assert load_detector(FORMAT_2 / "model").threshold_ == expected["threshold"]
    copy = shutil.copytree(FORMAT_2 / "model", tmp_path / "model")
    result = CliRunner().invoke(app, ["models", "upgrade", str(copy)])
    assert result.exit_code == 0 and "from format 2 to format 5" in result.output
    document = read_manifest(copy)
    assert document["format_version"] == 5 and document["upgraded_from"][0]["format_version"] == 2
    assert "numeric_transform" not in document["params"]
    assert document["fitted"]["numeric_error"] == "squared"
    upgraded, _ = format_2_scores(copy)
    np.testing.assert_array_equal(upgraded, scores)
    again = CliRunner().invoke(app, ["models", "upgrade", str(copy)])
    assert again.exit_code == 0 and "nothing to do" in again.output


def test_upgrading_a_model_that_cannot_be_upgraded_names_why(saved, tmp_path):
    from typer.testing import CliRunner

    from aedetect.cli.main import app

    _, _, path = saved

    def quantile(document):
        document["fitted"]["encoder"]["transform"] = "quantile"

    copy = rewrite_manifest(path, tmp_path, quantile)
    before = (copy / MANIFEST).read_text(encoding="utf-8")
    result = CliRunner().invoke(app, ["models", "upgrade", str(copy)])
    assert result.exit_code == 2 and "numeric_transform='quantile', an option removed" in result.output
    assert (copy / MANIFEST).read_text(encoding="utf-8") == before


def test_an_unknown_numeric_error_is_refused(saved, tmp_path):
    _, _, path = saved

    def unknown(document):
        document["fitted"]["numeric_error"] = "cubic"

    with pytest.raises(ArtifactError, match="cubic"):
        load_detector(rewrite_manifest(path, tmp_path, unknown))
