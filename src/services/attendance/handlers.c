/* SPDX-License-Identifier: MIT */
/* Attendance handlers: validate, ask the stores/users services what they own, call store.c,
 * answer, publish the live event. Writes that touch more than one row run in one transaction
 * that first locks the user's open record, so concurrent requests of one user serialise. */
#include "core/config.h"
#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "core/timeutil.h"
#include "db/outbox.h"
#include "services/common/call.h"
#include "services/attendance/attendance.h"
#include "services/attendance/geo.h"
#include "services/common/photo.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static void decref(void *j)
{
    json_decref(j);
}

bool attendance_fetch_store(dtm_req_t *req, const char *id, bool need_active, bool respond,
                            attendance_store_t *s)
{
    int status;
    json_t *out;
    dtm_err_t err = dtm_svc_call(req, "GET", dtm_arena_sprintf(req->arena, "/api/stores/%s", id),
                                 NULL, &status, &out);
    if (err == DTM_OK && status == 404) {
        if (respond)
            dtm_resp_error(req, 404, "not_found", "Store not found", NULL);
        return false;
    }
    json_t *st = json_object_get(out, "store");
    if (!st)
        st = out;
    json_t *lat = json_object_get(st, "latitude"), *lon = json_object_get(st, "longitude");
    json_t *radius = json_object_get(st, "geofenceRadiusM");
    if (err != DTM_OK || status != 200 || !json_is_number(lat) || !json_is_number(lon) ||
        !json_is_integer(radius)) {
        if (respond)
            dtm_svc_resp_upstream(req, err, status, "stores service");
        return false;
    }
    s->lat = json_number_value(lat);
    s->lon = json_number_value(lon);
    s->radius_m = (long)json_integer_value(radius);
    const char *tz = json_string_value(json_object_get(st, "timezone"));
    s->timezone = dtm_arena_strdup(req->arena, tz ? tz : "UTC");
    json_t *active = json_object_get(st, "active");
    s->active = !json_is_false(active);
    if (need_active && !s->active) {
        if (respond)
            dtm_resp_error(req, 404, "not_found", "Store not found or inactive", NULL);
        return false;
    }
    return true;
}

static bool is_staff(const dtm_req_t *req)
{
    return (req->auth.role & (DTM_ROLES_STAFF | DTM_ROLE_SERVICE)) != 0;
}

static void resp_attendance(dtm_req_t *req, int status, const PGresult *r, const char *event)
{
    json_t *a = attendance_row_json(r, 0);
    if (event)
        attendance_events_publish(req->arena, event, a);
    dtm_resp_json(req, status, json_pack("{s:o}", "attendance", a));
}

/* Reads the record just written and answers with it. */
static void respond_record(dtm_req_t *req, dtm_db_t *db, const char *id, int status,
                           const char *event)
{
    PGresult *r;
    dtm_err_t err = attendance_db_get(db, id, &r);
    if (err != DTM_OK) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    resp_attendance(req, status, r, event);
}

static char *fmt_num(dtm_arena_t *a, double d)
{
    return dtm_arena_sprintf(a, "%.17g", d);
}

/* ---- punch-in ---- */

/* Text of a form field as a JSON value: numbers for the numeric fields when the whole text is
 * a number (otherwise the string, which the validator then rejects with "must be a number"). */
static json_t *form_value(dtm_valid_t *v, const char *name, const dtm_mpart_t *p, bool numeric)
{
    json_t *s = json_stringn(p->data, p->len);
    if (!s) {
        dtm_valid_fail(v, name, "must be valid UTF-8 text");
        return NULL;
    }
    if (p->len == 0) {
        json_decref(s);
        return NULL; /* an empty form field is an absent one */
    }
    if (!numeric)
        return s;
    const char *t = json_string_value(s);
    char *end;
    errno = 0;
    double d = strtod(t, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (end == t || *end || errno == ERANGE)
        return s;
    json_decref(s);
    return json_real(d);
}

static json_t *form_to_json(dtm_valid_t *v, const dtm_mpart_t *parts, int n)
{
    static const struct {
        const char *name;
        bool numeric;
    } fields[] = {{"storeId", false},  {"latitude", true}, {"longitude", true},
                  {"accuracyM", true}, {"note", false},    {"capturedAt", false}};
    json_t *o = json_object();
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const dtm_mpart_t *p = dtm_multipart_find(parts, n, fields[i].name);
        if (!p)
            continue;
        json_t *val = form_value(v, fields[i].name, p, fields[i].numeric);
        if (val)
            json_object_set_new(o, fields[i].name, val);
    }
    return o;
}

static void reject(dtm_req_t *req, dtm_metric_t *m, int status, const char *code,
                   const char *message, json_t *details)
{
    dtm_metric_inc(m);
    dtm_resp_error(req, status, code, message, details);
}

void attendance_punch_in(dtm_req_t *req)
{
    attendance_metrics_t *M = &attendance_metrics;
    const char *ct = dtm_req_header(req, "content-type");
    const dtm_mpart_t *photo = NULL;
    json_t *body;
    dtm_valid_t *v = dtm_req_validator(req);

    if (ct && strncasecmp(ct, "multipart/", 10) == 0) {
        const char *boundary = dtm_multipart_boundary(req->arena, ct);
        if (!boundary) {
            bool form = strncasecmp(ct, "multipart/form-data", 19) == 0;
            reject(req, form ? M->rej_invalid : M->rej_media, form ? 400 : 415,
                   form ? "bad_request" : "unsupported_media_type",
                   form ? "multipart/form-data needs a valid boundary parameter"
                        : "Content-Type must be application/json or multipart/form-data",
                   NULL);
            return;
        }
        dtm_mpart_t *parts;
        int n;
        if (dtm_multipart_parse(req->arena, req->body, req->body_len, boundary, &parts, &n) !=
            DTM_OK) {
            reject(req, M->rej_invalid, 400, "bad_request", "Malformed multipart/form-data body",
                   NULL);
            return;
        }
        dtm_multipart_unique(v, parts, n);
        body = form_to_json(v, parts, n);
        dtm_arena_defer(req->arena, decref, body);
        photo = dtm_multipart_find(parts, n, "photo");
        /* A browser form with no file chosen sends an empty part with filename="". */
        if (photo && photo->len == 0 && (!photo->filename || !photo->filename[0]))
            photo = NULL;
    } else {
        body = dtm_req_json(req);
        if (!body) {
            dtm_metric_inc(M->rej_invalid);
            return;
        }
    }

    const char *store_id = NULL, *note = NULL;
    double lat = 0, lon = 0, acc = 0;
    dtm_juuid(v, body, "storeId", true, &store_id);
    dtm_jnum(v, body, "latitude", true, -90, 90, &lat);
    dtm_jnum(v, body, "longitude", true, -180, 180, &lon);
    /* Any number is a valid body; implausible accuracy is a rule (422) checked later. */
    dtm_jnum(v, body, "accuracyM", true, -1e12, 1e12, &acc);
    dtm_jstr(v, body, "note", false, 0, 1000, &note);
    int64_t captured_ms;
    bool captured = dtm_req_captured_field(v, body, &captured_ms);
    if (!dtm_valid_ok(v)) {
        dtm_metric_inc(M->rej_invalid);
        dtm_resp_invalid(req, "Request body is not valid", v);
        return;
    }
    const char *captured_at = NULL;
    if (captured && !(captured_at = dtm_req_captured_ok(req, captured_ms, INT64_MIN))) {
        dtm_metric_inc(M->rej_invalid);
        return;
    }
    dtm_img_t img = DTM_IMG_NONE;
    if (photo) {
        dtm_photo_verdict_t verdict = dtm_photo_check(photo->data, photo->len, &img);
        if (verdict == DTM_PHOTO_TOO_LARGE) {
            reject(
                req, M->rej_too_large, 413, "payload_too_large",
                dtm_arena_sprintf(req->arena, "The photo exceeds %ld bytes", DTM_PHOTO_MAX_BYTES),
                NULL);
            return;
        }
        if (verdict == DTM_PHOTO_NOT_IMAGE) {
            reject(req, M->rej_media, 415, "unsupported_media_type",
                   "The photo must be a JPEG, PNG or WebP image", NULL);
            return;
        }
    }

    attendance_store_t store;
    if (!attendance_fetch_store(req, store_id, true, true, &store)) {
        dtm_metric_inc(M->rej_store);
        return;
    }
    if (!(acc > 0 && acc <= ATT_MAX_ACCURACY_M)) {
        reject(req, M->rej_accuracy, 422, "inaccurate_location",
               "The location is not accurate enough to verify the visit",
               json_pack("{s:f, s:f}", "accuracyM", acc, "maxAccuracyM", ATT_MAX_ACCURACY_M));
        return;
    }
    long distance;
    if (!dtm_geo_within(lat, lon, store.lat, store.lon, store.radius_m, &distance)) {
        reject(req, M->rej_geofence, 422, "outside_geofence",
               dtm_arena_sprintf(req->arena, "You are %ld m from the store; the limit is %ld m",
                                 distance, store.radius_m),
               json_pack("{s:I, s:I}", "distanceM", (json_int_t)distance, "radiusM",
                         (json_int_t)store.radius_m));
        return;
    }

    /* The file goes in place before the row that names it, so a committed record never points
     * at a missing photo. A visit rejected below (409) leaves an unreferenced file: harmless,
     * since files are content-addressed and deleting it could race with another visit that
     * uploads the same bytes. */
    char sha[65];
    if (photo) {
        bool created;
        if (dtm_photo_store(dtm_cfg.data_dir, photo->data, photo->len, sha, &created) != DTM_OK) {
            dtm_photo_store_failed(req, dtm_cfg.data_dir);
            return;
        }
    }

    dtm_db_t *db = dtm_svc_db(req, "attendance", req->arena);
    if (!db)
        return;
    attendance_punch_in_t in = {
        .user_id = req->auth.sub,
        .store_id = store_id,
        .latitude = fmt_num(req->arena, lat),
        .longitude = fmt_num(req->arena, lon),
        /* Stored as whole metres, rounded up: 0.4 m stays a plausible (non-zero) accuracy. */
        .accuracy_m = dtm_arena_sprintf(req->arena, "%ld", (long)ceil(acc)),
        .distance_m = dtm_arena_sprintf(req->arena, "%ld", distance),
        .note = note && *note ? note : NULL,
        .photo_sha256 = photo ? sha : NULL,
        .photo_type = photo ? dtm_image_mime(img) : NULL,
        .photo_bytes = photo ? dtm_arena_sprintf(req->arena, "%zu", photo->len) : NULL,
        .captured_at = captured_at,
    };
    char id[DTM_UUID_LEN + 1];
    /* The record and its punched_in event commit together (the outbox): whatever restarts
     * after the commit, the visits service still hears of it. */
    dtm_err_t err = dtm_db_begin(db);
    if (err == DTM_OK)
        err = attendance_db_insert(db, &in, id);
    if (err == DTM_OK)
        err = attendance_db_emit(db, ATT_TOPIC_PUNCHED_IN, id, store.timezone);
    if (err == DTM_OK)
        err = dtm_db_commit(db);
    if (err != DTM_OK)
        dtm_db_rollback(db);
    if (err == DTM_ECONFLICT) {
        reject(req, M->rej_conflict, 409, "already_punched_in",
               "You are already punched in; punch out first", NULL);
        return;
    }
    if (err != DTM_OK) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_outbox_wake(req->arena, "attendance");
    dtm_metric_inc(M->punch_ins);
    if (photo) {
        dtm_metric_inc(M->photos);
        dtm_metric_add(M->photo_bytes, (double)photo->len);
    }
    respond_record(req, db, id, 201, "punch_in");
}

/* ---- punch-out and breaks ---- */

/* floor_ms of a row of attendance_db_open_record: a capture must not precede it. */
static int64_t floor_ms(const PGresult *r)
{
    const char *s = dtm_pg_get(r, 0, "floor_ms");
    return s ? strtoll(s, NULL, 10) : INT64_MIN;
}

void attendance_punch_out(dtm_req_t *req)
{
    json_t *body = dtm_req_json_optional(req);
    if (!body)
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    double lat = 0, lon = 0, acc = 0;
    bool has_lat = dtm_jnum(v, body, "latitude", false, -90, 90, &lat);
    bool has_lon = dtm_jnum(v, body, "longitude", false, -180, 180, &lon);
    bool has_acc = dtm_jnum(v, body, "accuracyM", false, 0, 1e6, &acc);
    if (dtm_valid_ok(v) && has_lat != has_lon)
        dtm_valid_fail(v, has_lat ? "longitude" : "latitude", "is required together with %s",
                       has_lat ? "latitude" : "longitude");
    int64_t captured_ms;
    bool captured = dtm_req_captured_field(v, body, &captured_ms);
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Request body is not valid", v);
        return;
    }

    /* With a position, the distance to the store is recorded too. The store is looked up before
     * this request holds a connection of its own (see dtm_svc_call). */
    const char *store_id = NULL, *distance = NULL;
    attendance_store_t store;
    if (has_lat) {
        dtm_arena_t *tmp = dtm_arena_new(0);
        dtm_db_t *pre = dtm_svc_db(req, "attendance", tmp);
        PGresult *r = NULL;
        dtm_err_t err = pre ? attendance_db_open_record(pre, req->auth.sub, false, &r) : DTM_EDB;
        if (err == DTM_OK && PQntuples(r) == 1)
            store_id = dtm_arena_strdup(req->arena, dtm_pg_get(r, 0, "store_id"));
        dtm_arena_free(tmp);
        if (!pre)
            return;
        if (err != DTM_OK) {
            dtm_resp_err(req, err, NULL);
            return;
        }
        /* The punch-out itself does not depend on the stores service: without an answer the
         * distance stays unknown. */
        if (store_id && attendance_fetch_store(req, store_id, false, false, &store)) {
            long d;
            dtm_geo_within(lat, lon, store.lat, store.lon, store.radius_m, &d);
            distance = dtm_arena_sprintf(req->arena, "%ld", d);
        }
    }

    dtm_db_t *db = dtm_svc_db(req, "attendance", req->arena);
    if (!db)
        return;
    dtm_err_t err = dtm_db_begin(db);
    PGresult *r;
    if (err == DTM_OK)
        err = attendance_db_open_record(db, req->auth.sub, true, &r);
    if (err != DTM_OK) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    if (PQntuples(r) == 0) {
        dtm_db_rollback(db);
        dtm_resp_error(req, 409, "not_punched_in", "You are not punched in", NULL);
        return;
    }
    const char *id = dtm_arena_strdup(req->arena, dtm_pg_get(r, 0, "id"));
    if (store_id && strcmp(store_id, dtm_pg_get(r, 0, "store_id")) != 0)
        distance = NULL; /* a different visit started meanwhile */
    const char *captured_at = NULL;
    if (captured && !(captured_at = dtm_req_captured_ok(req, captured_ms, floor_ms(r)))) {
        dtm_db_rollback(db);
        return;
    }
    err = attendance_db_punch_out(db, id, has_lat ? fmt_num(req->arena, lat) : NULL,
                                  has_lon ? fmt_num(req->arena, lon) : NULL,
                                  has_acc ? dtm_arena_sprintf(req->arena, "%ld", (long)ceil(acc))
                                          : NULL,
                                  distance, captured_at);
    if (err == DTM_OK)
        err = attendance_db_emit(db, ATT_TOPIC_PUNCHED_OUT, id, NULL);
    if (err == DTM_OK)
        err = dtm_db_commit(db);
    if (err != DTM_OK) {
        dtm_db_rollback(db);
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_outbox_wake(req->arena, "attendance");
    respond_record(req, db, id, 200, "punch_out");
}

/* Locks the caller's open record inside a new transaction. false with the response set (409
 * not_punched_in or a database error); *id, *status and *floor (see floor_ms) on success. */
static bool lock_open_record(dtm_req_t *req, dtm_db_t *db, const char **id, const char **status,
                             int64_t *floor)
{
    dtm_err_t err = dtm_db_begin(db);
    PGresult *r;
    if (err == DTM_OK)
        err = attendance_db_open_record(db, req->auth.sub, true, &r);
    if (err != DTM_OK) {
        dtm_resp_err(req, err, NULL);
        return false;
    }
    if (PQntuples(r) == 0) {
        dtm_db_rollback(db);
        dtm_resp_error(req, 409, "not_punched_in", "You are not punched in", NULL);
        return false;
    }
    *id = dtm_arena_strdup(req->arena, dtm_pg_get(r, 0, "id"));
    *status = dtm_arena_strdup(req->arena, dtm_pg_get(r, 0, "status"));
    *floor = floor_ms(r);
    return true;
}

static void finish_write(dtm_req_t *req, dtm_db_t *db, dtm_err_t err, const char *id, int status,
                         const char *event)
{
    if (err == DTM_OK)
        err = dtm_db_commit(db);
    if (err != DTM_OK) {
        dtm_db_rollback(db);
        dtm_resp_err(req, err, NULL);
        return;
    }
    respond_record(req, db, id, status, event);
}

/* The capture time of a break write, checked against the locked record: NULL with the
 * transaction rolled back and 422 answered when it precedes what the record already holds;
 * *ok false then. */
static const char *break_captured(dtm_req_t *req, dtm_db_t *db, bool captured, int64_t ms,
                                  int64_t floor, bool *ok)
{
    *ok = true;
    if (!captured)
        return NULL;
    const char *at = dtm_req_captured_ok(req, ms, floor);
    if (!at) {
        dtm_db_rollback(db);
        *ok = false;
    }
    return at;
}

void attendance_break_start(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    static const char *const types[] = {"lunch", "coffee", "rest", "other", NULL};
    const char *type = NULL;
    dtm_valid_t *v = dtm_req_validator(req);
    dtm_jenum(v, body, "type", true, types, &type);
    int64_t captured_ms;
    bool captured = dtm_req_captured_field(v, body, &captured_ms);
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Request body is not valid", v);
        return;
    }
    dtm_db_t *db = dtm_svc_db(req, "attendance", req->arena);
    const char *id, *status;
    int64_t floor;
    bool ok;
    if (!db || !lock_open_record(req, db, &id, &status, &floor))
        return;
    if (strcmp(status, "on_break") == 0) {
        dtm_db_rollback(db);
        dtm_resp_error(req, 409, "already_on_break", "A break is already running", NULL);
        return;
    }
    const char *at = break_captured(req, db, captured, captured_ms, floor, &ok);
    if (ok)
        finish_write(req, db, attendance_db_break_start(db, id, type, at), id, 201, "break_start");
}

void attendance_break_end(dtm_req_t *req)
{
    json_t *body = dtm_req_json_optional(req);
    if (!body)
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    int64_t captured_ms;
    bool captured = dtm_req_captured_field(v, body, &captured_ms);
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Request body is not valid", v);
        return;
    }
    dtm_db_t *db = dtm_svc_db(req, "attendance", req->arena);
    const char *id, *status;
    bool ok;
    int64_t floor;
    if (!db || !lock_open_record(req, db, &id, &status, &floor))
        return;
    if (strcmp(status, "on_break") != 0) {
        dtm_db_rollback(db);
        dtm_resp_error(req, 409, "not_on_break", "No break is running", NULL);
        return;
    }
    const char *at = break_captured(req, db, captured, captured_ms, floor, &ok);
    if (ok)
        finish_write(req, db, attendance_db_break_end(db, id, at), id, 200, "break_end");
}

/* ---- reads ---- */

void attendance_current(dtm_req_t *req)
{
    dtm_db_t *db = dtm_svc_db(req, "attendance", req->arena);
    if (!db)
        return;
    PGresult *r;
    dtm_err_t err = attendance_db_open_record(db, req->auth.sub, false, &r);
    if (err == DTM_OK && PQntuples(r) == 1)
        err = attendance_db_get(db, dtm_pg_get(r, 0, "id"), &r);
    else if (err == DTM_OK)
        r = NULL;
    if (err == DTM_ENOTFOUND) /* closed between the two reads */
        r = NULL;
    else if (err != DTM_OK) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 200,
                  json_pack("{s:b, s:o}", "punchedIn", r != NULL, "attendance",
                            r ? attendance_row_json(r, 0) : json_null()));
}

void attendance_get(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Attendance record not found");
    if (!id)
        return;
    dtm_db_t *db = dtm_svc_db(req, "attendance", req->arena);
    if (!db)
        return;
    PGresult *r;
    dtm_err_t err = attendance_db_get(db, id, &r);
    /* Someone else's record looks unknown to a merchandiser. */
    if (err == DTM_ENOTFOUND ||
        (err == DTM_OK && !is_staff(req) && strcmp(dtm_pg_get(r, 0, "user_id"), req->auth.sub))) {
        dtm_resp_error(req, 404, "not_found", "Attendance record not found", NULL);
        return;
    }
    if (err != DTM_OK) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 200, json_pack("{s:o}", "attendance", attendance_row_json(r, 0)));
}

/* ?from / ?to: an ISO-8601 time, or a date. A bare date as `to` includes that whole day. */
static const char *time_param(dtm_req_t *req, dtm_valid_t *v, const char *name, bool upper,
                              int64_t *ms)
{
    const char *s = dtm_req_query(req, name);
    if (!s)
        return NULL;
    /* A '+' offset sent unencoded arrives as a space (form decoding): take it back. */
    if (strchr(s, ' ')) {
        char *fixed = dtm_arena_strdup(req->arena, s);
        for (char *c = fixed; *c; c++)
            if (*c == ' ')
                *c = '+';
        s = fixed;
    }
    if (dtm_parse_iso8601(s, ms) != 0) {
        dtm_valid_fail(v, name, "must be an ISO-8601 date or date-time");
        return NULL;
    }
    if (upper && strlen(s) == 10)
        *ms += 86400000;
    char *out = dtm_arena_alloc(req->arena, 32);
    dtm_iso8601(*ms, out);
    return out;
}

void attendance_list(dtm_req_t *req)
{
    attendance_filter_t f = {0};
    if (!dtm_req_page(req, &f.page, &f.limit))
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    int64_t from_ms = 0, to_ms = 0;
    f.user_id = dtm_req_query_uuid(req, v, "userId");
    f.store_id = dtm_req_query_uuid(req, v, "storeId");
    f.from = time_param(req, v, "from", false, &from_ms);
    f.to = time_param(req, v, "to", true, &to_ms);
    if (f.from && f.to && from_ms > to_ms)
        dtm_valid_fail(v, "to", "must not be before from");
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Invalid filter", v);
        return;
    }
    if (!dtm_req_own_scope(req, &f.user_id, "attendance"))
        return;
    dtm_db_t *db = dtm_svc_db_read(req, "attendance", req->arena);
    if (!db)
        return;
    PGresult *r;
    long long total;
    dtm_err_t err = attendance_db_list(db, &f, &r, &total);
    if (err != DTM_OK) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(items, attendance_row_json(r, i));
    dtm_resp_json(req, 200,
                  json_pack("{s:o, s:o}", "items", items, "pagination",
                            dtm_pagination(f.page, f.limit, total)));
}

static void buf_free(void *b)
{
    dtm_buf_free(b);
}

/* Every active merchandiser, from the users service (paged through, 100 at a time). */
static json_t *active_merchandisers(dtm_req_t *req)
{
    json_t *all = json_array();
    dtm_arena_defer(req->arena, decref, all);
    for (int page = 1;; page++) {
        int status;
        json_t *out;
        dtm_err_t err = dtm_svc_call(
            req, "GET",
            dtm_arena_sprintf(req->arena,
                              "/api/users?role=merchandiser&active=true&page=%d&limit=100", page),
            NULL, &status, &out);
        json_t *items = json_object_get(out, "items");
        if (err != DTM_OK || status != 200 || !json_is_array(items)) {
            dtm_svc_resp_upstream(req, err, status, "users service");
            return NULL;
        }
        json_array_extend(all, items);
        json_int_t pages =
            json_integer_value(json_object_get(json_object_get(out, "pagination"), "pages"));
        if (json_array_size(items) == 0 || page >= pages || page >= 1000)
            break;
    }
    return all;
}

/* Rows come ordered by user_id (DISTINCT ON), and uuid order is the order of their lower-case
 * text: binary search keeps a 2,000-member team linear rather than quadratic. */
static int find_user_row(const PGresult *r, const char *user_id)
{
    int lo = 0, hi = PQntuples(r) - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcasecmp(dtm_pg_get(r, mid, "user_id"), user_id);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

void attendance_team(dtm_req_t *req)
{
    dtm_valid_t *v = dtm_req_validator(req);
    const char *date = dtm_req_query(req, "date");
    int64_t ms;
    if (date && (strlen(date) != 10 || dtm_parse_iso8601(date, &ms) != 0))
        dtm_valid_fail(v, "date", "must be a date (YYYY-MM-DD)");
    const char *store_id = dtm_req_query_uuid(req, v, "storeId");
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Invalid filter", v);
        return;
    }
    /* "Today" and the day's bounds are the store's local day when a store is given. */
    const char *tz = "UTC";
    if (store_id) {
        attendance_store_t store;
        if (!attendance_fetch_store(req, store_id, false, true, &store))
            return;
        tz = store.timezone;
    }
    json_t *users = active_merchandisers(req);
    if (!users)
        return;

    dtm_buf_t *ids = dtm_arena_calloc(req->arena, sizeof *ids);
    dtm_buf_init(ids);
    dtm_arena_defer(req->arena, buf_free, ids);
    dtm_buf_puts(ids, "{");
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u)
    {
        const char *id = json_string_value(json_object_get(u, "id"));
        if (id && dtm_uuid_valid(id))
            dtm_buf_printf(ids, "%s%s", ids->len > 1 ? "," : "", id);
    }
    dtm_buf_puts(ids, "}");

    dtm_db_t *db = dtm_svc_db_read(req, "attendance", req->arena);
    if (!db)
        return;
    const char *day, *start, *end;
    PGresult *r;
    dtm_err_t err = attendance_db_day(db, date, tz, &day, &start, &end);
    if (err == DTM_OK)
        err = attendance_db_team(db, ids->data, start, end, store_id, &r);
    if (err != DTM_OK) {
        dtm_resp_err(req, err, NULL);
        return;
    }

    long present = 0, on_break = 0;
    json_t *members = json_array();
    json_array_foreach(users, i, u)
    {
        const char *id = json_string_value(json_object_get(u, "id"));
        int row = id ? find_user_row(r, id) : -1;
        const char *status = "absent";
        if (row >= 0) {
            const char *s = dtm_pg_get(r, row, "status");
            present++;
            if (strcmp(s, "on_break") == 0) {
                on_break++;
                status = "on_break";
            } else {
                status = strcmp(s, "open") == 0 ? "present" : "done";
            }
        }
        json_array_append_new(
            members, json_pack("{s:O, s:s, s:o}", "user", u, "status", status, "attendance",
                               row >= 0 ? attendance_row_json(r, row) : json_null()));
    }
    long total = (long)json_array_size(users);
    dtm_resp_json(req, 200,
                  json_pack("{s:s, s:s, s:o, s:{s:i, s:i, s:i, s:i}, s:o}", "date", day, "timezone",
                            tz, "storeId", dtm_json_str_or_null(store_id), "summary", "total",
                            (int)total, "present", (int)present, "onBreak", (int)on_break, "absent",
                            (int)(total - present), "members", members));
}

/* ---- photos and events ---- */

void attendance_photo(dtm_req_t *req)
{
    const char *sha = dtm_req_param(req, "sha256");
    if (!dtm_sha256_hex_valid(sha)) {
        dtm_resp_error(req, 404, "not_found", "Photo not found", NULL);
        return;
    }
    dtm_db_t *db = dtm_svc_db(req, "attendance", req->arena);
    if (!db)
        return;
    const char *type;
    dtm_err_t err = attendance_db_photo(db, sha, NULL, &type);
    if (err == DTM_OK && type && !is_staff(req)) {
        err = attendance_db_photo(db, sha, req->auth.sub, &type);
        if (err == DTM_OK && !type) {
            dtm_resp_error(req, 403, "forbidden", "This photo belongs to someone else", NULL);
            return;
        }
    }
    if (err != DTM_OK) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    if (!type) {
        dtm_resp_error(req, 404, "not_found", "Photo not found", NULL);
        return;
    }
    dtm_resp_file(req, dtm_photo_path(req->arena, dtm_cfg.data_dir, sha), type,
                  "private, max-age=86400, immutable");
}

void attendance_events(dtm_req_t *req)
{
    dtm_resp_sse(req, ATT_SSE_TOPIC);
}
