"""``aedetect models``: commands on saved model directories (``upgrade`` rewrites an older format
in the current one, so a model keeps loading after readers of its format are retired)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

models_app = typer.Typer(
    name="models",
    help="Saved model directories: upgrade an older format to the current one.",
    no_args_is_help=True,
)


@models_app.command("upgrade")
def upgrade(
    path: Annotated[
        Path, typer.Argument(help="A model directory written by save_detector or 'aedetect train'.")
    ],
) -> None:
    """Rewrite a saved model in the current format; it scores exactly as before. A model that
    uses an option this release removed is refused with the option's name (retrain it)."""
    from aedetect.artifacts.store import FORMAT_VERSION, upgrade_directory
    from aedetect.cli.main import _reported_errors

    with _reported_errors():
        before = upgrade_directory(path)
    if before is None:
        typer.echo(f"{path} is in the current format ({FORMAT_VERSION}) already: nothing to do")
    else:
        typer.echo(f"upgraded {path} from format {before} to format {FORMAT_VERSION}")
