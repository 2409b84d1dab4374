#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tests deploy/scripts/ecs-deploy.sh (the rollout and automatic rollback of deploy.yml) without
# AWS: `aws` is a stand-in on PATH that keeps each ECS service's task definition in a state
# directory and records every call; /health is a real HTTP server on 127.0.0.1 whose answer each
# case chooses. Cases: a healthy rollout, a failing /health after rollout (rollback), services
# that never stabilise (rollback), and a failing migration (nothing rolled out).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PORT=${DTM_DEPLOY_TEST_PORT:-$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')}
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/bin" "$WORK/state"
cat >"$WORK/bin/aws" <<'FAKE'
#!/usr/bin/env bash
# Stand-in for the AWS CLI: just the ECS calls ecs-deploy.sh makes.
set -euo pipefail
S=$FAKE_AWS_STATE
echo "$*" >>"$S/calls"
arg() { local k=$1; shift; while (($#)); do [[ $1 == "$k" ]] && { echo "$2"; return; }; shift; done; }
key() { tr '/:' '__' <<<"$1"; } # an ARN as a file name
[[ $1 == ecs ]] || exit 2
case $2 in
describe-services)
    svc=$(arg --services "$@")
    if [[ $* == *networkConfiguration* ]]; then
        echo '{"awsvpcConfiguration":{"subnets":["subnet-a"],"securityGroups":["sg-1"],"assignPublicIp":"DISABLED"}}'
    else
        cat "$S/svc.$svc" 2>/dev/null || echo None
    fi
    ;;
describe-task-definition)
    td=$(arg --task-definition "$@")
    fam=${td##*/}
    fam=${fam%:*}
    printf '{"taskDefinitionArn":"%s","family":"%s","revision":1,"status":"ACTIVE","containerDefinitions":[{"name":"dtm","image":"%s"}],"registeredAt":"x"}\n' \
        "$td" "$fam" "$(cat "$S/image.$(key "$td")" 2>/dev/null || echo registry/dtm:old)"
    ;;
register-task-definition)
    f=$(arg --cli-input-json "$@")
    f=${f#file://}
    jq -e 'has("taskDefinitionArn") | not' "$f" >/dev/null
    fam=$(jq -r .family "$f")
    n=$(($(cat "$S/rev.$fam" 2>/dev/null || echo 1) + 1))
    echo "$n" >"$S/rev.$fam"
    arn="arn:aws:ecs:eu-west-1:111111111111:task-definition/$fam:$n"
    jq -r '.containerDefinitions[] | select(.name == "dtm") | .image' "$f" >"$S/image.$(key "$arn")"
    echo "$arn"
    ;;
update-service)
    svc=$(arg --service "$@")
    arg --task-definition "$@" >"$S/svc.$svc"
    echo "$svc"
    ;;
wait)
    if [[ $3 == services-stable ]]; then
        [[ ${FAKE_AWS_UNSTABLE:-0} == 1 && ! -e $S/rolled-back ]] && { touch "$S/rolled-back"; exit 255; }
        exit 0
    fi
    exit 0 # tasks-stopped
    ;;
run-task) echo "arn:aws:ecs:eu-west-1:111111111111:task/dtm/migrate1" ;;
describe-tasks) echo "${FAKE_MIGRATE_EXIT:-0}" ;;
*) exit 2 ;;
esac
FAKE
chmod +x "$WORK/bin/aws"

# /health: answers with the status in $WORK/health ("ok" -> 200, anything else -> 503).
cat >"$WORK/server.js" <<'JS'
const http = require('node:http');
const fs = require('node:fs');
const file = process.argv[3];
http.createServer((req, res) => {
    const status = fs.readFileSync(file, 'utf8').trim();
    res.writeHead(status === 'ok' ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status }));
}).listen(Number(process.argv[2]), '127.0.0.1');
JS
echo ok >"$WORK/health"
node "$WORK/server.js" "$PORT" "$WORK/health" &
SERVER_PID=$!
for _ in $(seq 50); do
    if curl -fs "http://127.0.0.1:$PORT/" >/dev/null; then break; fi
    sleep 0.1
done

SERVICES="gateway auth users"
pass=0 fail=0
reset_state() {
    rm -rf "$WORK/state" && mkdir -p "$WORK/state"
    for s in $SERVICES; do
        echo "arn:aws:ecs:eu-west-1:111111111111:task-definition/dtm-test-$s:1" >"$WORK/state/svc.$s"
    done
}
deploy() {
    PATH="$WORK/bin:$PATH" FAKE_AWS_STATE="$WORK/state" DTM_DEPLOY_CHECK_INTERVAL=0 \
        "$ROOT/deploy/scripts/ecs-deploy.sh" --cluster dtm-test --image registry/dtm:new \
        --health-url "http://127.0.0.1:$PORT/health" --services "$SERVICES" --checks 3 "$@" \
        >"$WORK/out" 2>&1
}
revisions() { for s in $SERVICES; do printf '%s ' "$(sed 's/.*://' "$WORK/state/svc.$s")"; done; }
expect() { # name condition...
    local name=$1
    shift
    if "$@"; then
        echo "ok   $name"
        pass=$((pass + 1))
    else
        echo "FAIL $name"
        sed 's/^/     /' "$WORK/out"
        fail=$((fail + 1))
    fi
}
images_new() {
    local s arn
    for s in $SERVICES; do
        arn=$(tr '/:' '__' <"$WORK/state/svc.$s")
        [[ $(cat "$WORK/state/image.$arn") == registry/dtm:new ]] || return 1
    done
}
at_revision() { [[ $(revisions) == "$1 $1 $1 " ]]; }
migrated_first() { grep -E "run-task|update-service" "$WORK/state/calls" | head -1 | grep -q run-task; }
no_update() { ! grep -q update-service "$WORK/state/calls"; }

reset_state
echo ok >"$WORK/health"
rc=0 && deploy --migrate || rc=$?
expect "healthy rollout exits 0" test $rc = 0
expect "every service runs the new revision" at_revision 2
expect "new revisions carry the new image" images_new
expect "migration ran before the first update-service" migrated_first

reset_state
echo down >"$WORK/health"
rc=0 && deploy || rc=$?
expect "failing /health after rollout exits 1" test $rc = 1
expect "failing /health rolls every service back to revision 1" at_revision 1
expect "the rollback is reported" grep -q "ROLLING BACK" "$WORK/out"
expect "the new revision had been rolled out before the rollback" grep -q "task-definition/dtm-test-auth:2" "$WORK/state/calls"

reset_state
echo ok >"$WORK/health"
rc=0 && FAKE_AWS_UNSTABLE=1 deploy || rc=$?
expect "services that never stabilise exit 1" test $rc = 1
expect "unstable services are rolled back" at_revision 1

reset_state
rc=0 && FAKE_MIGRATE_EXIT=1 deploy --migrate || rc=$?
expect "a failing migration exits 1" test $rc = 1
expect "a failing migration rolls nothing out" no_update

echo "ecs-deploy: $pass passed, $fail failed"
((fail == 0))
