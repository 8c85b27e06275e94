"""The SQL registry against its interface: every method and its failure paths, on SQLite and on
PostgreSQL (``registry`` fixture), plus the schema, migration and SQLite plumbing underneath."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from aedetect.domain import JobStatus, Network, Version, VersionCondition
from aedetect.errors import Conflict, InvalidInput, NotFound
from aedetect.registry import SqlRegistry
from aedetect.registry.db import make_engine, make_session_factory, session_scope
from aedetect.registry.migrate import alembic_config
from aedetect.registry.orm import Base, NetworkRow

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
"""The newest schema revision, which opening a registry migrates to."""

WORKFLOW = [
    ("datasrc", "data_csv"),
    ("feed_train", "feed_csv"),
    ("netconf_node", "autoencoder"),
    ("eval_node", "eval"),
    ("feed_test", "feed_csv"),
    ("evaldata", "data_csv"),
]


@pytest.fixture
def version1(registry: SqlRegistry) -> Version:
    """Network ``nn1`` with version 1."""
    registry.create_network(Network(nn_id="nn1"))
    return registry.create_version(Version(nn_id="nn1", version=1))


def succeeded_run(registry: SqlRegistry, nn_id: str = "nn1", version: int = 1) -> str:
    run = registry.create_run(nn_id, version, {}, None)
    registry.update_run(run.run_id, {"status": JobStatus.SUCCEEDED})
    return run.run_id


def url_of(registry: SqlRegistry) -> str:
    return registry.engine.url.render_as_string(hide_password=False)


# --- networks ---------------------------------------------------------------------------------
def test_create_network_round_trips_every_field(registry: SqlRegistry) -> None:
    fields = {
        "biz_cate": "bank",
        "biz_sub_cate": "cards",
        "nn_title": "fraud",
        "nn_desc": "card fraud",
        "use_flag": "N",
        "dir": "autoencoder_csv",
        "config": "{}",
    }
    registry.create_network(Network(nn_id="nn1", **fields))
    got = registry.get_network("nn1")
    assert {name: getattr(got, name) for name in fields} == fields


def test_network_timestamps_are_utc(registry: SqlRegistry) -> None:
    created = registry.create_network(Network(nn_id="nn1"))
    got = registry.get_network("nn1")
    assert got.created_at == created.created_at
    assert got.created_at is not None and got.created_at.utcoffset() == timedelta(0)


def test_create_network_twice_conflicts(registry: SqlRegistry) -> None:
    registry.create_network(Network(nn_id="nn1"))
    with pytest.raises(Conflict, match="network 'nn1' already exists"):
        registry.create_network(Network(nn_id="nn1"))


@pytest.mark.parametrize("nn_id", ["", "x" * 51])
def test_create_network_with_bad_id_is_invalid(registry: SqlRegistry, nn_id: str) -> None:
    with pytest.raises(InvalidInput, match="network id must be 1 to 50 characters") as err:
        registry.create_network(Network(nn_id=nn_id))
    assert err.value.field == "nn_id"


def test_get_missing_network_not_found(registry: SqlRegistry) -> None:
    with pytest.raises(NotFound, match="network 'nope' not found"):
        registry.get_network("nope")


def test_next_network_id_starts_at_one(registry: SqlRegistry) -> None:
    assert registry.next_network_id() == "nn00000001"


def test_next_network_id_follows_the_highest_generated_id(registry: SqlRegistry) -> None:
    for nn_id in ("nn00000007", "nn00000003", "nn12", "nnabcdefgh", "custom"):
        registry.create_network(Network(nn_id=nn_id))
    assert registry.next_network_id() == "nn00000008"


def test_list_networks_is_ordered_by_id(registry: SqlRegistry) -> None:
    for nn_id in ("b", "c", "a"):
        registry.create_network(Network(nn_id=nn_id))
    assert [n.nn_id for n in registry.list_networks()] == ["a", "b", "c"]


def test_update_network_sets_fields_and_bumps_updated_at(registry: SqlRegistry) -> None:
    created = registry.create_network(Network(nn_id="nn1", nn_title="old"))
    updated = registry.update_network("nn1", {"nn_title": "new", "nn_desc": "why"})
    got = registry.get_network("nn1")
    assert (got.nn_title, got.nn_desc) == ("new", "why")
    assert updated.updated_at is not None and created.updated_at is not None
    assert updated.updated_at >= created.updated_at


def test_update_network_unknown_field_is_invalid(registry: SqlRegistry) -> None:
    registry.create_network(Network(nn_id="nn1"))
    with pytest.raises(InvalidInput, match="cannot set 'nn_id' on a network") as err:
        registry.update_network("nn1", {"nn_id": "other"})
    assert err.value.field == "nn_id"


def test_update_network_non_text_value_is_invalid(registry: SqlRegistry) -> None:
    registry.create_network(Network(nn_id="nn1"))
    with pytest.raises(InvalidInput, match="nn_title must be a string, got int"):
        registry.update_network("nn1", {"nn_title": 3})


def test_update_missing_network_not_found(registry: SqlRegistry) -> None:
    with pytest.raises(NotFound, match="network 'nope' not found"):
        registry.update_network("nope", {"nn_title": "x"})


def test_delete_network_removes_it(registry: SqlRegistry) -> None:
    registry.create_network(Network(nn_id="nn1"))
    registry.delete_network("nn1")
    with pytest.raises(NotFound):
        registry.get_network("nn1")


def test_delete_network_cascades_to_versions_nodes_and_runs(registry: SqlRegistry, version1: Version) -> None:
    registry.ensure_nodes("nn1", 1, WORKFLOW)
    run = registry.create_run("nn1", 1, {}, None)
    registry.delete_network("nn1")
    registry.create_network(Network(nn_id="nn1"))
    with pytest.raises(NotFound, match="version 1 of network 'nn1' not found"):
        registry.list_nodes("nn1", 1)
    with pytest.raises(NotFound, match=f"training run '{run.run_id}' not found"):
        registry.get_run(run.run_id)


def test_delete_network_leaves_other_networks(registry: SqlRegistry, version1: Version) -> None:
    registry.create_network(Network(nn_id="nn2"))
    registry.create_version(Version(nn_id="nn2", version=1))
    registry.delete_network("nn1")
    assert [v.version for v in registry.list_versions("nn2")] == [1]


def test_delete_missing_network_not_found(registry: SqlRegistry) -> None:
    with pytest.raises(NotFound, match="network 'nope' not found"):
        registry.delete_network("nope")


# --- versions ---------------------------------------------------------------------------------
def test_versions_are_numbered_from_one_ignoring_the_given_number(registry: SqlRegistry) -> None:
    registry.create_network(Network(nn_id="nn1"))
    numbers = [registry.create_version(Version(nn_id="nn1", version=99)).version for _ in range(3)]
    assert numbers == [1, 2, 3]


def test_version_numbers_are_per_network(registry: SqlRegistry, version1: Version) -> None:
    registry.create_network(Network(nn_id="nn2"))
    assert registry.create_version(Version(nn_id="nn2", version=0)).version == 1


def test_create_version_keeps_its_fields(registry: SqlRegistry) -> None:
    registry.create_network(Network(nn_id="nn1"))
    registry.create_version(
        Version(
            nn_id="nn1",
            version=0,
            info="single",
            desc="first try",
            condition=VersionCondition.FINISHED,
            active=True,
            def_list_nn_id="nn1",
            workflow_type="autoencoder_csv",
        )
    )
    got = registry.get_version("nn1", 1)
    assert (got.info, got.desc, got.condition, got.active, got.def_list_nn_id, got.workflow_type) == (
        "single",
        "first try",
        VersionCondition.FINISHED,
        True,
        "nn1",
        "autoencoder_csv",
    )


def test_create_version_of_missing_network_not_found(registry: SqlRegistry) -> None:
    with pytest.raises(NotFound, match="network 'nope' not found"):
        registry.create_version(Version(nn_id="nope", version=1))


def test_concurrent_creators_get_distinct_version_numbers(registry: SqlRegistry) -> None:
    registry.create_network(Network(nn_id="nn1"))
    n = 6
    start = threading.Barrier(n, timeout=30)
    numbers: list[int] = []
    errors: list[BaseException] = []

    def create() -> None:
        start.wait()
        try:
            numbers.append(registry.create_version(Version(nn_id="nn1", version=0)).version)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, n + 1))


def test_get_missing_version_names_network_and_version(registry: SqlRegistry, version1: Version) -> None:
    with pytest.raises(NotFound, match="version 3 of network 'nn1' not found"):
        registry.get_version("nn1", 3)


def test_get_version_of_missing_network_names_the_network(registry: SqlRegistry) -> None:
    with pytest.raises(NotFound, match="network 'nope' not found"):
        registry.get_version("nope", 1)


def test_list_versions_by_number(registry: SqlRegistry, version1: Version) -> None:
    registry.create_version(Version(nn_id="nn1", version=0))
    assert [v.version for v in registry.list_versions("nn1")] == [1, 2]


def test_list_versions_of_network_without_versions_is_empty(registry: SqlRegistry) -> None:
    registry.create_network(Network(nn_id="nn1"))
    assert registry.list_versions("nn1") == []


def test_list_versions_of_missing_network_not_found(registry: SqlRegistry) -> None:
    with pytest.raises(NotFound, match="network 'nope' not found"):
        registry.list_versions("nope")


def test_update_version_sets_fields(registry: SqlRegistry, version1: Version) -> None:
    registry.update_version(
        "nn1", 1, {"desc": "tuned", "condition": "3", "info": "x", "workflow_type": "autoencoder_csv"}
    )
    got = registry.get_version("nn1", 1)
    assert (got.desc, got.condition, got.info, got.workflow_type) == (
        "tuned",
        VersionCondition.FINISHED,
        "x",
        "autoencoder_csv",
    )


def test_update_version_with_bad_condition_is_invalid(registry: SqlRegistry, version1: Version) -> None:
    with pytest.raises(
        InvalidInput, match="condition of version 1 of network 'nn1' must be one of 1, 2, 3, 4"
    ):
        registry.update_version("nn1", 1, {"condition": "9"})


def test_update_version_unknown_field_is_invalid(registry: SqlRegistry, version1: Version) -> None:
    with pytest.raises(InvalidInput, match="cannot set 'version' on a version"):
        registry.update_version("nn1", 1, {"version": 2})


def test_update_version_non_bool_active_is_invalid(registry: SqlRegistry, version1: Version) -> None:
    with pytest.raises(InvalidInput, match="active must be true or false, got 'Y'"):
        registry.update_version("nn1", 1, {"active": "Y"})


def test_update_missing_version_not_found(registry: SqlRegistry, version1: Version) -> None:
    with pytest.raises(NotFound, match="version 2 of network 'nn1' not found"):
        registry.update_version("nn1", 2, {"desc": "x"})


def test_activating_a_version_deactivates_the_others(registry: SqlRegistry, version1: Version) -> None:
    registry.create_version(Version(nn_id="nn1", version=0))
    registry.update_version("nn1", 1, {"active": True})
    registry.update_version("nn1", 2, {"active": True})
    assert [(v.version, v.active) for v in registry.list_versions("nn1")] == [(1, False), (2, True)]
    assert registry.get_active_version("nn1").version == 2


def test_activation_does_not_touch_other_networks(registry: SqlRegistry, version1: Version) -> None:
    registry.create_network(Network(nn_id="nn2"))
    registry.create_version(Version(nn_id="nn2", version=0, active=True))
    registry.update_version("nn1", 1, {"active": True})
    assert registry.get_active_version("nn2").version == 1


def test_active_version_is_the_lowest_of_several(registry: SqlRegistry) -> None:
    registry.create_network(Network(nn_id="nn1"))
    registry.create_version(Version(nn_id="nn1", version=0))
    registry.create_version(Version(nn_id="nn1", version=0, active=True))
    registry.create_version(Version(nn_id="nn1", version=0, active=True))
    assert registry.get_active_version("nn1").version == 2


def test_no_active_version_not_found(registry: SqlRegistry, version1: Version) -> None:
    with pytest.raises(NotFound, match="network 'nn1' has no active version"):
        registry.get_active_version("nn1")


def test_active_version_of_missing_network_not_found(registry: SqlRegistry) -> None:
    with pytest.raises(NotFound, match="network 'nope' not found"):
        registry.get_active_version("nope")


# --- workflow nodes ---------------------------------------------------------------------------
def test_ensure_nodes_creates_them_in_order(registry: SqlRegistry, version1: Version) -> None:
    created = registry.ensure_nodes("nn1", 1, WORKFLOW)
    assert [(n.name, n.kind, n.config) for n in created] == [(name, kind, {}) for name, kind in WORKFLOW]
    assert [n.name for n in registry.list_nodes("nn1", 1)] == [name for name, _ in WORKFLOW]
    assert created[0].node_id == "nn1_1_datasrc"


def test_ensure_nodes_keeps_existing_configs(registry: SqlRegistry, version1: Version) -> None:
    registry.ensure_nodes("nn1", 1, WORKFLOW[:2])
    registry.set_node_config("nn1", 1, "datasrc", {"delimiter": ";"})
    again = registry.ensure_nodes("nn1", 1, WORKFLOW)
    assert again[0].config == {"delimiter": ";"}
    assert len(registry.list_nodes("nn1", 1)) == len(WORKFLOW)


def test_ensure_nodes_with_other_kind_conflicts(registry: SqlRegistry, version1: Version) -> None:
    registry.ensure_nodes("nn1", 1, [("datasrc", "data_csv")])
    with pytest.raises(Conflict, match="node 'datasrc' of version 1 of network 'nn1' is a 'data_csv'"):
        registry.ensure_nodes("nn1", 1, [("datasrc", "feed_csv")])


def test_ensure_nodes_of_missing_version_not_found(registry: SqlRegistry, version1: Version) -> None:
    with pytest.raises(NotFound, match="version 2 of network 'nn1' not found"):
        registry.ensure_nodes("nn1", 2, WORKFLOW)


def test_nodes_are_per_version(registry: SqlRegistry, version1: Version) -> None:
    registry.create_version(Version(nn_id="nn1", version=0))
    registry.ensure_nodes("nn1", 1, WORKFLOW)
    assert registry.list_nodes("nn1", 2) == []


def test_get_node_returns_its_config(registry: SqlRegistry, version1: Version) -> None:
    registry.ensure_nodes("nn1", 1, WORKFLOW)
    registry.set_node_config("nn1", 1, "netconf_node", {"epochs": 5, "n_hidden": [8, 4]})
    node = registry.get_node("nn1", 1, "netconf_node")
    assert (node.kind, node.config) == ("autoencoder", {"epochs": 5, "n_hidden": [8, 4]})


def test_get_missing_node_lists_the_existing_ones(registry: SqlRegistry, version1: Version) -> None:
    registry.ensure_nodes("nn1", 1, WORKFLOW)
    expected = (
        "node 'feed_x' not found in version 1 of network 'nn1' "
        "(nodes: datasrc, feed_train, netconf_node, eval_node, feed_test, evaldata)"
    )
    with pytest.raises(NotFound) as err:
        registry.get_node("nn1", 1, "feed_x")
    assert err.value.message == expected


def test_get_node_of_missing_version_names_the_version(registry: SqlRegistry, version1: Version) -> None:
    with pytest.raises(NotFound, match="version 5 of network 'nn1' not found"):
        registry.get_node("nn1", 5, "datasrc")


def test_list_nodes_of_missing_version_not_found(registry: SqlRegistry, version1: Version) -> None:
    with pytest.raises(NotFound, match="version 2 of network 'nn1' not found"):
        registry.list_nodes("nn1", 2)


def test_set_node_config_replaces_the_whole_config(registry: SqlRegistry, version1: Version) -> None:
    registry.ensure_nodes("nn1", 1, WORKFLOW)
    registry.set_node_config("nn1", 1, "datasrc", {"a": 1, "b": 2})
    registry.set_node_config("nn1", 1, "datasrc", {"c": "x"})
    assert registry.get_node("nn1", 1, "datasrc").config == {"c": "x"}


def test_set_node_config_not_an_object_is_invalid(registry: SqlRegistry, version1: Version) -> None:
    registry.ensure_nodes("nn1", 1, WORKFLOW)
    with pytest.raises(InvalidInput, match="config must be a JSON object, got list"):
        registry.set_node_config("nn1", 1, "datasrc", [1, 2])  # type: ignore[arg-type]


def test_set_node_config_with_nan_is_invalid(registry: SqlRegistry, version1: Version) -> None:
    registry.ensure_nodes("nn1", 1, WORKFLOW)
    with pytest.raises(InvalidInput, match="config is not storable as JSON") as err:
        registry.set_node_config("nn1", 1, "datasrc", {"x": float("nan")})
    assert err.value.field == "config"


def test_set_config_of_missing_node_not_found(registry: SqlRegistry, version1: Version) -> None:
    with pytest.raises(
        NotFound, match="node 'datasrc' not found in version 1 of network 'nn1' \\(nodes: none\\)"
    ):
        registry.set_node_config("nn1", 1, "datasrc", {})


# --- training runs ----------------------------------------------------------------------------
def test_create_run_numbers_runs_per_version(registry: SqlRegistry, version1: Version) -> None:
    first = registry.create_run("nn1", 1, {"epochs": 3}, "job1")
    second = registry.create_run("nn1", 1, {}, None)
    assert (first.run_id, first.seq, second.run_id, second.seq) == ("nn1_1_1", 1, "nn1_1_2", 2)
    got = registry.get_run("nn1_1_1")
    assert (got.status, got.active, got.params, got.job_id) == (
        JobStatus.QUEUED,
        False,
        {"epochs": 3},
        "job1",
    )


def test_create_run_of_missing_version_not_found(registry: SqlRegistry, version1: Version) -> None:
    with pytest.raises(NotFound, match="version 2 of network 'nn1' not found"):
        registry.create_run("nn1", 2, {}, None)


def test_get_missing_run_not_found(registry: SqlRegistry) -> None:
    with pytest.raises(NotFound, match="training run 'nn1_1_9' not found"):
        registry.get_run("nn1_1_9")


def test_list_runs_by_seq_for_one_version(registry: SqlRegistry, version1: Version) -> None:
    registry.create_version(Version(nn_id="nn1", version=0))
    registry.create_run("nn1", 1, {}, None)
    registry.create_run("nn1", 2, {}, None)
    registry.create_run("nn1", 1, {}, None)
    assert [r.run_id for r in registry.list_runs("nn1", 1)] == ["nn1_1_1", "nn1_1_2"]


def test_list_runs_of_missing_version_not_found(registry: SqlRegistry, version1: Version) -> None:
    with pytest.raises(NotFound, match="version 4 of network 'nn1' not found"):
        registry.list_runs("nn1", 4)


def test_update_run_round_trips_its_fields(registry: SqlRegistry, version1: Version) -> None:
    run = registry.create_run("nn1", 1, {}, None)
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    registry.update_run(
        run.run_id,
        {
            "status": "succeeded",
            "model_path": "models/nn1/1/nn1_1_1",
            "metrics": {"val_loss": 0.25, "epochs": 3},
            "result": {"threshold": 1.5},
            "error": None,
            "started_at": started,
            "finished_at": started + timedelta(seconds=7),
        },
    )
    got = registry.get_run(run.run_id)
    assert got.status is JobStatus.SUCCEEDED
    assert (got.model_path, got.metrics, got.result) == (
        "models/nn1/1/nn1_1_1",
        {"val_loss": 0.25, "epochs": 3},
        {"threshold": 1.5},
    )
    assert (got.started_at, got.finished_at) == (started, started + timedelta(seconds=7))


def test_update_run_converts_times_to_utc(registry: SqlRegistry, version1: Version) -> None:
    run = registry.create_run("nn1", 1, {}, None)
    seoul = datetime(2026, 1, 2, 12, 0, tzinfo=timezone(timedelta(hours=9)))
    got = registry.update_run(run.run_id, {"started_at": seoul})
    stored = registry.get_run(run.run_id).started_at
    assert got.started_at == seoul
    assert stored == datetime(2026, 1, 2, 3, 0, tzinfo=UTC) and stored.tzinfo == UTC


def test_update_run_with_bad_status_is_invalid(registry: SqlRegistry, version1: Version) -> None:
    run = registry.create_run("nn1", 1, {}, None)
    with pytest.raises(
        InvalidInput, match="status must be one of queued, running, succeeded, failed, cancelled, got 'done'"
    ):
        registry.update_run(run.run_id, {"status": "done"})


def test_update_run_unknown_field_is_invalid(registry: SqlRegistry, version1: Version) -> None:
    run = registry.create_run("nn1", 1, {}, None)
    with pytest.raises(InvalidInput, match="cannot set 'active' on a training run"):
        registry.update_run(run.run_id, {"active": True})


def test_update_run_metrics_must_be_json(registry: SqlRegistry, version1: Version) -> None:
    run = registry.create_run("nn1", 1, {}, None)
    with pytest.raises(InvalidInput, match="metrics is not storable as JSON"):
        registry.update_run(run.run_id, {"metrics": {"loss": float("inf")}})


def test_update_missing_run_not_found(registry: SqlRegistry) -> None:
    with pytest.raises(NotFound, match="training run 'nope' not found"):
        registry.update_run("nope", {"status": JobStatus.FAILED})


def test_activate_run_makes_it_the_only_active_one(registry: SqlRegistry, version1: Version) -> None:
    first, second = succeeded_run(registry), succeeded_run(registry)
    registry.activate_run(first)
    registry.activate_run(second)
    assert [(r.run_id, r.active) for r in registry.list_runs("nn1", 1)] == [(first, False), (second, True)]
    active = registry.get_active_run("nn1", 1)
    assert active is not None and active.run_id == second


def test_serving_run_of_the_active_version(registry: SqlRegistry, version1: Version) -> None:
    registry.create_version(Version(nn_id="nn1", version=0))
    registry.update_version("nn1", 2, {"active": True})
    registry.activate_run(succeeded_run(registry, version=1))
    served = succeeded_run(registry, version=2)
    registry.activate_run(served)
    number, run = registry.get_serving_run("nn1", None)
    assert number == 2
    assert run is not None and run.run_id == served


def test_serving_run_of_a_given_version(registry: SqlRegistry, version1: Version) -> None:
    first, second = succeeded_run(registry), succeeded_run(registry)
    registry.activate_run(second)
    number, run = registry.get_serving_run("nn1", 1)
    assert number == 1
    assert run is not None and run.run_id == second
    assert first != second


def test_serving_run_is_none_before_a_model_is_active(registry: SqlRegistry, version1: Version) -> None:
    registry.update_version("nn1", 1, {"active": True})
    succeeded_run(registry)  # trained but not activated
    assert registry.get_serving_run("nn1", None) == (1, None)
    assert registry.get_serving_run("nn1", 1) == (1, None)


def test_serving_run_names_what_is_missing(registry: SqlRegistry, version1: Version) -> None:
    with pytest.raises(NotFound, match="network 'nope' not found"):
        registry.get_serving_run("nope", None)
    with pytest.raises(NotFound, match="version 7 of network 'nn1' not found"):
        registry.get_serving_run("nn1", 7)
    with pytest.raises(NotFound, match="no active version"):
        registry.get_serving_run("nn1", None)


def test_activate_run_does_not_touch_other_versions(registry: SqlRegistry, version1: Version) -> None:
    registry.create_version(Version(nn_id="nn1", version=0))
    other = succeeded_run(registry, version=2)
    registry.activate_run(other)
    registry.activate_run(succeeded_run(registry, version=1))
    active = registry.get_active_run("nn1", 2)
    assert active is not None and active.run_id == other


def test_activate_unfinished_run_conflicts(registry: SqlRegistry, version1: Version) -> None:
    run = registry.create_run("nn1", 1, {}, None)
    with pytest.raises(
        Conflict, match="training run 'nn1_1_1' is queued; only a succeeded run can be activated"
    ):
        registry.activate_run(run.run_id)


def test_activate_missing_run_not_found(registry: SqlRegistry) -> None:
    with pytest.raises(NotFound, match="training run 'nope' not found"):
        registry.activate_run("nope")


def test_no_active_run_is_none(registry: SqlRegistry, version1: Version) -> None:
    succeeded_run(registry)
    assert registry.get_active_run("nn1", 1) is None


def test_active_run_of_missing_version_not_found(registry: SqlRegistry, version1: Version) -> None:
    with pytest.raises(NotFound, match="version 2 of network 'nn1' not found"):
        registry.get_active_run("nn1", 2)


# --- jobs -------------------------------------------------------------------------------------
def test_create_job_is_queued_with_a_fresh_id(registry: SqlRegistry) -> None:
    first = registry.create_job("train", {"run_id": "nn1_1_1"})
    second = registry.create_job("train", {})
    assert first.job_id != second.job_id
    got = registry.get_job(first.job_id)
    assert (got.kind, got.params, got.status, got.progress, got.result, got.error) == (
        "train",
        {"run_id": "nn1_1_1"},
        JobStatus.QUEUED,
        {},
        None,
        None,
    )
    assert got.created_at is not None and got.started_at is None


def test_count_jobs_by_status_and_kind(registry: SqlRegistry) -> None:
    queued = [registry.create_job("train", {}) for _ in range(3)]
    registry.create_job("score", {})
    registry.start_job(queued[0].job_id)
    registry.request_cancel(queued[1].job_id)
    assert registry.count_jobs([JobStatus.QUEUED], kind="train") == 1
    assert registry.count_jobs([JobStatus.QUEUED]) == 2
    assert registry.count_jobs([JobStatus.QUEUED, JobStatus.RUNNING], kind="train") == 2
    assert registry.count_jobs([JobStatus.SUCCEEDED]) == 0


def test_create_job_without_kind_is_invalid(registry: SqlRegistry) -> None:
    with pytest.raises(InvalidInput, match="job kind must be a non-empty string"):
        registry.create_job("", {})


def test_create_job_params_must_be_json(registry: SqlRegistry) -> None:
    with pytest.raises(InvalidInput, match="params is not storable as JSON: Object of type bytes"):
        registry.create_job("train", {"data": b"raw"})


def test_get_missing_job_not_found(registry: SqlRegistry) -> None:
    with pytest.raises(NotFound, match="job 'nope' not found"):
        registry.get_job("nope")


def test_update_job_round_trips_progress_and_any_json_result(registry: SqlRegistry) -> None:
    job = registry.create_job("train", {})
    registry.update_job(job.job_id, {"status": JobStatus.RUNNING, "progress": {"epoch": 2, "of": 10}})
    registry.update_job(job.job_id, {"result": [1, "two", None]})
    got = registry.get_job(job.job_id)
    assert (got.status, got.progress, got.result) == (
        JobStatus.RUNNING,
        {"epoch": 2, "of": 10},
        [1, "two", None],
    )


def test_update_job_naive_time_is_taken_as_utc(registry: SqlRegistry) -> None:
    job = registry.create_job("train", {})
    registry.update_job(job.job_id, {"started_at": datetime(2026, 5, 1, 8, 30)})
    assert registry.get_job(job.job_id).started_at == datetime(2026, 5, 1, 8, 30, tzinfo=UTC)


def test_update_job_time_must_be_a_datetime(registry: SqlRegistry) -> None:
    job = registry.create_job("train", {})
    with pytest.raises(InvalidInput, match="finished_at must be a datetime, got str"):
        registry.update_job(job.job_id, {"finished_at": "2026-05-01"})


def test_update_job_unknown_field_is_invalid(registry: SqlRegistry) -> None:
    job = registry.create_job("train", {})
    with pytest.raises(InvalidInput, match="cannot set 'kind' on a job"):
        registry.update_job(job.job_id, {"kind": "other"})


def test_update_missing_job_not_found(registry: SqlRegistry) -> None:
    with pytest.raises(NotFound, match="job 'nope' not found"):
        registry.update_job("nope", {"status": JobStatus.RUNNING})


def test_list_jobs_newest_first(registry: SqlRegistry) -> None:
    ids = [registry.create_job("train", {}).job_id for _ in range(4)]
    assert [j.job_id for j in registry.list_jobs()] == ids[::-1]


def test_list_jobs_filters_by_status_and_kind(registry: SqlRegistry) -> None:
    queued = registry.create_job("train", {}).job_id
    running = registry.create_job("train", {}).job_id
    other = registry.create_job("evaluate", {}).job_id
    registry.update_job(running, {"status": JobStatus.RUNNING})
    assert [j.job_id for j in registry.list_jobs(statuses=[JobStatus.RUNNING])] == [running]
    assert [j.job_id for j in registry.list_jobs(kind="train")] == [running, queued]
    assert [j.job_id for j in registry.list_jobs([JobStatus.QUEUED], kind="evaluate")] == [other]


def test_fail_interrupted_fails_unfinished_jobs_and_runs_only(
    registry: SqlRegistry, version1: Version
) -> None:
    queued = registry.create_job("train", {}).job_id
    running = registry.create_job("train", {}).job_id
    done = registry.create_job("train", {}).job_id
    registry.update_job(running, {"status": JobStatus.RUNNING})
    registry.update_job(done, {"status": JobStatus.SUCCEEDED})
    stuck_run = registry.create_run("nn1", 1, {}, running).run_id
    done_run = succeeded_run(registry)

    assert registry.fail_interrupted("server restarted") == 2

    for job_id in (queued, running):
        job = registry.get_job(job_id)
        assert (job.status, job.error) == (JobStatus.FAILED, "server restarted")
        assert job.finished_at is not None
    run = registry.get_run(stuck_run)
    assert (run.status, run.error) == (JobStatus.FAILED, "server restarted")
    assert run.finished_at is not None
    assert registry.get_job(done).status is JobStatus.SUCCEEDED
    assert registry.get_run(done_run).status is JobStatus.SUCCEEDED


def test_fail_interrupted_marks_versions_left_training_as_error(
    registry: SqlRegistry, version1: Version
) -> None:
    registry.create_version(Version(nn_id="nn1", version=0, condition=VersionCondition.FINISHED))
    registry.update_version("nn1", 1, {"condition": VersionCondition.PROGRESS})
    registry.fail_interrupted("server restarted")
    assert [v.condition for v in registry.list_versions("nn1")] == [
        VersionCondition.ERROR,
        VersionCondition.FINISHED,
    ]


def test_fail_interrupted_with_nothing_unfinished_is_zero(registry: SqlRegistry) -> None:
    assert registry.fail_interrupted("server restarted") == 0


# --- schema, migrations and plumbing -----------------------------------------------------------
def test_migrated_schema_matches_the_orm(registry: SqlRegistry) -> None:
    with registry.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_migration_downgrades_and_upgrades_again(registry: SqlRegistry) -> None:
    config = alembic_config()
    with registry.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
        assert set(inspect(conn).get_table_names()) == {"alembic_version"}
        command.upgrade(config, "head")
    registry.create_network(Network(nn_id="nn1"))
    assert registry.get_network("nn1").nn_id == "nn1"


def test_reopening_keeps_data_and_schema_version(registry: SqlRegistry) -> None:
    registry.create_network(Network(nn_id="nn1"))
    reopened = SqlRegistry.from_url(url_of(registry))
    try:
        assert [n.nn_id for n in reopened.list_networks()] == ["nn1"]
        with reopened.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == HEAD
    finally:
        reopened.close()


def test_from_url_creates_the_sqlite_directory(sqlite_url: str, tmp_path: Path) -> None:
    assert not (tmp_path / "registry").exists()
    SqlRegistry.from_url(sqlite_url).close()
    assert (tmp_path / "registry" / "aedetect.db").is_file()


def test_sqlite_connections_get_the_pragmas(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            pragmas = [conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in ("foreign_keys", "journal_mode")]
            busy = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    finally:
        engine.dispose()
    assert pragmas == [1, "wal"]
    assert busy is not None and busy > 0


def test_in_memory_sqlite_is_shared_across_threads() -> None:
    registry = SqlRegistry.from_url("sqlite://")
    try:
        registry.create_network(Network(nn_id="nn1"))
        seen: list[str] = []
        reader = threading.Thread(target=lambda: seen.extend(n.nn_id for n in registry.list_networks()))
        reader.start()
        reader.join()
        assert seen == ["nn1"]
    finally:
        registry.close()


def test_session_scope_rolls_back_when_the_block_raises(registry: SqlRegistry) -> None:
    sessions = make_session_factory(registry.engine)
    with pytest.raises(RuntimeError), session_scope(sessions, write=True) as session:
        session.add(NetworkRow(nn_id="nn1"))
        session.flush()
        raise RuntimeError("fail mid-way")
    with pytest.raises(NotFound):
        registry.get_network("nn1")


def test_session_scope_commits_when_the_block_ends(registry: SqlRegistry) -> None:
    with session_scope(make_session_factory(registry.engine), write=True) as session:
        session.add(NetworkRow(nn_id="nn1"))
    assert registry.get_network("nn1").nn_id == "nn1"


MIGRATE_WHEN_TOLD = """
import sys
from aedetect.registry import SqlRegistry
print("ready", flush=True)
sys.stdin.readline()
SqlRegistry.from_url(sys.argv[1]).close()
"""


def test_two_processes_migrating_a_fresh_database_at_once(registry: SqlRegistry) -> None:
    config = alembic_config()
    with registry.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
        conn.execute(text("DROP TABLE alembic_version"))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_WHEN_TOLD, url_of(registry)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:  # both have imported everything: start them together
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    errors = [proc.communicate(timeout=120)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], errors
    with registry.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD]
        assert MigrationContext.configure(conn).get_current_revision() == HEAD


# --- native API aggregates (migration 0002) ----------------------------------------------------
def test_migration_0002_numbers_existing_succeeded_runs_in_training_order(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    config = alembic_config()
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
            now = datetime(2026, 1, 1, tzinfo=UTC)
            conn.execute(
                text(
                    "INSERT INTO networks (nn_id, biz_cate, biz_sub_cate, nn_title, nn_desc, use_flag, dir,"
                    " config, created_at, updated_at) VALUES ('nn1', '', '', '', '', 'Y', '', '', :t, :t)"
                ),
                {"t": now},
            )
            conn.execute(
                text(
                    "INSERT INTO versions (nn_id, version, info, description, condition, active,"
                    " def_list_nn_id, created_at, updated_at) VALUES ('nn1', 1, '', '', '3', 1, '', :t, :t)"
                ),
                {"t": now},
            )
            for seq, status, minutes in ((1, "succeeded", 2), (2, "failed", 3), (3, "succeeded", 1)):
                conn.execute(
                    text(
                        "INSERT INTO runs (run_id, nn_id, version, seq, status, active, params, metrics,"
                        " created_at) VALUES (:r, 'nn1', 1, :s, :st, 0, '{}', '{}', :t)"
                    ),
                    {"r": f"nn1_1_{seq}", "s": seq, "st": status, "t": now + timedelta(minutes=minutes)},
                )
            command.upgrade(config, "head")
    finally:
        engine.dispose()
    registry = SqlRegistry.from_url(sqlite_url)
    try:
        numbers = {r.run_id: r.model_version for r in registry.list_runs("nn1", 1)}
        assert numbers == {"nn1_1_3": 1, "nn1_1_1": 2, "nn1_1_2": None}
        assert registry.get_network("nn1").auto_promote is True
    finally:
        registry.close()


def _succeeded(registry: SqlRegistry, threshold: float = 2.0) -> str:
    run = registry.create_run("nn1", 1, {}, None)
    registry.finish_run(run.run_id, {"metrics": {}}, threshold, {"contamination": 0.01})
    return run.run_id


def test_finished_runs_get_model_versions_and_a_first_threshold(
    registry: SqlRegistry, version1: Version
) -> None:
    first, second = _succeeded(registry), _succeeded(registry, 5.0)
    assert registry.get_model_version("nn1", 1).run_id == first
    current = registry.get_model_version("nn1", 2).threshold
    assert current is not None and current.value == 5.0 and current.strategy == "contamination"
    assert [r.run_id for r in registry.list_model_versions("nn1")] == [first, second]
    with pytest.raises(NotFound, match="no version 3"):
        registry.get_model_version("nn1", 3)


def test_threshold_revision_is_read_with_the_serving_run(registry: SqlRegistry, version1: Version) -> None:
    run_id = _succeeded(registry)
    registry.activate_run(run_id)
    registry.add_threshold(run_id, 7.5, "value", {}, note="by hand")
    _, serving = registry.get_serving_run("nn1", 1)
    assert serving is not None and serving.threshold is not None and serving.threshold.value == 7.5
    assert [t.strategy for t in registry.list_thresholds(run_id)] == ["contamination", "value"]
    with pytest.raises(InvalidInput, match="finite"):
        registry.add_threshold(run_id, float("nan"), "value", {})


def test_production_moves_are_recorded_and_aliases_resolve(registry: SqlRegistry, version1: Version) -> None:
    registry.update_version("nn1", 1, {"active": True})
    first, second = _succeeded(registry), _succeeded(registry)
    registry.activate_run(first)
    registry.activate_run(second)
    registry.set_alias("nn1", "production", 1, note="roll back")
    registry.set_alias("nn1", "candidate", 2)
    assert registry.aliases("nn1") == {"production": 1, "candidate": 2}
    assert registry.resolve_alias("nn1", "candidate").run_id == second
    moves = [(m.alias, m.from_version, m.to_version, m.note) for m in registry.alias_moves("nn1")]
    assert moves == [
        ("production", None, 1, None),
        ("production", 1, 2, None),
        ("production", 2, 1, "roll back"),
        ("candidate", None, 2, None),
    ]
    registry.delete_alias("nn1", "candidate")
    assert registry.aliases("nn1") == {"production": 1}
    with pytest.raises(InvalidInput, match="production alias cannot be removed"):
        registry.delete_alias("nn1", "production")


def test_cancelling_a_queued_job_cancels_it_and_its_run(registry: SqlRegistry, version1: Version) -> None:
    job = registry.create_job("train", {}, model="nn1")
    run = registry.create_run("nn1", 1, {}, job.job_id)
    assert registry.request_cancel(job.job_id).status is JobStatus.CANCELLED
    assert registry.get_run(run.run_id).status is JobStatus.CANCELLED
    assert registry.start_job(job.job_id) is False
    with pytest.raises(Conflict, match="nothing to cancel"):
        registry.request_cancel(job.job_id)


def test_cancelling_a_running_job_only_asks_it_to_stop(registry: SqlRegistry) -> None:
    job = registry.create_job("train", {}, model="nn1")
    assert registry.start_job(job.job_id) is True
    assert registry.cancel_requested(job.job_id) is False
    assert registry.request_cancel(job.job_id).status is JobStatus.RUNNING
    assert registry.cancel_requested(job.job_id) is True
    assert [j.job_id for j in registry.list_jobs(model="nn1")] == [job.job_id]
    assert registry.list_jobs(model="other") == []
