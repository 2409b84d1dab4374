/* SPDX-License-Identifier: MIT */
/* Live attendance events. Every process subscribes to one Redis channel and re-publishes what
 * it hears to its own SSE clients, so a manager connected to any replica sees punches made on
 * any other. Redis is not the only way through: when it is down, or nobody is subscribed (the
 * subscriber is still connecting), the event goes to this process's clients directly, which is
 * all the `all` target needs. */
#include "core/json.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "db/redis.h"
#include "services/attendance/attendance.h"
#include <stdlib.h>
#include <string.h>

/* Messages are {"event": "<type>", "data": {...}}: the SSE event name and its JSON data. */
static void on_message(const char *msg, size_t len, void *ud)
{
    (void)ud;
    json_t *j = json_loadb(msg, len, 0, NULL);
    const char *event = json_string_value(json_object_get(j, "event"));
    json_t *data = json_object_get(j, "data");
    if (event && json_is_object(data)) {
        char *text = dtm_json_dumps(data);
        dtm_sse_publish(ATT_SSE_TOPIC, event, text);
        free(text);
    } else {
        dtm_log_warn("ignoring malformed message on %s", ATT_REDIS_CHANNEL);
    }
    json_decref(j);
}

void attendance_events_init(void)
{
    if (dtm_redis_subscribe(ATT_REDIS_CHANNEL, on_message, NULL) != 0)
        dtm_log_warn("cannot subscribe to %s: live events stay local to this process",
                     ATT_REDIS_CHANNEL);
}

void attendance_events_publish(dtm_arena_t *a, const char *type, json_t *attendance)
{
    char at[32];
    dtm_iso8601(dtm_now_ms(), at);
    json_t *data = json_pack("{s:s, s:s, s:O}", "type", type, "at", at, "attendance", attendance);
    json_t *msg = json_pack("{s:s, s:O}", "event", type, "data", data);
    char *text = dtm_json_dumps(msg);
    redisReply *r = dtm_redis_cmd(a, "PUBLISH %s %b", ATT_REDIS_CHANNEL, text, strlen(text));
    if (!r || r->type != REDIS_REPLY_INTEGER || r->integer == 0) {
        char *local = dtm_json_dumps(data);
        dtm_sse_publish(ATT_SSE_TOPIC, type, local);
        free(local);
    }
    free(text);
    json_decref(msg);
    json_decref(data);
}
