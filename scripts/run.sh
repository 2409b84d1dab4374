#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make run`: everything from a fresh checkout to a serving dtm on http://127.0.0.1:3000.
# Installs missing packages, builds, builds the web client (when there is one), starts the local
# PostgreSQL + Redis under var/ (unless DATABASE_URL / REDIS_URL point elsewhere), migrates, seeds
# a demo organisation, prints how to log in, then replaces itself with `dtm serve`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VAR=${DTM_VAR_DIR:-var}
BIN=${DTM_BIN:-$ROOT/build/dtm}
PORT=${DTM_PORT:-3000}

scripts/deps.sh
make -s build
scripts/web.sh build
scripts/stack.sh start
mkdir -p "$VAR"
VAR=$(cd "$VAR" && pwd)
# dtm reads the stack's settings from this file, under the real environment.
export DTM_ENV_FILE="$VAR/dtm.env"

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "run: port $PORT is already in use (another dtm?). Stop it or pick another: DTM_PORT=3100 make run" >&2
    exit 1
fi

"$BIN" migrate
"$BIN" seed --demo

env_val() { # the environment wins over the file, as in dtm
    local v="${!1:-}"
    [ -n "$v" ] || v=$(sed -n "s/^$1=//p" "$DTM_ENV_FILE" | tail -n1)
    printf '%s' "$v"
}
# /metrics on loopback only, off the public port (DTM_METRICS_ADDR=... make run picks another;
# an empty value, or one in the env file, is respected).
if [ -z "${DTM_METRICS_ADDR+set}" ] && [ -z "$(env_val DTM_METRICS_ADDR)" ]; then
    export DTM_METRICS_ADDR=127.0.0.1:9464
fi
metrics_addr=$(env_val DTM_METRICS_ADDR)
email=$(env_val DTM_ADMIN_EMAIL)
password=$(env_val DTM_ADMIN_PASSWORD)
email=${email:-admin@example.com}

cat <<EOF

  dtm is starting on http://127.0.0.1:$PORT   (Ctrl-C stops it; the database keeps running)

  Log in as the admin:   $email / $password
  (generated once and kept in $DTM_ENV_FILE; if you changed it since, use yours)
  Demo accounts (2 managers, 10 merchandisers) are listed in the seed output above.

  curl -s http://127.0.0.1:$PORT/api/auth/login -H 'content-type: application/json' \\
       -d '{"email":"$email","password":"$password"}'

  Prometheus metrics: ${metrics_addr:+http://$metrics_addr/metrics}${metrics_addr:-http://127.0.0.1:$PORT/metrics}

  Operator commands work in this checkout: build/dtm health, build/dtm config, build/dtm backup list
  Stop the database and Redis: scripts/stack.sh stop

EOF
exec "$BIN" serve --port "$PORT"
