"""The top of the house: the one module that composes the HTTP API (:mod:`aedetect.api`) and the
dashboard (:mod:`aedetect.web`) into the application that ``aedetect serve`` runs.

Neither part imports the other: the dashboard reads the services the API built at start-up
(``app.state.container``) and takes the words for error titles from here as a parameter.
"""

from __future__ import annotations

from fastapi import FastAPI

from aedetect.api.app import create_api
from aedetect.api.v2.problems import TITLES
from aedetect.config import Settings
from aedetect.web import install_web


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API with the dashboard at ``/``, for ``settings`` (default: from the environment)."""
    app = create_api(settings)
    install_web(app, titles=TITLES)
    return app
