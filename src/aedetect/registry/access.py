"""Storage of API keys and of the audit log, over the registry's engine and session helper.

Keys are stored as the SHA-256 of their secret, never the secret: the secrets are long random
tokens (no dictionary to try), so a fast hash is enough and a lookup is one indexed read. Tables
``api_keys`` and ``audit_log`` are created by the migration ``0003_keys_and_audit``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, Index, Integer, String, Text, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from aedetect.domain import ApiKey, AuditEntry, Role
from aedetect.errors import Conflict, Hint, NotFound
from aedetect.registry.db import make_engine, make_session_factory, session_scope
from aedetect.registry.migrate import upgrade
from aedetect.registry.orm import Base, utcnow


class ApiKeyRow(Base):
    """An API key: public id, name, role, the hash of its secret, when made and revoked."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class AuditRow(Base):
    """One state-changing request: who, what, when (see :class:`aedetect.domain.AuditEntry`)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    key_id: Mapped[str | None] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    client: Mapped[str | None] = mapped_column(String(100))


def _key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        key_id=row.key_id,
        name=row.name,
        role=Role(row.role),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        at=row.at,
        key_id=row.key_id,
        actor=row.actor,
        role=Role(row.role) if row.role else None,
        method=row.method,
        path=row.path,
        status=row.status,
        client=row.client,
        entry_id=row.id,
    )


class AccessStore:
    """API keys and the audit log in the registry database; thread-safe (one session per call)."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = make_session_factory(engine)

    @classmethod
    def from_url(cls, url: str) -> tuple[AccessStore, Engine]:
        """A store on ``url`` (migrated to the newest schema) and its engine, for the caller to
        dispose of (the command line uses this without building the whole service)."""
        engine = make_engine(url)
        upgrade(engine)
        return cls(engine), engine

    # --- keys -----------------------------------------------------------------------------
    def create_key(self, key_id: str, name: str, role: Role, secret_hash: str) -> ApiKey:
        """Insert a key; ``Conflict`` if its id or hash exists (a collision: make another)."""
        with session_scope(self._sessions, write=True) as session:
            row = ApiKeyRow(key_id=key_id, name=name, role=role.value, secret_hash=secret_hash)
            session.add(row)
            try:
                session.flush()
            except IntegrityError as exc:
                raise Conflict(f"key id {key_id} exists already", field="key_id") from exc
            return _key(row)

    def key_by_hash(self, secret_hash: str) -> ApiKey | None:
        """The key whose secret has this hash (revoked or not), or ``None``."""
        with session_scope(self._sessions) as session:
            row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.secret_hash == secret_hash)).one_or_none()
            return None if row is None else _key(row)

    def list_keys(self) -> list[ApiKey]:
        """Every key, oldest first."""
        with session_scope(self._sessions) as session:
            return [_key(r) for r in session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id))]

    def count_keys(self) -> int:
        """How many keys were ever made (revoked ones too)."""
        with session_scope(self._sessions) as session:
            return int(session.scalar(select(func.count()).select_from(ApiKeyRow)) or 0)

    def revoke_key(self, key_id: str) -> ApiKey:
        """Mark the key revoked (from now on it authenticates nothing); ``NotFound`` if unknown.
        Revoking a revoked key keeps its first revocation time."""
        with session_scope(self._sessions, write=True) as session:
            row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.key_id == key_id)).one_or_none()
            if row is None:
                raise NotFound(f"no API key has the id {key_id}", field="key_id", hint=Hint("list_keys"))
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            session.flush()
            return _key(row)

    # --- audit log ------------------------------------------------------------------------
    def record(self, entry: AuditEntry) -> None:
        """Append one entry to the audit log."""
        with session_scope(self._sessions, write=True) as session:
            session.add(
                AuditRow(
                    at=entry.at,
                    key_id=entry.key_id,
                    actor=entry.actor[:100],
                    role=entry.role.value if entry.role else None,
                    method=entry.method[:10],
                    path=entry.path,
                    status=entry.status,
                    client=(entry.client or None) and entry.client[:100],
                )
            )

    def prune_audit(self, older_than: datetime) -> int:
        """Remove the audit entries made before ``older_than``; returns how many."""
        with session_scope(self._sessions, write=True) as session:
            removed = session.execute(delete(AuditRow).where(AuditRow.at < older_than))
            return int(getattr(removed, "rowcount", 0) or 0)

    def audit(self, limit: int, before: int | None = None) -> list[AuditEntry]:
        """The newest ``limit`` entries (older than entry id ``before`` when given), newest first."""

        def query(session: Session) -> list[AuditEntry]:
            stmt = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
            if before is not None:
                stmt = stmt.where(AuditRow.id < before)
            return [_entry(r) for r in session.scalars(stmt)]

        with session_scope(self._sessions) as session:
            return query(session)
