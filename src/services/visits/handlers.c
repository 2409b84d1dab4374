/* SPDX-License-Identifier: MIT */
/* Visits handlers: validate, ask the users/stores services what they own (before holding a
 * connection of our own), call store.c, answer. Writes that read before they write run in one
 * transaction with the visit locked. */
#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/str.h"
#include "core/timeutil.h"
#include "db/outbox.h"
#include "services/common/call.h"
#include "services/visits/visits.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static void decref(void *j)
{
    json_decref(j);
}

typedef enum { REF_OK, REF_BAD, REF_FAILED } ref_t;

/* GET /api/<kind>s/:id: REF_OK with the object (arena-owned) when it exists and is active,
 * REF_BAD when unknown or inactive (the caller lists it as a validation problem), REF_FAILED
 * with the response set when the owner could not answer. */
static ref_t fetch_ref(dtm_req_t *req, const char *kind, const char *id, json_t **obj)
{
    int status;
    json_t *out;
    dtm_err_t err = dtm_svc_call(req, "GET", dtm_arena_sprintf(req->arena, "/api/%ss/%s", kind, id),
                                 NULL, &status, &out);
    if (err == DTM_OK && status == 404)
        return REF_BAD;
    json_t *o = json_object_get(out, kind);
    if (err != DTM_OK || status != 200 || !json_is_object(o)) {
        dtm_svc_resp_upstream(req, err, status,
                              strcmp(kind, "user") == 0 ? "users service" : "stores service");
        return REF_FAILED;
    }
    *obj = o;
    return json_is_false(json_object_get(o, "active")) ? REF_BAD : REF_OK;
}

static const char *store_tz(json_t *store)
{
    const char *tz = json_string_value(json_object_get(store, "timezone"));
    return tz ? tz : "UTC";
}

/* YYYY-MM-DD naming a real day of years 2000..9999. */
static bool is_date(const char *s)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 2000 || m < 1 || m > 12 || d < 1)
        return false;
    int max = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    return d <= max;
}

/* HH:MM, 00:00 .. 23:59. */
static bool is_hhmm(const char *s)
{
    return s && strlen(s) == 5 && s[2] == ':' && s[0] >= '0' && s[0] <= '2' && s[1] >= '0' &&
           s[1] <= '9' && s[3] >= '0' && s[3] <= '5' && s[4] >= '0' && s[4] <= '9' &&
           (s[0] < '2' || s[1] <= '3');
}

static bool jdate(dtm_valid_t *v, json_t *body, const char *field, bool required, const char **out)
{
    const char *s;
    if (!dtm_jstr(v, body, field, required, 1, 10, &s))
        return false;
    if (!is_date(s)) {
        dtm_valid_fail(v, field, "must be a date YYYY-MM-DD");
        return false;
    }
    *out = s;
    return true;
}

static void bad_field(dtm_req_t *req, const char *field, const char *message)
{
    dtm_valid_t *v = dtm_req_validator(req);
    dtm_valid_fail(v, field, "%s", message);
    dtm_resp_invalid(req, NULL, v);
}

static void resp_visit(dtm_req_t *req, int status, const PGresult *r)
{
    dtm_resp_json(req, status, json_pack("{s:o}", "visit", visits_row_json(r, 0)));
}

static void resp_duplicate(dtm_req_t *req)
{
    dtm_resp_error(req, 409, "duplicate_visit",
                   "This user already has a visit at this store on that day",
                   json_pack("[{s:s, s:s}]", "field", "plannedDate", "message",
                             "already has a visit of this user at this store"));
}

/* A visit that has started (or was never planned) belongs to what happened on site. */
static bool check_editable(dtm_req_t *req, const char *status)
{
    if (strcmp(status, "in_progress") == 0 || strcmp(status, "completed") == 0 ||
        strcmp(status, "unplanned") == 0) {
        dtm_resp_error(req, 409, "visit_started", "The visit has already started", NULL);
        return false;
    }
    return true;
}

/* ---- one-off visits ---- */

void visits_create(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    visits_input_t in = {.created_by = req->auth.sub};
    const char *s;
    int64_t n;
    dtm_juuid(v, body, "userId", true, &in.user_id);
    dtm_juuid(v, body, "storeId", true, &in.store_id);
    jdate(v, body, "plannedDate", true, &in.planned_date);
    if (dtm_jstr(v, body, "plannedStart", false, 0, 5, &s)) {
        if (is_hhmm(s))
            in.planned_start = s;
        else
            dtm_valid_fail(v, "plannedStart", "must be a time HH:MM");
    }
    if (dtm_jint(v, body, "sequence", false, 0, 1000, &n))
        in.sequence = dtm_arena_sprintf(req->arena, "%lld", (long long)n);
    dtm_jstr(v, body, "notes", false, 0, 2000, &in.notes);
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, NULL, v);
        return;
    }
    json_t *user, *store;
    ref_t ru = fetch_ref(req, "user", in.user_id, &user);
    if (ru == REF_FAILED)
        return;
    ref_t rs = fetch_ref(req, "store", in.store_id, &store);
    if (rs == REF_FAILED)
        return;
    if (ru == REF_BAD)
        dtm_valid_fail(v, "userId", "is not an active user");
    if (rs == REF_BAD)
        dtm_valid_fail(v, "storeId", "is not an active store");
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, NULL, v);
        return;
    }
    in.store_tz = dtm_arena_strdup(req->arena, store_tz(store));
    dtm_db_t *db = dtm_svc_db(req, "visits", req->arena);
    if (!db)
        return;
    const char *today;
    dtm_err_t err = visits_db_local_today(db, in.store_tz, &today);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    if (strcmp(in.planned_date, today) < 0) {
        bad_field(req, "plannedDate", "must not be in the past (in the store's time zone)");
        return;
    }
    PGresult *r;
    err = visits_db_insert(db, &in, &r);
    if (err == DTM_ECONFLICT) {
        resp_duplicate(req);
        return;
    }
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    resp_visit(req, 201, r);
}

void visits_list(dtm_req_t *req)
{
    visits_filter_t f = {0};
    if (!dtm_req_page(req, &f.page, &f.limit))
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    const char *q;
    f.user_id = dtm_req_query_uuid(req, v, "userId");
    f.store_id = dtm_req_query_uuid(req, v, "storeId");
    if ((q = dtm_req_query(req, "from")) && *q) {
        if (is_date(q))
            f.from = q;
        else
            dtm_valid_fail(v, "from", "must be a date YYYY-MM-DD");
    }
    if ((q = dtm_req_query(req, "to")) && *q) {
        if (is_date(q))
            f.to = q;
        else
            dtm_valid_fail(v, "to", "must be a date YYYY-MM-DD");
    }
    if (f.from && f.to && strcmp(f.to, f.from) < 0)
        dtm_valid_fail(v, "to", "must not be before from");
    static const char *const statuses[] = {"planned",   "in_progress", "completed", "missed",
                                           "cancelled", "unplanned",   NULL};
    if ((q = dtm_req_query(req, "status")) && *q) {
        bool ok = false;
        for (int i = 0; statuses[i]; i++)
            ok = ok || strcmp(q, statuses[i]) == 0;
        if (ok)
            f.status = q;
        else
            dtm_valid_fail(v, "status",
                           "must be one of planned, in_progress, completed, missed, cancelled, "
                           "unplanned");
    }
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Bad filter", v);
        return;
    }
    if (!dtm_req_own_scope(req, &f.user_id, "visits"))
        return;
    dtm_db_t *db = dtm_svc_db(req, "visits", req->arena);
    if (!db)
        return;
    PGresult *r;
    long long total = 0;
    dtm_err_t err = visits_db_list(db, &f, &r, &total);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(items, visits_row_json(r, i));
    dtm_resp_json(req, 200,
                  json_pack("{s:o, s:o}", "items", items, "pagination",
                            dtm_pagination(f.page, f.limit, total)));
}

void visits_today(dtm_req_t *req)
{
    dtm_db_t *db = dtm_svc_db(req, "visits", req->arena);
    if (!db)
        return;
    PGresult *r;
    dtm_err_t err = visits_db_today(db, req->auth.sub, &r);
    const char *date = NULL;
    if (!err)
        err = visits_db_local_today(
            db, PQntuples(r) > 0 ? dtm_pg_get(r, 0, "store_timezone") : "UTC", &date);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    /* Each store once; a store the stores service cannot describe comes as null. */
    json_t *stores = json_object();
    dtm_arena_defer(req->arena, decref, stores);
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        const char *sid = dtm_pg_get(r, i, "store_id");
        json_t *store = json_object_get(stores, sid);
        if (!store) {
            int status;
            json_t *out;
            err = dtm_svc_call(req, "GET", dtm_arena_sprintf(req->arena, "/api/stores/%s", sid),
                               NULL, &status, &out);
            store = err == DTM_OK && status == 200 ? json_object_get(out, "store") : NULL;
            json_object_set(stores, sid, store ? store : json_null());
            store = json_object_get(stores, sid);
        }
        json_t *item = visits_row_json(r, i);
        json_object_set(item, "store", store);
        json_array_append_new(items, item);
    }
    dtm_resp_json(req, 200, json_pack("{s:s, s:o}", "date", date, "items", items));
}

void visits_update(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Visit not found");
    if (!id)
        return;
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    visits_input_t in = {0};
    const char *s;
    int64_t n;
    dtm_juuid(v, body, "userId", false, &in.user_id);
    jdate(v, body, "plannedDate", false, &in.planned_date);
    if (dtm_jis_null(body, "plannedStart"))
        in.planned_start = "";
    else if (dtm_jstr(v, body, "plannedStart", false, 0, 5, &s)) {
        if (is_hhmm(s))
            in.planned_start = s;
        else
            dtm_valid_fail(v, "plannedStart", "must be a time HH:MM or null");
    }
    if (dtm_jint(v, body, "sequence", false, 0, 1000, &n))
        in.sequence = dtm_arena_sprintf(req->arena, "%lld", (long long)n);
    dtm_jstr(v, body, "notes", false, 0, 2000, &in.notes);
    if (dtm_valid_ok(v) && !in.user_id && !in.planned_date && !in.planned_start && !in.sequence &&
        !in.notes)
        dtm_valid_fail(v, "body",
                       "must hold at least one of plannedDate, plannedStart, sequence, notes, "
                       "userId");
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, NULL, v);
        return;
    }
    if (in.user_id) {
        json_t *user;
        ref_t ru = fetch_ref(req, "user", in.user_id, &user);
        if (ru == REF_FAILED)
            return;
        if (ru == REF_BAD) {
            bad_field(req, "userId", "is not an active user");
            return;
        }
    }
    dtm_db_t *db = dtm_svc_db(req, "visits", req->arena);
    if (!db)
        return;
    PGresult *cur, *r;
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = visits_db_lock(db, id, &cur);
    if (err == DTM_ENOTFOUND) {
        dtm_db_rollback(db);
        dtm_resp_error(req, 404, "not_found", "Visit not found", NULL);
        return;
    }
    if (err) {
        dtm_db_rollback(db);
        dtm_resp_err(req, err, NULL);
        return;
    }
    const char *status = dtm_pg_get(cur, 0, "status");
    if (!check_editable(req, status)) {
        dtm_db_rollback(db);
        return;
    }
    if (strcmp(status, "cancelled") == 0) {
        dtm_db_rollback(db);
        dtm_resp_error(req, 409, "visit_cancelled", "The visit is cancelled", NULL);
        return;
    }
    if (in.planned_date) {
        const char *today;
        err = visits_db_local_today(db, dtm_pg_get(cur, 0, "store_timezone"), &today);
        if (err) {
            dtm_db_rollback(db);
            dtm_resp_err(req, err, NULL);
            return;
        }
        if (strcmp(in.planned_date, today) < 0) {
            dtm_db_rollback(db);
            bad_field(req, "plannedDate", "must not be in the past (in the store's time zone)");
            return;
        }
    }
    err = visits_db_update(db, id, &in, &r);
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        if (err == DTM_ECONFLICT)
            resp_duplicate(req);
        else
            dtm_resp_err(req, err, NULL);
        return;
    }
    resp_visit(req, 200, r);
}

void visits_delete(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Visit not found");
    if (!id)
        return;
    dtm_db_t *db = dtm_svc_db(req, "visits", req->arena);
    if (!db)
        return;
    PGresult *cur;
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = visits_db_lock(db, id, &cur);
    if (err == DTM_ENOTFOUND) {
        dtm_db_rollback(db);
        dtm_resp_error(req, 404, "not_found", "Visit not found", NULL);
        return;
    }
    if (!err && !check_editable(req, dtm_pg_get(cur, 0, "status"))) {
        dtm_db_rollback(db);
        return;
    }
    if (!err)
        err = visits_db_cancel(db, id);
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 204, NULL);
}

/* ---- plans ---- */

/* weekdays: a non-empty array of distinct ISO weekdays as "{1,3,5}". */
static const char *read_weekdays(dtm_req_t *req, dtm_valid_t *v, json_t *a)
{
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > 7) {
        dtm_valid_fail(v, "weekdays", "must be a non-empty array of ISO weekdays 1..7");
        return NULL;
    }
    bool seen[8] = {0};
    dtm_buf_t b;
    dtm_buf_init(&b);
    dtm_buf_puts(&b, "{");
    size_t i;
    json_t *x;
    const char *out = NULL;
    json_array_foreach(a, i, x)
    {
        json_int_t d = json_is_integer(x) ? json_integer_value(x) : 0;
        if (d < 1 || d > 7 || seen[d]) {
            dtm_valid_fail(v, "weekdays", "must hold distinct ISO weekdays 1 (Monday) .. 7");
            goto out;
        }
        seen[d] = true;
        dtm_buf_printf(&b, "%s%lld", i ? "," : "", (long long)d);
    }
    dtm_buf_puts(&b, "}");
    out = dtm_arena_strdup(req->arena, b.data);
out:
    dtm_buf_free(&b);
    return out;
}

#define PLAN_MAX_STORES 50

/* storeIds: 1..50 distinct UUIDs, in route order. */
static json_t *read_store_ids(dtm_valid_t *v, json_t *a)
{
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > PLAN_MAX_STORES) {
        dtm_valid_fail(v, "storeIds", "must be an array of 1..%d store ids", PLAN_MAX_STORES);
        return NULL;
    }
    size_t i, j;
    json_t *x;
    json_array_foreach(a, i, x)
    {
        if (!json_is_string(x) || !dtm_uuid_valid(json_string_value(x))) {
            dtm_valid_fail(v, "storeIds", "item %zu must be a UUID", i);
            return NULL;
        }
        for (j = 0; j < i; j++)
            if (strcasecmp(json_string_value(json_array_get(a, j)), json_string_value(x)) == 0) {
                dtm_valid_fail(v, "storeIds", "must not repeat a store");
                return NULL;
            }
    }
    return a;
}

/* Looks every store up; the ids and zones as PostgreSQL array literals. false with the
 * response set (400 listing the unknown stores, or an upstream error). */
static bool resolve_stores(dtm_req_t *req, json_t *ids, const char **lit_ids, const char **lit_tzs)
{
    dtm_valid_t *v = dtm_req_validator(req);
    dtm_buf_t a, b;
    dtm_buf_init(&a);
    dtm_buf_init(&b);
    dtm_buf_puts(&a, "{");
    dtm_buf_puts(&b, "{");
    size_t i;
    json_t *x;
    bool ok = true;
    json_array_foreach(ids, i, x)
    {
        json_t *store;
        ref_t rs = fetch_ref(req, "store", json_string_value(x), &store);
        if (rs == REF_FAILED) {
            ok = false;
            goto out;
        }
        if (rs == REF_BAD) {
            dtm_valid_fail(v, "storeIds", "%s is not an active store", json_string_value(x));
            continue;
        }
        /* Zone names are IANA names ([A-Za-z0-9/_+-]), safe inside a quoted element. */
        dtm_buf_printf(&a, "%s%s", i ? "," : "", json_string_value(x));
        dtm_buf_printf(&b, "%s\"%s\"", i ? "," : "", store_tz(store));
    }
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, NULL, v);
        ok = false;
        goto out;
    }
    dtm_buf_puts(&a, "}");
    dtm_buf_puts(&b, "}");
    *lit_ids = dtm_arena_strdup(req->arena, a.data);
    *lit_tzs = dtm_arena_strdup(req->arena, b.data);
out:
    dtm_buf_free(&a);
    dtm_buf_free(&b);
    return ok;
}

/* Reads a plan body (create: userId, name, weekdays, storeIds, validFrom required). */
static bool read_plan(dtm_req_t *req, json_t *body, bool create, visits_plan_input_t *in)
{
    dtm_valid_t *v = dtm_req_validator(req);
    memset(in, 0, sizeof *in);
    bool b;
    dtm_juuid(v, body, "userId", create, &in->user_id);
    dtm_jstr(v, body, "name", create, 1, 200, &in->name);
    json_t *wd = json_object_get(body, "weekdays");
    if (wd && !json_is_null(wd))
        in->weekdays = read_weekdays(req, v, wd);
    else if (create)
        dtm_valid_fail(v, "weekdays", "is required");
    json_t *ids = json_object_get(body, "storeIds");
    json_t *store_ids = NULL;
    if (ids && !json_is_null(ids))
        store_ids = read_store_ids(v, ids);
    else if (create)
        dtm_valid_fail(v, "storeIds", "is required");
    jdate(v, body, "validFrom", create, &in->valid_from);
    if (dtm_jis_null(body, "validTo"))
        in->valid_to_null = true;
    else
        jdate(v, body, "validTo", false, &in->valid_to);
    if (in->valid_from && in->valid_to && strcmp(in->valid_to, in->valid_from) < 0)
        dtm_valid_fail(v, "validTo", "must not be before validFrom");
    if (dtm_jbool(v, body, "active", false, &b))
        in->active = b ? "true" : "false";
    if (!create && dtm_valid_ok(v) && !in->user_id && !in->name && !in->weekdays && !store_ids &&
        !in->valid_from && !in->valid_to && !in->valid_to_null && !in->active)
        dtm_valid_fail(v, "body",
                       "must hold at least one of userId, name, weekdays, storeIds, validFrom, "
                       "validTo, active");
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, NULL, v);
        return false;
    }
    if (in->user_id) {
        json_t *user;
        ref_t ru = fetch_ref(req, "user", in->user_id, &user);
        if (ru == REF_FAILED)
            return false;
        if (ru == REF_BAD) {
            bad_field(req, "userId", "is not an active user");
            return false;
        }
    }
    if (store_ids && !resolve_stores(req, store_ids, &in->store_ids, &in->store_tzs))
        return false;
    return true;
}

static void resp_plan(dtm_req_t *req, int status, const PGresult *r, long long created)
{
    dtm_resp_json(req, status,
                  json_pack("{s:o, s:I}", "plan", visits_plan_json(r, 0), "materialised",
                            (json_int_t)created));
}

void visits_plan_create(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    visits_plan_input_t in;
    if (!read_plan(req, body, true, &in))
        return;
    in.created_by = req->auth.sub;
    dtm_db_t *db = dtm_svc_db(req, "visits", req->arena);
    if (!db)
        return;
    PGresult *r;
    long long created = 0;
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = visits_db_plan_insert(db, &in, &r);
    if (!err)
        err = visits_db_materialise(db, dtm_pg_get(r, 0, "id"), &created);
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        dtm_resp_err(req, err, NULL);
        return;
    }
    resp_plan(req, 201, r, created);
}

void visits_plan_list(dtm_req_t *req)
{
    int page, limit, active = -1;
    if (!dtm_req_page(req, &page, &limit))
        return;
    const char *user_id = dtm_req_query(req, "userId"), *q = dtm_req_query(req, "active");
    if (user_id && *user_id && !dtm_uuid_valid(user_id)) {
        bad_field(req, "userId", "must be a UUID");
        return;
    }
    if (user_id && !*user_id)
        user_id = NULL;
    if (q && *q) {
        if (strcmp(q, "true") == 0)
            active = 1;
        else if (strcmp(q, "false") == 0)
            active = 0;
        else {
            bad_field(req, "active", "must be true or false");
            return;
        }
    }
    dtm_db_t *db = dtm_svc_db(req, "visits", req->arena);
    if (!db)
        return;
    PGresult *r;
    long long total = 0;
    dtm_err_t err = visits_db_plan_list(db, user_id, active, page, limit, &r, &total);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(items, visits_plan_json(r, i));
    dtm_resp_json(
        req, 200,
        json_pack("{s:o, s:o}", "items", items, "pagination", dtm_pagination(page, limit, total)));
}

void visits_plan_update(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Plan not found");
    if (!id)
        return;
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    visits_plan_input_t in;
    if (!read_plan(req, body, false, &in))
        return;
    dtm_db_t *db = dtm_svc_db(req, "visits", req->arena);
    if (!db)
        return;
    PGresult *r;
    long long created = 0;
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = visits_db_plan_update(db, id, &in, &r);
    if (!err)
        err = visits_db_materialise(db, id, &created);
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        if (err == DTM_ENOTFOUND)
            dtm_resp_error(req, 404, "not_found", "Plan not found", NULL);
        else if (err == DTM_EINVAL) /* validTo before the stored validFrom (CHECK) */
            bad_field(req, "validTo", "must not be before validFrom");
        else
            dtm_resp_err(req, err, NULL);
        return;
    }
    resp_plan(req, 200, r, created);
}

void visits_plan_delete(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Plan not found");
    if (!id)
        return;
    dtm_db_t *db = dtm_svc_db(req, "visits", req->arena);
    if (!db)
        return;
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = visits_db_plan_deactivate(db, id);
    if (!err) /* its untouched future visits go with it */
        err = visits_db_materialise(db, id, NULL);
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        if (err == DTM_ENOTFOUND)
            dtm_resp_error(req, 404, "not_found", "Plan not found", NULL);
        else
            dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 204, NULL);
}

/* ---- coverage ---- */

#define COVERAGE_MAX_DAYS 366

static json_t *compliance(long long planned, long long cancelled, long long completed)
{
    long long base = planned - cancelled;
    if (base <= 0)
        return json_null();
    return json_real(round((double)completed * 1000.0 / (double)base) / 10.0);
}

static json_t *counts_json(const PGresult *r, int i)
{
    long long planned = dtm_pg_int(r, i, "planned", 0),
              completed = dtm_pg_int(r, i, "completed", 0),
              cancelled = dtm_pg_int(r, i, "cancelled", 0);
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "planned", (json_int_t)planned,
                     "completed", (json_int_t)completed, "missed",
                     (json_int_t)dtm_pg_int(r, i, "missed", 0), "cancelled", (json_int_t)cancelled,
                     "unplanned", (json_int_t)dtm_pg_int(r, i, "unplanned", 0), "inProgress",
                     (json_int_t)dtm_pg_int(r, i, "in_progress", 0), "compliancePct",
                     compliance(planned, cancelled, completed));
}

static int64_t day_ms(const char *date)
{
    int64_t ms = 0;
    dtm_parse_iso8601(date, &ms);
    return ms;
}

void visits_coverage(dtm_req_t *req)
{
    dtm_valid_t *v = dtm_req_validator(req);
    const char *from = dtm_req_query(req, "from"), *to = dtm_req_query(req, "to");
    const char *user_id = dtm_req_query_uuid(req, v, "userId");
    const char *store_id = dtm_req_query_uuid(req, v, "storeId");
    char dfrom[32], dto[32];
    if (from && *from && !is_date(from))
        dtm_valid_fail(v, "from", "must be a date YYYY-MM-DD");
    if (to && *to && !is_date(to))
        dtm_valid_fail(v, "to", "must be a date YYYY-MM-DD");
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Bad filter", v);
        return;
    }
    /* Default: the last 7 days up to today (UTC). */
    if (!to || !*to) {
        dtm_iso8601(dtm_now_ms(), dto);
        dto[10] = '\0';
        to = dto;
    }
    if (!from || !*from) {
        dtm_iso8601(day_ms(to) - 6 * 86400000LL, dfrom);
        dfrom[10] = '\0';
        from = dfrom;
    }
    if (strcmp(to, from) < 0)
        dtm_valid_fail(v, "to", "must not be before from");
    else if ((day_ms(to) - day_ms(from)) / 86400000LL >= COVERAGE_MAX_DAYS)
        dtm_valid_fail(v, "to", "the range may span at most %d days", COVERAGE_MAX_DAYS);
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Bad filter", v);
        return;
    }
    dtm_db_t *db = dtm_svc_db(req, "visits", req->arena);
    if (!db)
        return;
    PGresult *r;
    dtm_err_t err = visits_db_coverage(db, from, to, user_id && *user_id ? user_id : NULL,
                                       store_id && *store_id ? store_id : NULL, &r);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    json_t *by_user = json_array(), *by_store = json_array(), *all = NULL;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *grp = dtm_pg_get(r, i, "grp");
        json_t *c = counts_json(r, i);
        if (strcmp(grp, "user") == 0) {
            json_object_set_new(c, "userId", json_string(dtm_pg_get(r, i, "user_id")));
            json_array_append_new(by_user, c);
        } else if (strcmp(grp, "store") == 0) {
            json_object_set_new(c, "storeId", json_string(dtm_pg_get(r, i, "store_id")));
            json_array_append_new(by_store, c);
        } else {
            json_decref(all);
            all = c;
        }
    }
    if (!all) /* no rows at all: grouping sets give no () row over an empty input */
        all =
            json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:n}", "planned", 0, "completed", 0, "missed",
                      0, "cancelled", 0, "unplanned", 0, "inProgress", 0, "compliancePct");
    json_object_set_new(all, "from", json_string(from));
    json_object_set_new(all, "to", json_string(to));
    json_object_set_new(all, "byUser", by_user);
    json_object_set_new(all, "byStore", by_store);
    dtm_resp_json(req, 200, all);
}

/* ---- attendance events (outbox consumer) ---- */

void visits_event(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    const char *event_id, *topic, *att = NULL, *user = NULL, *store = NULL, *in_at = NULL,
                                  *out_at = NULL, *tz = NULL;
    dtm_juuid(v, body, "eventId", true, &event_id);
    dtm_jstr(v, body, "topic", true, 1, 128, &topic);
    json_t *p = json_object_get(body, "payload");
    if (!json_is_object(p))
        dtm_valid_fail(v, "payload", "must be an object");
    else {
        dtm_juuid(v, p, "attendanceId", true, &att);
        dtm_juuid(v, p, "userId", true, &user);
        dtm_juuid(v, p, "storeId", true, &store);
        dtm_jstr(v, p, "punchInAt", true, 1, 40, &in_at);
        dtm_jstr(v, p, "punchOutAt", false, 1, 40, &out_at);
        dtm_jstr(v, p, "storeTimezone", false, 1, 64, &tz);
    }
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Malformed event", v);
        return;
    }
    bool is_in = strcmp(topic, "attendance.punched_in") == 0;
    bool is_out = strcmp(topic, "attendance.punched_out") == 0;
    dtm_db_t *db = dtm_svc_db(req, "visits", req->arena);
    if (!db)
        return;
    bool fresh = false;
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = dtm_outbox_claim(db, "visits", event_id, topic, &fresh);
    if (!err && fresh && is_in)
        err = visits_db_apply_punch_in(db, att, user, store, tz, in_at);
    if (!err && fresh && is_out)
        err = visits_db_apply_punch_out(db, att, out_at);
    if (err == DTM_ENOTFOUND) {
        /* The punch-out overtook its punch-in (both are retried independently): not yet. */
        dtm_db_rollback(db);
        dtm_resp_error(req, 409, "not_ready", "The punch-in of this attendance is not applied yet",
                       NULL);
        return;
    }
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 200, json_pack("{s:b}", "applied", fresh && (is_in || is_out)));
}
