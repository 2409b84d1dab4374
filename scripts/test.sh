#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make test`: set everything up once, run every suite whose files exist, summarise.
#
#   scripts/test.sh            deps, build + sanitizer build, web, test stack, then all suites
#   scripts/test.sh SUITE...   only those suites (the Makefile's test-* targets build first)
#
# Suites, in order (a suite whose files do not exist is reported as skipped):
#   scripts     tests/scripts/*.test.js (the local stack script) and shellcheck of the scripts
#   unit        ctest -L unit on build/
#   unit-asan   ctest -L unit on build-asan/ (ASan + UBSan + LeakSanitizer)
#   api         node --test tests/api/*.test.js against build/dtm
#   api-asan    the same against build-asan/dtm; a sanitizer report or leak fails the run
#   micro       the API suite against the microservices topology (when src/gateway/ exists)
#   faults      tests/faults/*.test.js: the fault matrix (both topologies, its own PostgreSQL and
#               Redis; one file at a time), table in test-output/faults.md
#   pgbouncer   the API suite through a real PgBouncer in transaction mode (tests/pgbouncer/run.sh)
#   web         web client lint, type-check and unit tests (npm scripts lint, typecheck, test)
#               and the OpenAPI document's lint (lint:api: Redocly CLI, web/redocly.yaml)
#   mobile      mobile app (Expo) lint, type-check and Jest tests (scripts/web.sh --dir mobile)
#   e2e         browser tests: tests/e2e/run.sh, else web's `e2e` npm script, else
#               node --test tests/e2e/*.test.{js,mjs}
#   deploy      scripts/deploy-check.sh (or deploy/check.sh): the deployment file checks,
#               `make deploy-check`
#   monitoring  tests/monitoring/run.sh, else node --test tests/monitoring/*.test.{js,mjs}
#   backup      tests/backup/run.sh, else node --test tests/backup/*.test.{js,mjs} (restore drill)
#   fuzz        tests/fuzz/run.sh (short fuzzing runs)
#
# Plugging in a suite: create its run.sh (or *.test.js files); it runs from the repository root
# with DTM_BIN (build/dtm), DTM_ASAN_BIN (build-asan/dtm), DTM_TEST_ENV_FILE (the test stack's
# settings, also read by tests/api/lib/harness.js) and DTM_TEST_OUTPUT (a directory for
# artefacts such as screenshots) set, and fails by exiting non-zero.
#
# Output of each suite is also written to test-output/logs/<suite>.log. The last line sums the
# tests counted from the runners' own summaries.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
TEST_VAR=${DTM_TEST_VAR:-var/test}
BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
OUT="$ROOT/test-output"
LOGS="$OUT/logs"
SUITE_TIMEOUT=${DTM_SUITE_TIMEOUT:-1500}

export DTM_BIN="$ROOT/$BUILD/dtm"
export DTM_ASAN_BIN="$ROOT/$ASAN_BUILD/dtm"
export DTM_TEST_OUTPUT="$OUT"
if [ -z "${DTM_TEST_ENV_FILE:-}" ]; then
    export DTM_TEST_ENV_FILE="$ROOT/$TEST_VAR/dtm.env"
fi
# Sanitizers: any report aborts the process (the harness and ctest then see the failure).
SAN_ENV=(
    "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:strict_init_order=1"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
)
if [ -f "$ROOT/tests/lsan.supp" ]; then
    SAN_ENV+=("LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp:print_suppressions=0")
fi
NODE_TEST=(node --test --test-reporter=spec --test-timeout=600000)

ALL_SUITES=(scripts unit unit-asan api api-asan micro faults pgbouncer web mobile e2e deploy monitoring backup fuzz)

shopt -s nullglob

# ---------------------------------------------------------------------------------------------
# presence checks and suite bodies; a body returns 0 pass, non-zero fail

node_tests_in() { # dir -> prints test files
    local f
    for f in "$1"/*.test.js "$1"/*.test.mjs; do echo "$f"; done
}

api_files() { node_tests_in tests/api; }

unit_present() { [ -n "$(find tests/unit -name '*_test.c' 2>/dev/null | head -n1)" ]; }

with_test_env() { # run a command with the test stack's settings exported (real env wins)
    (
        if [ -f "$DTM_TEST_ENV_FILE" ]; then
            while IFS='=' read -r k v; do
                case "$k" in '' | \#*) continue ;; esac
                [ -z "${!k:-}" ] && export "$k=$v"
            done <"$DTM_TEST_ENV_FILE"
        fi
        "$@"
    )
}

present() {
    case "$1" in
    scripts) [ -n "$(node_tests_in tests/scripts)" ] ;;
    unit | unit-asan) unit_present ;;
    api | api-asan) [ -n "$(api_files)" ] ;;
    micro) [ -n "$(api_files)" ] && [ -n "$(find src/gateway -name '*.c' 2>/dev/null | head -n1)" ] ;;
    faults) [ -n "$(node_tests_in tests/faults)" ] && [ -n "$(find src/gateway -name '*.c' 2>/dev/null | head -n1)" ] ;;
    pgbouncer) [ -f tests/pgbouncer/run.sh ] && [ -n "$(api_files)" ] ;;
    web) [ -f web/package.json ] ;;
    mobile) [ -f mobile/package.json ] ;;
    e2e) [ -f tests/e2e/run.sh ] || [ -n "$(node_tests_in tests/e2e)" ] ;;
    deploy) [ -f scripts/deploy-check.sh ] || [ -f deploy/check.sh ] ;;
    monitoring) [ -f tests/monitoring/run.sh ] || [ -n "$(node_tests_in tests/monitoring)" ] ;;
    backup) [ -f tests/backup/run.sh ] || [ -n "$(node_tests_in tests/backup)" ] ;;
    fuzz) [ -f tests/fuzz/run.sh ] ;;
    *)
        echo "unknown suite $1" >&2
        return 2
        ;;
    esac
}

run_dir_suite() { # dir
    if [ -f "$1/run.sh" ]; then
        bash "$1/run.sh"
    else
        mapfile -t files < <(node_tests_in "$1")
        with_test_env "${NODE_TEST[@]}" "${files[@]}"
    fi
}

tests_npm() { # the API tests' npm packages (tests/package.json: SMTP server, the contract check's ajv)
    [ -f tests/package.json ] || return 0
    if [ ! -f tests/node_modules/.package-lock.json ] ||
        [ tests/package-lock.json -nt tests/node_modules/.package-lock.json ]; then
        (cd tests && npm ci --no-audit --no-fund --loglevel=error) || return 1
    fi
}

suite() {
    local files
    case "$1" in
    api | api-asan | micro | pgbouncer | e2e) tests_npm || return 1 ;;
    esac
    case "$1" in
    scripts)
        # Ours only: other owners check their own scripts (deploy/check.sh).
        shellcheck scripts/deps.sh scripts/stack.sh scripts/run.sh scripts/test.sh scripts/web.sh scripts/bench.sh \
            bench/run.sh .ci/run && echo "shellcheck: 8 passed, 0 failed" &&
            "${NODE_TEST[@]}" tests/scripts/*.test.js
        ;;
    unit)
        with_test_env ctest --test-dir "$BUILD" -L unit --output-on-failure -j2 --timeout 300
        ;;
    unit-asan)
        with_test_env env "${SAN_ENV[@]}" ctest --test-dir "$ASAN_BUILD" -L unit --output-on-failure -j2 --timeout 600
        ;;
    api)
        mapfile -t files < <(api_files)
        DTM_BIN="$ROOT/$BUILD/dtm" "${NODE_TEST[@]}" "${files[@]}"
        ;;
    api-asan)
        mapfile -t files < <(api_files)
        env "${SAN_ENV[@]}" DTM_BIN="$ROOT/$ASAN_BUILD/dtm" DTM_TEST_START_TIMEOUT_MS=90000 \
            "${NODE_TEST[@]}" "${files[@]}"
        ;;
    micro)
        mapfile -t files < <(api_files)
        DTM_TEST_TOPOLOGY=micro "${NODE_TEST[@]}" "${files[@]}"
        ;;
    faults)
        # Outages of 20 s dominate; the files stop servers, so never two at once.
        mapfile -t files < <(node_tests_in tests/faults)
        DTM_BIN="$ROOT/$BUILD/dtm" "${NODE_TEST[@]}" --test-concurrency=1 "${files[@]}"
        ;;
    pgbouncer) with_test_env bash tests/pgbouncer/run.sh ;;
    web)
        scripts/web.sh run lint lint:api typecheck test
        ;;
    mobile)
        scripts/web.sh --dir mobile run lint typecheck test
        ;;
    e2e)
        if [ -f tests/e2e/run.sh ]; then
            bash tests/e2e/run.sh
        elif [ -f web/package.json ] && grep -q '"e2e"' web/package.json; then
            scripts/web.sh install && (cd web && with_test_env npm run --silent e2e)
        else
            run_dir_suite tests/e2e
        fi
        ;;
    deploy)
        if [ -f scripts/deploy-check.sh ]; then bash scripts/deploy-check.sh; else bash deploy/check.sh; fi
        ;;
    monitoring) run_dir_suite tests/monitoring ;;
    backup) run_dir_suite tests/backup ;;
    fuzz) bash tests/fuzz/run.sh ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# counting: read the runners' own summaries from a suite's log

count_log() { # log -> "passed failed skipped" (empty when nothing recognised)
    sed 's/\x1b\[[0-9;]*m//g' "$1" | awk '
        /^(ℹ|#) pass [0-9]+$/      { p += $3; seen = 1 }
        /^(ℹ|#) fail [0-9]+$/      { f += $3; seen = 1 }
        /^(ℹ|#) cancelled [0-9]+$/ { f += $3 }
        /^(ℹ|#) skipped [0-9]+$/   { s += $3 }
        /^(ℹ|#) todo [0-9]+$/      { s += $3 }
        /tests passed, [0-9]+ tests? failed out of [0-9]+/ {
            for (i = 1; i <= NF; i++) { if ($i == "out") tot = $(i + 2); if ($(i+1) ~ /^tests?$/ && $(i+2) == "failed") fl = $i }
            p += tot - fl; f += fl; seen = 1
        }
        /^Tests: +[0-9]+ / { # Jest: "Tests:       1 failed, 2 skipped, 6 passed, 9 total"
            for (i = 2; i < NF; i += 2) { w = $(i + 1); sub(/,$/, "", w)
                if (w == "passed") p += $i; else if (w == "failed") f += $i; else if (w == "skipped" || w == "todo") s += $i }
            seen = 1
        }
        /^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed/ && !/^total:/ {
            line = $0; sub(/^[A-Za-z]+: /, "", line); split(line, a, /[ ,]+/)
            p += a[1]; f += a[3]; if (a[6] == "skipped") s += a[5]; seen = 1
        }
        END { if (seen) print p + 0, f + 0, s + 0 }'
}

# ---------------------------------------------------------------------------------------------

run_suites() {
    local s rc t0 dt counts p f sk
    local total_p=0 total_f=0 total_s=0 failed=0
    local summary=()
    mkdir -p "$LOGS"
    for s in "$@"; do
        if ! present "$s"; then
            summary+=("$(printf '%-11s skipped (no files)' "$s")")
            continue
        fi
        echo
        echo "=== suite $s ==="
        t0=$(date +%s)
        timeout --kill-after=30 "$SUITE_TIMEOUT" "$0" --suite-body "$s" </dev/null 2>&1 | tee "$LOGS/$s.log"
        rc=${PIPESTATUS[0]}
        dt=$(($(date +%s) - t0))
        counts=$(count_log "$LOGS/$s.log")
        if [ -n "$counts" ]; then
            read -r p f sk <<<"$counts"
            total_p=$((total_p + p))
            total_f=$((total_f + f))
            total_s=$((total_s + sk))
            counts="$p passed, $f failed, $sk skipped"
        fi
        # A suite that exits non-zero has failed whatever it counted (and vice versa).
        if [ "$rc" = 0 ] && [ -n "$counts" ] && [ "$f" != 0 ]; then rc=1; fi
        if [ "$rc" = 0 ]; then
            summary+=("$(printf '%-11s ok     %4ss  %s' "$s" "$dt" "$counts")")
        else
            [ "$rc" = 124 ] && counts="timed out after ${SUITE_TIMEOUT}s; $counts"
            summary+=("$(printf '%-11s FAILED %4ss  %s (exit %s, log %s)' "$s" "$dt" "$counts" "$rc" "test-output/logs/$s.log")")
            failed=$((failed + 1))
            [ -z "$counts" ] && total_f=$((total_f + 1))
        fi
    done
    echo
    echo "=== summary ==="
    printf '%s\n' "${summary[@]}"
    echo "total: $total_p passed, $total_f failed, $total_s skipped"
    [ "$failed" = 0 ]
}

step() {
    echo "--- $*" >&2
    "$@" || {
        echo "test: '$*' failed; no suite was run" >&2
        exit 1
    }
}

if [ "${1:-}" = --suite-body ]; then
    suite "$2"
    exit $?
fi
if [ $# -gt 0 ]; then
    run_suites "$@"
    exit $?
fi

T0=$(date +%s)
groups=(core)
present e2e && groups+=(e2e)
{ present monitoring || [ -d deploy/monitoring ]; } && groups+=(monitoring)
present deploy && groups+=(deploy)
step scripts/deps.sh "${groups[@]}"
step make -s build
step make -s asan
step scripts/web.sh build
step make -s test-stack
step tests_npm
run_suites "${ALL_SUITES[@]}"
rc=$?
echo "make test: $(($(date +%s) - T0)) s"
exit $rc
