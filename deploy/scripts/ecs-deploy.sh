#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Rolling deploy of one dtm image to every ECS service of a cluster, with automatic rollback.
#
#   deploy/scripts/ecs-deploy.sh --cluster dtm-prod --image REPO:TAG --health-url URL \
#       [--services "gateway auth users todos stores attendance reports notifications visits audits approvals"] [--checks 10] [--migrate]
#
# 1. For each service: read its current task definition (kept for rollback) and register a new
#    revision identical except for the image. With --migrate, run `dtm migrate` once as a
#    one-off task of the new image (network settings of the first non-gateway service) and stop
#    here, with nothing changed, when it fails. Then update every service (ECS replaces tasks
#    rolling, 100 % minimum healthy, circuit breaker + alarm rollback as set by Terraform).
# 2. Wait until every service is stable (`aws ecs wait services-stable`).
# 3. Check the public /health (the gateway aggregates every service) --checks times, 10 s
#    apart; each answer must be HTTP 200 with "status": "ok" or "degraded".
# 4. Any failure in 2 or 3: every service goes back to its previous task definition, the
#    script waits for that to be stable, and exits 1 (the workflow run fails, visibly).
# Needs: aws (CLI v2), jq, curl. DTM_DEPLOY_WAIT_TIMEOUT bounds the stability wait (seconds).
set -euo pipefail

CLUSTER="" IMAGE="" HEALTH_URL=""
SERVICES="gateway auth users todos stores attendance reports notifications visits audits approvals"
CHECKS=10
MIGRATE=0
INTERVAL=${DTM_DEPLOY_CHECK_INTERVAL:-10}
WAIT_TIMEOUT=${DTM_DEPLOY_WAIT_TIMEOUT:-1200}

while (($#)); do
    case $1 in
    --cluster) CLUSTER=$2 && shift 2 ;;
    --image) IMAGE=$2 && shift 2 ;;
    --health-url) HEALTH_URL=$2 && shift 2 ;;
    --services) SERVICES=$2 && shift 2 ;;
    --checks) CHECKS=$2 && shift 2 ;;
    --migrate) MIGRATE=1 && shift ;;
    -h | --help)
        sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "ecs-deploy: unknown argument $1" >&2
        exit 2
        ;;
    esac
done
[[ -n $CLUSTER && -n $IMAGE && -n $HEALTH_URL ]] || {
    echo "ecs-deploy: --cluster, --image and --health-url are required" >&2
    exit 2
}

log() { printf 'ecs-deploy: %s\n' "$*" >&2; }
declare -A PREVIOUS NEW

current_taskdef() {
    aws ecs describe-services --cluster "$CLUSTER" --services "$1" \
        --query 'services[0].taskDefinition' --output text
}

# A new revision of $1 (ARN) with every container named "dtm" on $IMAGE; prints its ARN.
register_with_image() {
    local def
    def=$(aws ecs describe-task-definition --task-definition "$1" --query taskDefinition --output json)
    jq --arg image "$IMAGE" '
        .containerDefinitions |= map(if .name == "dtm" then .image = $image else . end)
        | del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities,
              .registeredAt, .registeredBy, .deregisteredAt)' <<<"$def" >"$TMP/taskdef.json"
    aws ecs register-task-definition --cli-input-json "file://$TMP/taskdef.json" \
        --query 'taskDefinition.taskDefinitionArn' --output text
}

update() { # service taskdef
    aws ecs update-service --cluster "$CLUSTER" --service "$1" --task-definition "$2" \
        --query 'service.serviceName' --output text >/dev/null
}

wait_stable() {
    # shellcheck disable=SC2086 # SERVICES is a space-separated list on purpose
    timeout "$WAIT_TIMEOUT" aws ecs wait services-stable --cluster "$CLUSTER" --services $SERVICES
}

healthy() {
    local i body code
    for ((i = 1; i <= CHECKS; i++)); do
        code=$(curl -sS -o "$TMP/health.json" -w '%{http_code}' --max-time 10 "$HEALTH_URL" || echo 000)
        body=$(cat "$TMP/health.json" 2>/dev/null || true)
        if [[ $code != 200 ]] || ! jq -e '.status == "ok" or .status == "degraded"' >/dev/null 2>&1 <<<"$body"; then
            log "health check $i/$CHECKS failed: HTTP $code ${body:0:200}"
            return 1
        fi
        log "health check $i/$CHECKS: $(jq -r .status <<<"$body")"
        ((i == CHECKS)) || sleep "$INTERVAL"
    done
}

# `dtm migrate` as a one-off Fargate task of the new image; nothing is rolled out if it fails.
migrate() {
    local s svc net task code
    for s in $SERVICES; do [[ $s != gateway ]] && svc=$s && break; done
    net=$(aws ecs describe-services --cluster "$CLUSTER" --services "$svc" \
        --query 'services[0].networkConfiguration' --output json)
    task=$(aws ecs run-task --cluster "$CLUSTER" --launch-type FARGATE \
        --task-definition "${NEW[$svc]}" --network-configuration "$net" \
        --overrides '{"containerOverrides":[{"name":"dtm","command":["migrate"]}]}' \
        --query 'tasks[0].taskArn' --output text)
    log "migrating with $task"
    timeout "$WAIT_TIMEOUT" aws ecs wait tasks-stopped --cluster "$CLUSTER" --tasks "$task"
    code=$(aws ecs describe-tasks --cluster "$CLUSTER" --tasks "$task" \
        --query 'tasks[0].containers[0].exitCode' --output text)
    if [[ $code != 0 ]]; then
        log "dtm migrate exited $code: nothing was rolled out"
        exit 1
    fi
    log "migrations applied"
}

rollback() {
    log "ROLLING BACK to the previous task definitions"
    local s
    for s in $SERVICES; do
        update "$s" "${PREVIOUS[$s]}"
        log "  $s -> ${PREVIOUS[$s]}"
    done
    if wait_stable; then
        log "rollback complete; the failed image was $IMAGE"
    else
        log "rollback did not stabilise: page the on-call (docs/operations.md#rollback)"
    fi
    exit 1
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

for s in $SERVICES; do
    PREVIOUS[$s]=$(current_taskdef "$s")
    [[ ${PREVIOUS[$s]} == arn:* ]] || {
        log "service $s not found in cluster $CLUSTER"
        exit 1
    }
done
for s in $SERVICES; do
    NEW[$s]=$(register_with_image "${PREVIOUS[$s]}")
    log "$s: ${PREVIOUS[$s]} -> ${NEW[$s]}"
done
((MIGRATE)) && migrate
for s in $SERVICES; do
    update "$s" "${NEW[$s]}" || rollback
done
log "waiting for the services to become stable (at most ${WAIT_TIMEOUT}s)"
wait_stable || {
    log "services did not become stable"
    rollback
}
healthy || rollback
log "deployed $IMAGE to $CLUSTER"
