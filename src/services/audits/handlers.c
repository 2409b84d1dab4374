/* SPDX-License-Identifier: MIT */
/* Audits handlers. Who may do what (API.md): templates are read by every role and written by
 * admins and managers; anyone may start an audit (a merchandiser only while punched in at that
 * store), only its author fills in, adds photos and submits it; merchandisers read only their
 * own audits; scores are for admins and managers.
 *
 * Other services (stores, attendance, todos, visits) are asked with dtm_svc_call while this
 * request holds no database connection of its own (see services/common/call.h).
 *
 * Submitting is exactly-once without a lock held across services: the draft is scored at one
 * revision, each corrective todo is created with a sourceRef that the todos service keys
 * uniquely ("audit:<id>:<questionId>", so a retry or a racing submit gets the same todo), and
 * the draft becomes submitted only if it is still a draft at that revision: of two racing
 * submits one gets 200 and the other 409 already_submitted, and both name the same todos. */
#include "core/config.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/str.h"
#include "core/timeutil.h"
#include "db/outbox.h"
#include "services/audits/audits.h"
#include "services/common/audit.h"
#include "services/common/call.h"
#include "services/common/photo.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CAPTURED_PAST_MS   (72LL * 3600 * 1000)
#define CAPTURED_FUTURE_MS (5LL * 60 * 1000)
#define MAX_PATCH_ANSWERS  AUDITS_MAX_QUESTIONS

/* ---- helpers ---- */

static void decref(void *j)
{
    json_decref(j);
}

/* A JSON value owned by the request arena (new reference stolen). */
static json_t *owned(dtm_req_t *req, json_t *j)
{
    if (j)
        dtm_arena_defer(req->arena, decref, j);
    return j;
}

static bool is_staff(const dtm_req_t *req)
{
    return dtm_req_has_role(req, DTM_ROLES_STAFF); /* SERVICE passes too */
}

static void not_found(dtm_req_t *req, const char *what)
{
    dtm_resp_error(req, 404, "not_found", dtm_arena_sprintf(req->arena, "%s not found", what),
                   NULL);
}

static char *text_of(dtm_req_t *req, json_t *j)
{
    char *t = dtm_json_dumps(j);
    char *copy = dtm_arena_strdup(req->arena, t);
    free(t);
    return copy;
}

static const char *iso_now(dtm_req_t *req, int64_t plus_ms)
{
    char *out = dtm_arena_alloc(req->arena, 32);
    dtm_iso8601(dtm_now_ms() + plus_ms, out);
    return out;
}

static void resp_template(dtm_req_t *req, int status, const PGresult *r)
{
    dtm_resp_json(req, status, json_pack("{s:o}", "template", audits_template_json(r, 0)));
}

static void resp_audit(dtm_req_t *req, int status, const PGresult *r)
{
    dtm_resp_json(req, status, json_pack("{s:o}", "audit", audits_audit_json(r, 0)));
}

/* ---- templates ---- */

void audits_templates_list(dtm_req_t *req)
{
    int page, limit, active = -1;
    if (!dtm_req_page(req, &page, &limit))
        return;
    const char *q = dtm_req_query(req, "active");
    if (q) {
        if (strcmp(q, "true") == 0)
            active = 1;
        else if (strcmp(q, "false") == 0)
            active = 0;
        else {
            dtm_resp_error(
                req, 400, "validation_failed", "Invalid filter",
                json_pack("[{s:s, s:s}]", "field", "active", "message", "must be true or false"));
            return;
        }
    }
    dtm_db_t *db = dtm_svc_db(req, "audits", req->arena);
    if (!db)
        return;
    PGresult *rows;
    long long total;
    dtm_err_t err = audits_db_template_list(db, active, page, limit, &rows, &total);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(rows); i++)
        json_array_append_new(items, audits_template_json(rows, i));
    dtm_resp_json(
        req, 200,
        json_pack("{s:o, s:o}", "items", items, "pagination", dtm_pagination(page, limit, total)));
}

/* The writable fields of a template body; `creating` makes name and questions required. */
static bool read_template(dtm_req_t *req, json_t *body, bool creating, audits_template_in_t *in,
                          int *active)
{
    dtm_valid_t *v = dtm_req_validator(req);
    const char *s;
    double pct;
    bool b;
    *active = -1;
    if (dtm_jstr(v, body, "name", creating, 1, 200, &s))
        in->name = s;
    if (dtm_jstr(v, body, "description", false, 0, 2000, &s))
        in->description = s;
    if (dtm_jnum(v, body, "passThresholdPct", false, 0, 100, &pct))
        in->threshold = dtm_arena_sprintf(req->arena, "%.1f", pct);
    if (dtm_jbool(v, body, "active", false, &b))
        *active = b;
    json_t *qs = json_object_get(body, "questions");
    if (qs || creating) {
        json_t *norm = owned(req, audits_questions_parse(v, qs));
        if (norm)
            in->questions = text_of(req, norm);
    }
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Template is not valid", v);
        return false;
    }
    return true;
}

/* The audit log's entry of a template write (admins and managers write templates): what was
 * asked, in the write's transaction. */
static dtm_err_t audit_template(dtm_db_t *db, const dtm_req_t *req, const char *action,
                                const char *id, json_t *body)
{
    if (!dtm_audit_wanted(req))
        return DTM_OK;
    return dtm_audit_append(db, req, action, "template", id,
                            body ? json_pack("{s:O}", "request", body)
                                 : json_pack("{s:{s:b}}", "active", "to", 0));
}

void audits_templates_create(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    audits_template_in_t in = {0};
    int active;
    if (!read_template(req, body, true, &in, &active))
        return;
    dtm_db_t *db = dtm_svc_db(req, "audits", req->arena);
    if (!db)
        return;
    char id[DTM_UUID_LEN + 1];
    dtm_err_t err = dtm_db_begin(db);
    if (err == DTM_OK)
        err = audits_db_template_insert(db, req->auth.sub, &in, id);
    if (err == DTM_OK && active == 0)
        err = audits_db_template_set_active(db, id, false);
    if (err == DTM_OK)
        err = audit_template(db, req, "template.create", id, body);
    if (err == DTM_OK)
        err = dtm_db_commit(db);
    PGresult *r;
    if (err == DTM_OK)
        err = audits_db_template_get(db, id, 0, 0, &r);
    if (err) {
        dtm_db_rollback(db);
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_metric_inc(audits_metrics.templates);
    resp_template(req, 201, r);
}

void audits_templates_get(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Template not found");
    if (!id)
        return;
    int version = 0;
    const char *q = dtm_req_query(req, "version");
    if (q) {
        char *end;
        errno = 0;
        long n = strtol(q, &end, 10);
        if (!*q || *end || errno || n < 1 || n > 1000000) {
            dtm_resp_error(req, 400, "validation_failed", "Invalid version",
                           json_pack("[{s:s, s:s}]", "field", "version", "message",
                                     "must be an integer from 1"));
            return;
        }
        version = (int)n;
    }
    dtm_db_t *db = dtm_svc_db(req, "audits", req->arena);
    if (!db)
        return;
    PGresult *r;
    dtm_err_t err = audits_db_template_get(db, id, version, 0, &r);
    if (err == DTM_ENOTFOUND) {
        not_found(req, version ? "Template version" : "Template");
        return;
    }
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    resp_template(req, 200, r);
}

void audits_templates_update(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Template not found");
    if (!id)
        return;
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    audits_template_in_t in = {0};
    int active;
    if (!read_template(req, body, false, &in, &active))
        return;
    dtm_db_t *db = dtm_svc_db(req, "audits", req->arena);
    if (!db)
        return;
    PGresult *r;
    dtm_err_t err = dtm_db_begin(db);
    if (err == DTM_OK)
        err = audits_db_template_get(db, id, 0, 2, &r);
    if (err == DTM_OK && (in.name || in.description || in.threshold || in.questions)) {
        /* A version an audit answered (draft or submitted) is never changed: a new one is. */
        bool used = dtm_pg_bool(r, 0, "used");
        err = audits_db_template_write(db, id, (int)dtm_pg_int(r, 0, "version", 1), used, &in);
    }
    if (err == DTM_OK && active >= 0)
        err = audits_db_template_set_active(db, id, active == 1);
    if (err == DTM_OK)
        err = audit_template(db, req, "template.update", id, body);
    if (err == DTM_OK)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        if (err == DTM_ENOTFOUND)
            not_found(req, "Template");
        else
            dtm_resp_err(req, err, NULL);
        return;
    }
    err = audits_db_template_get(db, id, 0, 0, &r);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    resp_template(req, 200, r);
}

void audits_templates_delete(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Template not found");
    if (!id)
        return;
    dtm_db_t *db = dtm_svc_db(req, "audits", req->arena);
    if (!db)
        return;
    /* Deactivates: audits keep the version they answered, no new audit can start. */
    dtm_err_t err = dtm_db_begin(db);
    if (err == DTM_OK)
        err = audits_db_template_set_active(db, id, false);
    if (err == DTM_OK)
        err = audit_template(db, req, "template.deactivate", id, NULL);
    if (err == DTM_OK)
        err = dtm_db_commit(db);
    if (err)
        dtm_db_rollback(db);
    if (err == DTM_ENOTFOUND) {
        not_found(req, "Template");
        return;
    }
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 204, NULL);
}

/* ---- starting an audit ---- */

/* The visit of today at `store_id` that this audit belongs to, when a visits service answers
 * (NULL otherwise: the audit simply has no visit). */
static const char *find_visit(dtm_req_t *req, const char *store_id)
{
    int status;
    json_t *out;
    if (dtm_svc_call(req, "GET", "/api/visits/today", NULL, &status, &out) != DTM_OK ||
        status != 200)
        return NULL;
    size_t i;
    json_t *it;
    const char *best = NULL;
    json_array_foreach(json_object_get(out, "items"), i, it)
    {
        const char *sid = json_string_value(json_object_get(it, "storeId"));
        const char *st = json_string_value(json_object_get(it, "status"));
        const char *vid = json_string_value(json_object_get(it, "id"));
        if (!sid || !vid || !st || strcasecmp(sid, store_id) != 0)
            continue;
        if (strcmp(st, "in_progress") == 0 || strcmp(st, "unplanned") == 0)
            return dtm_arena_strdup(req->arena, vid);
        if (!best && strcmp(st, "planned") == 0)
            best = dtm_arena_strdup(req->arena, vid);
    }
    return best;
}

void audits_create(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    const char *template_id = NULL, *store_id = NULL;
    dtm_juuid(v, body, "templateId", true, &template_id);
    dtm_juuid(v, body, "storeId", true, &store_id);
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Request body is not valid", v);
        return;
    }

    /* The template first (our own data), on a connection given back before any call. */
    dtm_arena_t *tmp = dtm_arena_new(0);
    dtm_db_t *pre = dtm_svc_db(req, "audits", tmp);
    PGresult *t = NULL;
    dtm_err_t err = pre ? audits_db_template_get(pre, template_id, 0, 0, &t) : DTM_EDB;
    bool active = err == DTM_OK && dtm_pg_bool(t, 0, "active");
    dtm_arena_free(tmp);
    if (!pre)
        return;
    if (err == DTM_ENOTFOUND || (err == DTM_OK && !active)) {
        not_found(req, "Template");
        return;
    }
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }

    int status;
    json_t *out;
    err = dtm_svc_call(req, "GET", dtm_arena_sprintf(req->arena, "/api/stores/%s", store_id), NULL,
                       &status, &out);
    json_t *store = json_object_get(out, "store");
    if (err == DTM_OK &&
        (status == 404 || (status == 200 && json_is_false(json_object_get(store, "active"))))) {
        not_found(req, "Store");
        return;
    }
    if (err != DTM_OK || status != 200) {
        dtm_svc_resp_upstream(req, err, status, "stores service");
        return;
    }

    /* The caller's open attendance record (GET /current answers for the calling user). */
    err = dtm_svc_call(req, "GET", "/api/attendance/current", NULL, &status, &out);
    if (err != DTM_OK || status != 200) {
        dtm_svc_resp_upstream(req, err, status, "attendance service");
        return;
    }
    json_t *att = json_object_get(out, "attendance");
    const char *att_store = json_string_value(json_object_get(att, "storeId"));
    const char *att_id = json_string_value(json_object_get(att, "id"));
    bool on_site = json_is_true(json_object_get(out, "punchedIn")) && att_store && att_id &&
                   strcasecmp(att_store, store_id) == 0;
    if (!on_site && !is_staff(req)) {
        dtm_resp_error(req, 409, "not_on_site",
                       "Punch in at this store before starting an audit there", NULL);
        return;
    }

    audits_audit_in_t in = {
        .template_id = template_id,
        .store_id = store_id,
        .user_id = req->auth.sub,
        .attendance_id = on_site ? dtm_arena_strdup(req->arena, att_id) : NULL,
        .visit_id = find_visit(req, store_id),
    };
    dtm_db_t *db = dtm_svc_db(req, "audits", req->arena);
    if (!db)
        return;
    char id[DTM_UUID_LEN + 1];
    err = audits_db_audit_insert(db, &in, id);
    if (err == DTM_ENOTFOUND) {
        not_found(req, "Template"); /* deactivated meanwhile */
        return;
    }
    PGresult *r;
    if (err == DTM_OK)
        err = audits_db_audit_get(db, id, false, &r);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_metric_inc(audits_metrics.started);
    resp_audit(req, 201, r);
}

/* ---- reading ---- */

/* from/to of a query: ISO-8601 instants; a plain date as `to` includes that whole UTC day. */
static void read_period(dtm_req_t *req, dtm_valid_t *v, const char **from, const char **to)
{
    const char *q;
    int64_t f = 0, t = 0;
    *from = *to = NULL;
    if ((q = dtm_req_query(req, "from")) && *q) {
        if (dtm_parse_iso8601(q, &f) == 0) {
            char *s = dtm_arena_alloc(req->arena, 32);
            dtm_iso8601(f, s);
            *from = s;
        } else {
            dtm_valid_fail(v, "from", "must be an ISO-8601 date or timestamp");
        }
    }
    if ((q = dtm_req_query(req, "to")) && *q) {
        if (dtm_parse_iso8601(q, &t) == 0) {
            if (strlen(q) == 10)
                t += 24LL * 3600 * 1000;
            char *s = dtm_arena_alloc(req->arena, 32);
            dtm_iso8601(t, s);
            *to = s;
        } else {
            dtm_valid_fail(v, "to", "must be an ISO-8601 date or timestamp");
        }
    }
    if (*from && *to && t < f)
        dtm_valid_fail(v, "to", "must not be before from");
}

void audits_list(dtm_req_t *req)
{
    audits_filter_t f = {.passed = -1};
    if (!dtm_req_page(req, &f.page, &f.limit))
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    f.user_id = dtm_req_query_uuid(req, v, "userId");
    f.store_id = dtm_req_query_uuid(req, v, "storeId");
    f.template_id = dtm_req_query_uuid(req, v, "templateId");
    read_period(req, v, &f.from, &f.to);
    const char *q = dtm_req_query(req, "passed");
    if (q) {
        if (strcmp(q, "true") == 0 || strcmp(q, "false") == 0)
            f.passed = q[0] == 't';
        else
            dtm_valid_fail(v, "passed", "must be true or false");
    }
    if ((q = dtm_req_query(req, "status"))) {
        if (strcmp(q, "draft") == 0 || strcmp(q, "submitted") == 0)
            f.status = q;
        else
            dtm_valid_fail(v, "status", "must be draft or submitted");
    }
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Invalid filter", v);
        return;
    }
    if (!dtm_req_own_scope(req, &f.user_id, "audits"))
        return;
    dtm_db_t *db = dtm_svc_db(req, "audits", req->arena);
    if (!db)
        return;
    PGresult *rows;
    long long total;
    dtm_err_t err = audits_db_audit_list(db, &f, &rows, &total);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(rows); i++)
        json_array_append_new(items, audits_audit_json(rows, i));
    dtm_resp_json(req, 200,
                  json_pack("{s:o, s:o}", "items", items, "pagination",
                            dtm_pagination(f.page, f.limit, total)));
}

/* The audit of the path, if the caller may see it (staff, or its author). NULL with the answer
 * set otherwise. */
static PGresult *load_audit(dtm_req_t *req, dtm_db_t *db, const char *id, bool lock,
                            bool author_only)
{
    PGresult *r;
    dtm_err_t err = audits_db_audit_get(db, id, lock, &r);
    if (err == DTM_ENOTFOUND) {
        not_found(req, "Audit");
        return NULL;
    }
    if (err) {
        dtm_resp_err(req, err, NULL);
        return NULL;
    }
    bool author = strcasecmp(dtm_pg_get(r, 0, "user_id"), req->auth.sub) == 0;
    if (!author && (author_only || !is_staff(req))) {
        dtm_resp_error(req, 403, "forbidden",
                       author_only ? "Only its author can change this audit"
                                   : "This audit belongs to someone else",
                       NULL);
        return NULL;
    }
    return r;
}

void audits_get(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Audit not found");
    if (!id)
        return;
    dtm_db_t *db = dtm_svc_db(req, "audits", req->arena);
    if (!db)
        return;
    PGresult *r = load_audit(req, db, id, false, false);
    if (r)
        resp_audit(req, 200, r);
}

/* ---- answering ---- */

static void already_submitted(dtm_req_t *req)
{
    dtm_resp_error(req, 409, "already_submitted", "This audit has been submitted", NULL);
}

static json_t *parse_column(dtm_req_t *req, const PGresult *r, const char *col, json_t *dflt)
{
    const char *t = dtm_pg_get(r, 0, col);
    json_t *j = t ? json_loads(t, 0, NULL) : NULL;
    if (j)
        json_decref(dflt);
    return owned(req, j ? j : dflt);
}

/* Applies one answer of a PATCH to `answers` (problems under answers[i]); *captured gets a
 * capturedAt outside the accepted window (then the 422 is answered after the 400 checks). */
static void merge_answer(dtm_req_t *req, dtm_valid_t *v, json_t *questions, json_t *answers,
                         json_t *in, size_t i, bool *bad_captured)
{
    char field[64];
    snprintf(field, sizeof field, "answers[%zu]", i);
    if (!json_is_object(in)) {
        dtm_valid_fail(v, field, "must be an object with questionId");
        return;
    }
    const char *qid = json_string_value(json_object_get(in, "questionId"));
    json_t *q = audits_question_find(questions, qid);
    if (!q) {
        dtm_valid_fail(v, dtm_arena_sprintf(req->arena, "%s.questionId", field),
                       qid ? "is not a question of this audit's template" : "is required");
        return;
    }
    json_t *cur = json_object_get(answers, qid);
    json_t *a = cur ? json_deep_copy(cur) : json_object();
    size_t before = v->details ? json_array_size(v->details) : 0;
    json_t *val = json_object_get(in, "value");
    if (val) {
        if (json_is_null(val)) {
            json_object_del(a, "value");
        } else {
            const char *msg = audits_value_check(q, val);
            if (msg)
                dtm_valid_fail(v, dtm_arena_sprintf(req->arena, "%s.value", field), "%s", msg);
            else
                json_object_set(a, "value", val);
        }
    }
    json_t *na = json_object_get(in, "na");
    if (na && !json_is_null(na)) {
        if (!json_is_boolean(na))
            dtm_valid_fail(v, dtm_arena_sprintf(req->arena, "%s.na", field),
                           "must be true or false");
        else if (json_is_true(na) && !json_is_true(json_object_get(q, "allowNa")))
            dtm_valid_fail(v, dtm_arena_sprintf(req->arena, "%s.na", field),
                           "this question does not allow N/A");
        else
            json_object_set(a, "na", na);
    }
    json_t *comment = json_object_get(in, "comment");
    if (comment) {
        const char *c;
        dtm_valid_t cv;
        dtm_valid_init(&cv);
        json_t *wrap = json_pack("{s:O}", "comment", comment);
        if (json_is_null(comment))
            json_object_del(a, "comment");
        else if (dtm_jstr(&cv, wrap, "comment", false, 0, AUDITS_MAX_TEXT, &c))
            json_object_set_new(a, "comment", json_string(c));
        else
            dtm_valid_fail(v, dtm_arena_sprintf(req->arena, "%s.comment", field),
                           "must be a string of at most %d characters", AUDITS_MAX_TEXT);
        json_decref(wrap);
        dtm_valid_cleanup(&cv);
    }
    /* photoUrls come from POST /:id/photos; a PATCH may only drop some of them. */
    json_t *urls = json_object_get(in, "photoUrls");
    if (urls && !json_is_null(urls)) {
        json_t *have = json_object_get(a, "photoUrls");
        bool ok = json_is_array(urls);
        size_t k, m;
        json_t *u, *h;
        if (ok) {
            json_array_foreach(urls, k, u)
            {
                bool found = false;
                json_array_foreach(have, m, h) found = found || json_equal(h, u);
                ok = ok && found;
            }
        }
        if (!ok)
            dtm_valid_fail(v, dtm_arena_sprintf(req->arena, "%s.photoUrls", field),
                           "may only remove photos added with POST /api/audits/:id/photos");
        else
            json_object_set(a, "photoUrls", urls);
    }
    json_t *cap = json_object_get(in, "capturedAt");
    if (cap && !json_is_null(cap)) {
        int64_t ms;
        if (!json_is_string(cap) || dtm_parse_iso8601(json_string_value(cap), &ms) != 0) {
            dtm_valid_fail(v, dtm_arena_sprintf(req->arena, "%s.capturedAt", field),
                           "must be an ISO-8601 timestamp");
        } else {
            int64_t now = dtm_now_ms();
            if (ms < now - CAPTURED_PAST_MS || ms > now + CAPTURED_FUTURE_MS)
                *bad_captured = true;
            char iso[32];
            dtm_iso8601(ms, iso);
            json_object_set_new(a, "capturedAt", json_string(iso));
        }
    }
    json_object_set_new(a, "receivedAt", json_string(iso_now(req, 0)));
    if ((v->details ? json_array_size(v->details) : 0) == before)
        json_object_set_new(answers, qid, a);
    else
        json_decref(a);
}

void audits_update(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Audit not found");
    if (!id)
        return;
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    json_t *list = json_object_get(body, "answers");
    if (!json_is_array(list) || json_array_size(list) > MAX_PATCH_ANSWERS) {
        dtm_valid_fail(v, "answers", "must be an array of at most %d answers", MAX_PATCH_ANSWERS);
        dtm_resp_invalid(req, "Request body is not valid", v);
        return;
    }
    dtm_db_t *db = dtm_svc_db(req, "audits", req->arena);
    if (!db)
        return;
    dtm_err_t err = dtm_db_begin(db);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    PGresult *r = load_audit(req, db, id, true, true);
    if (!r)
        return; /* rolled back when the arena is freed */
    if (strcmp(dtm_pg_get(r, 0, "status"), "draft") != 0) {
        already_submitted(req);
        return;
    }
    json_t *questions = parse_column(req, r, "questions", json_array());
    json_t *answers = parse_column(req, r, "answers", json_object());
    bool bad_captured = false;
    size_t i;
    json_t *in;
    json_array_foreach(list, i, in) merge_answer(req, v, questions, answers, in, i, &bad_captured);
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Answers are not valid", v);
        return;
    }
    if (bad_captured) {
        dtm_resp_error(req, 422, "invalid_captured_at",
                       "capturedAt may lie at most 72 h in the past and 5 min in the future", NULL);
        return;
    }
    err = audits_db_audit_save(db, id, text_of(req, answers));
    if (err == DTM_OK)
        err = dtm_db_commit(db);
    if (err == DTM_OK)
        err = audits_db_audit_get(db, id, false, &r);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    resp_audit(req, 200, r);
}

/* ---- photos ---- */

void audits_upload_photo(dtm_req_t *req)
{
    audits_metrics_t *M = &audits_metrics;
    const char *id = dtm_req_uuid_param(req, "id", "Audit not found");
    if (!id)
        return;
    const char *ct = dtm_req_header(req, "content-type");
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0) {
        dtm_resp_error(req, 415, "unsupported_media_type",
                       "Content-Type must be multipart/form-data", NULL);
        return;
    }
    const char *boundary = dtm_multipart_boundary(req->arena, ct);
    dtm_mpart_t *parts;
    int n;
    if (!boundary ||
        dtm_multipart_parse(req->arena, req->body, req->body_len, boundary, &parts, &n) != DTM_OK) {
        dtm_resp_error(req, 400, "bad_request", "Malformed multipart/form-data body", NULL);
        return;
    }
    const dtm_mpart_t *photo = dtm_multipart_find(parts, n, "photo");
    const dtm_mpart_t *qpart = dtm_multipart_find(parts, n, "questionId");
    dtm_valid_t *v = dtm_req_validator(req);
    dtm_multipart_unique(v, parts, n);
    if (!photo || photo->len == 0)
        dtm_valid_fail(v, "photo", "is required");
    char *qid = qpart ? dtm_arena_strndup(req->arena, qpart->data, qpart->len) : NULL;
    if (!qid || !*qid || strlen(qid) != qpart->len)
        dtm_valid_fail(v, "questionId", "is required");
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Request body is not valid", v);
        return;
    }
    dtm_img_t img = DTM_IMG_NONE;
    switch (dtm_photo_check(photo->data, photo->len, &img)) {
    case DTM_PHOTO_TOO_LARGE:
        dtm_resp_error(
            req, 413, "payload_too_large",
            dtm_arena_sprintf(req->arena, "The photo exceeds %ld bytes", DTM_PHOTO_MAX_BYTES),
            NULL);
        return;
    case DTM_PHOTO_NOT_IMAGE:
        dtm_resp_error(req, 415, "unsupported_media_type",
                       "The photo must be a JPEG, PNG or WebP image", NULL);
        return;
    case DTM_PHOTO_OK:
        break;
    }

    dtm_db_t *db = dtm_svc_db(req, "audits", req->arena);
    if (!db)
        return;
    dtm_err_t err = dtm_db_begin(db);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    PGresult *r = load_audit(req, db, id, true, true);
    if (!r)
        return;
    if (strcmp(dtm_pg_get(r, 0, "status"), "draft") != 0) {
        already_submitted(req);
        return;
    }
    json_t *questions = parse_column(req, r, "questions", json_array());
    json_t *answers = parse_column(req, r, "answers", json_object());
    if (!audits_question_find(questions, qid)) {
        dtm_valid_fail(v, "questionId", "is not a question of this audit's template");
        dtm_resp_invalid(req, "Request body is not valid", v);
        return;
    }
    json_t *a = json_object_get(answers, qid);
    if (!a) {
        a = json_object();
        json_object_set_new(answers, qid, a);
    }
    json_t *urls = json_object_get(a, "photoUrls");
    if (!json_is_array(urls)) {
        urls = json_array();
        json_object_set_new(a, "photoUrls", urls);
    }

    /* The file goes in place before the row that names it (see attendance_punch_in). */
    char sha[65];
    bool created;
    if (dtm_photo_store(dtm_cfg.data_dir, photo->data, photo->len, sha, &created) != DTM_OK) {
        dtm_photo_store_failed(req, dtm_cfg.data_dir);
        return;
    }
    char *url = dtm_arena_sprintf(req->arena, AUDITS_PHOTO_URL_PREFIX "%s", sha);
    json_t *ju = json_string(url);
    bool have = false;
    size_t k;
    json_t *h;
    json_array_foreach(urls, k, h) have = have || json_equal(h, ju);
    if (!have && json_array_size(urls) >= AUDITS_MAX_PHOTOS) {
        json_decref(ju);
        dtm_resp_error(
            req, 422, "too_many_photos",
            dtm_arena_sprintf(req->arena, "A question takes at most %d photos", AUDITS_MAX_PHOTOS),
            NULL);
        return;
    }
    if (!have)
        json_array_append(urls, ju);
    json_decref(ju);
    json_object_set_new(a, "receivedAt", json_string(iso_now(req, 0)));
    err = audits_db_photo_insert(db, id, qid, sha, dtm_image_mime(img),
                                 dtm_arena_sprintf(req->arena, "%zu", photo->len));
    if (err == DTM_OK)
        err = audits_db_audit_save(db, id, text_of(req, answers));
    if (err == DTM_OK)
        err = dtm_db_commit(db);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_metric_inc(M->photos);
    dtm_metric_add(M->photo_bytes, (double)photo->len);
    dtm_resp_json(req, 201, json_pack("{s:s, s:s}", "photoUrl", url, "questionId", qid));
}

void audits_photo(dtm_req_t *req)
{
    const char *sha = dtm_req_param(req, "sha256");
    if (!dtm_sha256_hex_valid(sha)) {
        not_found(req, "Photo");
        return;
    }
    dtm_db_t *db = dtm_svc_db(req, "audits", req->arena);
    if (!db)
        return;
    const char *type;
    dtm_err_t err = audits_db_photo_type(db, sha, NULL, &type);
    if (err == DTM_OK && type && !is_staff(req)) {
        err = audits_db_photo_type(db, sha, req->auth.sub, &type);
        if (err == DTM_OK && !type) {
            dtm_resp_error(req, 403, "forbidden", "This photo belongs to someone else", NULL);
            return;
        }
    }
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    if (!type) {
        not_found(req, "Photo");
        return;
    }
    dtm_resp_file(req, dtm_photo_path(req->arena, dtm_cfg.data_dir, sha), type,
                  "private, max-age=86400, immutable");
}

/* ---- submitting ---- */

/* The first `max` code points of s (UTF-8). */
static char *utf8_prefix(dtm_arena_t *a, const char *s, size_t max)
{
    size_t n = 0, i = 0;
    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (n == max)
                break;
            n++;
        }
    }
    return dtm_arena_strndup(a, s, i);
}

/* Creates (or, on a retry, finds) the corrective todo of failed question q; its id into
 * *todo_id. false with the answer set when the todos service cannot do it. */
typedef struct {
    const char *template_name, *user_id, *store_id, *template_id;
} audit_info_t;

static bool corrective_todo(dtm_req_t *req, const char *audit_id, const audit_info_t *info,
                            json_t *q, json_t *answers, const char **todo_id)
{
    json_t *task = json_object_get(q, "failCreatesTask");
    const char *qid = json_string_value(json_object_get(q, "id"));
    json_t *a = json_object_get(answers, qid);
    char *value = dtm_json_dumps(json_object_get(a, "value"));
    const char *desc =
        dtm_arena_sprintf(req->arena, "Failed in the audit \"%s\" (answer: %s). Audit %s.",
                          info->template_name, value ? value : "none", audit_id);
    free(value);
    int64_t hours = (int64_t)json_integer_value(json_object_get(task, "dueInHours"));
    json_t *body = owned(
        req, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "title",
                       utf8_prefix(req->arena, json_string_value(json_object_get(q, "text")), 200),
                       "description", desc, "priority",
                       json_string_value(json_object_get(task, "priority")), "dueAt",
                       iso_now(req, hours * 3600 * 1000), "assigneeId", info->user_id, "storeId",
                       info->store_id, "sourceRef",
                       dtm_arena_sprintf(req->arena, "audit:%s:%s", audit_id, qid)));
    int status;
    json_t *out;
    dtm_err_t err = dtm_svc_call(req, "POST", "/api/todos", body, &status, &out);
    const char *tid = json_string_value(json_object_get(json_object_get(out, "todo"), "id"));
    if (err != DTM_OK || (status != 200 && status != 201) || !tid) {
        dtm_svc_resp_upstream(req, err, status, "todos service");
        return false;
    }
    if (status == 201)
        dtm_metric_inc(audits_metrics.todos);
    *todo_id = tid;
    return true;
}

typedef enum { SUBMIT_DONE, SUBMIT_RETRY, SUBMIT_ANSWERED } submit_step_t;

/* One attempt: score the draft as it is now, create the corrective todos, commit if the draft
 * is unchanged. */
static submit_step_t submit_once(dtm_req_t *req, const char *id)
{
    dtm_arena_t *tmp = dtm_arena_new(0);
    submit_step_t step = SUBMIT_ANSWERED;
    audits_score_t sc = {0};
    dtm_db_t *pre = dtm_svc_db(req, "audits", tmp);
    PGresult *r = pre ? load_audit(req, pre, id, false, true) : NULL;
    if (!r)
        goto out;
    if (strcmp(dtm_pg_get(r, 0, "status"), "draft") != 0) {
        already_submitted(req);
        goto out;
    }
    /* Copies in the request arena: tmp (and the connection) goes before the calls below. */
    const char *revision = dtm_arena_strdup(req->arena, dtm_pg_get(r, 0, "revision"));
    json_t *questions = parse_column(req, r, "questions", json_array());
    json_t *answers = parse_column(req, r, "answers", json_object());
    double threshold = dtm_pg_double(r, 0, "pass_threshold_pct", 80);
    audit_info_t info = {
        .template_name = dtm_arena_strdup(req->arena, dtm_pg_get(r, 0, "template_name")),
        .user_id = dtm_arena_strdup(req->arena, dtm_pg_get(r, 0, "user_id")),
        .store_id = dtm_arena_strdup(req->arena, dtm_pg_get(r, 0, "store_id")),
        .template_id = dtm_arena_strdup(req->arena, dtm_pg_get(r, 0, "template_id")),
    };
    dtm_arena_free(tmp);
    tmp = NULL;

    audits_score(questions, answers, threshold, &sc);
    if (json_array_size(sc.incomplete) > 0) {
        dtm_resp_error(req, 422, "incomplete",
                       "Answer every required question (and add the required photos) first",
                       json_incref(sc.incomplete));
        goto out;
    }
    json_t *todo_ids = owned(req, json_array());
    size_t i;
    json_t *q;
    json_array_foreach(sc.failed, i, q)
    {
        json_t *task = json_object_get(q, "failCreatesTask");
        if (!json_is_object(task))
            continue;
        const char *tid;
        if (!corrective_todo(req, id, &info, q, answers, &tid))
            goto out;
        json_array_append_new(todo_ids, json_string(tid));
    }
    dtm_buf_t ids;
    dtm_buf_init(&ids);
    dtm_buf_puts(&ids, "{");
    json_array_foreach(todo_ids, i, q)
        dtm_buf_printf(&ids, "%s%s", i ? "," : "", json_string_value(q));
    dtm_buf_puts(&ids, "}");
    const char *ids_text = dtm_arena_strdup(req->arena, ids.data);
    dtm_buf_free(&ids);

    dtm_db_t *db = dtm_svc_db(req, "audits", req->arena);
    if (!db)
        goto out;
    bool done = false;
    /* A failed audit tells the managers (audit.failed) in the submit's own transaction. */
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = audits_db_audit_submit(
            db, id, revision, text_of(req, answers),
            dtm_arena_sprintf(req->arena, "%d.%d", sc.score10 / 10, sc.score10 % 10), sc.passed,
            ids_text, &done);
    if (!err && done && !sc.passed)
        err = audits_db_emit_failed(db, id, info.template_id, info.store_id, info.user_id,
                                    sc.score10 / 10.0, threshold);
    if (!err && done)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        dtm_resp_err(req, err, NULL);
        goto out;
    }
    if (!done) {
        dtm_db_rollback(db);
        step = SUBMIT_RETRY; /* submitted by a racing request, or the draft changed */
        goto out;
    }
    if (!sc.passed)
        dtm_outbox_wake(req->arena, "audits");
    dtm_metric_inc(audits_metrics.submitted);
    if (!sc.passed)
        dtm_metric_inc(audits_metrics.failed);
    PGresult *fin;
    err = audits_db_audit_get(db, id, false, &fin);
    if (err) {
        dtm_resp_err(req, err, NULL);
        goto out;
    }
    resp_audit(req, 200, fin);
    step = SUBMIT_DONE;
out:
    audits_score_cleanup(&sc);
    dtm_arena_free(tmp);
    return step;
}

void audits_submit(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Audit not found");
    if (!id)
        return;
    for (int attempt = 0; attempt < AUDITS_SUBMIT_ATTEMPTS; attempt++) {
        if (submit_once(req, id) != SUBMIT_RETRY)
            return;
    }
    dtm_resp_error(req, 409, "conflict", "The audit kept changing while it was submitted", NULL);
}

/* ---- scores ---- */

void audits_scores(dtm_req_t *req)
{
    dtm_valid_t *v = dtm_req_validator(req);
    const char *from, *to;
    read_period(req, v, &from, &to);
    const char *group = dtm_req_query(req, "groupBy");
    if (!group)
        group = "store";
    if (strcmp(group, "store") != 0 && strcmp(group, "user") != 0 &&
        strcmp(group, "template") != 0 && strcmp(group, "week") != 0)
        dtm_valid_fail(v, "groupBy", "must be store, user, template or week");
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Invalid query", v);
        return;
    }
    dtm_db_t *db = dtm_svc_db(req, "audits", req->arena);
    if (!db)
        return;
    PGresult *rows;
    dtm_err_t err = audits_db_scores(db, group, from, to, &rows);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(rows); i++)
        json_array_append_new(items,
                              json_pack("{s:s, s:I, s:f, s:f}", "key", dtm_pg_get(rows, i, "key"),
                                        "audits", (json_int_t)dtm_pg_int(rows, i, "audits", 0),
                                        "avgScorePct", dtm_pg_double(rows, i, "avg_score_pct", 0),
                                        "passRatePct", dtm_pg_double(rows, i, "pass_rate_pct", 0)));
    dtm_resp_json(req, 200,
                  json_pack("{s:s, s:o, s:o, s:o}", "groupBy", group, "from",
                            dtm_json_str_or_null(from), "to", dtm_json_str_or_null(to), "items",
                            items));
}
