"""Domain errors. Every failure a user can cause is one of these, with a code and a message that
says what is wrong and how to fix it. The API layers map ``code`` to an HTTP status in one table."""

from __future__ import annotations


class AedetectError(Exception):
    """Base error: ``code`` is a stable machine-readable kind, ``message`` is for people."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

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


class NotFitted(AedetectError, ValueError, AttributeError):
    """A detector or version used for scoring before it was trained (a ``ValueError`` and an
    ``AttributeError``, like scikit-learn's ``NotFittedError``)."""

    code = "not_fitted"


class JobFailed(AedetectError):
    """A background job (training run) ended with an error."""

    code = "job_failed"


class ArtifactError(AedetectError):
    """A saved model that is tampered with, incomplete or from an incompatible version."""

    code = "bad_artifact"


def error_type(code: str) -> type[AedetectError]:
    """The error class whose ``code`` is ``code`` (``JobFailed`` when none is): rebuilds an error
    recorded as data, e.g. the failure of a training run read back from the registry."""
    for cls in AedetectError.__subclasses__():
        if cls.code == code:
            return cls
    return JobFailed
