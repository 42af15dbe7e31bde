# A throwaway PostgreSQL server for the tests and benchmarks: sourced, not run (after common.sh).
# `start_postgres` installs Debian's postgresql if missing, creates a cluster in a temporary
# folder owned by a non-root user (PostgreSQL refuses to run as root), starts it on a free
# loopback port, exports MICROLEARNING_TEST_POSTGRES and stops it again when the script exits.

start_postgres() {
    apt_install postgresql
    local bin
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    [ -n "$bin" ] && [ -x "$bin/initdb" ] || die "Debian's postgresql is installed but initdb is missing"
    PG_DIR="$(mktemp -d /tmp/microlearning-pg.XXXXXX)"
    local run_as=()
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' user to run PostgreSQL as (the postgresql package makes one)"
        chown postgres:postgres "$PG_DIR"
        run_as=(runuser -u postgres --)
    fi
    PG_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    "${run_as[@]}" "$bin/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 --no-sync >/dev/null \
        || die "initdb failed"
    "${run_as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
        -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null \
        || { cat "$PG_DIR/server.log" >&2; die "PostgreSQL did not start"; }
    PG_STOP=("${run_as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -m fast stop)
    trap stop_postgres EXIT
    export MICROLEARNING_TEST_POSTGRES="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
    log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (cluster in $PG_DIR)"
}

stop_postgres() {
    [ -n "${PG_DIR:-}" ] || return 0
    "${PG_STOP[@]}" >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
    PG_DIR=""
}
