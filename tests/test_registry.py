"""The SQL registry against its interface: every method, its failure paths, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from aedetect.domain import Network, Version
from aedetect.errors import Conflict, NotFound
from aedetect.registry import SqlRegistry


def test_create_and_get_network(registry: SqlRegistry) -> None:
    registry.create_network(Network(nn_id="nn1", nn_title="fraud", biz_cate="bank"))
    got = registry.get_network("nn1")
    assert (got.nn_id, got.nn_title, got.biz_cate) == ("nn1", "fraud", "bank")


def test_create_network_twice_conflicts(registry: SqlRegistry) -> None:
    registry.create_network(Network(nn_id="nn1"))
    with pytest.raises(Conflict, match="network 'nn1' already exists"):
        registry.create_network(Network(nn_id="nn1"))


def test_get_missing_network_not_found(registry: SqlRegistry) -> None:
    with pytest.raises(NotFound, match="network 'nope' not found"):
        registry.get_network("nope")


def test_versions_are_numbered_from_one(registry: SqlRegistry) -> None:
    registry.create_network(Network(nn_id="nn1"))
    numbers = [registry.create_version(Version(nn_id="nn1", version=99)).version for _ in range(3)]
    assert numbers == [1, 2, 3]
