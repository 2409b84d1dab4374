#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The pgbouncer suite: the whole API suite with every dtm process reaching PostgreSQL through a
# real PgBouncer (Debian's 1.18) in pool_mode = transaction, dtm running with
# DTM_PG_POOLER=transaction (unnamed statements, no session state, client-side statement
# timeout). Migrations and seeds go straight to PostgreSQL (tests/api/lib/harness.js).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
ENV_FILE=${DTM_TEST_ENV_FILE:-$ROOT/var/test/dtm.env}
PGB=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
[ -x "$PGB" ] || { echo "pgbouncer not installed (scripts/deps.sh installs it)" >&2; exit 1; }
url=$(sed -n 's/^DATABASE_URL=//p' "$ENV_FILE" | head -n1)
url=${DATABASE_URL:-$url}
[ -n "$url" ] || { echo "no DATABASE_URL in $ENV_FILE: run make test-stack" >&2; exit 1; }
# postgresql://user:password@host:port/db
rest=${url#*://}
creds=${rest%%@*}
hostport=${rest#*@}
hostport=${hostport%%/*}
pguser=${creds%%:*}
pgpass=${creds#*:}
pghost=${hostport%%:*}
pgport=${hostport##*:}

dir=$(mktemp -d /tmp/dtm-pgbouncer.XXXXXX)
port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=$pghost port=$pgport user=$pguser password=$pgpass
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = any
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 40
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
chmod 700 "$dir"
chmod 600 "$dir/pgbouncer.ini"
as=()
if [ "$(id -u)" = 0 ]; then # PgBouncer refuses to run as root
    chown -R postgres "$dir"
    as=(runuser -u postgres --)
fi
"${as[@]}" "$PGB" -d "$dir/pgbouncer.ini"
cleanup() {
    if [ -f "$dir/pgbouncer.pid" ]; then kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true; fi
    sleep 0.2
    if [ -n "${DTM_TEST_OUTPUT:-}" ]; then cp "$dir/pgbouncer.log" "$DTM_TEST_OUTPUT/pgbouncer.log" 2>/dev/null || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
echo "pgbouncer $("$PGB" --version | head -n1) on 127.0.0.1:$port, pool_mode=transaction"
if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(ls tests/api/*.test.js); fi
DTM_TEST_PGBOUNCER_URL="postgresql://dtm@127.0.0.1:$port/postgres" DTM_TEST_TOPOLOGY=all \
    node --test --test-reporter=spec --test-timeout=600000 "${files[@]}"
