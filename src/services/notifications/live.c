/* SPDX-License-Identifier: MIT */
/* Live notifications. Each user's stream is the SSE topic "notifications:<userId>"; every SSE
 * event carries the notification's seq as its id (the Last-Event-ID of a resume, handlers.c).
 * A new notification goes through one Redis channel that every notifications process listens
 * to, so a user connected to any replica sees it; when Redis is down or nobody listens yet it
 * goes to this process's streams directly (as attendance's live events do). The inbox rows are
 * the copy: a client that missed something resumes from its last id. */
#include "core/json.h"
#include "core/log.h"
#include "db/redis.h"
#include "services/notifications/notifications.h"
#include <stdlib.h>
#include <string.h>

const char *notif_live_topic(dtm_arena_t *a, const char *user)
{
    return dtm_arena_sprintf(a, "notifications:%s", user);
}

static void publish_local(const char *user, long long seq, json_t *data)
{
    dtm_arena_t *a = dtm_arena_new(0);
    char *text = dtm_json_dumps(data);
    dtm_sse_publish_id(notif_live_topic(a, user), seq, "notification", text);
    free(text);
    dtm_arena_free(a);
}

/* Messages are {"user": id, "seq": n, "data": {notification}}. */
static void on_message(const char *msg, size_t len, void *ud)
{
    (void)ud;
    json_t *j = json_loadb(msg, len, 0, NULL);
    const char *user = json_string_value(json_object_get(j, "user"));
    json_t *seq = json_object_get(j, "seq");
    json_t *data = json_object_get(j, "data");
    if (user && json_is_integer(seq) && json_is_object(data))
        publish_local(user, (long long)json_integer_value(seq), data);
    else
        dtm_log_warn("ignoring malformed message on %s", NOTIF_REDIS_CHANNEL);
    json_decref(j);
}

void notif_live_init(void)
{
    if (dtm_redis_subscribe(NOTIF_REDIS_CHANNEL, on_message, NULL) != 0)
        dtm_log_warn("cannot subscribe to %s: live notifications stay local to this process",
                     NOTIF_REDIS_CHANNEL);
}

void notif_live_publish(dtm_arena_t *a, const PGresult *r, int i)
{
    const char *user = dtm_pg_get(r, i, "user_id");
    long long seq = dtm_pg_int(r, i, "seq", 0);
    json_t *data = notif_row_json(r, i);
    json_t *msg = json_pack("{s:s, s:I, s:O}", "user", user, "seq", (json_int_t)seq, "data", data);
    char *text = dtm_json_dumps(msg);
    redisReply *rep = dtm_redis_cmd(a, "PUBLISH %s %b", NOTIF_REDIS_CHANNEL, text, strlen(text));
    if (!rep || rep->type != REDIS_REPLY_INTEGER || rep->integer == 0)
        publish_local(user, seq, data);
    free(text);
    json_decref(msg);
    json_decref(data);
}
