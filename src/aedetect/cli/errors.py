"""How the ``aedetect`` commands report a failure: ``error: <message>`` on stderr (with the error's
hint in command-line words) and exit status 2, the status click gives to a wrong command line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from aedetect.errors import AedetectError

CLI_HINTS = {"list_keys": "'aedetect keys list' shows them"}
"""Error hints (:class:`aedetect.errors.Hint`) in command-line words: the command that takes the step."""

EXIT_ERROR = 2
"""Exit status of a command that failed on the user's input (data, model, options)."""


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn an aedetect error into ``error: <message>`` on stderr and exit status 2 (with the
    error's hint, where it has one, in the command line's words)."""
    try:
        yield
    except AedetectError as exc:
        hint = None if exc.hint is None else exc.hint.render(CLI_HINTS)
        typer.echo(f"error: {exc.message}" + (f" ({hint})" if hint else ""), err=True)
        raise typer.Exit(code=EXIT_ERROR) from None
