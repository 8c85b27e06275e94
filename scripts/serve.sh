#!/usr/bin/env bash
# Quickstart 1: install and start the service with embedded defaults (SQLite, ./aedetect-data,
# each training in a child process) on http://127.0.0.1:8000 (AEDETECT_HOST / AEDETECT_PORT to change).
set -euo pipefail
cd "$(dirname "$0")/.."
AEDETECT_EXTRAS=server bash scripts/setup.sh
exec .venv/bin/aedetect serve "$@"
