#!/usr/bin/env bash
# Project-local PostgreSQL cluster on 127.0.0.1, without Docker and without touching the
# system's own clusters.
#
#   deploy/local/postgres.sh start    install PostgreSQL if needed (root), initdb once, start,
#                                     wait until ready, ensure role "warden" and the databases
#   deploy/local/postgres.sh stop     pg_ctl stop -m fast
#   deploy/local/postgres.sh status   exit 0 when running and accepting connections, 1 otherwise
#   deploy/local/postgres.sh restart  stop + start
#   deploy/local/postgres.sh psql [ARGS]   psql as warden (default database warden_intake)
#   deploy/local/postgres.sh reset    stop and delete the cluster's data
#
# Role warden/warden (LOGIN CREATEDB) owns warden_intake, warden_routing, warden_decision,
# warden_notify. The superuser "postgres" has no password and can only log in through the unix
# socket (trust); TCP logins use scram-sha-256.
#
# Environment: PGPORT_WARDEN (54320), WARDEN_LOCAL_DIR (<repo>/.local), PG_BINDIR (newest
#              /usr/lib/postgresql/*/bin), PG_READY_TIMEOUT (60).
# Files: <WARDEN_LOCAL_DIR>/postgres/{data,run,log}. As root the server runs as the system user
# "postgres" (initdb refuses root); when that user cannot reach <WARDEN_LOCAL_DIR>, the cluster
# lives in /var/lib/postgresql/warden-<hash of WARDEN_LOCAL_DIR> instead (the script says so).
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PGPORT_WARDEN="${PGPORT_WARDEN:-54320}"
PG_READY_TIMEOUT="${PG_READY_TIMEOUT:-60}"
PG_ROLE=warden
PG_PASSWORD=warden
PG_DATABASES=(warden_intake warden_routing warden_decision warden_notify)
export LC_ALL=C

PRIMARY_BASE="$WARDEN_LOCAL_DIR/postgres"
FALLBACK_BASE="/var/lib/postgresql/warden-$(short_hash "$WARDEN_LOCAL_DIR")"

# ---------------------------------------------------------------- binaries
# newest_bindir : the /usr/lib/postgresql/<version>/bin with the highest version that has initdb.
newest_bindir() {
    local b
    for b in /usr/lib/postgresql/*/bin; do
        if [ -x "$b/initdb" ]; then printf '%s\n' "$b"; fi
    done | sort -V | tail -n1
}

find_bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then
        [ -x "$PG_BINDIR/initdb" ] || die "PG_BINDIR=$PG_BINDIR has no initdb"
        return 0
    fi
    local d
    d="$(newest_bindir)"
    if [ -z "$d" ]; then
        if is_root; then
            apt_install postgresql
            d="$(newest_bindir)"
            [ -n "$d" ] || die "installed Debian's postgresql but found no /usr/lib/postgresql/*/bin/initdb"
        else
            die "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb). Install them with: sudo apt-get install -y postgresql   (or set PG_BINDIR to a directory holding initdb, pg_ctl, psql)"
        fi
    fi
    PG_BINDIR="$d"
}

# ---------------------------------------------------------------- who runs the server, where
# As root everything PostgreSQL runs as the system user "postgres"; otherwise as the caller.
setup_identity() {
    if is_root; then
        id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' system user (Debian's postgresql package creates it; reinstall it: apt-get install --reinstall postgresql-common)"
        command -v runuser >/dev/null 2>&1 || die "runuser (util-linux) is missing"
        AS_PG=(runuser -u postgres --)
    else
        AS_PG=()
    fi
}

# pgrun CMD ARGS... : a PostgreSQL binary, as the server's user, from / (the user may not read $PWD).
pgrun() {
    local cmd="$1"
    shift
    # 9<&-: the server started by pg_ctl must not keep the script's lock (see take_lock).
    (cd / && "${AS_PG[@]}" "$PG_BINDIR/$cmd" "$@" 9<&-)
}

# can_use_dir DIR : the server's user can create files in DIR.
pg_user_can_write() {
    if is_root; then
        runuser -u postgres -- test -w "$1" -a -x "$1" 2>/dev/null
    else
        test -w "$1" -a -x "$1"
    fi
}

# Picks PG_BASE (and creates it): the data dir used before wins, then WARDEN_LOCAL_DIR/postgres,
# then (root only) the fallback under /var/lib/postgresql.
choose_base() {
    local create="${1:-create}"
    if [ -f "$PRIMARY_BASE/data/PG_VERSION" ]; then
        PG_BASE="$PRIMARY_BASE"
    elif [ -f "$FALLBACK_BASE/data/PG_VERSION" ]; then
        PG_BASE="$FALLBACK_BASE"
        [ "$create" = create ] && log "using $PG_BASE (the postgres user cannot reach $PRIMARY_BASE)"
    elif [ "$create" != create ]; then
        PG_BASE="$PRIMARY_BASE"
        return 0
    else
        mkdir -p "$PRIMARY_BASE"
        if is_root; then
            # Our own directories: let the postgres user through.
            chmod a+x "$WARDEN_LOCAL_DIR" 2>/dev/null || true
            chown postgres:postgres "$PRIMARY_BASE"
            chmod 755 "$PRIMARY_BASE"
        fi
        if pg_user_can_write "$PRIMARY_BASE"; then
            PG_BASE="$PRIMARY_BASE"
        elif is_root; then
            warn "the postgres user cannot reach $PRIMARY_BASE (a parent directory is not traversable for it); using $FALLBACK_BASE instead"
            rmdir "$PRIMARY_BASE" 2>/dev/null || true
            mkdir -p "$FALLBACK_BASE"
            chown postgres:postgres "$FALLBACK_BASE"
            chmod 700 "$FALLBACK_BASE"
            PG_BASE="$FALLBACK_BASE"
        else
            die "cannot write to $PRIMARY_BASE"
        fi
    fi
    PG_DATA="$PG_BASE/data"
    PG_LOG="$PG_BASE/log/postgres.log"
    PG_RUN="$PG_BASE/run"
    # A unix socket path is limited to 107 bytes.
    if [ "${#PG_RUN}" -gt 90 ]; then
        PG_RUN="/tmp/warden-pg-$(short_hash "$PG_BASE")"
    fi
}

paths_only() {
    PG_DATA="$PG_BASE/data"
    PG_LOG="$PG_BASE/log/postgres.log"
    PG_RUN="$PG_BASE/run"
    [ "${#PG_RUN}" -le 90 ] || PG_RUN="/tmp/warden-pg-$(short_hash "$PG_BASE")"
}

check_owner() {
    [ -d "$PG_DATA" ] || return 0
    local owner
    owner="$(stat -c %U "$PG_DATA")"
    if is_root; then
        [ "$owner" = postgres ] || { log "giving $PG_BASE to the postgres user (was $owner)"; chown -R postgres:postgres "$PG_BASE"; }
    elif [ "$owner" != "$(id -un)" ]; then
        die "$PG_DATA belongs to '$owner' (created by a run as root?). Run this script as root, or remove it with: sudo rm -rf $PG_BASE"
    fi
}

ensure_dirs() {
    mkdir -p "$PG_BASE/log" "$PG_RUN"
    if is_root; then
        chown postgres:postgres "$PG_BASE" "$PG_BASE/log" "$PG_RUN"
    fi
    chmod 755 "$PG_RUN"
}

# ---------------------------------------------------------------- server
running_pid() {
    # postmaster.pid line 1: pid, line 4: port.
    pgrun pg_ctl status -D "$PG_DATA" >/dev/null 2>&1 || return 1
    head -n1 "$PG_DATA/postmaster.pid"
}
running_port() {
    sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null | tr -d '[:space:]'
}
running_socket_dir() {
    sed -n 5p "$PG_DATA/postmaster.pid" 2>/dev/null
}

init_cluster() {
    [ ! -f "$PG_DATA/PG_VERSION" ] || return 0
    log "creating a PostgreSQL $(basename "$(dirname "$PG_BINDIR")") cluster in $PG_DATA"
    mkdir -p "$PG_DATA"
    is_root && chown postgres:postgres "$PG_DATA"
    chmod 700 "$PG_DATA"
    if ! pgrun initdb -D "$PG_DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            -E UTF8 --locale=C --no-instructions >"$PG_BASE/log/initdb.log" 2>&1; then
        cat "$PG_BASE/log/initdb.log" >&2
        die "initdb failed (output above)"
    fi
    printf "\n# Settings of deploy/local/postgres.sh (rewritten at every start).\ninclude_if_exists = 'warden.conf'\n" \
        | "${AS_PG[@]}" tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

write_settings() {
    local tmp
    tmp="$(mktemp)"
    cat >"$tmp" <<CONF
# Written by deploy/local/postgres.sh at every start; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $PGPORT_WARDEN
unix_socket_directories = '$PG_RUN'
max_connections = 300
shared_buffers = 128MB
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
CONF
    chmod 644 "$tmp"
    "${AS_PG[@]}" cp "$tmp" "$PG_DATA/warden.conf"
    rm -f "$tmp"
}

# psql_admin ARGS... : psql as superuser through the unix socket.
# shellcheck disable=SC2120  # ARGS are optional
psql_admin() {
    pgrun psql -X -q -v ON_ERROR_STOP=1 -h "$(running_socket_dir)" -p "$(running_port)" -U postgres -d postgres "$@"
}

ensure_role_and_databases() {
    # shellcheck disable=SC2119
    psql_admin <<SQL
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', '$PG_ROLE', '$PG_PASSWORD')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_ROLE') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', '$PG_ROLE', '$PG_PASSWORD')
WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_ROLE' AND NOT (rolcanlogin AND rolcreatedb)) \gexec
SQL
    local db
    for db in "${PG_DATABASES[@]}"; do
        # shellcheck disable=SC2119
        psql_admin <<SQL
SELECT format('CREATE DATABASE %I OWNER %I', '$db', '$PG_ROLE')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$db') \gexec
SQL
    done
}

wait_ready() {
    local port="$1" deadline=$(( $(date +%s) + PG_READY_TIMEOUT ))
    until pgrun pg_isready -q -h 127.0.0.1 -p "$port" -t 2; do
        [ "$(date +%s)" -lt "$deadline" ] || { tail -n 20 "$PG_LOG" >&2 || true; die "PostgreSQL did not accept connections on 127.0.0.1:$port within ${PG_READY_TIMEOUT}s"; }
        sleep 0.3
    done
}

cmd_start() {
    local start pid port
    start="$(date +%s%N)"
    find_bindir
    setup_identity
    choose_base create
    check_owner
    ensure_dirs
    if pid="$(running_pid)"; then
        port="$(running_port)"
        wait_ready "$port"
        log "PostgreSQL is already running (pid $pid) on 127.0.0.1:$port; checking role and databases"
        [ "$port" = "$PGPORT_WARDEN" ] || warn "it listens on $port, not PGPORT_WARDEN=$PGPORT_WARDEN; run '$0 restart' to apply"
        ensure_role_and_databases
        log "ready: postgresql://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$port/{$(IFS=,; echo "${PG_DATABASES[*]}")}"
        return 0
    fi
    if port_open 127.0.0.1 "$PGPORT_WARDEN"; then
        die "127.0.0.1:$PGPORT_WARDEN is already used by another process (not this repo's PostgreSQL). Stop it (see: ss -ltnp | grep :$PGPORT_WARDEN) or choose another port with PGPORT_WARDEN."
    fi
    init_cluster
    write_settings
    log "starting PostgreSQL on 127.0.0.1:$PGPORT_WARDEN (data $PG_DATA, log $PG_LOG)"
    if ! pgrun pg_ctl start -D "$PG_DATA" -l "$PG_LOG" -w -t "$PG_READY_TIMEOUT" -s; then
        tail -n 20 "$PG_LOG" >&2 || true
        die "pg_ctl start failed (log above: $PG_LOG)"
    fi
    wait_ready "$PGPORT_WARDEN"
    ensure_role_and_databases
    log "ready in $(elapsed_since "$start")s: postgresql://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$PGPORT_WARDEN/{$(IFS=,; echo "${PG_DATABASES[*]}")}"
}

cmd_stop() {
    find_bindir
    setup_identity
    choose_base nocreate
    paths_only
    local pid
    if ! [ -f "$PG_DATA/PG_VERSION" ] || ! pid="$(running_pid)"; then
        log "PostgreSQL is not running; nothing to stop"
        return 0
    fi
    log "stopping PostgreSQL (pid $pid) ..."
    pgrun pg_ctl stop -D "$PG_DATA" -m fast -w -t 60 -s
    log "PostgreSQL stopped"
}

cmd_status() {
    find_bindir
    setup_identity
    choose_base nocreate
    paths_only
    local pid port
    if [ -f "$PG_DATA/PG_VERSION" ] && pid="$(running_pid)"; then
        port="$(running_port)"
        if pgrun pg_isready -q -h 127.0.0.1 -p "$port" -t 3; then
            log "running: pid $pid, 127.0.0.1:$port, data $PG_DATA"
            return 0
        fi
        log "not running properly: pid $pid exists but 127.0.0.1:$port does not accept connections (see $PG_LOG)"
        return 1
    fi
    log "not running"
    return 1
}

cmd_psql() {
    find_bindir
    setup_identity
    choose_base nocreate
    paths_only
    local port
    port="$(running_port)"
    [ -n "$port" ] || die "PostgreSQL is not running; start it with: $0 start"
    PGPASSWORD="$PG_PASSWORD" exec "$PG_BINDIR/psql" -h 127.0.0.1 -p "$port" -U "$PG_ROLE" -d "${PG_DATABASES[0]}" "$@"
}

cmd_reset() {
    cmd_stop
    log "deleting $PG_BASE"
    rm -rf "$PG_BASE"
    [ "${PG_RUN#/tmp/warden-pg-}" = "$PG_RUN" ] || rm -rf "$PG_RUN"
}

case "${1:-}" in
    start|stop|restart|reset) take_lock postgres ;;
esac
case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    restart) cmd_stop; cmd_start ;;
    psql) shift; cmd_psql "$@" ;;
    reset) cmd_reset ;;
    *)
        echo "usage: $0 {start|stop|status|restart|psql [ARGS]|reset}" >&2
        exit 2
        ;;
esac
