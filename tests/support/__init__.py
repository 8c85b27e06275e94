"""Helpers shared by several test directories: a real server process and the v1 client
(``server``), the dashboard's browser harness (``dashboard``) and the scale-out processes
(``cluster``). Importable as ``support`` because pytest puts ``tests/`` on ``sys.path``
(``pythonpath`` in ``pyproject.toml``)."""
