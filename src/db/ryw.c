/* SPDX-License-Identifier: MIT */
#include "db/ryw.h"
#include "core/config.h"
#include "core/timeutil.h"
#include "db/redis.h"
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096 /* in-process table; a collision forgets the older caller (then Redis) */

typedef struct {
    char caller[144]; /* "<scope>:<caller>" */
    uint64_t lsn;
    double expires; /* monotonic seconds */
} slot_t;

static slot_t slots[SLOTS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static int ttl_ms(void)
{
    int lag = dtm_cfg.replica_max_lag_ms > 0 ? dtm_cfg.replica_max_lag_ms : 5000;
    return lag * 2;
}

static slot_t *slot_of(const char *caller)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *s = caller; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return &slots[h % SLOTS];
}

void dtm_ryw_note(const char *scope, const char *caller_id, uint64_t lsn)
{
    if (!caller_id || !*caller_id || !lsn)
        return;
    char caller[144];
    snprintf(caller, sizeof caller, "%s:%s", scope, caller_id);
    pthread_mutex_lock(&mu);
    slot_t *s = slot_of(caller);
    double now = dtm_mono_s();
    if (strcmp(s->caller, caller) != 0 || s->expires < now || s->lsn < lsn) {
        snprintf(s->caller, sizeof s->caller, "%s", caller);
        s->lsn = lsn;
    } else {
        lsn = s->lsn;
    }
    s->expires = now + ttl_ms() / 1000.0;
    pthread_mutex_unlock(&mu);
    char v[24], px[16];
    snprintf(v, sizeof v, "%" PRIu64, lsn);
    snprintf(px, sizeof px, "%d", ttl_ms());
    redisReply *r = dtm_redis_cmd(NULL, "SET dtm:ryw:%s %s PX %s", caller, v, px);
    if (r)
        freeReplyObject(r);
}

uint64_t dtm_ryw_get(const char *scope, const char *caller_id)
{
    if (!caller_id || !*caller_id)
        return 0;
    char caller[144];
    snprintf(caller, sizeof caller, "%s:%s", scope, caller_id);
    uint64_t lsn = 0;
    pthread_mutex_lock(&mu);
    slot_t *s = slot_of(caller);
    if (strcmp(s->caller, caller) == 0 && s->expires >= dtm_mono_s())
        lsn = s->lsn;
    pthread_mutex_unlock(&mu);
    redisReply *r = dtm_redis_cmd(NULL, "GET dtm:ryw:%s", caller);
    if (r) {
        if (r->type == REDIS_REPLY_STRING) {
            uint64_t remote = strtoull(r->str, NULL, 10);
            if (remote > lsn)
                lsn = remote;
        }
        freeReplyObject(r);
    }
    return lsn;
}
