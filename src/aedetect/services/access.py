"""API keys and the audit log: making, listing and revoking keys, authenticating a presented
secret, and recording who changed what.

A key's secret is ``aed_<key id>_<random>`` (32 random bytes, URL-safe, so it can stand in the
user part of a URL as old v1 scripts need). Only its SHA-256 is stored. Authenticated keys are
remembered for :data:`CACHE_S` seconds so that a prediction does not cost a database read; a key
revoked through this service stops working at once, one revoked by another process (the command
line) within that time.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from aedetect.domain import ApiKey, AuditEntry, Role
from aedetect.errors import Conflict, InvalidInput, quoted
from aedetect.registry.access import AccessStore

KEY_PREFIX = "aed_"
CACHE_S = 5.0
"""How long an authenticated key is trusted without reading the registry again."""

MAX_NAME_CHARS = 100
MAX_AUDIT_ENTRIES = 1000
FIRST_KEY_NAME = "first admin key"
_SECRET = re.compile(r"aed_([0-9a-f]{8})_[A-Za-z0-9_\-]{43}")
_ATTEMPTS = 5


def secret_hash(secret: str) -> str:
    """What is stored of a key's secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def role_of(value: str) -> Role:
    """``value`` as a role, or ``InvalidInput`` naming the roles."""
    try:
        return Role(value)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise InvalidInput(f"role must be one of {names}, got {quoted(value)}", field="role") from None


class AccessService:
    """Keys, authentication and the audit log of one running instance."""

    def __init__(self, store: AccessStore, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._clock = clock
        self._cache: dict[str, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()

    # --- keys -----------------------------------------------------------------------------
    def create_key(self, role: Role | str, name: str = "") -> tuple[ApiKey, str]:
        """Make a key; returns it with its secret, which is shown this once and never stored."""
        chosen = role if isinstance(role, Role) else role_of(role)
        name = name.strip() or f"{chosen.value} key"
        if len(name) > MAX_NAME_CHARS:
            raise InvalidInput(f"the key name is longer than {MAX_NAME_CHARS} characters", field="name")
        for attempt in range(_ATTEMPTS):
            key_id = secrets.token_hex(4)
            secret = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
            try:
                return self._store.create_key(key_id, name, chosen, secret_hash(secret)), secret
            except Conflict:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def ensure_first_key(self) -> str | None:
        """On a registry that never had a key, make an admin key and return its secret (to be
        shown once, as Jupyter shows its token); otherwise ``None``."""
        if self._store.count_keys():
            return None
        _, secret = self.create_key(Role.ADMIN, FIRST_KEY_NAME)
        return secret

    def list_keys(self) -> list[ApiKey]:
        """Every key, oldest first (ids, names, roles; never secrets)."""
        return self._store.list_keys()

    def revoke_key(self, key_id: str) -> ApiKey:
        """Revoke a key; it stops authenticating at once in this process."""
        revoked = self._store.revoke_key(key_id)
        with self._lock:
            self._cache = {h: entry for h, entry in self._cache.items() if entry[0].key_id != key_id}
        return revoked

    def cached(self, secret: str) -> ApiKey | None:
        """The key of ``secret`` if it was authenticated less than :data:`CACHE_S` ago (no I/O:
        what a request on the event loop may call), else ``None``."""
        with self._lock:
            entry = self._cache.get(secret_hash(secret))
        return entry[0] if entry is not None and entry[1] > self._clock() else None

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key whose secret this is, or ``None`` (unknown, malformed or revoked)."""
        if not _SECRET.fullmatch(secret):
            return None
        found = self.cached(secret)
        if found is not None:
            return found
        digest = secret_hash(secret)
        now = self._clock()
        key = self._store.key_by_hash(digest)
        if key is None or not key.active:
            with self._lock:
                self._cache.pop(digest, None)
            return None
        with self._lock:
            self._cache[digest] = (key, now + CACHE_S)
        return key

    # --- audit log ------------------------------------------------------------------------
    def record(
        self,
        key: ApiKey | None,
        method: str,
        path: str,
        status: int,
        client: str | None,
        actor: str | None = None,
    ) -> None:
        """Record one state change: a request (``key`` is ``None`` when auth is off), or a
        command line action (``actor`` names it)."""
        self._store.record(
            AuditEntry(
                at=datetime.now(UTC),
                key_id=key.key_id if key else None,
                actor=actor or (key.name if key else "anonymous (auth off)"),
                role=key.role if key else None,
                method=method,
                path=path,
                status=status,
                client=client,
            )
        )

    def prune_audit(self, retention_days: float, now: datetime | None = None) -> int:
        """Remove the audit entries older than ``retention_days``; returns how many."""
        return self._store.prune_audit((now or datetime.now(UTC)) - timedelta(days=retention_days))

    def audit(self, limit: int = 100, before: int | None = None) -> list[AuditEntry]:
        """The newest entries of the audit log, newest first (at most :data:`MAX_AUDIT_ENTRIES`)."""
        if not 1 <= limit <= MAX_AUDIT_ENTRIES:
            raise InvalidInput(f"limit must be from 1 to {MAX_AUDIT_ENTRIES}, got {limit}", field="limit")
        return self._store.audit(limit, before)
