"""Networks (the native API's models), their workflow versions and the versions' nodes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aedetect.domain import Network, Node, Version, VersionCondition
from aedetect.errors import Conflict, InvalidInput, NotFound, quoted
from aedetect.registry.orm import JobRow, NetworkRow, NodeRow, VersionRow, utcnow
from aedetect.registry.store import SqlStore, _check_fields, _json_value, _text

NN_ID_MAX_LENGTH = 50
NETWORK_FIELDS = frozenset(
    {"biz_cate", "biz_sub_cate", "nn_title", "nn_desc", "use_flag", "dir", "config", "auto_promote"}
)
VERSION_FIELDS = frozenset({"info", "desc", "condition", "active", "def_list_nn_id", "workflow_type"})


def _network(row: NetworkRow) -> Network:
    return Network(
        nn_id=row.nn_id,
        biz_cate=row.biz_cate,
        biz_sub_cate=row.biz_sub_cate,
        nn_title=row.nn_title,
        nn_desc=row.nn_desc,
        use_flag=row.use_flag,
        dir=row.dir,
        config=row.config,
        auto_promote=row.auto_promote,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _version(row: VersionRow) -> Version:
    return Version(
        nn_id=row.nn_id,
        version=row.version,
        info=row.info,
        desc=row.description,
        condition=VersionCondition(row.condition),
        active=row.active,
        def_list_nn_id=row.def_list_nn_id,
        workflow_type=row.workflow_type,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _node(row: NodeRow) -> Node:
    return Node(nn_id=row.nn_id, version=row.version, name=row.name, kind=row.kind, config=dict(row.config))


def _network_values(fields: dict[str, Any]) -> dict[str, Any]:
    """Checked column values of network ``fields`` (text fields, and the ``auto_promote`` flag)."""
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "auto_promote":
            if not isinstance(value, bool):
                raise InvalidInput(f"auto_promote must be true or false, got {quoted(value)}", field=name)
            values[name] = value
        else:
            values[name] = _text(value, name)
    return values


class NetworkStore(SqlStore):
    """Networks, versions and workflow nodes."""

    # --- networks -------------------------------------------------------------------------
    def create_network(self, network: Network) -> Network:
        nn_id = network.nn_id
        if not isinstance(nn_id, str) or not nn_id or len(nn_id) > NN_ID_MAX_LENGTH:
            raise InvalidInput(
                f"network id must be 1 to {NN_ID_MAX_LENGTH} characters, got {quoted(nn_id)}", field="nn_id"
            )
        values = _network_values({name: getattr(network, name) for name in NETWORK_FIELDS})

        def work(session: Session) -> Network:
            if session.get(NetworkRow, nn_id) is not None:
                raise Conflict(f"network '{nn_id}' already exists", field="nn_id")
            now = utcnow()
            row = NetworkRow(nn_id=nn_id, created_at=now, updated_at=now, **values)
            session.add(row)
            try:
                session.flush()
            except IntegrityError as exc:
                raise Conflict(f"network '{nn_id}' already exists", field="nn_id") from exc
            return _network(row)

        return self._write(work)

    def next_network_id(self) -> str:
        def work(session: Session) -> str:
            candidates = session.scalars(
                select(NetworkRow.nn_id).where(
                    NetworkRow.nn_id.like("nn%"), func.length(NetworkRow.nn_id) == 10
                )
            ).all()
            numbers = [int(c[2:]) for c in candidates if c[2:].isdigit()]
            return f"nn{max(numbers, default=0) + 1:08d}"

        return self._read(work)

    def get_network(self, nn_id: str) -> Network:
        return self._read(lambda session: _network(self._network_row(session, nn_id)))

    def list_networks(self) -> list[Network]:
        return self._read(
            lambda session: [
                _network(r) for r in session.scalars(select(NetworkRow).order_by(NetworkRow.nn_id))
            ]
        )

    def update_network(self, nn_id: str, fields: dict[str, Any]) -> Network:
        _check_fields(fields, NETWORK_FIELDS, "network")
        values = _network_values(fields)

        def work(session: Session) -> Network:
            row = self._network_row(session, nn_id)
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
            session.flush()
            return _network(row)

        return self._write(work)

    def delete_network(self, nn_id: str) -> None:
        def work(session: Session) -> None:
            session.delete(self._network_row(session, nn_id))
            # its jobs go with it: a later model of the same name starts with none
            session.execute(delete(JobRow).where(JobRow.model == nn_id))
            session.flush()

        self._write(work)

    # --- versions -------------------------------------------------------------------------
    def create_version(self, version: Version) -> Version:
        nn_id = version.nn_id
        values = self._version_values(
            {name: getattr(version, name) for name in VERSION_FIELDS}, nn_id, version.version
        )

        def work(session: Session) -> Version:
            self._network_row(session, nn_id, lock=True)
            latest = session.scalar(select(func.max(VersionRow.version)).where(VersionRow.nn_id == nn_id))
            now = utcnow()
            row = VersionRow(nn_id=nn_id, version=(latest or 0) + 1, created_at=now, updated_at=now, **values)
            session.add(row)
            session.flush()
            return _version(row)

        return self._write(work, retry=True)

    @staticmethod
    def _version_values(fields: dict[str, Any], nn_id: str, version: int) -> dict[str, Any]:
        """Validated column values for the version ``fields`` (``desc`` is stored as ``description``)."""
        values: dict[str, Any] = {}
        for name, value in fields.items():
            if name == "condition":
                try:
                    values["condition"] = VersionCondition(value).value
                except ValueError:
                    allowed = ", ".join(c.value for c in VersionCondition)
                    raise InvalidInput(
                        f"condition of version {version} of network '{nn_id}' must be one of {allowed}, "
                        f"got {quoted(value)}",
                        field="condition",
                    ) from None
            elif name == "active":
                if not isinstance(value, bool):
                    raise InvalidInput(f"active must be true or false, got {quoted(value)}", field="active")
                values["active"] = value
            elif name == "desc":
                values["description"] = _text(value, name)
            else:
                values[name] = _text(value, name, nullable=name == "workflow_type")
        return values

    def get_version(self, nn_id: str, version: int) -> Version:
        return self._read(lambda session: _version(self._version_row(session, nn_id, version)))

    def list_versions(self, nn_id: str) -> list[Version]:
        def work(session: Session) -> list[Version]:
            self._network_row(session, nn_id)
            rows = session.scalars(
                select(VersionRow).where(VersionRow.nn_id == nn_id).order_by(VersionRow.version)
            )
            return [_version(r) for r in rows]

        return self._read(work)

    def _set_version_fields(
        self, session: Session, nn_id: str, version: int, fields: dict[str, Any]
    ) -> VersionRow:
        """Set checked version fields; ``active=True`` makes it the network's only active version."""
        _check_fields(fields, VERSION_FIELDS, "version")
        values = self._version_values(fields, nn_id, version)
        row = self._version_row(session, nn_id, version)
        if values.get("active"):
            session.execute(
                update(VersionRow)
                .where(VersionRow.nn_id == nn_id, VersionRow.id != row.id, VersionRow.active.is_(True))
                .values(active=False, updated_at=utcnow())
            )
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        session.flush()
        return row

    def get_active_version(self, nn_id: str) -> Version:
        def work(session: Session) -> Version:
            row = session.scalars(
                select(VersionRow)
                .where(VersionRow.nn_id == nn_id, VersionRow.active.is_(True))
                .order_by(VersionRow.version)
                .limit(1)
            ).one_or_none()
            if row is None:
                self._network_row(session, nn_id)
                raise NotFound(f"network '{nn_id}' has no active version", field="version")
            return _version(row)

        return self._read(work)

    # --- workflow nodes -------------------------------------------------------------------
    def ensure_nodes(self, nn_id: str, version: int, nodes: Sequence[tuple[str, str]]) -> list[Node]:
        """Create the missing nodes; returns the requested nodes in the order given.

        ``Conflict`` when an existing node has a different kind than requested.
        """
        requested = dict(nodes)

        def work(session: Session) -> list[Node]:
            self._version_row(session, nn_id, version, lock=True)
            existing = {
                r.name: r
                for r in session.scalars(
                    select(NodeRow).where(NodeRow.nn_id == nn_id, NodeRow.version == version)
                )
            }
            for name, kind in requested.items():
                row = existing.get(name)
                if row is None:
                    existing[name] = row = NodeRow(
                        nn_id=nn_id, version=version, name=name, kind=kind, config={}
                    )
                    session.add(row)
                elif row.kind != kind:
                    raise Conflict(
                        f"node '{name}' of version {version} of network '{nn_id}' is a '{row.kind}', "
                        f"not a '{kind}'",
                        field="node",
                    )
            session.flush()
            return [_node(existing[name]) for name in requested]

        return self._write(work, retry=True)

    def get_node(self, nn_id: str, version: int, name: str) -> Node:
        return self._read(lambda session: _node(self._node_row(session, nn_id, version, name)))

    def list_nodes(self, nn_id: str, version: int) -> list[Node]:
        def work(session: Session) -> list[Node]:
            self._version_row(session, nn_id, version)
            rows = session.scalars(
                select(NodeRow).where(NodeRow.nn_id == nn_id, NodeRow.version == version).order_by(NodeRow.id)
            )
            return [_node(r) for r in rows]

        return self._read(work)

    def set_node_config(self, nn_id: str, version: int, name: str, config: dict[str, Any]) -> Node:
        stored = _json_value(config, "config")

        def work(session: Session) -> Node:
            row = self._node_row(session, nn_id, version, name)
            row.config = stored
            session.flush()
            return _node(row)

        return self._write(work)
