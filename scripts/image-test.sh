#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds deploy/docker/Dockerfile for real with podman and runs the image.
#
#   scripts/image-test.sh            base image (cached) + build + run checks
#   scripts/image-test.sh --base     only make sure the local debian:bookworm base exists
#
# No registry is reachable from this machine, so the FROM image is made locally: debootstrap a
# minimal Debian 12 from the apt mirror this machine already uses (/etc/apt/sources.list*),
# tar it under ./var/images/ (the cache) and `podman import` it as localhost/debian:bookworm.
# Builds use host networking so apt-get inside the build reaches the same mirror.
# Slow the first time (~3-6 min for debootstrap, ~5 min for the build); deploy-check runs this
# only when the cached base exists or DTM_IMAGE_TEST=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/var/images
BASE_TAR=$CACHE/debian-bookworm-minbase.tar
BASE_REF=localhost/debian:bookworm
IMAGE=${DTM_IMAGE:-localhost/dtm:test}
PORT=${DTM_IMAGE_TEST_PORT:-48080}
mkdir -p "$CACHE"
# One image test at a time per checkout (make test of several people, or CI and a developer):
# they share the build context, the logs and the image tag.
exec 9>"$CACHE/.lock"
if ! flock -w 1800 9; then
    echo "image-test: another image test still holds $CACHE/.lock after 30 min" >&2
    exit 1
fi

log() { printf 'image-test: %s\n' "$*" >&2; }

need() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        apt-get update -qq >/dev/null || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
}

# The Debian mirror this machine uses (deb822 .sources first, then one-line lists).
mirror() {
    local m
    m=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '{print $2}' | grep -E '/debian/?$' | head -1 || true)
    if [[ -z $m ]]; then
        m=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk '{for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' |
            grep -E '/debian/?$' | head -1 || true)
    fi
    echo "${m:-http://deb.debian.org/debian}"
}

# Container runtime settings for this script only (CONTAINERS_CONF replaces the system files):
# runc, because crun refuses hosts with cgroup v1+v2 "hybrid" mounts (this VM's kind), and
# rlimits no higher than ours: podman's defaults (nofile/nproc ~1M) need CAP_SYS_RESOURCE,
# which sandboxed machines drop.
containers_conf() {
    local nofile nproc
    nofile=$(ulimit -Hn)
    nproc=$(ulimit -Hu)
    [[ $nofile == unlimited || $nofile -gt 65536 ]] && nofile=65536
    [[ $nproc == unlimited || $nproc -gt 8192 ]] && nproc=8192
    cat >"$CACHE/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
CONF
    export CONTAINERS_CONF=$CACHE/containers.conf
}

ensure_base() {
    need podman debootstrap runc
    containers_conf
    if [[ ! -s $BASE_TAR ]]; then
        local dir=$CACHE/rootfs.tmp m
        m=$(mirror)
        log "debootstrap bookworm (minbase) from $m into $dir"
        rm -rf "$dir"
        if ! debootstrap --variant=minbase bookworm "$dir" "$m" >"$CACHE/debootstrap.log" 2>&1; then
            tail -20 "$CACHE/debootstrap.log" >&2
            umount "$dir/proc" "$dir/sys" 2>/dev/null || true
            exit 1
        fi
        # The image's apt points at the same mirror; drop caches to keep the base small.
        printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$m" "$m" \
            >"$dir/etc/apt/sources.list"
        rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
        tar -C "$dir" --numeric-owner -cf "$BASE_TAR.tmp" .
        mv "$BASE_TAR.tmp" "$BASE_TAR"
        rm -rf "$dir"
    fi
    if ! podman image exists "$BASE_REF"; then
        log "importing $BASE_TAR as $BASE_REF"
        podman import --quiet "$BASE_TAR" "$BASE_REF" >/dev/null
    fi
}

ensure_base
[[ ${1:-} == --base ]] && exit 0

# ------------------------------------------------------------------------------------ build
# The build context is the committed tree (git archive HEAD), so files others are still editing
# in a shared checkout never reach the image; DTM_IMAGE_CONTEXT=worktree builds the checkout as
# it is. web/dist (built, never committed) and the Dockerfile/.dockerignore under test are
# taken from the checkout.
REVISION=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
CTX=$ROOT
if [[ ${DTM_IMAGE_CONTEXT:-head} == head ]] && git rev-parse --verify -q HEAD >/dev/null; then
    CTX=$CACHE/context
    rm -rf "$CTX"
    mkdir -p "$CTX"
    git archive HEAD | tar -x -C "$CTX"
    cp .dockerignore "$CTX/"
    mkdir -p "$CTX/deploy/docker"
    cp deploy/docker/Dockerfile "$CTX/deploy/docker/"
    [[ -d web/dist ]] && mkdir -p "$CTX/web" && cp -a web/dist "$CTX/web/"
fi
[[ -d $CTX/web/dist ]] || log "web/dist not built: the image serves the API only (scripts/web.sh builds it)"
log "building $IMAGE from ${DTM_IMAGE_CONTEXT:-head} (podman build --network host; log: var/images/build.log)"
start=$SECONDS
if ! podman build --network host --format docker \
    --build-arg BASE_IMAGE="$BASE_REF" \
    --build-arg REVISION="$REVISION" \
    --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -f "$CTX/deploy/docker/Dockerfile" -t "$IMAGE" "$CTX" >"$CACHE/build.log" 2>&1; then
    tail -40 "$CACHE/build.log" >&2
    log "FAIL: podman build"
    exit 1
fi
log "built in $((SECONDS - start)) s"

fail=0
check() { # name, then the command
    local name=$1
    shift
    if "$@"; then
        log "ok   $name"
    else
        log "FAIL $name"
        fail=1
    fi
}

# --------------------------------------------------------------------------- static checks
inspect() { podman image inspect --format "$1" "$IMAGE"; }
check "runs as a non-root user" test "$(inspect '{{.Config.User}}')" = "10001:10001"
contains() { [[ $1 == *"$2"* ]]; }
check "has a HEALTHCHECK using dtm health" contains "$(inspect '{{json .Config.Healthcheck}}')" "dtm health"
check "has OCI labels" \
    test "$(inspect '{{index .Labels "org.opencontainers.image.revision"}}')" = "$REVISION"
check "entrypoint is dtm, default command serve" \
    test "$(inspect '{{json .Config.Entrypoint}}{{json .Config.Cmd}}')" = '["dtm"]["serve"]'
lacks() { ! podman run --rm --no-healthcheck --entrypoint /bin/sh "$IMAGE" -c "command -v $*" >/dev/null 2>&1; }
check "no compiler in the runtime image" lacks cc gcc cmake
check "no curl in the runtime image" lacks curl
size=$(inspect '{{.Size}}')
log "image size $((size / 1024 / 1024)) MiB"

# ------------------------------------------------------------------------------ dtm version
out=$(podman run --rm --no-healthcheck "$IMAGE" version 2>/dev/null) || true
check "dtm version runs in the image ($out)" contains "$out" "dtm "
unresolved() { podman run --rm --no-healthcheck --entrypoint /bin/sh "$IMAGE" -c \
    'ldd /usr/local/bin/dtm /usr/lib/postgresql/15/bin/* | grep "not found"'; }
libs_resolve() {
    local out
    out=$(unresolved) || true
    [[ -z $out ]] || echo "$out" >&2
    [[ -z $out ]]
}
check "every shared library resolves in the runtime image" libs_resolve
for tool in pg_dump pg_restore pg_basebackup; do
    check "$tool runs in the image (dtm backup)" \
        podman run --rm --no-healthcheck --entrypoint "/usr/lib/postgresql/15/bin/$tool" "$IMAGE" --version
done

# ------------------------------------------------- serve + health check against a real stack
# A private PostgreSQL + Redis under var/image-test (scripts/stack.sh), unless DATABASE_URL and
# REDIS_URL are given. The container uses host networking and listens on 127.0.0.1:$PORT.
if [[ -z ${DATABASE_URL:-} || -z ${REDIS_URL:-} ]]; then
    export DTM_VAR_DIR=$ROOT/var/image-test
    scripts/stack.sh start >/dev/null
    eval "$(scripts/stack.sh env)"
fi
: "${DTM_JWT_SECRET:=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')}"
NAME=dtm-image-test-$$
cleanup() { podman rm -f -t 2 "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT
envs=(-e DATABASE_URL -e REDIS_URL -e DTM_JWT_SECRET -e DTM_HOST=127.0.0.1 -e DTM_PORT="$PORT"
    -e DTM_LOOPS=1 -e DTM_THREADS=4 -e DTM_ENV_FILE=/dev/null)
check "dtm migrate in the image" podman run --rm --no-healthcheck --network host "${envs[@]}" "$IMAGE" migrate
# Read-only root filesystem and no capabilities, as in the Kubernetes manifests.
# (podman cannot reach systemd here to schedule the HEALTHCHECK timer and says so on stderr;
# `podman healthcheck run` below runs the image's check directly.)
podman run -d --name "$NAME" --network host --read-only --cap-drop ALL \
    --tmpfs /tmp --tmpfs /var/lib/dtm:rw,U "${envs[@]}" "$IMAGE" >/dev/null 2>"$CACHE/run.err"
up=0
for _ in $(seq 1 60); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health"; then
        up=1
        break
    fi
    sleep 0.5
done
check "dtm serve answers /health from the image (read-only rootfs, caps dropped)" test $up = 1
[[ $up = 1 ]] || podman logs --tail 30 "$NAME" >&2
if podman exec "$NAME" dtm health --help >/dev/null 2>&1; then
    check "container HEALTHCHECK (podman healthcheck run) is healthy" podman healthcheck run "$NAME"
    health_local() {
        local rc=0
        podman exec "$NAME" dtm health --local || rc=$?
        [[ $rc -lt 2 ]]
    }
    check "dtm health --local inside the container (0 ok / 1 degraded)" health_local
else
    log "skip: dtm health not implemented yet; checked dtm version instead"
    check "dtm version inside the running container" podman exec "$NAME" dtm version
fi
json_logs() {
    local n=0 line
    while read -r line; do
        jq -e 'has("timestamp") and has("level") and has("message")' >/dev/null <<<"$line" || return 1
        n=$((n + 1))
    done < <(podman logs "$NAME" 2>/dev/null | head -50)
    ((n > 0))
}
check "stdout is JSON lines with timestamp/level/message" json_logs
if [[ -f $CTX/web/dist/index.html ]]; then
    web_served() { curl -fsS "http://127.0.0.1:$PORT/" | grep -qi '<html'; }
    check "the gateway serves the web client from the image" web_served
fi
# A real backup from inside the image (pg_dump of the stack's database, uploads, config).
backup_in_image() {
    podman run --rm --no-healthcheck --network host "${envs[@]}" --read-only --cap-drop ALL \
        --tmpfs /tmp --tmpfs /var/lib/dtm:rw,U --entrypoint /bin/sh "$IMAGE" -c \
        'mkdir -p "$DTM_DATA_DIR" && dtm backup run --no-pitr >/dev/null && dtm backup list' \
        >"$CACHE/backup.out" 2>&1
    local rc=$?
    ((rc == 0)) || tail -5 "$CACHE/backup.out" >&2
    return $rc
}
check "dtm backup run + list inside the image" backup_in_image
podman stop -t 15 "$NAME" >/dev/null
code=$(podman inspect --format '{{.State.ExitCode}}' "$NAME")
check "SIGTERM drains and exits 0 (exit code $code)" test "$code" = 0

if ((fail)); then
    log "FAILED"
    exit 1
fi
log "passed"
