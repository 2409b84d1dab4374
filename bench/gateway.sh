#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Gateway benchmark (issue 3): the dtm gateway (`dtm serve --target gateway`, DTM_LOOPS=1) and
# nginx as a reverse proxy (1 worker, upstream keep-alive, JSON access log with the request id,
# X-Request-Id and X-Forwarded-For passed upstream) in front of the same dtm users service
# (`dtm serve --target users`), both proxying a cached GET /api/users/:id; nginx `return 200` as
# the baseline. Rounds interleaved (this machine drifts between a fast and a slow state within
# minutes), order rotated per round. Proxies on CPU 0; the users service and wrk on CPU 1.
#
#   bench/gateway.sh    ROUNDS=3 DURATION=10 CONNS=64 DTM_BIN=path/to/dtm BENCH_PORTS=43000-43999
#                       BENCH_DATABASE_URL=... BENCH_REDIS_URL=... (a PostgreSQL server URL whose
#                       user may create databases, and a Redis URL whose db this run flushes;
#                       default: the bench stack, scripts/stack.sh under var/bench)
#
# Reports per round and as medians: req/s, p99, ratio to nginx proxy, CPU µs per request of the
# proxy process (utime+stime deltas from /proc/<pid>/stat, nginx master+worker summed).
# Targets (issue 3): gateway >= 1.0x nginx proxy's req/s, p99 <= 1.2x nginx proxy's.
# The proxied read costs the users service more CPU than either proxy, and that service shares
# CPU 1 with wrk: req/s of both proxies is bounded by it, so CPU per request is the figure that
# compares the proxies themselves.
# Results also go to var/bench/gateway-*.txt; the nginx config to var/bench/nginx-gw/.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
BIN=${DTM_BIN:-$ROOT/build/dtm}
VAR="$ROOT/var/bench"
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CLK_TCK=$(getconf CLK_TCK)
BENCH_PORTS=${BENCH_PORTS:-43000-43999}

for t in wrk nginx taskset curl node psql redis-cli; do
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
RESULTS="$VAR/gateway-$(date -u +%Y%m%dT%H%M%SZ).txt"
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
TAKEN=" "
free_port() {
    local p
    for p in $(shuf -i "$BENCH_PORTS" -n 200); do
        case $TAKEN in *" $p "*) continue ;; esac
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

# CPU ticks of processes (all their threads are in /proc/<pid>/stat).
ticks() {
    local sum=0 p
    for p in "$@"; do
        read -r -a f <"/proc/$p/stat"
        sum=$((sum + f[13] + f[14]))
    done
    echo "$sum"
}

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

# dtm process on a CPU, retried on another port when the port was taken meanwhile.
# start_dtm VAR_PORT VAR_PID cpu log args...
start_dtm() {
    local pv=$1 iv=$2 cpu=$3 log=$4 port pid attempt
    shift 4
    port=$(free_port)
    for attempt in 1 2 3; do
        DTM_PORT=$port taskset -c "$cpu" "$BIN" "$@" >"$log" 2>&1 &
        pid=$!
        for _ in $(seq 1 200); do
            port_in_use "$port" && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        port_in_use "$port" && break
        tail -n 3 "$log" >&2
        [ "$attempt" = 3 ] && exit 1
        port=$(free_port)
    done
    TAKEN+="$port "
    PIDS+=("$pid")
    printf -v "$pv" '%s' "$port"
    printf -v "$iv" '%s' "$pid"
}

# ---------------------------------------------------------------------------------------------
# set-up: a fresh database, the users service, the gateway, nginx

say "dtm gateway benchmark, $(date -u +%FT%TZ), $(nproc) CPUs, $(uname -r), load average $(cut -d" " -f1-3 /proc/loadavg)"
say "wrk -t1 -c$CONNS -d${DURATION}s, $ROUNDS interleaved rounds; proxies on CPU $SERVER_CPU, users service + wrk on CPU $CLIENT_CPU"
if [ -n "${BENCH_DATABASE_URL:-}" ] && [ -n "${BENCH_REDIS_URL:-}" ]; then
    STACK_DB=$BENCH_DATABASE_URL
    REDIS_DB_URL=$BENCH_REDIS_URL
else
    DTM_VAR_DIR=var/bench scripts/stack.sh status >/dev/null 2>&1 || STARTED_STACK=1
    DTM_VAR_DIR=var/bench DTM_STACK_FAST=1 scripts/stack.sh start 2>/dev/null
    STACK_DB=$(sed -n 's/^DATABASE_URL=//p' "$VAR/dtm.env")
    STACK_REDIS=$(sed -n 's/^REDIS_URL=//p' "$VAR/dtm.env")
    REDIS_DB_URL=${STACK_REDIS%/*}/8
fi
psql "$STACK_DB" -XAtq -o /dev/null -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS dtm_bench_gw WITH (FORCE)" -c "CREATE DATABASE dtm_bench_gw"
DB_URL=${STACK_DB%/*}/dtm_bench_gw
redis-cli -u "$REDIS_DB_URL" flushdb >/dev/null

ADMIN_EMAIL=admin@example.com
ADMIN_PASSWORD="Bench-$(head -c 9 /dev/urandom | base64 | tr '+/' '-_')"
export DTM_ENV_FILE=/dev/null DATABASE_URL="$DB_URL" REDIS_URL="$REDIS_DB_URL" \
    DTM_JWT_SECRET="$(head -c 48 /dev/urandom | base64 -w0)" DTM_HOST=127.0.0.1 \
    DTM_ADMIN_EMAIL="$ADMIN_EMAIL" DTM_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    DTM_DATA_DIR="$VAR/data" DTM_BACKUP_DIR="$VAR/backups" DTM_LOOPS=1 \
    DTM_ACCESS_TTL=3600 DTM_LOGIN_LIMIT_PER_IP=1000000 DTM_LOGIN_LIMIT_PER_EMAIL=1000000 \
    DTM_RATE_LIMIT_PER_IP=1000000000 DTM_RATE_LIMIT_PER_USER=1000000000
"$BIN" migrate >/dev/null
"$BIN" seed >/dev/null

# The service: every target but the gateway's own (auth for the login, users for the read).
start_dtm USERS_PORT USERS_PID "$CLIENT_CPU" "$VAR/gw-users.log" serve --target auth,users
USERS_URL="http://127.0.0.1:$USERS_PORT"
export DTM_UPSTREAM_AUTH=$USERS_URL DTM_UPSTREAM_USERS=$USERS_URL
start_dtm GW_PORT GW_PID "$SERVER_CPU" "$VAR/gw-gateway.log" serve --target gateway
GW_URL="http://127.0.0.1:$GW_PORT"

NGINX_PORT=$(free_port)
TAKEN+="$NGINX_PORT "
NGINX_RET_PORT=$(free_port)
NG="$VAR/nginx-gw"
mkdir -p "$NG/tmp"
: >"$NG/access.log" # the line count at the end is this run's
cat >"$NG/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events { worker_connections 4096; }
http {
    # the platform's log line: one JSON object per proxied request, with the request id
    log_format dtm_json escape=json '{"timestamp":"\$time_iso8601","level":"info",'
        '"message":"\$request_method \$uri -> http://\$upstream_addr","ip":"\$remote_addr",'
        '"userAgent":"\$http_user_agent","requestId":"\$request_id","service":"nginx",'
        '"status":\$status,"durationMs":\$request_time}';
    access_log $NG/access.log dtm_json;
    client_body_temp_path $NG/tmp;
    proxy_temp_path $NG/tmp;
    fastcgi_temp_path $NG/tmp;
    uwsgi_temp_path $NG/tmp;
    scgi_temp_path $NG/tmp;
    keepalive_requests 1000000;
    upstream dtm_users {
        server 127.0.0.1:$USERS_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location /api/ {
            proxy_pass http://dtm_users;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Request-Id \$request_id;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            add_header X-Request-Id \$request_id;
        }
    }
    server {
        listen 127.0.0.1:$NGINX_RET_PORT;
        access_log off;
        location / { return 200 "ok\n"; }
    }
}
EOF
taskset -c "$SERVER_CPU" nginx -p "$NG" -c "$NG/nginx.conf" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_port "$NGINX_PORT"
sleep 0.2
mapfile -t NGINX_PROCS < <(echo "$NGINX_PID"; pgrep -P "$NGINX_PID")

LOGIN_JSON=$(curl -sf "$GW_URL/api/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}")
TOKEN=$(node -e 'const j=JSON.parse(process.argv[1]); console.log(j.accessToken)' "$LOGIN_JSON")
ADMIN_ID=$(node -e 'const j=JSON.parse(process.argv[1]); console.log(j.user.id)' "$LOGIN_JSON")
USER_PATH="/api/users/$ADMIN_ID"
# Both proxies answer (and the cache is warm) before anything is measured.
for u in "$GW_URL" "http://127.0.0.1:$NGINX_PORT"; do
    curl -sf -H "Authorization: Bearer $TOKEN" "$u$USER_PATH" >/dev/null || {
        echo "bench: $u$USER_PATH does not answer 200" >&2
        tail -n 5 "$VAR/gw-gateway.log" "$VAR/gw-users.log" "$NG/error.log" >&2
        exit 1
    }
done
say "users service $USERS_URL (pid $USERS_PID), gateway $GW_URL (pid $GW_PID), nginx proxy :$NGINX_PORT, return 200 :$NGINX_RET_PORT"

# ---------------------------------------------------------------------------------------------
# rounds

declare -A RPS P99 CPU
bench_one() { # name url pids...
    local name=$1 url=$2
    shift 2
    local t0 t1 out rps p99 req bad cpu
    t0=$(ticks "$@")
    out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency \
        -H "Authorization: Bearer $TOKEN" "$url")
    t1=$(ticks "$@")
    read -r rps p99 req bad <<<"$(parse_wrk <<<"$out")"
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$req" 'BEGIN { printf "%.1f", d / hz * 1e6 / n }')
    RPS[$name]+="$rps "
    P99[$name]+="$p99 "
    CPU[$name]+="$cpu "
    local note=""
    [ "$bad" != 0 ] && note="  ($bad non-2xx answers!)"
    printf '  %-8s %10.0f req/s  p99 %7.2f ms  %6s µs CPU/req%s\n' "$name" "$rps" "$p99" "$cpu" "$note" | tee -a "$RESULTS"
    LAST_RPS=$rps
}

NAMES=(return proxy gateway)
for r in $(seq 1 "$ROUNDS"); do
    say "round $r"
    for i in 0 1 2; do
        n=${NAMES[$(((i + r - 1) % 3))]}
        case $n in
        return) bench_one return "http://127.0.0.1:$NGINX_RET_PORT/" "${NGINX_PROCS[@]}" ;;
        proxy) bench_one proxy "http://127.0.0.1:$NGINX_PORT$USER_PATH" "${NGINX_PROCS[@]}" ;;
        gateway) bench_one gateway "$GW_URL$USER_PATH" "$GW_PID" ;;
        esac
        eval "R_${n}_$r=$LAST_RPS"
    done
    g=R_gateway_$r p=R_proxy_$r n=R_return_$r
    printf '  ratio    gateway %.2fx nginx proxy; nginx proxy %.2fx return 200\n' \
        "$(awk -v a="${!g}" -v b="${!p}" 'BEGIN{print a/b}')" \
        "$(awk -v a="${!p}" -v b="${!n}" 'BEGIN{print a/b}')" | tee -a "$RESULTS"
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratios() { # name -> per-round ratios to nginx proxy
    local r out=""
    for r in $(seq 1 "$ROUNDS"); do
        local a="R_${1}_$r" b="R_proxy_$r"
        out+="$(awk -v a="${!a}" -v b="${!b}" 'BEGIN{printf "%.3f", a/b}') "
    done
    echo "$out"
}

say ""
say "medians over $ROUNDS rounds (ratio: req/s to nginx proxy, per round)"
for n in return proxy gateway; do
    rps=$(median <<<"${RPS[$n]}")
    p99=$(median <<<"${P99[$n]}")
    cpu=$(median <<<"${CPU[$n]}")
    ratio=$(median <<<"$(ratios "$n")")
    printf '  %-8s %10.0f req/s  p99 %7.2f ms  ratio %5.2fx  %6s µs CPU/req\n' "$n" "$rps" "$p99" "$ratio" "$cpu" | tee -a "$RESULTS"
    eval "M_RPS_$n=$rps M_P99_$n=$p99 M_RATIO_$n=$ratio"
done
say "  targets: gateway >= 1.00x nginx proxy ($M_RATIO_gateway), p99 <= 1.2x nginx proxy's ($(awk -v a="$M_P99_gateway" -v b="$M_P99_proxy" 'BEGIN{printf "%.2f", a/b}')x)"
say "  log lines: gateway $(grep -c '"status":' "$VAR/gw-gateway.log" || true), nginx $(wc -l <"$NG/access.log")"
say ""
say "results: $RESULTS"
