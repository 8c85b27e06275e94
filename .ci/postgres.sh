#!/usr/bin/env bash
# Gives the test suite a PostgreSQL server: installs it from the Debian packages if missing, starts
# (or creates) a cluster, creates the test role and database, and prints the SQLAlchemy URL on stdout
# (everything else goes to stderr). Safe to run again at any point; it only does what is missing.
#
#   export AEDETECT_TEST_POSTGRES_URL="$(bash .ci/postgres.sh)"     # start (the default)
#   bash .ci/postgres.sh status                                     # exit 0 when the cluster is online
#   bash .ci/postgres.sh stop                                       # stop the cluster
#
# Settings (environment): PG_TEST_USER, PG_TEST_PASSWORD, PG_TEST_DB (default aedetect/aedetect/aedetect_test).
set -euo pipefail

user="${PG_TEST_USER:-aedetect}"
password="${PG_TEST_PASSWORD:-aedetect}"
db="${PG_TEST_DB:-aedetect_test}"

action="${1:-start}"

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
as_postgres() { as_root runuser -u postgres -- "$@"; }
newest_cluster() {
    major="$(ls /usr/lib/postgresql | sort -n | tail -n 1)"
    cluster="$(pg_lsclusters --no-header | awk -v v="$major" '$1 == v { print $2; exit }')"
}
online() {
    [ -n "$cluster" ] && pg_lsclusters --no-header | awk -v v="$major" -v c="$cluster" '$1 == v && $2 == c { print $4 }' | grep -q online
}

case "$action" in
    start) ;;
    status)
        command -v pg_lsclusters >/dev/null 2>&1 || exit 1
        newest_cluster
        online
        exit $?
        ;;
    stop)
        command -v pg_lsclusters >/dev/null 2>&1 || exit 0
        newest_cluster
        if online; then
            log "stopping cluster $major/$cluster"
            as_root pg_ctlcluster "$major" "$cluster" stop >&2
        fi
        exit 0
        ;;
    *) log "usage: postgres.sh [start|status|stop]"; exit 2 ;;
esac

if ! command -v pg_lsclusters >/dev/null 2>&1; then
    log "installing PostgreSQL from the Debian packages"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi

# The newest installed server version and its first cluster (the package normally creates "main").
newest_cluster
if [ -z "$cluster" ]; then
    cluster=main
    log "creating cluster $major/$cluster"
    as_root pg_createcluster "$major" "$cluster" >&2
fi
port="$(pg_lsclusters --no-header | awk -v v="$major" -v c="$cluster" '$1 == v && $2 == c { print $3 }')"
if ! online; then
    log "starting cluster $major/$cluster on port $port"
    as_root pg_ctlcluster "$major" "$cluster" start >&2
fi
for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 1
done
pg_isready -h 127.0.0.1 -p "$port" >&2

psql_admin() { as_postgres psql -p "$port" -v ON_ERROR_STOP=1 -qtAX "$@"; }
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$user'")" != 1 ]; then
    log "creating role $user"
    psql_admin -c "CREATE ROLE \"$user\" LOGIN PASSWORD '$password'"
else
    psql_admin -c "ALTER ROLE \"$user\" LOGIN PASSWORD '$password'"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
    log "creating database $db"
    psql_admin -c "CREATE DATABASE \"$db\" OWNER \"$user\""
fi

echo "postgresql+psycopg://$user:$password@127.0.0.1:$port/$db"
