#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The local stack: a PostgreSQL 15 cluster and a Redis server under ./var/ (or $DTM_VAR_DIR).
#
#   scripts/stack.sh start     create on first use, start what is not running (idempotent),
#                              create database `dtm`, write $DTM_VAR_DIR/dtm.env
#   scripts/stack.sh stop      stop both cleanly (PostgreSQL fast shutdown, Redis saves)
#   scripts/stack.sh status    what runs where; exit 0 when everything needed is up, else 3
#   scripts/stack.sh destroy   stop, then delete the cluster, the Redis data and dtm.env
#   scripts/stack.sh env       the settings as `export` lines: eval "$(scripts/stack.sh env)"
#
# With DATABASE_URL (or REDIS_URL) set in the environment, that server is used and nothing is
# started for it. Both servers listen on 127.0.0.1 only, on free ports picked at first start and
# remembered in the var dir (reused while free). Data survives restarts.
#
# Environment:
#   DTM_VAR_DIR          state directory (default ./var; `make test` uses ./var/test)
#   DTM_STACK_FAST=1     fsync=off + synchronous_commit=off (throwaway test clusters)
#   DTM_PG_PORT, DTM_REDIS_PORT   force a port instead of picking one
#   PG_BINDIR            PostgreSQL server binaries (default /usr/lib/postgresql/15/bin)
#
# PostgreSQL refuses to run as root: when this script runs as root, the cluster belongs to the
# `postgres` system user (created by Debian's postgresql package). If that user cannot reach the
# var dir (e.g. a checkout under a private home), the cluster lives in /var/lib/dtm-stack/<hash>
# and var/pg is a symlink to it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VAR=${DTM_VAR_DIR:-var}
mkdir -p "$VAR"
VAR=$(cd "$VAR" && pwd)
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
ENV_FILE="$VAR/dtm.env"
PG="$VAR/pg"
RD="$VAR/redis"
# var/pg may be a symlink (see above): the postgres user needs the real path.
[ -e "$PG" ] && PG=$(readlink -f "$PG")

log() { echo "stack: $*" >&2; }
die() {
    echo "stack: error: $*" >&2
    exit 1
}

# ---------------------------------------------------------------------------------------------
# helpers

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port nobody listens on, below the kernel's ephemeral range so outgoing connections never
# take it from us between two starts.
pick_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 12000))
        if ! port_in_use "$p"; then
            echo "$p"
            return 0
        fi
    done
    die "no free port found"
}

# Reuse the remembered port while it is free, else pick (and remember) a new one.
choose_port() { # file forced
    local file=$1 forced=$2 p=""
    if [ -n "$forced" ]; then
        p=$forced
    elif [ -s "$file" ]; then
        p=$(cat "$file")
        if port_in_use "$p"; then
            log "port $p (remembered in $file) is taken by something else; picking another"
            p=$(pick_port)
        fi
    else
        p=$(pick_port)
    fi
    echo "$p" >"$file"
    echo "$p"
}

random_b64() { head -c "$1" /dev/urandom | base64 -w0; }
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 -v | tr -d ' \n'; }

is_root() { [ "$(id -u)" = 0 ]; }

# Run a PostgreSQL binary as the cluster owner, from a directory that owner can read.
as_pg() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

env_get() { # file key
    [ -f "$1" ] || return 0
    sed -n "s/^$2=//p" "$1" | tail -n1
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

pg_running() { [ -f "$PG/data/PG_VERSION" ] && as_pg "$PG_BINDIR/pg_ctl" status -D "$PG/data" >/dev/null 2>&1; }

pg_prepare_dir() {
    [ -e "$PG" ] && return 0
    if is_root; then
        id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' system user (apt-get install postgresql-15)"
        mkdir -p "$PG"
        chown postgres: "$PG"
        if ! runuser -u postgres -- test -w "$PG"; then
            # The postgres user cannot get to the checkout: keep the cluster outside it.
            rmdir "$PG"
            local ext
            ext="/var/lib/dtm-stack/$(echo -n "$VAR" | sha1sum | cut -c1-16)"
            mkdir -p "$ext"
            chown postgres: "$ext"
            chmod 700 "$ext"
            ln -s "$ext" "$PG"
            log "postgres cannot reach $VAR; cluster kept in $ext (symlinked as $PG)"
        fi
    else
        mkdir -p "$PG"
    fi
    PG=$(readlink -f "$PG")
}

pg_init() {
    [ -f "$PG/data/PG_VERSION" ] && return 0
    [ -x "$PG_BINDIR/initdb" ] || die "$PG_BINDIR/initdb not found (scripts/deps.sh installs postgresql-15)"
    pg_prepare_dir
    local pw
    pw=$(random_hex 24)
    as_pg mkdir -p "$PG/run" "$PG/wal-archive"
    as_pg chmod 700 "$PG/run"
    printf '%s\n' "$pw" | as_pg tee "$PG/password" >/dev/null
    as_pg chmod 600 "$PG/password"
    log "initdb $PG/data"
    as_pg "$PG_BINDIR/initdb" -D "$PG/data" -U postgres --pwfile="$PG/password" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-instructions \
        >"$VAR/pg-initdb.log" 2>&1 || {
        cat "$VAR/pg-initdb.log" >&2
        die "initdb failed"
    }
    echo "include_if_exists = 'dtm.conf'" | as_pg tee -a "$PG/data/postgresql.conf" >/dev/null
}

pg_write_conf() { # port
    local port=$1 sock="$PG/run" fast=""
    # Unix socket paths are limited to 107 bytes; TCP is what clients use anyway.
    [ ${#sock} -gt 90 ] && sock=""
    if [ "${DTM_STACK_FAST:-0}" = 1 ]; then
        fast="fsync = off
synchronous_commit = off"
    fi
    as_pg tee "$PG/data/dtm.conf" >/dev/null <<EOF
# Written by scripts/stack.sh at every start; edit there.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
max_connections = 300
# WAL archiving for point-in-time recovery (dtm backup, issue 5). Segments land in wal-archive/.
wal_level = replica
archive_mode = on
archive_command = 'test ! -f "$PG/wal-archive/%f" && cp "%p" "$PG/wal-archive/%f"'
archive_timeout = '15min'
max_wal_senders = 10
log_min_messages = warning
log_line_prefix = '%m [%p] '
$fast
EOF
}

pg_start() {
    pg_init
    if pg_running; then
        log "postgresql already running on port $(cat "$PG/port")"
    else
        local port tries
        for tries in 1 2 3; do
            port=$(choose_port "$PG/port" "${DTM_PG_PORT:-}")
            pg_write_conf "$port"
            log "starting postgresql on 127.0.0.1:$port"
            if as_pg "$PG_BINDIR/pg_ctl" start -D "$PG/data" -l "$PG/postgresql.log" -w -t 60 >/dev/null; then
                break
            fi
            tail -n 20 "$PG/postgresql.log" >&2 || true
            [ -n "${DTM_PG_PORT:-}" ] && die "postgresql did not start"
            rm -f "$PG/port"
            [ "$tries" = 3 ] && die "postgresql did not start"
        done
    fi
    local port pw
    port=$(cat "$PG/port")
    pw=$(cat "$PG/password")
    if ! PGPASSWORD=$pw PGCONNECT_TIMEOUT=5 "$PG_BINDIR/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -XAtq \
        -c "SELECT 1 FROM pg_database WHERE datname = 'dtm'" | grep -q 1; then
        log "creating database dtm"
        PGPASSWORD=$pw "$PG_BINDIR/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -Xq \
            -c "CREATE DATABASE dtm" >/dev/null
    fi
    PG_URL="postgresql://postgres:$pw@127.0.0.1:$port/dtm"
}

pg_stop() {
    if pg_running; then
        log "stopping postgresql"
        as_pg "$PG_BINDIR/pg_ctl" stop -D "$PG/data" -m fast -w -t 60 >/dev/null
    fi
}

# ---------------------------------------------------------------------------------------------
# Redis

redis_pid() {
    local pid
    [ -s "$RD/redis.pid" ] || return 1
    pid=$(cat "$RD/redis.pid")
    kill -0 "$pid" 2>/dev/null || return 1
    grep -q redis-server "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

redis_running() { redis_pid >/dev/null; }

redis_start() {
    mkdir -p "$RD"
    if redis_running; then
        log "redis already running on port $(cat "$RD/port")"
    else
        command -v redis-server >/dev/null || die "redis-server not found (scripts/deps.sh installs it)"
        local port tries
        for tries in 1 2 3; do
            port=$(choose_port "$RD/port" "${DTM_REDIS_PORT:-}")
            cat >"$RD/redis.conf" <<EOF
# Written by scripts/stack.sh at every start; edit there.
bind 127.0.0.1
port $port
protected-mode yes
daemonize yes
pidfile $RD/redis.pid
logfile $RD/redis.log
dir $RD
dbfilename dump.rdb
save 3600 1 300 100 60 10000
appendonly no
# Many logical databases: the API test harness gives every dtm it starts a fresh one.
databases 1024
EOF
            log "starting redis on 127.0.0.1:$port"
            rm -f "$RD/redis.pid"
            redis-server "$RD/redis.conf"
            for _ in $(seq 1 100); do
                redis_running && port_in_use "$port" && break
                sleep 0.05
            done
            if redis_running && port_in_use "$port"; then
                break
            fi
            tail -n 20 "$RD/redis.log" >&2 || true
            [ -n "${DTM_REDIS_PORT:-}" ] && die "redis did not start"
            rm -f "$RD/port"
            [ "$tries" = 3 ] && die "redis did not start"
        done
    fi
    REDIS_URL_LOCAL="redis://127.0.0.1:$(cat "$RD/port")/0"
}

redis_stop() {
    local pid
    if pid=$(redis_pid); then
        log "stopping redis"
        kill -TERM "$pid"
        for _ in $(seq 1 200); do
            kill -0 "$pid" 2>/dev/null || return 0
            sleep 0.05
        done
        die "redis (pid $pid) did not stop"
    fi
}

# ---------------------------------------------------------------------------------------------
# env file

write_env() {
    local jwt admin tmp
    # Generated secrets are kept across starts: tokens and the printed admin password stay valid.
    jwt=$(env_get "$ENV_FILE" DTM_JWT_SECRET)
    [ -n "$jwt" ] || jwt=$(random_b64 48)
    admin=$(env_get "$ENV_FILE" DTM_ADMIN_PASSWORD)
    [ -n "$admin" ] || admin=$(random_b64 12 | tr '+/' '-_')
    mkdir -p "$VAR/data" "$VAR/backups"
    tmp="$ENV_FILE.tmp"
    umask 077
    {
        echo "# Written by scripts/stack.sh; the real environment always wins over this file."
        if [ -n "${PG_URL:-}" ]; then
            echo "DATABASE_URL=$PG_URL"
            echo "DTM_WAL_ARCHIVE_DIR=$PG/wal-archive"
        fi
        [ -n "${REDIS_URL_LOCAL:-}" ] && echo "REDIS_URL=$REDIS_URL_LOCAL"
        echo "DTM_JWT_SECRET=$jwt"
        echo "DTM_ADMIN_EMAIL=${DTM_ADMIN_EMAIL:-admin@example.com}"
        echo "DTM_ADMIN_PASSWORD=$admin"
        echo "DTM_HOST=127.0.0.1"
        echo "DTM_DATA_DIR=$VAR/data"
        echo "DTM_BACKUP_DIR=$VAR/backups"
    } >"$tmp"
    mv "$tmp" "$ENV_FILE"
}

# A URL in the environment is "external" unless it is the one this stack wrote itself (so that
# `eval "$(scripts/stack.sh env)"` followed by `start` still manages our own servers).
external_pg() { [ -n "${DATABASE_URL:-}" ] && [ "$DATABASE_URL" != "$(env_get "$ENV_FILE" DATABASE_URL)" ]; }
external_redis() { [ -n "${REDIS_URL:-}" ] && [ "$REDIS_URL" != "$(env_get "$ENV_FILE" REDIS_URL)" ]; }

# ---------------------------------------------------------------------------------------------

cmd=${1:-}
case "$cmd" in
start)
    PG_URL="" REDIS_URL_LOCAL=""
    if external_pg; then
        log "DATABASE_URL is set: using it, starting no postgresql"
    else
        pg_start
    fi
    if external_redis; then
        log "REDIS_URL is set: using it, starting no redis"
    else
        redis_start
    fi
    write_env
    log "settings in $ENV_FILE"
    ;;
stop)
    redis_stop
    pg_stop
    ;;
status)
    rc=0
    if external_pg; then
        echo "postgresql: external (DATABASE_URL)"
    elif pg_running; then
        echo "postgresql: running on 127.0.0.1:$(cat "$PG/port") (data $PG/data)"
    else
        echo "postgresql: stopped"
        rc=3
    fi
    if external_redis; then
        echo "redis: external (REDIS_URL)"
    elif redis_running; then
        echo "redis: running on 127.0.0.1:$(cat "$RD/port") (pid $(redis_pid))"
    else
        echo "redis: stopped"
        rc=3
    fi
    exit $rc
    ;;
destroy)
    # Stop and delete everything this stack keeps (databases, cache, env file, uploads, backups).
    redis_stop
    pg_stop
    if [ -L "$VAR/pg" ]; then
        rm -rf "$(readlink -f "$VAR/pg")"
    fi
    rm -rf "$VAR/pg" "$RD" "$ENV_FILE" "$VAR/pg-initdb.log"
    log "removed the stack under $VAR"
    ;;
env)
    [ -f "$ENV_FILE" ] || die "$ENV_FILE does not exist: run '$0 start' first"
    grep -v '^#' "$ENV_FILE" | while IFS='=' read -r k v; do
        [ -n "$k" ] && printf 'export %s=%q\n' "$k" "$v"
    done
    ;;
*)
    echo "usage: $0 start|stop|status|env|destroy   (state in \${DTM_VAR_DIR:-var})" >&2
    exit 2
    ;;
esac
