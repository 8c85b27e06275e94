"""``python -m aedetect ...``: the same command line as the ``aedetect`` script."""

from aedetect.cli.main import app

app()
