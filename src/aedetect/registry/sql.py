"""The registry over SQLAlchemy: SQLite (embedded default) or PostgreSQL.

Every public method is one transaction from :func:`aedetect.registry.db.session_scope`, and every
method returns domain dataclasses; ORM rows never leave this module. Numbers assigned as
``max + 1`` (versions, run sequences) are computed under a lock on the parent row (PostgreSQL
``SELECT ... FOR UPDATE``, SQLite ``BEGIN IMMEDIATE``), and a unique-constraint clash from a
concurrent writer is retried, so two creators never get the same number.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Engine, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from aedetect.domain import Job, JobStatus, Network, Node, TrainingRun, Version, VersionCondition
from aedetect.errors import Conflict, InvalidInput, NotFound, listed, quoted
from aedetect.registry.base import Registry
from aedetect.registry.db import make_engine, make_session_factory, session_scope
from aedetect.registry.migrate import upgrade
from aedetect.registry.orm import JobRow, NetworkRow, NodeRow, RunRow, VersionRow, utcnow

logger = logging.getLogger(__name__)

T = TypeVar("T")

NN_ID_MAX_LENGTH = 50
WRITE_ATTEMPTS = 5
"""How often a numbering write is tried when a concurrent writer wins the race."""

NETWORK_FIELDS = frozenset({"biz_cate", "biz_sub_cate", "nn_title", "nn_desc", "use_flag", "dir", "config"})
VERSION_FIELDS = frozenset({"info", "desc", "condition", "active", "def_list_nn_id", "workflow_type"})
RUN_FIELDS = frozenset({"status", "model_path", "metrics", "result", "error", "started_at", "finished_at"})
JOB_FIELDS = frozenset({"status", "progress", "result", "error", "started_at", "finished_at"})
UNFINISHED = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


# --- conversions: ORM row -> domain dataclass ---------------------------------------------------
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


def _run(row: RunRow) -> TrainingRun:
    return TrainingRun(
        run_id=row.run_id,
        nn_id=row.nn_id,
        version=row.version,
        seq=row.seq,
        status=JobStatus(row.status),
        active=row.active,
        job_id=row.job_id,
        model_path=row.model_path,
        params=dict(row.params),
        metrics=dict(row.metrics),
        result=row.result,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _job(row: JobRow) -> Job:
    return Job(
        job_id=row.job_id,
        kind=row.kind,
        params=dict(row.params),
        status=JobStatus(row.status),
        progress=dict(row.progress),
        result=row.result,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


# --- validation of caller-supplied values -------------------------------------------------------
def _check_fields(fields: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        settable = ", ".join(sorted(allowed))
        raise InvalidInput(
            f"cannot set {listed(map(quoted, unknown))} on a {what} (settable: {settable})",
            field=unknown[0],
        )


def _json_value(value: Any, field: str, *, nullable: bool = False, obj: bool = True) -> Any:
    """``value`` as it will read back from the database, or ``InvalidInput`` naming ``field``.

    Strict JSON (no NaN/Infinity: PostgreSQL refuses them), so both backends store the same thing.
    """
    if value is None and nullable:
        return None
    if obj and not isinstance(value, dict):
        raise InvalidInput(f"{field} must be a JSON object, got {type(value).__name__}", field=field)
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field} is not storable as JSON: {exc}", field=field) from exc


def _status(value: Any, field: str = "status") -> str:
    try:
        return JobStatus(value).value
    except ValueError:
        allowed = ", ".join(s.value for s in JobStatus)
        raise InvalidInput(f"{field} must be one of {allowed}, got {quoted(value)}", field=field) from None


def _timestamp(value: Any, field: str) -> datetime | None:
    if value is not None and not isinstance(value, datetime):
        raise InvalidInput(f"{field} must be a datetime, got {type(value).__name__}", field=field)
    return value


def _text(value: Any, field: str, *, nullable: bool = False) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, got {type(value).__name__}", field=field)
    return value


def _is_retryable(exc: Exception) -> bool:
    """A unique clash or lock timeout caused by a concurrent writer: worth another attempt."""
    if isinstance(exc, IntegrityError):
        return True
    return isinstance(exc, OperationalError) and (
        "locked" in str(exc.orig).lower() or "deadlock" in str(exc.orig).lower()
    )


class SqlRegistry(Registry):
    """:class:`Registry` over a SQLAlchemy engine; thread-safe (one session per call).

    Build it with :meth:`from_url`, which also migrates the schema; the constructor takes an
    engine whose database is already at the current schema.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = make_session_factory(engine)

    @classmethod
    def from_url(cls, url: str, *, echo: bool = False) -> SqlRegistry:
        """Connect to ``url`` (creating a SQLite file's directory) and migrate to the newest schema."""
        engine = make_engine(url, echo=echo)
        upgrade(engine)
        return cls(engine)

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    # --- helpers --------------------------------------------------------------------------
    def _read(self, work: Callable[[Session], T]) -> T:
        with session_scope(self._sessions) as session:
            return work(session)

    def _write(self, work: Callable[[Session], T], *, retry: bool = False) -> T:
        """Run ``work`` in a write transaction; with ``retry``, again after a lost race."""
        attempts = WRITE_ATTEMPTS if retry else 1
        for attempt in range(1, attempts + 1):
            try:
                with session_scope(self._sessions, write=True) as session:
                    return work(session)
            except (IntegrityError, OperationalError) as exc:
                if attempt == attempts or not _is_retryable(exc):
                    raise
                logger.info("registry write lost a race (attempt %d/%d): %s", attempt, attempts, exc.orig)
        raise AssertionError("unreachable: the last attempt returns or raises")

    @staticmethod
    def _network_row(session: Session, nn_id: str, *, lock: bool = False) -> NetworkRow:
        row = session.get(NetworkRow, nn_id, with_for_update=lock)
        if row is None:
            raise NotFound(f"network '{nn_id}' not found", field="nn_id")
        return row

    @classmethod
    def _version_row(cls, session: Session, nn_id: str, version: int, *, lock: bool = False) -> VersionRow:
        stmt = select(VersionRow).where(VersionRow.nn_id == nn_id, VersionRow.version == version)
        if lock:
            stmt = stmt.with_for_update()
        row = session.scalars(stmt).one_or_none()
        if row is None:
            cls._network_row(session, nn_id)
            raise NotFound(f"version {version} of network '{nn_id}' not found", field="version")
        return row

    @classmethod
    def _node_row(cls, session: Session, nn_id: str, version: int, name: str) -> NodeRow:
        row = session.scalars(
            select(NodeRow).where(NodeRow.nn_id == nn_id, NodeRow.version == version, NodeRow.name == name)
        ).one_or_none()
        if row is None:
            cls._version_row(session, nn_id, version)
            names = session.scalars(
                select(NodeRow.name)
                .where(NodeRow.nn_id == nn_id, NodeRow.version == version)
                .order_by(NodeRow.id)
            ).all()
            raise NotFound(
                f"node '{name}' not found in version {version} of network '{nn_id}' "
                f"(nodes: {', '.join(names) or 'none'})",
                field="node",
            )
        return row

    @staticmethod
    def _run_row(session: Session, run_id: str, *, lock: bool = False) -> RunRow:
        row = session.get(RunRow, run_id, with_for_update=lock)
        if row is None:
            raise NotFound(f"training run '{run_id}' not found", field="run_id")
        return row

    @staticmethod
    def _job_row(session: Session, job_id: str) -> JobRow:
        row = session.scalars(select(JobRow).where(JobRow.job_id == job_id)).one_or_none()
        if row is None:
            raise NotFound(f"job '{job_id}' not found", field="job_id")
        return row

    # --- networks -------------------------------------------------------------------------
    def create_network(self, network: Network) -> Network:
        nn_id = network.nn_id
        if not isinstance(nn_id, str) or not nn_id or len(nn_id) > NN_ID_MAX_LENGTH:
            raise InvalidInput(
                f"network id must be 1 to {NN_ID_MAX_LENGTH} characters, got {quoted(nn_id)}", field="nn_id"
            )
        values = {name: _text(getattr(network, name), name) for name in NETWORK_FIELDS}

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
        values = {name: _text(value, name) for name, value in fields.items()}

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

    def update_version(self, nn_id: str, version: int, fields: dict[str, Any]) -> Version:
        _check_fields(fields, VERSION_FIELDS, "version")
        values = self._version_values(fields, nn_id, version)

        def work(session: Session) -> Version:
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
            return _version(row)

        return self._write(work)

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

    # --- training runs --------------------------------------------------------------------
    def create_run(self, nn_id: str, version: int, params: dict[str, Any], job_id: str | None) -> TrainingRun:
        stored = _json_value(params, "params")
        _text(job_id, "job_id", nullable=True)

        def work(session: Session) -> TrainingRun:
            self._version_row(session, nn_id, version, lock=True)
            latest = session.scalar(
                select(func.max(RunRow.seq)).where(RunRow.nn_id == nn_id, RunRow.version == version)
            )
            seq = (latest or 0) + 1
            row = RunRow(
                run_id=f"{nn_id}_{version}_{seq}",
                nn_id=nn_id,
                version=version,
                seq=seq,
                status=JobStatus.QUEUED.value,
                active=False,
                job_id=job_id,
                params=stored,
                metrics={},
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return _run(row)

        return self._write(work, retry=True)

    def get_run(self, run_id: str) -> TrainingRun:
        return self._read(lambda session: _run(self._run_row(session, run_id)))

    def list_runs(self, nn_id: str, version: int) -> list[TrainingRun]:
        def work(session: Session) -> list[TrainingRun]:
            self._version_row(session, nn_id, version)
            rows = session.scalars(
                select(RunRow).where(RunRow.nn_id == nn_id, RunRow.version == version).order_by(RunRow.seq)
            )
            return [_run(r) for r in rows]

        return self._read(work)

    def update_run(self, run_id: str, fields: dict[str, Any]) -> TrainingRun:
        _check_fields(fields, RUN_FIELDS, "training run")
        values: dict[str, Any] = {}
        for name, value in fields.items():
            if name == "status":
                values[name] = _status(value)
            elif name in ("started_at", "finished_at"):
                values[name] = _timestamp(value, name)
            elif name in ("metrics", "result"):
                values[name] = _json_value(value, name, nullable=name == "result")
            else:
                values[name] = _text(value, name, nullable=True)

        def work(session: Session) -> TrainingRun:
            row = self._run_row(session, run_id)
            for name, value in values.items():
                setattr(row, name, value)
            session.flush()
            return _run(row)

        return self._write(work)

    def activate_run(self, run_id: str) -> TrainingRun:
        """Make the run its version's only active model; ``Conflict`` unless it succeeded."""

        def work(session: Session) -> TrainingRun:
            row = self._run_row(session, run_id, lock=True)
            if row.status != JobStatus.SUCCEEDED.value:
                raise Conflict(
                    f"training run '{run_id}' is {row.status}; only a succeeded run can be activated",
                    field="run_id",
                )
            session.execute(
                update(RunRow)
                .where(
                    RunRow.nn_id == row.nn_id,
                    RunRow.version == row.version,
                    RunRow.run_id != run_id,
                    RunRow.active.is_(True),
                )
                .values(active=False)
            )
            row.active = True
            session.flush()
            return _run(row)

        return self._write(work)

    def get_active_run(self, nn_id: str, version: int) -> TrainingRun | None:
        def work(session: Session) -> TrainingRun | None:
            self._version_row(session, nn_id, version)
            row = session.scalars(
                select(RunRow)
                .where(RunRow.nn_id == nn_id, RunRow.version == version, RunRow.active.is_(True))
                .order_by(RunRow.seq)
                .limit(1)
            ).one_or_none()
            return None if row is None else _run(row)

        return self._read(work)

    def get_serving_run(self, nn_id: str, version: int | None) -> tuple[int, TrainingRun | None]:
        def work(session: Session) -> tuple[int, TrainingRun] | None:
            version_match = VersionRow.active.is_(True) if version is None else VersionRow.version == version
            row = session.execute(
                select(RunRow, VersionRow.version)
                .join(VersionRow, (VersionRow.nn_id == RunRow.nn_id) & (VersionRow.version == RunRow.version))
                .where(RunRow.nn_id == nn_id, RunRow.active.is_(True), version_match)
                .order_by(VersionRow.version, RunRow.seq)
                .limit(1)
            ).one_or_none()
            if row is not None:
                return row[1], _run(row[0])
            return None

        found = self._read(work)
        if found is not None:
            return found
        # no serving model: resolve the version the slow way, for its number or the right NotFound
        number = self.get_active_version(nn_id).version if version is None else version
        return number, self.get_active_run(nn_id, number)

    # --- jobs -----------------------------------------------------------------------------
    def create_job(self, kind: str, params: dict[str, Any]) -> Job:
        if not isinstance(kind, str) or not kind:
            raise InvalidInput(f"job kind must be a non-empty string, got {quoted(kind)}", field="kind")
        stored = _json_value(params, "params")

        def work(session: Session) -> Job:
            row = JobRow(
                job_id=uuid.uuid4().hex,
                kind=kind,
                params=stored,
                status=JobStatus.QUEUED.value,
                progress={},
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return _job(row)

        return self._write(work)

    def get_job(self, job_id: str) -> Job:
        return self._read(lambda session: _job(self._job_row(session, job_id)))

    def update_job(self, job_id: str, fields: dict[str, Any]) -> Job:
        _check_fields(fields, JOB_FIELDS, "job")
        values: dict[str, Any] = {}
        for name, value in fields.items():
            if name == "status":
                values[name] = _status(value)
            elif name in ("started_at", "finished_at"):
                values[name] = _timestamp(value, name)
            elif name == "progress":
                values[name] = _json_value(value, name)
            elif name == "result":
                values[name] = _json_value(value, name, nullable=True, obj=False)
            else:
                values[name] = _text(value, name, nullable=True)

        def work(session: Session) -> Job:
            row = self._job_row(session, job_id)
            for name, value in values.items():
                setattr(row, name, value)
            session.flush()
            return _job(row)

        return self._write(work)

    def list_jobs(self, statuses: Sequence[JobStatus] | None = None, kind: str | None = None) -> list[Job]:
        wanted = None if statuses is None else [_status(s, "statuses") for s in statuses]

        def work(session: Session) -> list[Job]:
            stmt = select(JobRow).order_by(JobRow.id.desc())
            if wanted is not None:
                stmt = stmt.where(JobRow.status.in_(wanted))
            if kind is not None:
                stmt = stmt.where(JobRow.kind == kind)
            return [_job(r) for r in session.scalars(stmt)]

        return self._read(work)

    def fail_interrupted(self, reason: str) -> int:
        """Mark every queued or running job and training run failed with ``reason``, and every
        version left training (condition PROGRESS) as ERROR; returns the number of jobs.
        Call it at start-up, before any runner takes work."""

        def work(session: Session) -> int:
            now = utcnow()
            failed = {"status": JobStatus.FAILED.value, "error": reason, "finished_at": now}
            jobs = session.execute(update(JobRow).where(JobRow.status.in_(UNFINISHED)).values(**failed))
            session.execute(update(RunRow).where(RunRow.status.in_(UNFINISHED)).values(**failed))
            session.execute(
                update(VersionRow)
                .where(VersionRow.condition == VersionCondition.PROGRESS.value)
                .values(condition=VersionCondition.ERROR.value, updated_at=now)
            )
            return cast(CursorResult[Any], jobs).rowcount

        return self._write(work)


__all__ = ["SqlRegistry"]
