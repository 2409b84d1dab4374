#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Entry point used by scripts/test.sh (suite "deploy"): the checks live in scripts/deploy-check.sh.
exec "$(dirname "${BASH_SOURCE[0]}")/../scripts/deploy-check.sh" "$@"
