/* SPDX-License-Identifier: MIT */
/* Approvals handlers: validate, ask the users and attendance services what they own (before
 * holding a connection of our own, see dtm_svc_call), call store.c, answer. A decision is one
 * transaction: the conditional UPDATE of its step, the steps, and the outbox events. */
#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "core/timeutil.h"
#include "db/outbox.h"
#include "services/approvals/approvals.h"
#include "services/common/call.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA         "approvals"
#define MAX_COMMENT    2000
#define DECIDER_PAGES  20 /* at most 2,000 deciders named in one approval.requested */
#define MAX_SPAN_MS    (24LL * 3600 * 1000)
#define CLOCK_SKEW_MS  (5LL * 60 * 1000)
#define OVERTIME_MAX_M 1440

static const char *const TYPES[] = {"leave", "attendance_correction", "overtime",
                                    "geofence_exception", NULL};
static const char *const STATUSES[] = {"pending", "approved", "rejected", "cancelled", NULL};

/* ---- helpers ---- */

static void decref(void *j)
{
    json_decref(j);
}

static bool is_type(const char *s)
{
    for (int i = 0; s && TYPES[i]; i++)
        if (strcmp(s, TYPES[i]) == 0)
            return true;
    return false;
}

static bool in_list(const char *s, const char *const *list)
{
    for (int i = 0; s && list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static bool is_staff(const dtm_req_t *req)
{
    return (req->auth.role & DTM_ROLES_STAFF) != 0;
}

/* YYYY-MM-DD: strictly that form, a real date. */
static bool is_date(const char *s)
{
    int64_t ms;
    return strlen(s) == 10 && s[4] == '-' && s[7] == '-' && dtm_parse_iso8601(s, &ms) == 0;
}

/* A request body that may be empty (approve/reject/cancel take an optional comment). */
static void resp_request(dtm_req_t *req, dtm_db_t *db, const char *id, int status)
{
    PGresult *r;
    dtm_err_t err = approvals_db_get(db, id, &r);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, status, json_pack("{s:o}", "request", approvals_row_json(r, 0)));
}

/* "First Last" of user `id` from the users service ("" when it has no such user). false with
 * the response set when the service cannot answer. */
static bool user_name(dtm_req_t *req, const char *id, const char **name)
{
    int status;
    json_t *out;
    dtm_err_t err = dtm_svc_call(req, "GET", dtm_arena_sprintf(req->arena, "/api/users/%s", id),
                                 NULL, &status, &out);
    if (err == DTM_OK && status == 404) {
        *name = "";
        return true;
    }
    json_t *u = json_object_get(out, "user");
    if (err != DTM_OK || status != 200 || !json_is_object(u)) {
        dtm_svc_resp_upstream(req, err, status, "users service");
        return false;
    }
    const char *first = json_string_value(json_object_get(u, "firstName"));
    const char *last = json_string_value(json_object_get(u, "lastName"));
    *name = dtm_arena_sprintf(req->arena, "%s%s%s", first ? first : "", first && last ? " " : "",
                              last ? last : "");
    return true;
}

/* Everyone who may decide a step of `role`: the active users of that role but `requester`
 * (arena-owned array of ids). false with the response set when the users service fails. */
static bool deciders(dtm_req_t *req, const char *role, const char *requester, json_t **ids)
{
    json_t *a = json_array();
    dtm_arena_defer(req->arena, decref, a);
    for (int page = 1; page <= DECIDER_PAGES; page++) {
        int status;
        json_t *out;
        dtm_err_t err = dtm_svc_call(
            req, "GET",
            dtm_arena_sprintf(req->arena, "/api/users?role=%s&active=true&page=%d&limit=100", role,
                              page),
            NULL, &status, &out);
        json_t *items = json_object_get(out, "items");
        if (err != DTM_OK || status != 200 || !json_is_array(items)) {
            dtm_svc_resp_upstream(req, err, status, "users service");
            return false;
        }
        size_t i;
        json_t *u;
        json_array_foreach(items, i, u)
        {
            const char *id = json_string_value(json_object_get(u, "id"));
            if (id && strcmp(id, requester) != 0)
                json_array_append_new(a, json_string(id));
        }
        json_int_t pages =
            json_integer_value(json_object_get(json_object_get(out, "pagination"), "pages"));
        if (page >= pages)
            break;
    }
    *ids = a;
    return true;
}

/* approval.requested for step `step` of request `id` (inside the caller's transaction). */
static dtm_err_t emit_requested(dtm_db_t *db, const char *id, const char *type,
                                const char *requester, const char *requester_name, int step,
                                const char *role, json_t *decider_ids)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:O, s:i, s:s}", "requestId", id, "type", type,
                          "requesterId", requester, "requesterName", requester_name,
                          "deciderUserIds", decider_ids, "step", step, "role", role);
    dtm_err_t err = dtm_outbox_emit(db, SCHEMA, APPROVALS_TOPIC_REQUESTED, p, NULL);
    json_decref(p);
    return err;
}

/* ---- payload checks per type (API.md) ---- */

/* GET /api/attendance/:id: must exist and be `requester`'s. false with the response set (404
 * when not theirs: someone else's record looks unknown; or the upstream error). */
static bool check_attendance(dtm_req_t *req, const char *att, const char *requester)
{
    int status;
    json_t *out;
    dtm_err_t err = dtm_svc_call(
        req, "GET", dtm_arena_sprintf(req->arena, "/api/attendance/%s", att), NULL, &status, &out);
    json_t *a = json_object_get(out, "attendance");
    if (err == DTM_OK &&
        (status == 404 ||
         (status == 200 && json_is_object(a) &&
          !dtm_streq_ci(json_string_value(json_object_get(a, "userId")), requester)))) {
        dtm_resp_error(req, 404, "not_found", "Attendance record not found", NULL);
        return false;
    }
    if (err != DTM_OK || status != 200 || !json_is_object(a)) {
        dtm_svc_resp_upstream(req, err, status, "attendance service");
        return false;
    }
    return true;
}

static void check_time(dtm_valid_t *v, json_t *p, const char *field, int64_t *ms)
{
    if (dtm_jtime(v, p, field, true, ms) && *ms > dtm_now_ms() + CLOCK_SKEW_MS)
        dtm_valid_fail(v, field, "must not lie in the future");
}

/* Validates `payload` for `type` into `clean` (only the known fields, normalised), adding field
 * problems to v. *att gets the attendance id it names, if any. */
static void read_payload(dtm_valid_t *v, const char *type, json_t *p, json_t *clean,
                         const char **att)
{
    *att = NULL;
    if (strcmp(type, "leave") == 0) {
        static const char *const kinds[] = {"annual", "sick", "unpaid", "parental", "other", NULL};
        const char *from = NULL, *to = NULL, *kind = NULL;
        if (dtm_jstr(v, p, "from", true, 10, 10, &from) && !is_date(from))
            dtm_valid_fail(v, "payload.from", "must be a date YYYY-MM-DD");
        if (dtm_jstr(v, p, "to", true, 10, 10, &to) && !is_date(to))
            dtm_valid_fail(v, "payload.to", "must be a date YYYY-MM-DD");
        dtm_jenum(v, p, "leaveType", true, kinds, &kind);
        if (dtm_valid_ok(v) && strcmp(to, from) < 0)
            dtm_valid_fail(v, "payload.to", "must not be before from");
        if (dtm_valid_ok(v)) {
            json_object_set_new(clean, "from", json_string(from));
            json_object_set_new(clean, "to", json_string(to));
            json_object_set_new(clean, "leaveType", json_string(kind));
        }
    } else if (strcmp(type, "attendance_correction") == 0) {
        int64_t in_ms = 0, out_ms = 0;
        dtm_juuid(v, p, "attendanceId", true, att);
        check_time(v, p, "punchInAt", &in_ms);
        check_time(v, p, "punchOutAt", &out_ms);
        if (dtm_valid_ok(v) && out_ms <= in_ms)
            dtm_valid_fail(v, "payload.punchOutAt", "must be after punchInAt");
        else if (dtm_valid_ok(v) && out_ms - in_ms > MAX_SPAN_MS)
            dtm_valid_fail(v, "payload.punchOutAt", "must be within 24 hours of punchInAt");
        if (dtm_valid_ok(v)) {
            char a[32], b[32];
            dtm_iso8601(in_ms, a);
            dtm_iso8601(out_ms, b);
            json_object_set_new(clean, "attendanceId", json_string(*att));
            json_object_set_new(clean, "punchInAt", json_string(a));
            json_object_set_new(clean, "punchOutAt", json_string(b));
        }
    } else if (strcmp(type, "overtime") == 0) {
        int64_t minutes = 0;
        dtm_juuid(v, p, "attendanceId", true, att);
        dtm_jint(v, p, "minutes", true, 1, OVERTIME_MAX_M, &minutes);
        if (dtm_valid_ok(v)) {
            json_object_set_new(clean, "attendanceId", json_string(*att));
            json_object_set_new(clean, "minutes", json_integer(minutes));
        }
    } else { /* geofence_exception: the reading the punch-in refused */
        const char *store = NULL;
        double lat = 0, lng = 0, acc = 0;
        int64_t at_ms = 0;
        dtm_juuid(v, p, "storeId", true, &store);
        dtm_jnum(v, p, "latitude", true, -90, 90, &lat);
        dtm_jnum(v, p, "longitude", true, -180, 180, &lng);
        if (dtm_jnum(v, p, "accuracyM", true, -1e12, 1e12, &acc) && !(acc > 0 && acc <= 200))
            dtm_valid_fail(v, "payload.accuracyM", "must be more than 0 and at most 200");
        check_time(v, p, "capturedAt", &at_ms);
        if (dtm_valid_ok(v) && at_ms < dtm_now_ms() - DTM_CAPTURED_MAX_PAST_MS)
            dtm_valid_fail(v, "payload.capturedAt", "must lie within the last 72 hours");
        if (dtm_valid_ok(v)) {
            char at[32];
            dtm_iso8601(at_ms, at);
            json_object_set_new(clean, "storeId", json_string(store));
            json_object_set_new(clean, "latitude", json_real(lat));
            json_object_set_new(clean, "longitude", json_real(lng));
            json_object_set_new(clean, "accuracyM", json_real(acc));
            json_object_set_new(clean, "capturedAt", json_string(at));
        }
    }
}

/* GET /api/stores/:id must name an active store. */
static bool check_store(dtm_req_t *req, const char *id)
{
    int status;
    json_t *out;
    dtm_err_t err = dtm_svc_call(req, "GET", dtm_arena_sprintf(req->arena, "/api/stores/%s", id),
                                 NULL, &status, &out);
    json_t *s = json_object_get(out, "store");
    if (err == DTM_OK &&
        (status == 404 || (status == 200 && json_is_false(json_object_get(s, "active"))))) {
        dtm_resp_error(req, 404, "not_found", "Store not found or inactive", NULL);
        return false;
    }
    if (err != DTM_OK || status != 200) {
        dtm_svc_resp_upstream(req, err, status, "stores service");
        return false;
    }
    return true;
}

/* ---- requests ---- */

void approvals_create(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    const char *type = NULL, *reason = NULL, *att = NULL;
    dtm_jenum(v, body, "type", true, TYPES, &type);
    dtm_jstr(v, body, "reason", false, 0, 2000, &reason);
    json_t *p = json_object_get(body, "payload");
    json_t *clean = json_object();
    dtm_arena_defer(req->arena, decref, clean);
    if (!json_is_object(p))
        dtm_valid_fail(v, "payload", "must be an object");
    else if (type) {
        /* Field names of the payload's problems carry the "payload." prefix. */
        dtm_valid_t pv;
        dtm_valid_init(&pv);
        read_payload(&pv, type, p, clean, &att);
        json_t *d = dtm_valid_take(&pv);
        size_t i;
        json_t *x;
        json_array_foreach(d, i, x)
        {
            const char *f = json_string_value(json_object_get(x, "field"));
            const char *m = json_string_value(json_object_get(x, "message"));
            dtm_valid_fail(v,
                           f && strncmp(f, "payload.", 8) == 0
                               ? f
                               : dtm_arena_sprintf(req->arena, "payload.%s", f ? f : ""),
                           "%s", m ? m : "is not valid");
        }
        json_decref(d);
        dtm_valid_cleanup(&pv);
    }
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, NULL, v);
        return;
    }
    if (att && !check_attendance(req, att, req->auth.sub))
        return;
    if (strcmp(type, "geofence_exception") == 0 &&
        !check_store(req, json_string_value(json_object_get(clean, "storeId"))))
        return;

    /* The workflow as of now; the request keeps these steps whatever edits come later. */
    const char *roles_json = NULL, *version = NULL;
    {
        dtm_arena_t *tmp = dtm_arena_new(0);
        dtm_db_t *pre = dtm_svc_db(req, "approvals", tmp);
        PGresult *w = NULL;
        dtm_err_t err = pre ? approvals_db_workflow_get(pre, type, &w) : DTM_EDB;
        if (err == DTM_OK) {
            roles_json = dtm_arena_strdup(req->arena, dtm_pg_get(w, 0, "roles"));
            version = dtm_arena_strdup(req->arena, dtm_pg_get(w, 0, "version"));
        }
        dtm_arena_free(tmp);
        if (!pre)
            return;
        if (err) {
            dtm_resp_err(req, err, NULL);
            return;
        }
    }
    json_t *roles = json_loads(roles_json, 0, NULL);
    dtm_arena_defer(req->arena, decref, roles);
    dtm_buf_t lit;
    dtm_buf_init(&lit);
    dtm_buf_puts(&lit, "{");
    size_t i;
    json_t *x;
    json_array_foreach(roles, i, x)
        dtm_buf_printf(&lit, "%s%s", i ? "," : "", json_string_value(x));
    dtm_buf_puts(&lit, "}");
    const char *first_role = json_string_value(json_array_get(roles, 0));
    approvals_input_t in = {
        .type = type,
        .requester_id = req->auth.sub,
        .reason = reason,
        .roles = dtm_arena_strdup(req->arena, lit.data),
        .version = version,
    };
    dtm_buf_free(&lit);
    json_t *ids;
    if (!first_role || !user_name(req, req->auth.sub, &in.requester_name) ||
        !deciders(req, first_role, req->auth.sub, &ids)) {
        if (!first_role)
            dtm_resp_err(req, DTM_EINTERNAL, NULL);
        return;
    }
    char *text = dtm_json_dumps(clean);
    in.payload = dtm_arena_strdup(req->arena, text);
    free(text);

    dtm_db_t *db = dtm_svc_db(req, "approvals", req->arena);
    if (!db)
        return;
    char id[DTM_UUID_LEN + 1];
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = approvals_db_insert(db, &in, id);
    if (!err)
        err = emit_requested(db, id, type, req->auth.sub, in.requester_name, 0, first_role, ids);
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_outbox_wake(req->arena, SCHEMA);
    dtm_metric_inc(approvals_metrics.requested);
    resp_request(req, db, id, 201);
}

void approvals_list(dtm_req_t *req)
{
    approvals_filter_t f = {0};
    if (!dtm_req_page(req, &f.page, &f.limit))
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    const char *q;
    if ((q = dtm_req_query(req, "status")) && *q) {
        if (in_list(q, STATUSES))
            f.status = q;
        else
            dtm_valid_fail(v, "status", "must be one of pending, approved, rejected, cancelled");
    }
    if ((q = dtm_req_query(req, "type")) && *q) {
        if (is_type(q))
            f.type = q;
        else
            dtm_valid_fail(v, "type",
                           "must be one of leave, attendance_correction, overtime, "
                           "geofence_exception");
    }
    const char *scope = dtm_req_query(req, "scope");
    if (scope && *scope && strcmp(scope, "mine") != 0 && strcmp(scope, "inbox") != 0)
        dtm_valid_fail(v, "scope", "must be mine or inbox");
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Bad filter", v);
        return;
    }
    /* Merchandisers see only their own; staff see every request unless they ask for a scope. */
    if (scope && strcmp(scope, "inbox") == 0) {
        f.inbox_role = dtm_role_name(req->auth.role);
        f.not_requester = req->auth.sub;
    } else if ((scope && strcmp(scope, "mine") == 0) || !is_staff(req))
        f.requester_id = req->auth.sub;
    dtm_db_t *db = dtm_svc_db(req, "approvals", req->arena);
    if (!db)
        return;
    PGresult *r;
    long long total = 0;
    dtm_err_t err = approvals_db_list(db, &f, &r, &total);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(items, approvals_row_json(r, i));
    dtm_resp_json(req, 200,
                  json_pack("{s:o, s:o}", "items", items, "pagination",
                            dtm_pagination(f.page, f.limit, total)));
}

void approvals_get(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Request not found");
    if (!id)
        return;
    dtm_db_t *db = dtm_svc_db(req, "approvals", req->arena);
    if (!db)
        return;
    PGresult *r;
    dtm_err_t err = approvals_db_get(db, id, &r);
    /* A merchandiser's view of someone else's request looks unknown. */
    if (err == DTM_ENOTFOUND || (!err && !is_staff(req) && req->auth.role != DTM_ROLE_SERVICE &&
                                 strcmp(dtm_pg_get(r, 0, "requester_id"), req->auth.sub) != 0)) {
        dtm_resp_error(req, 404, "not_found", "Request not found", NULL);
        return;
    }
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 200, json_pack("{s:o}", "request", approvals_row_json(r, 0)));
}

/* Whether the caller's role may decide request row `r` now: true when it may; else the response
 * is set: 403 self_approval, 409 already_decided (decided, or the caller's role's step is
 * behind it), 403 forbidden (not this step's role: separation of duties, admins included). */
static bool may_decide(dtm_req_t *req, const PGresult *r)
{
    if (strcmp(dtm_pg_get(r, 0, "requester_id"), req->auth.sub) == 0) {
        dtm_resp_error(req, 403, "self_approval", "Nobody decides their own request", NULL);
        return false;
    }
    const char *role = dtm_role_name(req->auth.role);
    if (strcmp(dtm_pg_get(r, 0, "status"), "pending") != 0) {
        dtm_resp_error(req, 409, "already_decided", "The request is already decided", NULL);
        return false;
    }
    if (strcmp(dtm_pg_get(r, 0, "pending_role"), role) == 0)
        return true;
    /* A step of the caller's role already decided: they came late, not to the wrong place. */
    json_t *steps = json_loads(dtm_pg_get(r, 0, "steps"), 0, NULL);
    long long cur = dtm_pg_int(r, 0, "current_step", 0);
    bool behind = false;
    size_t i;
    json_t *s;
    json_array_foreach(steps, i, s) if ((long long)i < cur &&
                                        strcmp(json_string_value(json_object_get(s, "role")),
                                               role) == 0) behind = true;
    json_decref(steps);
    if (behind)
        dtm_resp_error(req, 409, "already_decided", "Your step of this request is already decided",
                       NULL);
    else
        dtm_resp_error(req, 403, "forbidden",
                       dtm_arena_sprintf(req->arena, "This step is for the %s role",
                                         dtm_pg_get(r, 0, "pending_role")),
                       NULL);
    return false;
}

static void decide(dtm_req_t *req, const char *decision)
{
    const char *id = dtm_req_uuid_param(req, "id", "Request not found");
    if (!id)
        return;
    json_t *body = dtm_req_json_optional(req);
    if (!body)
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    const char *comment = NULL;
    dtm_jstr(v, body, "comment", false, 0, MAX_COMMENT, &comment);
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, NULL, v);
        return;
    }

    /* Read first on a connection given back at once: the next step's deciders are asked of the
     * users service before this request holds a connection. */
    json_t *row = NULL;
    dtm_err_t err;
    {
        dtm_arena_t *tmp = dtm_arena_new(0);
        dtm_db_t *pre = dtm_svc_db(req, "approvals", tmp);
        PGresult *cur = NULL;
        err = pre ? approvals_db_get(pre, id, &cur) : DTM_EDB;
        if (err == DTM_ENOTFOUND)
            dtm_resp_error(req, 404, "not_found", "Request not found", NULL);
        else if (err && pre)
            dtm_resp_err(req, err, NULL);
        else if (!err && may_decide(req, cur))
            row = approvals_row_json(cur, 0);
        dtm_arena_free(tmp);
        if (!row)
            return; /* answered above */
        dtm_arena_defer(req->arena, decref, row);
    }
    json_t *steps = json_object_get(row, "steps");
    json_int_t step = json_integer_value(json_object_get(row, "currentStep"));
    const char *type = json_string_value(json_object_get(row, "type"));
    const char *requester = json_string_value(json_object_get(row, "requesterId"));
    const char *requester_name = json_string_value(json_object_get(row, "requesterName"));
    bool approve = strcmp(decision, "approved") == 0;
    json_t *next = approve ? json_array_get(steps, (size_t)step + 1) : NULL;
    const char *next_role = next ? json_string_value(json_object_get(next, "role")) : NULL;
    json_t *ids = NULL;
    if (next_role && !deciders(req, next_role, requester, &ids))
        return;

    dtm_db_t *db = dtm_svc_db(req, "approvals", req->arena);
    if (!db)
        return;
    bool final = false;
    const char *step_text = dtm_arena_sprintf(req->arena, "%lld", (long long)step);
    err = dtm_db_begin(db);
    if (!err)
        err = approvals_db_decide(db, id, step_text, decision, req->auth.sub, comment, &final);
    if (err == DTM_ECONFLICT) {
        dtm_db_rollback(db);
        dtm_metric_inc(approvals_metrics.conflicts);
        dtm_resp_error(req, 409, "already_decided", "The request is already decided", NULL);
        return;
    }
    if (!err && !final && next_role)
        err =
            emit_requested(db, id, type, requester, requester_name, (int)step + 1, next_role, ids);
    if (!err && final) {
        char at[32];
        dtm_iso8601(dtm_now_ms(), at);
        json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:O}", "requestId", id, "type",
                              type, "requesterId", requester, "decision", decision, "decidedBy",
                              req->auth.sub, "comment", dtm_json_str_or_null(comment), "decidedAt",
                              at, "payload", json_object_get(row, "payload"));
        err = dtm_outbox_emit(db, SCHEMA, APPROVALS_TOPIC_DECIDED, p, NULL);
        json_decref(p);
    }
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_outbox_wake(req->arena, SCHEMA);
    if (final)
        dtm_metric_inc(approve ? approvals_metrics.approved : approvals_metrics.rejected);
    resp_request(req, db, id, 200);
}

void approvals_approve(dtm_req_t *req)
{
    decide(req, "approved");
}

void approvals_reject(dtm_req_t *req)
{
    decide(req, "rejected");
}

void approvals_cancel(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Request not found");
    if (!id)
        return;
    dtm_db_t *db = dtm_svc_db(req, "approvals", req->arena);
    if (!db)
        return;
    PGresult *r;
    dtm_err_t err = approvals_db_get(db, id, &r);
    if (err == DTM_ENOTFOUND) {
        dtm_resp_error(req, 404, "not_found", "Request not found", NULL);
        return;
    }
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    if (strcmp(dtm_pg_get(r, 0, "requester_id"), req->auth.sub) != 0) {
        /* Staff may read it, so they learn it is not theirs; others find nothing. */
        if (is_staff(req))
            dtm_resp_error(req, 403, "forbidden", "Only the requester cancels a request", NULL);
        else
            dtm_resp_error(req, 404, "not_found", "Request not found", NULL);
        return;
    }
    err = dtm_db_begin(db);
    if (!err)
        err = approvals_db_cancel(db, id, req->auth.sub);
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        if (err == DTM_ECONFLICT)
            dtm_resp_error(req, 409, "not_pending", "Only a pending request can be cancelled",
                           NULL);
        else
            dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_metric_inc(approvals_metrics.cancelled);
    resp_request(req, db, id, 200);
}

/* ---- workflows ---- */

void approvals_workflow_list(dtm_req_t *req)
{
    dtm_db_t *db = dtm_svc_db(req, "approvals", req->arena);
    if (!db)
        return;
    PGresult *r;
    dtm_err_t err = approvals_db_workflow_list(db, &r);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(items, approvals_workflow_json(r, i));
    dtm_resp_json(req, 200, json_pack("{s:o}", "items", items));
}

static const char *type_param(dtm_req_t *req)
{
    const char *t = dtm_req_param(req, "type");
    if (!is_type(t)) {
        dtm_resp_error(req, 404, "not_found", "Unknown request type", NULL);
        return NULL;
    }
    return t;
}

void approvals_workflow_get(dtm_req_t *req)
{
    const char *type = type_param(req);
    if (!type)
        return;
    dtm_db_t *db = dtm_svc_db(req, "approvals", req->arena);
    if (!db)
        return;
    PGresult *r;
    dtm_err_t err = approvals_db_workflow_get(db, type, &r);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 200, json_pack("{s:o}", "workflow", approvals_workflow_json(r, 0)));
}

void approvals_workflow_put(dtm_req_t *req)
{
    const char *type = type_param(req);
    if (!type)
        return;
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    json_t *steps = json_object_get(body, "steps");
    dtm_buf_t lit;
    dtm_buf_init(&lit);
    dtm_buf_puts(&lit, "{");
    if (!json_is_array(steps) || json_array_size(steps) == 0 ||
        json_array_size(steps) > APPROVALS_MAX_STEPS)
        dtm_valid_fail(v, "steps", "must be an array of 1..%d steps {role}", APPROVALS_MAX_STEPS);
    else {
        size_t i;
        json_t *s;
        json_array_foreach(steps, i, s)
        {
            const char *role = json_string_value(json_object_get(s, "role"));
            if (!json_is_object(s) || !role ||
                (strcmp(role, "admin") != 0 && strcmp(role, "manager") != 0))
                dtm_valid_fail(v, dtm_arena_sprintf(req->arena, "steps[%zu].role", i),
                               "must be admin or manager");
            else
                dtm_buf_printf(&lit, "%s%s", i ? "," : "", role);
        }
    }
    dtm_buf_puts(&lit, "}");
    const char *roles = dtm_arena_strdup(req->arena, lit.data);
    dtm_buf_free(&lit);
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, NULL, v);
        return;
    }
    dtm_db_t *db = dtm_svc_db(req, "approvals", req->arena);
    if (!db)
        return;
    PGresult *r;
    dtm_err_t err = approvals_db_workflow_put(db, type, roles, req->auth.sub, &r);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 200, json_pack("{s:o}", "workflow", approvals_workflow_json(r, 0)));
}
