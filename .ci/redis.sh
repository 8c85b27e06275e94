#!/usr/bin/env bash
# Gives the cluster tests a Redis server (the Celery broker): installs it from the Debian packages
# if missing, starts a private instance on loopback (its own port, directory and pid file, so a
# system Redis is left alone) and prints its URL on stdout (everything else goes to stderr). Safe
# to run again at any point; it only does what is missing.
#
#   export AEDETECT_TEST_REDIS_URL="$(bash .ci/redis.sh)"     # start (the default)
#   bash .ci/redis.sh status                                 # exit 0 when the instance answers
#   bash .ci/redis.sh stop                                   # stop the instance
#
# Settings (environment): REDIS_TEST_PORT (default 6391), REDIS_TEST_DIR (default /tmp/aedetect-test-redis).
set -euo pipefail

port="${REDIS_TEST_PORT:-6391}"
dir="${REDIS_TEST_DIR:-/tmp/aedetect-test-redis}"
action="${1:-start}"

log() { printf 'redis.sh: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
online() { command -v redis-cli >/dev/null 2>&1 && [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; }

case "$action" in
    start) ;;
    status) online; exit $? ;;
    stop)
        if online; then
            log "stopping the instance on port $port"
            redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >&2 || true
        fi
        exit 0
        ;;
    *) log "usage: redis.sh [start|status|stop]"; exit 2 ;;
esac

if ! command -v redis-server >/dev/null 2>&1; then
    log "installing Redis from the Debian packages"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq redis-server >&2
fi

if ! online; then
    mkdir -p "$dir"
    log "starting an instance on 127.0.0.1:$port (data in $dir)"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize yes \
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save "" --appendonly no >&2
    for _ in $(seq 1 50); do
        online && break
        sleep 0.1
    done
fi
online || { log "Redis did not answer on port $port (see $dir/redis.log)"; exit 1; }

echo "redis://127.0.0.1:$port/0"
