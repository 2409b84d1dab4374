#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make bench`: every benchmark, one after the other, on the bench stack (var/bench).
#
#   scripts/bench.sh             bench/run.sh (foundation), then every bench/<name>/run.sh
#   scripts/bench.sh NAME...     only those (foundation = bench/run.sh)
#
# A benchmark gets BENCH_DATABASE_URL (a database of its own on the bench stack, dtm_<name>_bench,
# which it may drop and re-create) and BENCH_REDIS_URL (Redis db 11 there) unless they are set,
# and DTM_BIN (build/dtm). Not part of `make test`: runs take minutes and want a quiet machine.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export DTM_BIN=${DTM_BIN:-$ROOT/build/dtm}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    names=(foundation)
    for b in bench/*/run.sh; do
        [ -f "$b" ] && names+=("$(basename "$(dirname "$b")")")
    done
fi

scripts/deps.sh core bench
started=0
DTM_VAR_DIR=var/bench scripts/stack.sh status >/dev/null 2>&1 || started=1
DTM_VAR_DIR=var/bench DTM_STACK_FAST=1 scripts/stack.sh start 2>/dev/null
if [ "$started" = 1 ]; then trap 'DTM_VAR_DIR=var/bench scripts/stack.sh stop 2>/dev/null || true' EXIT; fi
db=$(sed -n 's/^DATABASE_URL=//p' var/bench/dtm.env)
rd=$(sed -n 's/^REDIS_URL=//p' var/bench/dtm.env)

rc=0
for n in "${names[@]}"; do
    echo "=== bench $n"
    if [ "$n" = foundation ]; then
        bench/run.sh || rc=1
    elif [ -f "bench/$n/run.sh" ]; then
        BENCH_DATABASE_URL=${BENCH_DATABASE_URL:-${db%/*}/dtm_${n}_bench} \
            BENCH_REDIS_URL=${BENCH_REDIS_URL:-${rd%/*}/11} bash "bench/$n/run.sh" || rc=1
    else
        echo "bench: no bench/$n/run.sh" >&2
        rc=1
    fi
done
exit $rc
