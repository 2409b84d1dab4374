# SPDX-License-Identifier: MIT
# The README's two commands: `make run` and `make test`. Everything else is a step of those.
#
#   make run          install missing packages, build, start the local stack, migrate, seed a
#                     demo organisation, serve on http://127.0.0.1:3000
#   make test         the same set-up (a separate test stack under var/test), then every suite
#   make build        optimised build with debug info in build/
#   make asan         AddressSanitizer + UBSan build in build-asan/
#   make web          the web client (only when web/package.json exists)
#   make bench        load benchmarks (wrk, nginx baseline); not part of make test
#                     (bench-foundation: bench/run.sh only; bench-NAME: bench/NAME/run.sh)
#   make clean        remove build/, build-asan/, web/dist, mobile/dist, test-output/
#   make distclean    clean, and stop and delete the local stacks (var/)
#
# Suites (each also runs alone; `make test` runs every one whose files exist):
#   test-scripts test-unit test-unit-asan test-api test-api-asan test-micro test-pgbouncer test-web test-mobile test-e2e
#   deploy-check test-monitoring test-backup test-fuzz
SHELL := /bin/bash
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= 2
TEST_VAR ?= var/test
BUILD_TYPE ?= RelWithDebInfo
CMAKE_ARGS ?=

export DTM_TEST_VAR := $(TEST_VAR)

.PHONY: all deps build asan web run test test-stack test-stack-stop stack-start stack-stop \
	stack-status test-scripts test-unit test-unit-asan test-api test-api-asan test-micro test-pgbouncer test-web test-mobile test-e2e \
	deploy-check test-monitoring test-backup test-fuzz bench clean distclean help

all: build

help:
	@sed -n '2,/^SHELL/p' Makefile | sed -n 's/^# \{0,1\}//p'

deps:
	@scripts/deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DDTM_SANITIZE=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

web:
	@scripts/web.sh build

run:
	@scripts/run.sh

test:
	@scripts/test.sh

# The local stack of `make run` (var/) and the one of `make test` (var/test).
stack-start:
	@scripts/stack.sh start
stack-stop:
	@scripts/stack.sh stop
stack-status:
	@scripts/stack.sh status
test-stack:
	@DTM_VAR_DIR=$(TEST_VAR) DTM_STACK_FAST=1 scripts/stack.sh start
test-stack-stop:
	@DTM_VAR_DIR=$(TEST_VAR) scripts/stack.sh stop

# Single suites; `make test` runs them after building everything once.
test-scripts:
	@scripts/test.sh scripts
test-unit: build test-stack
	@scripts/test.sh unit
test-unit-asan: asan test-stack
	@scripts/test.sh unit-asan
test-api: build test-stack
	@scripts/test.sh api
test-api-asan: asan test-stack
	@scripts/test.sh api-asan
test-micro: build test-stack
	@scripts/test.sh micro
test-pgbouncer: build test-stack
	@scripts/test.sh pgbouncer
test-web: web
	@scripts/test.sh web
test-mobile:
	@scripts/test.sh mobile
test-e2e: build web test-stack
	@scripts/test.sh e2e
deploy-check: build
	@scripts/test.sh deploy
test-monitoring: build test-stack
	@scripts/test.sh monitoring
test-backup: build test-stack
	@scripts/test.sh backup
test-fuzz:
	@scripts/test.sh fuzz

# bench/run.sh is the foundation benchmark (issue 2); every bench/<name>/run.sh is another one.
# `make bench` runs them all on the bench stack (var/bench); `make bench-NAME` runs one
# (bench-foundation, bench-scale, ...).
bench: build
	@scripts/bench.sh
bench-%: build
	@scripts/bench.sh $*

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) web/dist mobile/dist test-output

distclean: clean
	-@DTM_VAR_DIR=$(TEST_VAR) scripts/stack.sh destroy
	-@scripts/stack.sh destroy
	rm -rf var
