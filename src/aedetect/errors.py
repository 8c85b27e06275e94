"""Domain errors. Every failure a user can cause is one of these, with a code and a message that
says what is wrong and how to fix it. The API layers map ``code`` to an HTTP status in one table.

The message is the same on every surface, so it names no route, button or command: where the fix
is a step the user takes somewhere, the error carries a :class:`Hint` (an action and its
parameters) that each surface renders in its own words (the v1 envelope and v2 problem details
name their routes, the dashboard its pages and buttons, the command line its commands).

Messages that echo what a user sent use :func:`quoted` for a value and :func:`listed` for names,
so that a megabyte value or ten thousand column names give a short error, never the input back.
"""

from __future__ import annotations

import errno
import reprlib
from collections.abc import Iterable, Mapping

QUOTE_CHARS = 60
"""Longest quotation of a value in an error message (a prefix and the full length beyond it)."""

LISTED_NAMES = 5
"""Most names an error message lists; the rest are counted."""

_REPR = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = _REPR.maxset = 4
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = QUOTE_CHARS


def quoted(value: object, limit: int = QUOTE_CHARS) -> str:
    """``repr(value)`` cut to about ``limit`` characters, saying how long the value was.

    Containers are abbreviated element-wise first, so quoting a huge list costs no more than a small one.
    """
    if isinstance(value, str | bytes) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value)} characters)"
    try:
        text = _REPR.repr(value)
    except ValueError:  # an int beyond Python's digit limit for str()
        return f"<a {type(value).__name__} too long to show>"
    return text if len(text) <= limit + 10 else text[:limit] + "..."


def listed(names: Iterable[object], limit: int = LISTED_NAMES) -> str:
    """``a, b, c`` for a few names; ``a, b, c, d, e and 12 more`` for many; each name cut short."""
    shown: list[str] = []
    total = 0
    for name in names:
        total += 1
        if len(shown) < limit:
            text = str(name)
            shown.append(text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS] + "...")
    more = f" and {total - limit} more" if total > limit else ""
    return ", ".join(shown) + more


HINT_ACTIONS: dict[str, str] = {
    "train": "train the model (``model``; a v1 ``version`` where one is named)",
    "init_workflow": "set up the v1 workflow of ``model``'s ``version`` (its ``type``)",
    "upload_training_data": "upload training data to ``model``'s ``version`` (v1)",
    "evaluate": "evaluate ``model``'s ``version`` on labelled data (v1)",
    "change_network": "change or delete the existing v1 network ``model``",
    "change_model": "change or delete the existing model ``model``",
    "list_datasets": "look up the ids of the uploaded datasets",
    "add_feedback": "label more scored rows of ``model`` as anomaly or normal",
    "list_keys": "look up the ids of the API keys",
}
"""Every action a :class:`Hint` may name, with what it asks of the user and its parameters."""


class Hint:
    """What the user can do next, as data: an ``action`` of :data:`HINT_ACTIONS` and its
    parameters, e.g. ``Hint("train", model="kdd")``. Each surface renders it in its own words."""

    __slots__ = ("action", "params")

    def __init__(self, action: str, **params: str | int) -> None:
        if action not in HINT_ACTIONS:
            raise ValueError(f"unknown hint action {action!r}: add it to HINT_ACTIONS")
        self.action = action
        self.params = params

    def render(self, words: Mapping[str, str]) -> str | None:
        """The hint in one surface's ``words`` (action -> template of ``{parameter}`` fields), or
        ``None`` when that surface has no words for the action or lacks a parameter."""
        template = words.get(self.action)
        try:
            return None if template is None else template.format(**self.params)
        except (KeyError, IndexError):
            return None

    def as_dict(self) -> dict[str, object]:
        """``{"action": ..., "params": {...}}``: the hint as JSON for clients."""
        return {"action": self.action, "params": dict(self.params)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hint) and (self.action, self.params) == (other.action, other.params)

    def __hash__(self) -> int:
        return hash((self.action, tuple(sorted(self.params.items()))))

    def __repr__(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Hint({self.action!r}{params})"


class AedetectError(Exception):
    """Base error: ``code`` is a stable machine-readable kind, ``message`` is for people (in no
    surface's words); ``field``, ``column`` and ``node`` name the request field, data column or
    workflow node at fault, and ``hint`` the step that fixes it, for each surface to word."""

    code = "error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        column: str | None = None,
        node: str | None = None,
        hint: Hint | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.column = column
        self.node = node
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InvalidInput(AedetectError, ValueError):
    """The request, data or parameters are wrong (names the field, column or node). A
    ``ValueError`` too, as scikit-learn and generic Python code expect of bad input."""

    code = "invalid_input"


class NotFound(AedetectError):
    """An id that does not exist (network, version, node, run, job, file)."""

    code = "not_found"


class Conflict(AedetectError):
    """The request clashes with current state (duplicate id, a run already in progress)."""

    code = "conflict"


class PayloadTooLarge(AedetectError):
    """An upload over the configured size limit."""

    code = "payload_too_large"


class Unauthorized(AedetectError):
    """A request without a valid API key where one is needed."""

    code = "unauthorized"


class Forbidden(AedetectError):
    """A valid key whose role does not allow the request, or a refused origin."""

    code = "forbidden"


class TooManyRequests(AedetectError):
    """A bounded queue is full (e.g. trainings waiting for a worker): nothing was queued; send the
    request again after ``retry_after`` seconds."""

    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after


class InsufficientStorage(AedetectError):
    """The data directory or artifact store is full: nothing was changed, and the request works
    once space is freed."""

    code = "insufficient_storage"


class StorageUnavailable(AedetectError):
    """The data directory, the artifact store or the job queue cannot be written or reached
    (permissions, read-only file system, an object store or broker that is down); the request
    works once that is fixed."""

    code = "storage_unavailable"


class NotFitted(AedetectError, ValueError, AttributeError):
    """A detector or version used for scoring before it was trained (a ``ValueError`` and an
    ``AttributeError``, like scikit-learn's ``NotFittedError``)."""

    code = "not_fitted"


class JobFailed(AedetectError):
    """A background job (training run) ended with an error."""

    code = "job_failed"


class Cancelled(AedetectError):
    """Work stopped because someone cancelled it (a training job asked to stop)."""

    code = "cancelled"


class UnsupportedMediaType(AedetectError):
    """A request body in a content type the endpoint does not take."""

    code = "unsupported_media_type"


class ArtifactError(AedetectError):
    """A saved model that is tampered with, incomplete or from an incompatible version."""

    code = "bad_artifact"


_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_DENIED = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})

DATA_DIR_SETTING = "AEDETECT_DATA_DIR"
"""The setting that names the directory of uploads and models (named in storage errors, never its path)."""

ARTIFACT_URL_SETTING = "AEDETECT_ARTIFACT_URL"
"""The setting that names the artifact store when it is not the data directory."""


def storage_error(exc: OSError, doing: str, setting: str = DATA_DIR_SETTING) -> AedetectError | None:
    """The domain error for a full or unwritable data directory (or artifact store directory,
    named by ``setting``) met while ``doing`` something (e.g. "storing the upload"), or ``None``
    for any other OS error. The message names the setting, never the path, so a client learns
    what to fix without learning the server's layout."""
    place = "the data directory" if setting == DATA_DIR_SETTING else "the artifact store"
    if exc.errno in _FULL:
        return InsufficientStorage(
            f"no space left in {place} ({setting}) while {doing}: nothing was "
            "changed; free space there, then send the request again"
        )
    if exc.errno in _DENIED:
        return StorageUnavailable(
            f"{place} ({setting}) is not writable by the service while {doing}: "
            "nothing was changed; make it writable, then send the request again"
        )
    return None


def error_type(code: str) -> type[AedetectError]:
    """The error class whose ``code`` is ``code`` (``JobFailed`` when none is): rebuilds an error
    recorded as data, e.g. the failure of a training run read back from the registry."""
    for cls in AedetectError.__subclasses__():
        if cls.code == code:
            return cls
    return JobFailed
