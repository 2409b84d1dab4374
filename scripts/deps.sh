#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian packages dtm needs, only those that are missing.
#
#   scripts/deps.sh [GROUP...]      default group: core
#
# Groups: core (build, run, unit + API tests), bench, e2e, monitoring, deploy, all.
# Fast when everything is present: one dpkg-query, no apt-get at all. When something is
# missing, `apt-get update` runs once, then one `apt-get install` for all of it (sudo when not
# root). DTM_SKIP_DEPS=1 skips the whole thing (e.g. on a machine you manage yourself).
set -euo pipefail

# One package per line: "<group> <package>". Adding a package is adding a line.
PACKAGES='
core build-essential
core cmake
core pkg-config
core libuv1-dev
core node-llhttp
core libpq-dev
core libhiredis-dev
core libjansson-dev
core libsodium-dev
core libzstd-dev
core libarchive-dev
core libcurl4-openssl-dev
core libcriterion-dev
core postgresql-15
core postgresql-client-15
core redis-server
core redis-tools
core pgbouncer
core redis-sentinel
core clang
core libclang-rt-14-dev
core util-linux
core procps
core iproute2
core shellcheck
bench wrk
bench nginx-light
e2e chromium
monitoring prometheus
monitoring prometheus-alertmanager
deploy podman
deploy debootstrap
deploy shellcheck
'

if [ "${DTM_SKIP_DEPS:-0}" = 1 ]; then
    exit 0
fi

groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(core)

wanted=()
for g in "${groups[@]}"; do
    found=0
    while read -r grp pkg; do
        [ -z "$grp" ] && continue
        if [ "$g" = all ] || [ "$g" = "$grp" ]; then
            wanted+=("$pkg")
            found=1
        fi
    done <<<"$PACKAGES"
    if [ $found = 0 ]; then
        echo "deps.sh: unknown group '$g'" >&2
        exit 2
    fi
done

# Node.js (API tests, web client) comes with the machine; install Debian's when it does not.
if ! command -v node >/dev/null 2>&1; then
    wanted+=(nodejs)
fi
if ! command -v npm >/dev/null 2>&1; then
    wanted+=(npm)
fi

# dpkg-query prints one status line per known package; unknown ones go to stderr.
missing=()
status=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${wanted[@]}" 2>/dev/null || true)
for pkg in "${wanted[@]}"; do
    if ! grep -qx "$pkg installed" <<<"$status"; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "deps.sh: installing ${missing[*]}" >&2
SUDO=()
if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "deps.sh: missing packages (${missing[*]}) and not root, and no sudo" >&2
        exit 1
    fi
    SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    "${missing[@]}"
