"""Error hints: services attach a step as data (:class:`aedetect.errors.Hint`), and each surface
words it its own way (v1 and v2 routes, the command line's commands); the message stays the same."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from aedetect.api.v1.envelope import V1_HINTS, v1_error_body
from aedetect.api.v2.problems import V2_HINTS, problem_body
from aedetect.cli.main import CLI_HINTS, app
from aedetect.config import get_settings
from aedetect.errors import HINT_ACTIONS, Hint, NotFitted


def test_a_hint_names_a_known_action() -> None:
    with pytest.raises(ValueError, match="unknown hint action 'trian'"):
        Hint("trian", model="kdd")


def test_every_surface_words_only_known_actions_and_every_action_is_worded_somewhere() -> None:
    surfaces = (V1_HINTS, V2_HINTS, CLI_HINTS)
    for words in surfaces:
        assert set(words) <= set(HINT_ACTIONS)
    assert set(HINT_ACTIONS) == set().union(*surfaces)


def test_v1_appends_its_route_and_v2_gives_the_hint_beside_the_detail() -> None:
    error = NotFitted(
        "version 1 of network kdd has no trained model yet: train it first",
        hint=Hint("train", model="kdd", version=1),
    )
    v1 = v1_error_body(409, error.message, error.hint)
    assert v1 == {
        "status": "409",
        "result": "version 1 of network kdd has no trained model yet: train it first "
        "(POST /api/v1/type/runmanager/state/train/nnid/kdd/ver/1/)",
    }
    v2 = problem_body(409, error.code, error.message, hint=error.hint)
    assert v2["detail"] == error.message
    assert v2["hint"] == {
        "action": "train",
        "params": {"model": "kdd", "version": 1},
        "text": "POST /api/v2/models/kdd/train",
    }


def test_a_surface_without_words_for_a_hint_gives_the_message_alone() -> None:
    hint = Hint("init_workflow", model="kdd", version=1, type="autoencoder_csv")
    assert v1_error_body(404, "no workflow yet", hint)["result"].endswith(
        'wfver/1/ with {"type": "autoencoder_csv"})'
    )
    assert problem_body(404, "not_found", "no workflow yet", hint=hint)["hint"] == hint.as_dict()  # no text
    assert (
        v1_error_body(409, "no trained version", Hint("train", model="kdd"))["result"] == "no trained version"
    )


def test_the_command_line_names_its_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AEDETECT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("AEDETECT_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(app, ["keys", "revoke", "k_missing"])
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 2
    assert "error: no API key has the id k_missing ('aedetect keys list' shows them)" in done.output
