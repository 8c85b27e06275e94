#!/usr/bin/env bash
# Quickstart 2: install everything the tests need and run lint, types and the test suite.
# PostgreSQL: the registry tests also run against a real server. When AEDETECT_TEST_POSTGRES_URL is
# not set and this user can install packages (root or sudo), .ci/postgres.sh installs and starts one;
# a server this script started is stopped again when it ends (one that was running is left running).
# Chromium: the dashboard's browser tests drive a headless Chromium from the Debian packages. When
# AEDETECT_TEST_CHROMIUM is not set and this user can install packages, .ci/chromium.sh installs it
# (once). Without a browser the browser tests fail under CI (CI set) and are skipped elsewhere.
# Redis (the broker of the cluster tests) is handled the same way by .ci/redis.sh and
# AEDETECT_TEST_REDIS_URL; the S3 endpoint of those tests is moto's server, started by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
AEDETECT_EXTRAS=server,client,postgres,celery,s3,dev,bench bash scripts/setup.sh
stops=()  # the servers this script started, stopped again when it ends
stop_started() {
    local stop
    for stop in "${stops[@]}"; do eval "$stop"; done
}
trap stop_started EXIT
if [ -z "${AEDETECT_TEST_POSTGRES_URL:-}" ] && { [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; }; then
    if ! bash .ci/postgres.sh status; then
        stops+=('bash .ci/postgres.sh stop; echo "test.sh: stopped the PostgreSQL server it started" >&2')
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
if [ -z "${AEDETECT_TEST_REDIS_URL:-}" ] && { [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; }; then
    if ! bash .ci/redis.sh status; then
        stops+=('bash .ci/redis.sh stop; echo "test.sh: stopped the Redis server it started" >&2')
    fi
    AEDETECT_TEST_REDIS_URL="$(bash .ci/redis.sh)"
    export AEDETECT_TEST_REDIS_URL
fi
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
.venv/bin/python -m pytest "$@"
