/* SPDX-License-Identifier: MIT */
/* The inbox calls (API.md "Notifications"): every one is about the caller's own notifications,
 * whatever their role; someone else's id looks unknown (404). */
#include "core/json.h"
#include "core/str.h"
#include "services/common/call.h"
#include "services/notifications/notifications.h"
#include <stdlib.h>
#include <string.h>

#define STREAM_BACKLOG_MAX 500 /* a resume sends at most this many missed notifications */

static const char *const channels[] = {"email", "push", NULL};

void notif_list(dtm_req_t *req)
{
    int page, limit;
    if (!dtm_req_page(req, &page, &limit))
        return;
    const char *unread = dtm_req_query(req, "unread");
    bool only_unread = false;
    if (unread && *unread) {
        if (strcmp(unread, "true") == 0)
            only_unread = true;
        else if (strcmp(unread, "false") != 0) {
            dtm_valid_t *v = dtm_req_validator(req);
            dtm_valid_fail(v, "unread", "must be true or false");
            dtm_resp_invalid(req, "Query is not valid", v);
            return;
        }
    }
    dtm_db_t *db = dtm_svc_db(req, "notifications", req->arena);
    if (!db)
        return;
    PGresult *rows;
    long long total, unread_n;
    dtm_err_t err = notif_db_list(db, req->auth.sub, only_unread, page, limit, &rows, &total);
    if (!err)
        err = notif_db_unread_count(db, req->auth.sub, &unread_n);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(rows); i++)
        json_array_append_new(items, notif_row_json(rows, i));
    dtm_resp_json(req, 200,
                  json_pack("{s:o, s:o, s:I}", "items", items, "pagination",
                            dtm_pagination(page, limit, total), "unreadCount",
                            (json_int_t)unread_n));
}

void notif_unread_count(dtm_req_t *req)
{
    dtm_db_t *db = dtm_svc_db(req, "notifications", req->arena);
    if (!db)
        return;
    long long n;
    dtm_err_t err = notif_db_unread_count(db, req->auth.sub, &n);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 200, json_pack("{s:I}", "count", (json_int_t)n));
}

void notif_read(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Notification not found");
    if (!id)
        return;
    dtm_db_t *db = dtm_svc_db(req, "notifications", req->arena);
    if (!db)
        return;
    dtm_err_t err = notif_db_mark_read(db, req->auth.sub, id);
    if (err == DTM_ENOTFOUND) {
        dtm_resp_error(req, 404, "not_found", "Notification not found", NULL);
        return;
    }
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 204, NULL);
}

void notif_read_all(dtm_req_t *req)
{
    dtm_db_t *db = dtm_svc_db(req, "notifications", req->arena);
    if (!db)
        return;
    long long n;
    dtm_err_t err = notif_db_read_all(db, req->auth.sub, &n);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 204, NULL);
}

/* Last-Event-ID (the header EventSource sends on reconnect, or ?lastEventId for a client's
 * first connection): the seq of the last notification the client has. */
static bool last_event_id(dtm_req_t *req, long long *out)
{
    const char *s = dtm_req_header(req, "last-event-id");
    if (!s || !*s)
        s = dtm_req_query(req, "lastEventId");
    *out = -1;
    if (!s || !*s)
        return true;
    char *end;
    long long n = strtoll(s, &end, 10);
    if (*end || n < 0 || strlen(s) > 18) {
        dtm_valid_t *v = dtm_req_validator(req);
        dtm_valid_fail(v, "Last-Event-ID", "must be the id of an event of this stream");
        dtm_resp_invalid(req, "Last-Event-ID is not valid", v);
        return false;
    }
    *out = n;
    return true;
}

void notif_stream(dtm_req_t *req)
{
    long long after;
    if (!last_event_id(req, &after))
        return;
    const char *topic = notif_live_topic(req->arena, req->auth.sub);
    if (after < 0) {
        dtm_resp_sse(req, topic); /* a new client: what happens from now on */
        return;
    }
    dtm_db_t *db = dtm_svc_db(req, "notifications", req->arena);
    if (!db)
        return;
    /* Hold live events first, then read the backlog: nothing falls between the two. */
    if (!dtm_resp_sse_resume(req, topic))
        return;
    PGresult *rows;
    dtm_err_t err = notif_db_since(db, req->auth.sub, after, STREAM_BACKLOG_MAX, &rows);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    for (int i = 0; i < PQntuples(rows); i++) {
        json_t *j = notif_row_json(rows, i);
        char *text = dtm_json_dumps(j);
        dtm_resp_sse_event(req, dtm_pg_int(rows, i, "seq", 0), "notification", text);
        free(text);
        json_decref(j);
    }
}

/* {email: {type: bool...}, push: {...}}: every type, defaults filled in. */
static json_t *prefs_json(const PGresult *rows)
{
    json_t *out = json_object();
    for (int c = 0; channels[c]; c++) {
        json_t *ch = json_object();
        for (int t = 0; notif_types[t]; t++)
            json_object_set_new(ch, notif_types[t], json_true());
        json_object_set_new(out, channels[c], ch);
    }
    for (int i = 0; i < PQntuples(rows); i++)
        json_object_set_new(json_object_get(out, dtm_pg_get(rows, i, "channel")),
                            dtm_pg_get(rows, i, "type"),
                            json_boolean(dtm_pg_bool(rows, i, "enabled")));
    return out;
}

void notif_prefs_get(dtm_req_t *req)
{
    dtm_db_t *db = dtm_svc_db(req, "notifications", req->arena);
    if (!db)
        return;
    PGresult *rows;
    dtm_err_t err = notif_db_prefs(db, req->auth.sub, &rows);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 200, prefs_json(rows));
}

static bool known_type(const char *t)
{
    for (int i = 0; notif_types[i]; i++)
        if (strcmp(notif_types[i], t) == 0)
            return true;
    return false;
}

void notif_prefs_put(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    const char *key;
    json_t *val;
    json_object_foreach(body, key, val)
    {
        if (strcmp(key, "email") != 0 && strcmp(key, "push") != 0) {
            dtm_valid_fail(v, key, "unknown channel (email, push)");
            continue;
        }
        if (!json_is_object(val)) {
            dtm_valid_fail(v, key, "must be an object of type: boolean");
            continue;
        }
        const char *type;
        json_t *on;
        json_object_foreach(val, type, on)
        {
            const char *field = dtm_arena_sprintf(req->arena, "%s.%s", key, type);
            if (!known_type(type))
                dtm_valid_fail(v, field, "unknown notification type");
            else if (!json_is_boolean(on))
                dtm_valid_fail(v, field, "must be true or false");
            else if (strcmp(type, "password_changed") == 0 && strcmp(key, "email") == 0 &&
                     !json_is_true(on))
                dtm_valid_fail(v, field, "security mail cannot be turned off");
        }
    }
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Preferences are not valid", v);
        return;
    }
    dtm_db_t *db = dtm_svc_db(req, "notifications", req->arena);
    if (!db)
        return;
    dtm_err_t err = dtm_db_begin(db);
    json_object_foreach(body, key, val)
    {
        const char *type;
        json_t *on;
        json_object_foreach(val, type, on)
        {
            if (!err)
                err = notif_db_pref_set(db, req->auth.sub, key, type, json_is_true(on));
        }
    }
    PGresult *rows;
    if (!err)
        err = notif_db_prefs(db, req->auth.sub, &rows);
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 200, prefs_json(rows));
}
