#!/usr/bin/env bash
# Quickstart 2: install everything the tests need and run lint, types and the test suite.
# PostgreSQL: the registry tests also run against a real server. When AEDETECT_TEST_POSTGRES_URL is
# not set and this user can install packages (root or sudo), .ci/postgres.sh installs and starts one;
# a server this script started is stopped again when it ends (one that was running is left running).
# Chromium: the dashboard's browser tests drive a headless Chromium from the Debian packages. When
# AEDETECT_TEST_CHROMIUM is not set and this user can install packages, .ci/chromium.sh installs it
# (once). Without a browser the browser tests fail under CI (CI set) and are skipped elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
AEDETECT_EXTRAS=server,client,postgres,dev,bench bash scripts/setup.sh
if [ -z "${AEDETECT_TEST_POSTGRES_URL:-}" ] && { [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; }; then
    if ! bash .ci/postgres.sh status; then
        trap 'bash .ci/postgres.sh stop; echo "test.sh: stopped the PostgreSQL server it started" >&2' EXIT
    fi
    AEDETECT_TEST_POSTGRES_URL="$(bash .ci/postgres.sh)"
    export AEDETECT_TEST_POSTGRES_URL
fi
if [ -z "${AEDETECT_TEST_CHROMIUM:-}" ]; then
    if bash .ci/chromium.sh status || [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; then
        AEDETECT_TEST_CHROMIUM="$(bash .ci/chromium.sh)"
        export AEDETECT_TEST_CHROMIUM
    fi
fi
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
