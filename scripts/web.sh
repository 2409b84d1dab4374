#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The web client (or, with --dir mobile, the mobile app): install its npm dependencies when they
# changed, then run an npm script.
#
#   scripts/web.sh [--dir DIR] ...  DIR is web (default) or mobile, relative to the repository
#   scripts/web.sh install         npm ci (or npm install without a lock file), skipped when
#                                  node_modules is newer than package-lock.json
#   scripts/web.sh build           install, then `npm run build` (web/dist, served by the gateway)
#   scripts/web.sh run SCRIPT...   install, then each `npm run SCRIPT` that package.json defines
#
# Does nothing when DIR/package.json does not exist.
set -euo pipefail
APP=web
if [ "${1:-}" = --dir ]; then
    APP=$2
    shift 2
fi
cd "$(dirname "${BASH_SOURCE[0]}")/../$APP" 2>/dev/null || {
    echo "$APP: no $APP/ directory, skipped"
    exit 0
}
if [ ! -f package.json ]; then
    echo "$APP: no $APP/package.json, skipped"
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
            echo "$APP: npm run $s"
            npm run --silent "$s"
        else
            echo "$APP: no '$s' script, skipped"
        fi
    done
    ;;
*)
    echo "usage: $0 install|build|run SCRIPT..." >&2
    exit 2
    ;;
esac
