#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The web client: install its npm dependencies when they changed, then run an npm script.
#
#   scripts/web.sh install         npm ci (or npm install without a lock file), skipped when
#                                  node_modules is newer than package-lock.json
#   scripts/web.sh build           install, then `npm run build` (web/dist, served by the gateway)
#   scripts/web.sh run SCRIPT...   install, then each `npm run SCRIPT` that package.json defines
#
# Does nothing when web/package.json does not exist.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../web" 2>/dev/null || {
    echo "web: no web/ directory, skipped"
    exit 0
}
if [ ! -f package.json ]; then
    echo "web: no web/package.json, skipped"
    exit 0
fi

install() {
    if [ -f package-lock.json ]; then
        if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] ||
            [ package.json -nt node_modules/.package-lock.json ]; then
            npm ci --no-audit --no-fund --loglevel=error
        fi
    elif [ ! -d node_modules ] || [ package.json -nt node_modules ]; then
        npm install --no-audit --no-fund --loglevel=error
    fi
}

has_script() { node -e 'process.exit(require("./package.json").scripts?.[process.argv[1]] ? 0 : 1)' "$1"; }

case "${1:-build}" in
install)
    install
    ;;
build)
    install
    npm run --silent build
    ;;
run)
    shift
    install
    for s in "$@"; do
        if has_script "$s"; then
            echo "web: npm run $s"
            npm run --silent "$s"
        else
            echo "web: no '$s' script, skipped"
        fi
    done
    ;;
*)
    echo "usage: $0 install|build|run SCRIPT..." >&2
    exit 2
    ;;
esac
