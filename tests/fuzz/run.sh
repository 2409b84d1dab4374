#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Short libFuzzer runs of every harness in tests/fuzz (make test-fuzz, part of make test).
# Each harness is linked against the whole dtmcore library built with clang and
# ASan + UBSan + fuzzer instrumentation (CMake option DTM_FUZZ), so the harnesses never drift
# from the sources they test. Seeds come from tests/fuzz/corpus/<name>; new inputs found during
# the run go to a scratch directory, never into the repository.
#
#   DTM_FUZZ_SECONDS   time per harness (default 20)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
SECONDS_EACH=${DTM_FUZZ_SECONDS:-20}
BUILD=${FUZZ_BUILD:-build-fuzz}
command -v clang >/dev/null || { echo "fuzz: clang missing (scripts/deps.sh)" >&2; exit 1; }
cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDTM_FUZZ=ON -DDTM_WERROR=OFF >/dev/null
cmake --build "$BUILD" -j2 --target $(cd tests/fuzz && ls *_fuzz.c | sed 's/\.c$//') >/dev/null
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
pass=0 fail=0
for src in tests/fuzz/*_fuzz.c; do
    name=$(basename "$src" .c)
    short=${name%_fuzz}
    case "$short" in http_parse) seeds=http ;; *) seeds=$short ;; esac
    mkdir -p "$scratch/$name"
    args=(-max_total_time="$SECONDS_EACH" -max_len=8192 -print_final_stats=1 "$scratch/$name")
    [ -d "tests/fuzz/corpus/$seeds" ] && args+=("$ROOT/tests/fuzz/corpus/$seeds")
    dict=$ROOT/tests/fuzz/$seeds.dict
    [ -f "$dict" ] && args=(-dict="$dict" "${args[@]}")
    echo "fuzz: $name for ${SECONDS_EACH}s"
    if (cd "$scratch" && "$ROOT/$BUILD/$name" "${args[@]}") >"$scratch/$name.log" 2>&1; then
        grep -E "stat::number_of_executed_units" "$scratch/$name.log" | sed "s/^/fuzz: $name /" || true
        pass=$((pass + 1))
    else
        tail -60 "$scratch/$name.log"
        echo "fuzz: $name FAILED (crash input in its log above)"
        fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
