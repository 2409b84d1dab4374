#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Scale benchmark of issue 4: seeds 1,000,000 todos and 200,000 attendance visits over 200 stores
# and 2,000 merchandisers (generate_series SQL), then measures the list, stats and report
# endpoints with wrk (dtm pinned to CPU 0, wrk to CPU 1, bounded time each) and prints req/s,
# p99 and the EXPLAIN ANALYZE plans of the hot queries. Not part of `make test`.
#
#   bench/scale/run.sh
#
# Environment: DTM_BIN (default build/dtm), BENCH_DATABASE_URL (a database that is dropped and
# re-created; default postgres://postgres@127.0.0.1:55432/dtm_todos_bench), BENCH_REDIS_URL
# (default redis://127.0.0.1:56379/11), DURATION (10 s per endpoint), CONNS (32), TODOS
# (1000000), ATTENDANCE (200000), STORES (200), USERS (2000), PORT (45100), KEEP_DB=1 to reuse an
# already seeded database (skips migrate/seed).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
BIN=${DTM_BIN:-$ROOT/build/dtm}
DB_URL=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:55432/dtm_todos_bench}
REDIS_URL_B=${BENCH_REDIS_URL:-redis://127.0.0.1:56379/11}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
TODOS=${TODOS:-1000000}
ATTENDANCE=${ATTENDANCE:-200000}
STORES=${STORES:-200}
USERS=${USERS:-2000}
PORT=${PORT:-45100}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
OUT="$ROOT/var/bench/scale-$(date -u +%Y%m%dT%H%M%SZ).txt"
mkdir -p "$ROOT/var/bench"

for t in wrk taskset psql curl jq; do
    command -v "$t" >/dev/null || { echo "bench/scale: $t missing" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "bench/scale: $BIN missing (make build)" >&2; exit 1; }

say() { echo "$*" | tee -a "$OUT"; }
DTM_PID=
cleanup() { [ -n "$DTM_PID" ] && kill "$DTM_PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

ADMIN_EMAIL=bench-admin@example.com
ADMIN_PASSWORD=Bench-Admin-Pw-1
export DTM_ENV_FILE=/dev/null DATABASE_URL="$DB_URL" REDIS_URL="$REDIS_URL_B" \
    DTM_JWT_SECRET=${DTM_JWT_SECRET:-bench-secret-bench-secret-bench-secret-0123} \
    DTM_HOST=127.0.0.1 DTM_PORT="$PORT" DTM_ADMIN_EMAIL="$ADMIN_EMAIL" \
    DTM_ADMIN_PASSWORD="$ADMIN_PASSWORD" DTM_DATA_DIR="$ROOT/var/bench/scale-data" \
    DTM_ACCESS_TTL=7200 DTM_LOGIN_LIMIT_PER_IP=1000000 DTM_LOGIN_LIMIT_PER_EMAIL=1000000 \
    DTM_RATE_LIMIT_PER_IP=0 DTM_RATE_LIMIT_PER_USER=0 DTM_LOG_LEVEL=warn DTM_LOOPS=1
PSQL=(psql -X -q "$DB_URL" -v ON_ERROR_STOP=1)
ADMIN_DB_URL=${DB_URL%/*}/postgres
DB_NAME=${DB_URL##*/}

say "dtm scale benchmark, $(date -u +%FT%TZ), $(nproc) CPUs; dtm on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU (PostgreSQL unpinned)"
if [ "${KEEP_DB:-0}" != 1 ]; then
    psql -X -q "$ADMIN_DB_URL" -c "DROP DATABASE IF EXISTS $DB_NAME" -c "CREATE DATABASE $DB_NAME"
    "$BIN" migrate >/dev/null
    "$BIN" seed >/dev/null
fi

taskset -c "$SERVER_CPU" "$BIN" serve >"$ROOT/var/bench/scale-dtm.log" 2>&1 &
DTM_PID=$!
URL="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -sf "$URL/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$URL/health" >/dev/null || {
    echo "bench/scale: dtm did not become healthy on port $PORT:" >&2
    tail -5 "$ROOT/var/bench/scale-dtm.log" >&2
    exit 1
}

login() {
    curl -sf "$URL/api/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"$2\"}" | jq -r .accessToken
}
ADMIN=$(login "$ADMIN_EMAIL" "$ADMIN_PASSWORD")
MERCH_EMAIL=bench-merch-api@example.com
MERCH_PASSWORD=Bench-Merch-Pw-1
if [ "${KEEP_DB:-0}" != 1 ]; then
    curl -sf "$URL/api/users" -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' \
        -d "{\"email\":\"$MERCH_EMAIL\",\"password\":\"$MERCH_PASSWORD\",\"firstName\":\"Api\",\"lastName\":\"Merch\",\"role\":\"merchandiser\"}" >/dev/null
    t0=$(date +%s)
    "${PSQL[@]}" -v stores="$STORES" -v users="$USERS" -v todos="$TODOS" -f bench/scale/seed_todos.sql
    t1=$(date +%s)
    say "seeded $STORES stores, $USERS merchandisers, $TODOS todos in $((t1 - t0)) s"
    if [ -f bench/scale/seed_attendance.sql ]; then
        "${PSQL[@]}" -v attendance="$ATTENDANCE" -f bench/scale/seed_attendance.sql
        say "seeded $ATTENDANCE attendance visits in $(($(date +%s) - t1)) s"
    fi
fi
MERCH=$(login "$MERCH_EMAIL" "$MERCH_PASSWORD")
MERCH_ID=$(curl -sf "$URL/api/auth/me" -H "authorization: Bearer $MERCH" | jq -r .user.id)
STORE_ID=$("${PSQL[@]}" -Atc "SELECT id FROM stores.stores WHERE code LIKE 'B%' ORDER BY code LIMIT 1")
say "$("${PSQL[@]}" -Atc "SELECT format('rows: todos %s, attendance %s, stores %s, merchandisers %s, merchandiser under test is assigned %s todos', (SELECT count(*) FROM todos.todos), (SELECT count(*) FROM attendance.records), (SELECT count(*) FROM stores.stores), (SELECT count(*) FROM users.users WHERE role = 'merchandiser'), (SELECT count(*) FROM todos.todos WHERE assignee_id = '$MERCH_ID'))")"

# wrk output -> "rps p99_ms non2xx"
parse_wrk() {
    awk '
        /Requests\/sec:/ { rps = $2 }
        /Non-2xx or 3xx responses:/ { bad = $5 }
        $1 == "99%" {
            v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
            ms = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : (u == "m") ? v * 60000 : v
            p99 = ms
        }
        END { printf "%10.1f %10.2f %6d\n", rps, p99, bad + 0 }'
}

bench() { # name token path
    local name=$1 token=$2 path=$3 code
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $token" "$URL$path")
    [ "$code" = 200 ] || { say "$(printf '%-34s HTTP %s on a probe: skipped' "$name" "$code")"; return; }
    local res
    res=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency \
        -H "authorization: Bearer $token" "$URL$path" | parse_wrk)
    say "$(printf '%-34s %s' "$name" "$res")"
}

say ""
say "wrk -t1 -c$CONNS -d${DURATION}s per endpoint"
say "$(printf '%-34s %10s %10s %6s' endpoint 'req/s' 'p99 ms' non2xx)"
bench "todos list (admin)" "$ADMIN" "/api/todos"
bench "todos ?status=pending&sort=dueAt" "$ADMIN" "/api/todos?status=pending&sort=dueAt"
bench "todos ?storeId (admin)" "$ADMIN" "/api/todos?storeId=$STORE_ID"
bench "todos ?search=promo stand #4242" "$ADMIN" "/api/todos?search=promo%20stand%20%234242"
bench "todos list (merchandiser)" "$MERCH" "/api/todos"
bench "todos stats (admin)" "$ADMIN" "/api/todos/stats"
bench "todos stats (merchandiser)" "$MERCH" "/api/todos/stats"
bench "reports summary" "$ADMIN" "/api/reports/summary"
bench "reports todos ?storeId (json)" "$ADMIN" "/api/reports/todos?storeId=$STORE_ID"
bench "reports attendance (json)" "$ADMIN" "/api/reports/attendance"

say ""
say "CSV export of every todo (streamed in keyset batches of 1000):"
rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$DTM_PID/status")
stats=$(curl -s -o /tmp/dtm-scale-todos.csv -w '%{http_code} %{time_total} %{size_download}' \
    -H "authorization: Bearer $ADMIN" "$URL/api/reports/todos?format=csv")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$DTM_PID/status")
lines=$(wc -l </tmp/dtm-scale-todos.csv)
say "  HTTP/time s/bytes: $stats; $lines lines; dtm RSS before ${rss0} KiB, peak ${hwm} KiB"
rm -f /tmp/dtm-scale-todos.csv

say ""
say "EXPLAIN ANALYZE of the hot queries (generic plans, as prepared statements run):"
"${PSQL[@]}" -v merch="$MERCH_ID" -v store="$STORE_ID" -f bench/scale/explain.sql 2>&1 | tee -a "$OUT"
say ""
say "results: $OUT"
