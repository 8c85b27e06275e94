"""Access control data: roles, API keys (never their secret) and audit log entries."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Role(enum.StrEnum):
    """What a key may do; each role may do everything the roles before it may."""

    READER = "reader"
    """List and read everything, and score rows."""
    WRITER = "writer"
    """Also create and change networks, upload data and train."""
    ADMIN = "admin"
    """Also delete, and manage keys and read the audit log."""

    def allows(self, needed: Role) -> bool:
        """Whether a key of this role may do what ``needed`` may."""
        order = list(Role)
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True)
class ApiKey:
    """A stored API key: its public id and name, its role and its life time (the secret itself is
    shown once when the key is made and stored only as a hash)."""

    key_id: str
    name: str
    role: Role
    created_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class AuditEntry:
    """One state-changing request: who (key id and name, or ``None`` with auth off), with which
    role, what (method, path, HTTP status), from where and when."""

    at: datetime
    key_id: str | None
    actor: str
    role: Role | None
    method: str
    path: str
    status: int
    client: str | None = None
    entry_id: int | None = None
