/* SPDX-License-Identifier: MIT */
/* Stores handlers: validate, call store.c, answer. Every write is one transaction with its
 * audit-log entry (services/common/audit.h). */
#include "core/ids.h"
#include "core/json.h"
#include "services/common/audit.h"
#include "services/common/call.h"
#include "services/stores/stores.h"
#include <string.h>

static void resp_store(dtm_req_t *req, int status, const PGresult *r)
{
    dtm_resp_json(req, status, json_pack("{s:o}", "store", stores_row_json(r, 0)));
}

static void resp_db_err(dtm_req_t *req, dtm_err_t err)
{
    if (err == DTM_ENOTFOUND)
        dtm_resp_error(req, 404, "not_found", "Store not found", NULL);
    else if (err == DTM_ECONFLICT)
        dtm_resp_error(req, 409, "code_taken", "A store with this code already exists",
                       json_pack("[{s:s, s:s}]", "field", "code", "message", "is taken"));
    else
        dtm_resp_err(req, err, NULL);
}

static dtm_err_t finish(dtm_db_t *db, dtm_err_t err)
{
    if (!err)
        err = dtm_db_commit(db);
    if (err)
        dtm_db_rollback(db);
    return err;
}

/* In the write's transaction, when an admin or manager makes it (all of them may write stores
 * but merchandisers cannot): what changed, all fields for a creation. */
static dtm_err_t audit_store(dtm_db_t *db, const dtm_req_t *req, const char *action,
                             const PGresult *before, const PGresult *after)
{
    static const char *const skip[] = {"updatedAt", "createdAt", NULL};
    if (!dtm_audit_wanted(req))
        return DTM_OK;
    json_t *b = before ? stores_row_json(before, 0) : NULL, *a = stores_row_json(after, 0);
    json_t *changes = dtm_audit_diff(b, a, skip);
    const char *id = json_string_value(json_object_get(a, "id"));
    dtm_err_t err = dtm_audit_append(db, req, action, "store", id, changes);
    json_decref(b);
    json_decref(a);
    return err;
}

static bool code_chars_ok(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

/* Reads the writable fields of a create (required ones enforced) or a patch. Problems go to
 * v; *tz_check is set when a timezone other than UTC must be checked against PostgreSQL. */
static void read_input(dtm_req_t *req, json_t *body, bool create, stores_input_t *in,
                       dtm_valid_t *v, bool *tz_check)
{
    memset(in, 0, sizeof *in);
    *tz_check = false;
    const char *s;
    double d;
    int64_t n;
    bool b;
    if (dtm_jstr(v, body, "code", create, 1, 50, &s)) {
        if (code_chars_ok(s))
            in->code = s;
        else
            dtm_valid_fail(v, "code", "may only hold letters, digits, '-', '_' and '.'");
    }
    if (dtm_jstr(v, body, "name", create, 1, 200, &s))
        in->name = s;
    if (dtm_jis_null(body, "address"))
        in->address = "";
    else if (dtm_jstr(v, body, "address", false, 0, 500, &s))
        in->address = s;
    if (dtm_jnum(v, body, "latitude", create, -90, 90, &d))
        in->latitude = dtm_arena_sprintf(req->arena, "%.17g", d);
    if (dtm_jnum(v, body, "longitude", create, -180, 180, &d))
        in->longitude = dtm_arena_sprintf(req->arena, "%.17g", d);
    if (dtm_jint(v, body, "geofenceRadiusM", false, 10, 5000, &n))
        in->radius_m = dtm_arena_sprintf(req->arena, "%lld", (long long)n);
    if (dtm_jstr(v, body, "timezone", false, 1, 64, &s)) {
        in->timezone = s;
        *tz_check = strcmp(s, "UTC") != 0;
    }
    if (!create && dtm_jbool(v, body, "active", false, &b))
        in->active = b ? "true" : "false";
}

static bool input_empty(const stores_input_t *in)
{
    return !in->code && !in->name && !in->address && !in->latitude && !in->longitude &&
           !in->radius_m && !in->timezone && !in->active;
}

/* Validates the timezone against the database's zone list (the zones the database can use for
 * local days in reports and the attendance team view). false: response already set. */
static bool timezone_ok(dtm_req_t *req, dtm_db_t *db, const char *tz)
{
    bool ok = false;
    dtm_err_t err = stores_db_timezone_known(db, tz, &ok);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return false;
    }
    if (!ok) {
        dtm_valid_t v;
        dtm_valid_init(&v);
        dtm_valid_fail(&v, "timezone", "%s", "must be an IANA time zone name such as Europe/Paris");
        dtm_resp_invalid(req, NULL, &v);
        dtm_valid_cleanup(&v);
    }
    return ok;
}

static void bad_filter(dtm_req_t *req, const char *field, const char *message)
{
    dtm_valid_t v;
    dtm_valid_init(&v);
    dtm_valid_fail(&v, field, "%s", message);
    dtm_resp_invalid(req, "Bad filter", &v);
    dtm_valid_cleanup(&v);
}

void stores_list(dtm_req_t *req)
{
    stores_filter_t f = {.active = -1};
    if (!dtm_req_page(req, &f.page, &f.limit))
        return;
    const char *active = dtm_req_query(req, "active");
    if (active) {
        if (strcmp(active, "true") == 0)
            f.active = 1;
        else if (strcmp(active, "false") == 0)
            f.active = 0;
        else {
            bad_filter(req, "active", "must be true or false");
            return;
        }
    }
    const char *search = dtm_req_query(req, "search");
    if (search && *search) {
        if (strlen(search) > 200) {
            bad_filter(req, "search", "must be at most 200 characters long");
            return;
        }
        f.search = stores_like_pattern(req->arena, search);
    }
    dtm_db_t *db = dtm_svc_db_read(req, "stores", req->arena);
    if (!db)
        return;
    PGresult *r;
    long long total = 0;
    dtm_err_t err = stores_db_list(db, &f, &r, &total);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(items, stores_row_json(r, i));
    dtm_resp_json(req, 200,
                  json_pack("{s:o, s:o}", "items", items, "pagination",
                            dtm_pagination(f.page, f.limit, total)));
}

void stores_create(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    stores_input_t in;
    dtm_valid_t v;
    bool tz_check;
    dtm_valid_init(&v);
    read_input(req, body, true, &in, &v, &tz_check);
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, NULL, &v);
        return;
    }
    dtm_valid_cleanup(&v);
    dtm_db_t *db = dtm_svc_db(req, "stores", req->arena);
    if (!db)
        return;
    if (tz_check && !timezone_ok(req, db, in.timezone))
        return;
    PGresult *r = NULL;
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = stores_db_insert(db, &in, &r);
    if (!err)
        err = audit_store(db, req, "store.create", NULL, r);
    err = finish(db, err);
    if (err) {
        resp_db_err(req, err);
        return;
    }
    resp_store(req, 201, r);
}

void stores_get(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Store not found");
    if (!id)
        return;
    dtm_db_t *db = dtm_svc_db(req, "stores", req->arena);
    if (!db)
        return;
    PGresult *r;
    dtm_err_t err = stores_db_get(db, id, &r);
    if (err) {
        resp_db_err(req, err);
        return;
    }
    resp_store(req, 200, r);
}

void stores_update(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Store not found");
    if (!id)
        return;
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    stores_input_t in;
    dtm_valid_t v;
    bool tz_check;
    dtm_valid_init(&v);
    read_input(req, body, false, &in, &v, &tz_check);
    if (dtm_valid_ok(&v) && input_empty(&in))
        dtm_valid_fail(&v, "body",
                       "must hold at least one of code, name, address, latitude, longitude, "
                       "geofenceRadiusM, timezone, active");
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, NULL, &v);
        return;
    }
    dtm_valid_cleanup(&v);
    dtm_db_t *db = dtm_svc_db(req, "stores", req->arena);
    if (!db)
        return;
    if (tz_check && !timezone_ok(req, db, in.timezone))
        return;
    PGresult *before = NULL, *r = NULL;
    dtm_err_t err = dtm_db_begin(db);
    if (!err && dtm_audit_wanted(req))
        err = stores_db_get(db, id, &before);
    if (!err)
        err = stores_db_update(db, id, &in, &r);
    if (!err)
        err = audit_store(db, req, "store.update", before, r);
    err = finish(db, err);
    if (err) {
        resp_db_err(req, err);
        return;
    }
    resp_store(req, 200, r);
}

void stores_delete(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Store not found");
    if (!id)
        return;
    dtm_db_t *db = dtm_svc_db(req, "stores", req->arena);
    if (!db)
        return;
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = stores_db_deactivate(db, id);
    if (!err && dtm_audit_wanted(req))
        err = dtm_audit_append(db, req, "store.deactivate", "store", id,
                               json_pack("{s:{s:b}}", "active", "to", 0));
    err = finish(db, err);
    if (err) {
        resp_db_err(req, err);
        return;
    }
    dtm_resp_json(req, 204, NULL);
}
