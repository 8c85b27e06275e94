"""The dashboard: server-rendered pages (Jinja2) with a little JavaScript that calls the native
API (``/api/v2``) from the browser, served at ``/`` by the same process.

Every asset comes from an installed package, never a CDN, so it works on an air-gapped plant
network: the pages' own scripts and styles from this package, the charts from the ``plotly.min.js``
that the ``plotly`` Python package ships. There is no JavaScript build step: the scripts are plain
ES modules. Fonts are the system's own (no web font is fetched).

The dashboard sits beside the API, not on it: it imports no ``aedetect.api`` module, reads the
services from ``app.state.container`` and gets what else it needs from :mod:`aedetect.app`, which
composes the two.
"""

from aedetect.web.pages import install_web

__all__ = ["install_web"]
