"""Who sends a request, as the access middleware (:mod:`aedetect.api.security`) found out: kept
apart from it so that routes and their dependencies can ask without importing the middleware."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from aedetect.domain import ApiKey, Role


@dataclass(frozen=True)
class Principal:
    """Who sends a request: ``key`` (``None`` when auth is off or the path is open)."""

    auth: bool
    key: ApiKey | None


def principal(request: Request) -> Principal:
    """What the middleware found out about ``request``'s sender."""
    found = getattr(request.state, "principal", None)
    return found if isinstance(found, Principal) else Principal(auth=True, key=None)


def sees_values(request: Request) -> bool:
    """Whether the sender may read raw row values of rows it did not send (writers and admins,
    and everyone with auth off); readers see scores and verdicts only."""
    key = principal(request).key
    return key is None or key.role.allows(Role.WRITER)


def actor(request: Request) -> str | None:
    """The sender as recorded with what a request changes: the API key's name and id (``None``
    with auth off)."""
    key = principal(request).key
    if key is None:
        return None
    return f"{key.name} ({key.key_id})" if key.name else key.key_id
