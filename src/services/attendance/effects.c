/* SPDX-License-Identifier: MIT */
/* The attendance side of approvals (API.md "Approvals"): approval.decided events from the
 * approvals service's outbox, delivered at least once, applied exactly once. Each event is
 * claimed by id (processed_events) and each request by id (applied_approvals), both in the
 * transaction of the effect: a redelivery, a restart between decision and effect, or two
 * events about one request change the record once. Records a geofence exception creates, and
 * records a correction closes, are published like punches (attendance.punched_in/out), so
 * visits follow them as they follow the punches themselves. */
#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "db/outbox.h"
#include "services/attendance/attendance.h"
#include "services/attendance/geo.h"
#include "services/common/call.h"
#include <math.h>
#include <string.h>

typedef struct {
    const char *event_id, *topic, *request_id, *type, *requester, *decision;
    json_t *payload; /* the request's payload (borrowed from the body) */
} decided_t;

static bool read_event(dtm_req_t *req, decided_t *e)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return false;
    dtm_valid_t *v = dtm_req_validator(req);
    memset(e, 0, sizeof *e);
    dtm_juuid(v, body, "eventId", true, &e->event_id);
    dtm_jstr(v, body, "topic", true, 1, 128, &e->topic);
    json_t *p = json_object_get(body, "payload");
    if (!json_is_object(p))
        dtm_valid_fail(v, "payload", "must be an object");
    else {
        dtm_juuid(v, p, "requestId", true, &e->request_id);
        dtm_jstr(v, p, "type", true, 1, 64, &e->type);
        dtm_juuid(v, p, "requesterId", true, &e->requester);
        dtm_jstr(v, p, "decision", true, 1, 32, &e->decision);
        e->payload = json_object_get(p, "payload");
        if (!json_is_object(e->payload))
            dtm_valid_fail(v, "payload.payload", "must be an object");
    }
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Malformed event", v);
        return false;
    }
    return true;
}

static const char *pstr(const decided_t *e, const char *k)
{
    return json_string_value(json_object_get(e->payload, k));
}

static void answer(dtm_req_t *req, bool applied)
{
    dtm_resp_json(req, 200, json_pack("{s:b}", "applied", applied));
}

void attendance_approval_event(dtm_req_t *req)
{
    decided_t e;
    if (!read_event(req, &e))
        return;
    bool approved = strcmp(e.decision, "approved") == 0;
    bool exception = strcmp(e.type, "geofence_exception") == 0;
    bool correction = strcmp(e.type, "attendance_correction") == 0;
    bool overtime = strcmp(e.type, "overtime") == 0;
    if (!approved || !(exception || correction || overtime)) {
        answer(req, false); /* nothing to apply: rejections and leave */
        return;
    }
    const char *att = pstr(&e, "attendanceId");
    if ((correction || overtime) && !dtm_uuid_valid(att)) {
        dtm_log_warn("approval %s: no attendanceId in its payload; ignored", e.request_id);
        answer(req, false);
        return;
    }

    /* The store is looked up before this request holds a connection (dtm_svc_call). */
    attendance_punch_in_t in = {.user_id = e.requester, .note = "Approved geofence exception"};
    attendance_store_t store = {0};
    if (exception) {
        const char *store_id = pstr(&e, "storeId"), *at = pstr(&e, "capturedAt");
        json_t *lat = json_object_get(e.payload, "latitude");
        json_t *lon = json_object_get(e.payload, "longitude");
        json_t *acc = json_object_get(e.payload, "accuracyM");
        if (!dtm_uuid_valid(store_id) || !at || !json_is_number(lat) || !json_is_number(lon) ||
            !json_is_number(acc)) {
            dtm_log_warn("approval %s: incomplete geofence reading; ignored", e.request_id);
            answer(req, false);
            return;
        }
        if (!attendance_fetch_store(req, store_id, false, false, &store)) {
            /* A store that is gone can never take the record: handled, not retried. Anything
             * else (5xx, unreachable) is answered as such and the relay retries. */
            int status;
            json_t *out;
            dtm_err_t err =
                dtm_svc_call(req, "GET", dtm_arena_sprintf(req->arena, "/api/stores/%s", store_id),
                             NULL, &status, &out);
            if (err == DTM_OK && status == 404) {
                dtm_log_warn("approval %s: store %s is gone; ignored", e.request_id, store_id);
                answer(req, false);
            } else {
                dtm_svc_resp_upstream(req, err, status == 200 ? 502 : status, "stores service");
            }
            return;
        }
        long distance;
        dtm_geo_within(json_number_value(lat), json_number_value(lon), store.lat, store.lon,
                       store.radius_m, &distance);
        double a = json_number_value(acc);
        in.store_id = store_id;
        in.latitude = dtm_arena_sprintf(req->arena, "%.17g", json_number_value(lat));
        in.longitude = dtm_arena_sprintf(req->arena, "%.17g", json_number_value(lon));
        in.accuracy_m = dtm_arena_sprintf(req->arena, "%ld", (long)fmin(fmax(ceil(a), 1), 200));
        in.distance_m = dtm_arena_sprintf(req->arena, "%ld", distance);
        in.captured_at = at;
    }

    dtm_db_t *db = dtm_svc_db(req, "attendance", req->arena);
    if (!db)
        return;
    bool fresh = false, request_fresh = false, open = false, was_open = false;
    char id[DTM_UUID_LEN + 1] = "";
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = dtm_outbox_claim(db, "attendance", e.event_id, e.topic, &fresh);
    if (!err && fresh)
        err = attendance_db_approval_claim(db, e.request_id, e.type, &request_fresh);
    if (!err && request_fresh) {
        if (exception) {
            err = attendance_db_apply_exception(db, &in, e.request_id, id, &open);
            if (!err)
                err = attendance_db_emit(db, ATT_TOPIC_PUNCHED_IN, id, store.timezone);
            if (!err && !open)
                err = attendance_db_emit(db, ATT_TOPIC_PUNCHED_OUT, id, store.timezone);
        } else if (correction) {
            snprintf(id, sizeof id, "%s", att);
            err = attendance_db_apply_correction(db, id, e.requester, pstr(&e, "punchInAt"),
                                                 pstr(&e, "punchOutAt"), &was_open);
            if (!err && was_open)
                err = attendance_db_emit(db, ATT_TOPIC_PUNCHED_OUT, id, NULL);
        } else {
            snprintf(id, sizeof id, "%s", att);
            json_t *m = json_object_get(e.payload, "minutes");
            err = json_is_integer(m)
                      ? attendance_db_apply_overtime(
                            db, id, e.requester,
                            dtm_arena_sprintf(req->arena, "%lld", (long long)json_integer_value(m)))
                      : DTM_EINVAL;
        }
        if (err == DTM_ENOTFOUND || err == DTM_EINVAL) {
            /* The record is gone or the values no longer fit it: applying can never succeed,
             * so the request stays recorded as handled (without a record) instead of being
             * retried for ever. */
            dtm_log_warn("approval %s: cannot apply to attendance %s (%s); skipped", e.request_id,
                         id, dtm_err_code(err));
            dtm_db_rollback(db);
            err = dtm_db_begin(db);
            if (!err)
                err = dtm_outbox_claim(db, "attendance", e.event_id, e.topic, &fresh);
            if (!err && fresh)
                err = attendance_db_approval_claim(db, e.request_id, e.type, &request_fresh);
            request_fresh = false;
            id[0] = '\0';
        }
        if (!err && id[0])
            err = attendance_db_approval_record(db, e.request_id, id);
    }
    if (err == DTM_ECONFLICT) {
        /* A punch-in of the same user raced the exception's record: the next delivery sees
         * that visit open and closes the exception's record at its start. */
        dtm_db_rollback(db);
        dtm_resp_error(req, 409, "not_ready", "A punch-in raced this exception; retry", NULL);
        return;
    }
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        dtm_resp_err(req, err, NULL);
        return;
    }
    if (request_fresh && (exception || was_open))
        dtm_outbox_wake(req->arena, "attendance");
    answer(req, request_fresh);
}
