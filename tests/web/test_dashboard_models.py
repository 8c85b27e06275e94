"""The models page's recent scoring and the version page's promote and rollback, in a real
headless Chromium against a real server, on a model of their own (two versions trained through
the API) so that every row it scored is one these tests sent."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from aedetect.client import Client
from support.dashboard import FEATURES, LABEL, Browser, Files, number, plant_rows
from support.server import ServerProcess, V1Client, csv_bytes, wait_for

pytestmark = pytest.mark.browser

PRESS = "press-3"


@pytest.fixture(scope="module")
def press(api: Client, files: Files) -> str:
    """A model with two versions; production moved to the second as it was trained."""
    dataset = api.upload_dataset(files.train)
    api.create_model(
        PRESS,
        dataset=dataset["id"],
        columns=FEATURES,
        categorical=["설비"],
        params={"epochs": 3, "n_hidden": [8, 3], "batch_size": 32, "random_state": 0},
    )
    for _ in range(2):
        assert api.train(PRESS, wait=True, progress=False)["status"] == "succeeded"
    assert api.model(PRESS)["aliases"]["production"] == 2
    return PRESS


def models_row(browser: Browser, name: str) -> list[str]:
    browser.goto("/")
    return [c.inner_text() for c in browser.page.locator(f"#models tr[data-model='{name}'] td").all()]


def test_models_page_counts_the_rows_scored_through_v1_and_v2(
    browser: Browser, press: str, api: Client, web_server: ServerProcess
) -> None:
    cells = models_row(browser, press)
    assert cells[4] == "–" and cells[5] == "–"  # nothing scored yet
    frame = plant_rows(40, seed=21, anomalies=6).drop(columns=[LABEL])
    rows = json.loads(frame[FEATURES].to_json(orient="records"))
    answer = api.score(press, rows, top=0)  # v2, a batch of rows
    flagged = sum(r["is_anomaly"] for r in answer["rows"])
    assert 0 < flagged < len(rows)
    api.score(press, rows[:1], top=0)  # v2, a single row
    scored = pd.read_csv(io.StringIO(api.score_csv(press, csv_bytes(frame[FEATURES]))))  # v2, a CSV body
    assert int(scored["is_anomaly"].sum()) == flagged
    v1 = V1Client(web_server.url)
    assert len(v1.anomaly(press, rows)) == len(rows)  # v1, a batch
    assert isinstance(v1.anomaly(press, rows[0]), float)  # v1, a single row
    sent = 3 * len(rows) + 2
    anomalies = 3 * flagged + 2 * int(answer["rows"][0]["is_anomaly"])
    wait_for(lambda: api.scores(press, limit=1)["log"]["queued"] == 0, "the scoring log to drain")

    cells = models_row(browser, press)
    assert number(cells[4]) == sent
    share = anomalies / sent
    assert cells[5] == f"{100 * share:.{2 if share < 0.01 else 1}f}%"
    page = browser.page
    assert "Rows scored (7 days)" in page.inner_text("#models thead")
    window = page.inner_text("#scored-window")
    assert "last 7 days" in window and "v1 and v2" in window and "retention" in window
    browser.shot("1-models-recent-scoring")
    assert not browser.errors


def alias_moves(browser: Browser) -> list[list[str]]:
    rows = browser.page.locator("#alias-moves tbody tr").all()
    return [[c.inner_text() for c in r.locator("td").all()] for r in rows]


def click_version_button(browser: Browser, version: int, label: str, note: str) -> None:
    """Click the button of a version's row, answer its prompt with ``note``, and wait for the
    page to reload with the new aliases."""
    page = browser.page
    button = page.locator(f"#versions tr[data-version='{version}'] button")
    assert button.inner_text() == label
    page.once("dialog", lambda dialog: dialog.accept(note))
    with page.expect_navigation():
        button.click()
    page.wait_for_load_state("networkidle")
    wait_for(lambda: page.locator("#alias-moves tbody tr").count() > 0, "the alias moves")


def test_version_page_rolls_back_and_promotes_through_its_buttons(
    browser: Browser, press: str, api: Client
) -> None:
    page = browser.page
    browser.goto(f"/models/{press}/versions/2")
    wait_for(lambda: page.locator("#versions tbody tr").count() == 2, "the versions table")
    assert page.locator("#versions tr[data-version='2'] button").count() == 0  # production already
    assert "production" in page.inner_text("#versions tr[data-version='2']")
    moves_before = len(alias_moves(browser))

    click_version_button(browser, 1, "Roll back to this", "v2 alarms too often")
    assert api.alias(press, "production")["version"] == 1
    assert "production" in page.inner_text("#versions tr[data-version='1']")
    moves = alias_moves(browser)
    assert len(moves) == moves_before + 1
    _when, alias, source, target, who, why = moves[0]
    assert (alias, source, target, why) == ("production", "v2", "v1", "v2 alarms too often")
    assert who.startswith("first admin key")
    browser.shot("3-version-rolled-back")

    click_version_button(browser, 2, "Promote to production", "retuned")
    assert api.alias(press, "production")["version"] == 2
    moves = alias_moves(browser)
    assert len(moves) == moves_before + 2 and moves[0][1:4] == ["production", "v1", "v2"]
    assert moves[0][5] == "retuned"
    history = api.alias(press, "production")["history"]  # oldest first
    assert [(m["from_version"], m["to_version"], m["note"]) for m in history[-2:]] == [
        (2, 1, "v2 alarms too often"),
        (1, 2, "retuned"),
    ]
    assert not browser.errors


def test_models_page_shows_a_failed_newest_training_beside_the_version_that_keeps_serving(
    browser: Browser, press: str, api: Client
) -> None:
    before = api.model(press)
    api.update_model(press, params={**before["params"], "epochs": 10_000})
    job = api.train(press, progress=False)
    api.cancel(job["id"])
    assert api.job(job["id"], wait=60)["status"] == "cancelled"
    model = api.model(press)
    assert model["last_training"]["job"] == job["id"] and model["last_training"]["status"] == "cancelled"
    assert model["latest_version"] == 2 and model["last_trained_at"] == before["last_trained_at"]

    cells = models_row(browser, press)
    assert "cancelled" in cells[2] and "version 2 keeps serving" in cells[2]
    assert cells[1] == "v2" and cells[3] != "–"  # production and when version 2 was trained stay
    api.update_model(press, params=before["params"])
    assert not browser.errors


def test_pages_of_this_module_load_nothing_from_outside(browser: Browser) -> None:
    assert browser.requests
    assert [url for url in browser.requests if not url.startswith(browser.base + "/")] == []
