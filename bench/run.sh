#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Foundation benchmark (issue 2): wrk against dtm's GET /health and a cached GET /api/users/:id,
# with nginx `return 200` as the baseline in the same run, rounds interleaved (this machine drifts
# between a fast and a slow state within minutes). Servers are pinned to CPU 0, wrk to CPU 1.
# Then a login storm: wrk POSTing logins at 64 connections, with /health latency measured at the
# same time (hashing must never run on an event loop).
#
#   bench/run.sh            (make bench) ROUNDS=3 DURATION=10 CONNS=64 STORM_DURATION=15
#                           DTM_BIN=path/to/dtm BENCH_PORTS=43000-43999
#
# Reports per round and as medians: req/s, p99, ratio to nginx, server CPU µs per request
# (utime+stime deltas from /proc/<pid>/stat over the run), dtm RSS under load; for the storm:
# logins/s, login p99, /health p99 during the storm. Results also go to var/bench/results-*.txt.
# Targets (issue 2): /health >= 0.8x nginx, cached user >= 0.3x nginx, RSS < 64 MiB.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
STORM_DURATION=${STORM_DURATION:-15}
BIN=${DTM_BIN:-$ROOT/build/dtm}
VAR="$ROOT/var/bench"
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CLK_TCK=$(getconf CLK_TCK)
BENCH_PORTS=${BENCH_PORTS:-43000-43999} # dtm and nginx ports are picked in this range

for t in wrk nginx taskset; do
    command -v "$t" >/dev/null || {
        echo "bench: $t missing (scripts/deps.sh core bench)" >&2
        exit 1
    }
done
[ -x "$BIN" ] || {
    echo "bench: $BIN missing (make build)" >&2
    exit 1
}

mkdir -p "$VAR"
RESULTS="$VAR/results-$(date -u +%Y%m%dT%H%M%SZ).txt"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "${STARTED_STACK:-0}" = 1 ]; then DTM_VAR_DIR=var/bench scripts/stack.sh stop 2>/dev/null || true; fi
}
trap cleanup EXIT

say() { echo "$*" | tee -a "$RESULTS"; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Our range overlaps the kernel's ephemeral ports: a port is free only when no socket at all
# (listening or connected) has it as its local port.
free_port() {
    local p
    for p in $(shuf -i "$BENCH_PORTS" -n 200); do
        if [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] && ! port_in_use "$p"; then
            echo "$p"
            return
        fi
    done
    exit 1
}
wait_port() {
    local _
    for _ in $(seq 1 200); do
        port_in_use "$1" && return 0
        sleep 0.05
    done
    echo "bench: nothing listens on $1" >&2
    exit 1
}

# CPU ticks of a process and its children-threads (all threads are in /proc/<pid>/stat).
ticks() {
    local sum=0 p
    for p in "$@"; do
        read -r -a f <"/proc/$p/stat"
        sum=$((sum + f[13] + f[14]))
    done
    echo "$sum"
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# wrk output -> "rps p99_ms requests non2xx"
parse_wrk() {
    awk '
        /Requests\/sec:/ { rps = $2 }
        /requests in/    { req = $1 }
        /Non-2xx or 3xx responses:/ { bad = $5 }
        $1 == "99%" {
            v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
            ms = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : (u == "m") ? v * 60000 : v
            p99 = ms
        }
        END { printf "%s %.3f %s %s\n", rps, p99, req, bad + 0 }'
}

# ---------------------------------------------------------------------------------------------
# set-up: the bench stack (var/bench), a fresh database, dtm and nginx

say "dtm foundation benchmark, $(date -u +%FT%TZ), $(nproc) CPUs, $(uname -r), load average $(cut -d" " -f1-3 /proc/loadavg)"
say "wrk -t1 -c$CONNS -d${DURATION}s, $ROUNDS interleaved rounds; servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU"
# The bench stack (var/bench); stopped at the end only when this run started it.
DTM_VAR_DIR=var/bench scripts/stack.sh status >/dev/null 2>&1 || STARTED_STACK=1
DTM_VAR_DIR=var/bench DTM_STACK_FAST=1 scripts/stack.sh start 2>/dev/null
STACK_DB=$(sed -n 's/^DATABASE_URL=//p' "$VAR/dtm.env")
STACK_REDIS=$(sed -n 's/^REDIS_URL=//p' "$VAR/dtm.env")
psql "$STACK_DB" -XAtq -o /dev/null -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS dtm_bench WITH (FORCE)" -c "CREATE DATABASE dtm_bench"
DB_URL=${STACK_DB%/*}/dtm_bench
REDIS_DB_URL=${STACK_REDIS%/*}/7
redis-cli -u "$REDIS_DB_URL" flushdb >/dev/null

ADMIN_EMAIL=admin@example.com
JWT_SECRET=$(head -c 48 /dev/urandom | base64 -w0)
rm -f "$VAR/rss.max"
ADMIN_PASSWORD="Bench-$(head -c 9 /dev/urandom | base64 | tr '+/' '-_')"
DTM_PORT=$(free_port)
export DTM_ENV_FILE=/dev/null DATABASE_URL="$DB_URL" REDIS_URL="$REDIS_DB_URL" \
    DTM_JWT_SECRET="$JWT_SECRET" DTM_HOST=127.0.0.1 \
    DTM_PORT DTM_ADMIN_EMAIL="$ADMIN_EMAIL" DTM_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    DTM_DATA_DIR="$VAR/data" DTM_BACKUP_DIR="$VAR/backups" DTM_LOOPS=${DTM_LOOPS:-1} \
    DTM_ACCESS_TTL=3600 DTM_LOGIN_LIMIT_PER_IP=1000000 DTM_LOGIN_LIMIT_PER_EMAIL=1000000 \
    DTM_RATE_LIMIT_PER_IP=1000000000 DTM_RATE_LIMIT_PER_USER=1000000000
"$BIN" migrate >/dev/null
"$BIN" seed >/dev/null

for attempt in 1 2 3; do
    taskset -c "$SERVER_CPU" "$BIN" serve >"$VAR/dtm.log" 2>&1 &
    DTM_PID=$!
    for _ in $(seq 1 200); do
        port_in_use "$DTM_PORT" && break
        kill -0 "$DTM_PID" 2>/dev/null || break
        sleep 0.05
    done
    port_in_use "$DTM_PORT" && break
    tail -n 3 "$VAR/dtm.log" >&2
    [ "$attempt" = 3 ] && exit 1
    DTM_PORT=$(free_port)
done
PIDS+=("$DTM_PID")
DTM_URL="http://127.0.0.1:$DTM_PORT"

NGINX_PORT=$(free_port)
mkdir -p "$VAR/nginx/tmp"
cat >"$VAR/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $VAR/nginx/nginx.pid;
error_log $VAR/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $VAR/nginx/tmp;
    proxy_temp_path $VAR/nginx/tmp;
    fastcgi_temp_path $VAR/nginx/tmp;
    uwsgi_temp_path $VAR/nginx/tmp;
    scgi_temp_path $VAR/nginx/tmp;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / { return 200 "ok\n"; }
    }
}
EOF
taskset -c "$SERVER_CPU" nginx -p "$VAR/nginx" -c "$VAR/nginx/nginx.conf" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_port "$NGINX_PORT"
sleep 0.2
mapfile -t NGINX_PROCS < <(echo "$NGINX_PID"; pgrep -P "$NGINX_PID")

LOGIN_JSON=$(curl -sf "$DTM_URL/api/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}")
TOKEN=$(node -e 'const j=JSON.parse(process.argv[1]); console.log(j.accessToken)' "$LOGIN_JSON")
ADMIN_ID=$(node -e 'const j=JSON.parse(process.argv[1]); console.log(j.user.id)' "$LOGIN_JSON")
USER_PATH="/api/users/$ADMIN_ID"
# Warm the cache (and check that the read works at all).
curl -sf -H "Authorization: Bearer $TOKEN" "$DTM_URL$USER_PATH" >/dev/null
curl -sf "$DTM_URL/health" >/dev/null
if redis-cli -u "$REDIS_DB_URL" exists "user:$ADMIN_ID" | grep -q 1; then
    say "user:$ADMIN_ID is cached in Redis"
else
    say "WARNING: user:$ADMIN_ID is not in Redis after a read"
fi

# ---------------------------------------------------------------------------------------------
# rounds

declare -A RPS P99 CPU
RSS_MAX=0
bench_one() { # name url pids... ; appends to arrays
    local name=$1 url=$2
    shift 2
    local t0 t1 out rps p99 req bad cpu extra=() rss sampler
    [ "$name" = user ] && extra=(-H "Authorization: Bearer $TOKEN")
    t0=$(ticks "$@")
    if [ "$name" != nginx ]; then
        # RSS of dtm under load: sample while wrk runs.
        (
            m=0
            while kill -0 "$DTM_PID" 2>/dev/null; do
                r=$(rss_kb "$DTM_PID")
                [ "$r" -gt "$m" ] && m=$r && echo "$m" >"$VAR/rss.max"
                sleep 0.5
            done
        ) &
        sampler=$!
    fi
    out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "${extra[@]}" "$url")
    if [ -n "${sampler:-}" ]; then
        kill "$sampler" 2>/dev/null || true
        wait "$sampler" 2>/dev/null || true
    fi
    t1=$(ticks "$@")
    read -r rps p99 req bad <<<"$(parse_wrk <<<"$out")"
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$req" 'BEGIN { printf "%.1f", d / hz * 1e6 / n }')
    if [ "$name" != nginx ] && [ -s "$VAR/rss.max" ]; then
        rss=$(cat "$VAR/rss.max")
        [ "$rss" -gt "$RSS_MAX" ] && RSS_MAX=$rss
    fi
    RPS[$name]+="$rps "
    P99[$name]+="$p99 "
    CPU[$name]+="$cpu "
    local note=""
    [ "$bad" != 0 ] && note="  ($bad non-2xx answers!)"
    printf '  %-7s %10.0f req/s  p99 %7.2f ms  %6s µs CPU/req%s\n' "$name" "$rps" "$p99" "$cpu" "$note" | tee -a "$RESULTS"
    LAST_RPS=$rps
}

NAMES=(nginx health user)
for r in $(seq 1 "$ROUNDS"); do
    say "round $r"
    # Rotate the order so that no target always runs first after a pause.
    for i in 0 1 2; do
        n=${NAMES[$(((i + r - 1) % 3))]}
        case $n in
        nginx) bench_one nginx "http://127.0.0.1:$NGINX_PORT/" "${NGINX_PROCS[@]}" ;;
        health) bench_one health "$DTM_URL/health" "$DTM_PID" ;;
        user) bench_one user "$DTM_URL$USER_PATH" "$DTM_PID" ;;
        esac
        eval "R_${n}_$r=$LAST_RPS"
    done
    h=R_health_$r u=R_user_$r g=R_nginx_$r
    printf '  ratio   /health %.2fx nginx, cached user %.2fx nginx\n' \
        "$(awk -v a="${!h}" -v b="${!g}" 'BEGIN{print a/b}')" \
        "$(awk -v a="${!u}" -v b="${!g}" 'BEGIN{print a/b}')" | tee -a "$RESULTS"
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratios() { # name -> per-round ratio list
    local r out=""
    for r in $(seq 1 "$ROUNDS"); do
        local a="R_${1}_$r" b="R_nginx_$r"
        out+="$(awk -v a="${!a}" -v b="${!b}" 'BEGIN{printf "%.3f", a/b}') "
    done
    echo "$out"
}

say ""
say "medians over $ROUNDS rounds"
for n in nginx health user; do
    rps=$(median <<<"${RPS[$n]}")
    p99=$(median <<<"${P99[$n]}")
    cpu=$(median <<<"${CPU[$n]}")
    if [ "$n" = nginx ]; then
        ratio="1.00"
    else
        ratio=$(median <<<"$(ratios "$n")")
    fi
    printf '  %-7s %10.0f req/s  p99 %7.2f ms  ratio %5.2fx  %6s µs CPU/req\n' "$n" "$rps" "$p99" "$ratio" "$cpu" | tee -a "$RESULTS"
    [ "$n" = health ] && H_RATIO=$ratio
    [ "$n" = user ] && U_RATIO=$ratio
done
say "  dtm RSS under load: max $((RSS_MAX / 1024)) MiB sampled (VmHWM $(($(hwm_kb "$DTM_PID") / 1024)) MiB)"
say "  targets: /health >= 0.80x ($H_RATIO), cached user >= 0.30x ($U_RATIO), RSS < 64 MiB ($((RSS_MAX / 1024)))"

# ---------------------------------------------------------------------------------------------
# login storm: 64 connections of logins on CPU 1, /health latency probed alongside

say ""
say "login storm: wrk -t1 -c64 -d${STORM_DURATION}s POST /api/auth/login, /health probed at -c4 meanwhile"
base=$(taskset -c "$CLIENT_CPU" wrk -t1 -c4 -d5s --latency "$DTM_URL/health" | parse_wrk)
read -r _ base_p99 _ _ <<<"$base"
t0=$(ticks "$DTM_PID")
BENCH_EMAIL=$ADMIN_EMAIL BENCH_PASSWORD=$ADMIN_PASSWORD taskset -c "$CLIENT_CPU" \
    wrk -t1 -c64 -d"${STORM_DURATION}s" --timeout 60s --latency -s bench/login.lua "$DTM_URL/api/auth/login" \
    >"$VAR/storm.out" &
STORM=$!
sleep 2
probe=$(taskset -c "$CLIENT_CPU" wrk -t1 -c4 -d"$((STORM_DURATION - 4))s" --timeout 10s --latency "$DTM_URL/health" | parse_wrk)
wait "$STORM"
t1=$(ticks "$DTM_PID")
read -r lps lp99 lreq lbad <<<"$(parse_wrk <"$VAR/storm.out")"
read -r _ hp99 _ _ <<<"$probe"
say "  logins: $(printf '%.1f' "$lps")/s (p99 $(printf '%.0f' "$lp99") ms, $lreq requests, $lbad non-2xx; $(grep statuses "$VAR/storm.out"))"
say "  CPU per login: $(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$lreq" 'BEGIN { printf "%.1f ms", d / hz * 1e3 / n }')"
say "  /health p99: $(printf '%.2f' "$hp99") ms during the storm, $(printf '%.2f' "$base_p99") ms before it"
say "  dtm VmHWM after the storm: $(($(hwm_kb "$DTM_PID") / 1024)) MiB"
say ""
say "results: $RESULTS"
