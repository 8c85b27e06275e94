#!/usr/bin/env bash
# Creates .venv (Python 3.11) and installs aedetect with the extras named in $AEDETECT_EXTRAS.
# PyTorch is pinned to the CPU build torch==2.13.0 by pyproject.toml. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${AEDETECT_EXTRAS:-server}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[${extras}]"
