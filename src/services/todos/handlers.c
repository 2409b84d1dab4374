/* SPDX-License-Identifier: MIT */
/* Todos handlers. Who may do what (API.md): admins and managers everything; a merchandiser
 * only ever touches todos assigned to or created by them (anything else is 404, as if it did
 * not exist). The creator may edit and delete; the assignee may read, change the status,
 * complete, reopen and tick checklist items. A merchandiser's list and stats are the todos
 * assigned to them (their work; a todo they created for themselves and a manager then gave to
 * someone else stays readable by id but leaves their list).
 *
 * References to other services (assignee, store) are checked through their APIs with dtm_call
 * *before* a database connection is taken: in `all` mode the callee runs on this thread and
 * needs a connection from the same pool, and holding one while waiting for another could
 * exhaust the pool under load. */
#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "core/timeutil.h"
#include "db/outbox.h"
#include "services/common/call.h"
#include "services/todos/todos.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

dtm_metric_t *todos_created_total, *todos_completed_total;

dtm_err_t todos_init(void)
{
    todos_created_total = dtm_counter("dtm_todos_created_total", "Todos created", NULL);
    todos_completed_total =
        dtm_counter("dtm_todos_completed_total", "Todos moved to completed", NULL);
    return DTM_OK;
}

static const char *const statuses[] = {"pending", "in_progress", "completed", "cancelled", NULL};
static const char *const priorities[] = {"low", "medium", "high", "urgent", NULL};

#define MAX_CHECKLIST   100
#define MAX_BULK        500
#define MAX_DESCRIPTION 5000

/* What the caller may do with one todo. */
enum {
    CAN_READ = 1,
    CAN_STATUS = 2, /* status, complete, reopen, checklist ticks */
    CAN_EDIT = 4,   /* every field */
    CAN_DELETE = 8,
};

static bool is_staff(const dtm_req_t *req)
{
    return dtm_req_has_role(req, DTM_ROLES_STAFF); /* SERVICE passes too */
}

/* NULL for staff (no restriction), else the caller's own id. */
static const char *scope_user(const dtm_req_t *req)
{
    return is_staff(req) ? NULL : req->auth.sub;
}

static unsigned access_to(const dtm_req_t *req, const PGresult *r)
{
    if (is_staff(req))
        return CAN_READ | CAN_STATUS | CAN_EDIT | CAN_DELETE;
    unsigned a = 0;
    const char *assignee = dtm_pg_get(r, 0, "assignee_id");
    const char *creator = dtm_pg_get(r, 0, "created_by");
    if (assignee && strcasecmp(assignee, req->auth.sub) == 0)
        a |= CAN_READ | CAN_STATUS;
    if (creator && strcasecmp(creator, req->auth.sub) == 0)
        a |= CAN_READ | CAN_EDIT | CAN_DELETE;
    return a;
}

static void not_found(dtm_req_t *req)
{
    dtm_resp_error(req, 404, "not_found", "Todo not found", NULL);
}

static void forbidden(dtm_req_t *req, const char *message)
{
    dtm_resp_error(req, 403, "forbidden", message, NULL);
}

static void resp_todo(dtm_req_t *req, int status, const PGresult *r)
{
    dtm_resp_json(req, status, json_pack("{s:o}", "todo", todos_row_json(r, 0)));
}

/* Asks the owning service whether `id` names an active user ("users") or store ("stores").
 * DTM_OK: it does; DTM_EINVAL: it does not (problem recorded on `field`); anything else: the
 * service could not answer (respond with that error). */
static dtm_err_t check_ref(dtm_req_t *req, const char *service, const char *id, const char *field,
                           dtm_valid_t *v)
{
    const char *what = strcmp(service, "users") == 0 ? "user" : "store";
    char path[96];
    snprintf(path, sizeof path, "/api/%s/%s", service, id);
    int status = 0;
    json_t *out = NULL;
    dtm_err_t err = dtm_call(req, "GET", path, NULL, &status, &out);
    if (err)
        return err;
    if (status == 404) {
        dtm_valid_fail(v, field, "no such %s", what);
        return DTM_EINVAL;
    }
    if (status != 200) {
        dtm_log_warn("todos: GET %s answered %d", path, status);
        return status >= 500 ? DTM_EUPSTREAM : DTM_EINTERNAL;
    }
    json_t *obj = json_object_get(out, what);
    if (!json_is_object(obj))
        obj = out;
    json_t *active = json_object_get(obj, "active");
    if (json_is_false(active)) {
        dtm_valid_fail(v, field, "%s is inactive", what);
        return DTM_EINVAL;
    }
    return DTM_OK;
}

/* Checks the assignee and store references that are set. false: response already set. */
static bool refs_ok(dtm_req_t *req, const char *assignee, const char *store)
{
    dtm_valid_t v;
    dtm_valid_init(&v);
    dtm_err_t err = DTM_OK, e2 = DTM_OK;
    if (assignee)
        err = check_ref(req, "users", assignee, "assigneeId", &v);
    if (store && (err == DTM_OK || err == DTM_EINVAL))
        e2 = check_ref(req, "stores", store, "storeId", &v);
    if ((err && err != DTM_EINVAL) || (e2 && e2 != DTM_EINVAL)) {
        dtm_valid_cleanup(&v);
        dtm_resp_err(req, err && err != DTM_EINVAL ? err : e2, NULL);
        return false;
    }
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, "Request is not valid", &v);
        return false;
    }
    dtm_valid_cleanup(&v);
    return true;
}

/* checklist: ["text", ...] or [{"id"?, "text", "done"?}, ...] -> stored JSON text with ids.
 * NULL when absent or invalid (problem recorded). */
static const char *read_checklist(dtm_req_t *req, json_t *body, dtm_valid_t *v)
{
    json_t *list = json_object_get(body, "checklist");
    if (!list || json_is_null(list))
        return NULL;
    if (!json_is_array(list) || json_array_size(list) > MAX_CHECKLIST) {
        dtm_valid_fail(v, "checklist", "must be an array of at most %d items", MAX_CHECKLIST);
        return NULL;
    }
    json_t *items = json_array();
    size_t i;
    json_t *it;
    bool ok = true;
    json_array_foreach(list, i, it)
    {
        char field[32];
        snprintf(field, sizeof field, "checklist[%zu]", i);
        if (!json_is_string(it) && !json_is_object(it)) {
            dtm_valid_fail(v, field, "must be a string or an object with text");
            ok = false;
            continue;
        }
        json_t *wrap = json_is_string(it) ? json_pack("{s:O}", "text", it) : json_incref(it);
        const char *text = NULL;
        bool done = false;
        dtm_valid_t iv; /* problems of the item, reported under "checklist[i]" */
        dtm_valid_init(&iv);
        dtm_jstr(&iv, wrap, "text", true, 1, 500, &text);
        dtm_jbool(&iv, wrap, "done", false, &done);
        if (!dtm_valid_ok(&iv)) {
            json_t *d = json_array_get(iv.details, 0);
            dtm_valid_fail(v, field, "%s %s", json_string_value(json_object_get(d, "field")),
                           json_string_value(json_object_get(d, "message")));
            ok = false;
        } else {
            json_t *jid = json_object_get(wrap, "id");
            const char *id = json_string_value(jid);
            char fresh[DTM_UUID_LEN + 1];
            if (id && dtm_uuid_valid(id)) {
                for (int k = 0; k <= DTM_UUID_LEN; k++) /* stored lower case, like new ids */
                    fresh[k] = (char)((id[k] >= 'A' && id[k] <= 'F') ? id[k] + 32 : id[k]);
            } else {
                dtm_uuid_v4(fresh);
            }
            id = fresh;
            json_array_append_new(
                items, json_pack("{s:s, s:s, s:b}", "id", id, "text", text, "done", done));
        }
        dtm_valid_cleanup(&iv);
        json_decref(wrap);
    }
    char *text = ok ? dtm_json_dumps(items) : NULL;
    json_decref(items);
    if (!text)
        return NULL;
    char *copy = dtm_arena_strdup(req->arena, text);
    free(text);
    return copy;
}

static const char *iso_from_ms(dtm_req_t *req, int64_t ms)
{
    char *out = dtm_arena_alloc(req->arena, 32);
    dtm_iso8601(ms, out);
    return out;
}

/* ---- GET /api/todos ---- */

/* "a,b" of allowed values -> "{a,b}" (PostgreSQL array text); NULL + problem when bad. */
static const char *enum_list(dtm_req_t *req, const char *q, const char *field,
                             const char *const *allowed, dtm_valid_t *v)
{
    dtm_buf_t b;
    dtm_buf_init(&b);
    dtm_buf_puts(&b, "{");
    const char *p = q;
    bool ok = true;
    int n = 0;
    while (ok) {
        size_t len = strcspn(p, ",");
        int k = -1;
        for (int i = 0; allowed[i]; i++)
            if (strlen(allowed[i]) == len && strncmp(p, allowed[i], len) == 0)
                k = i;
        if (k < 0) {
            ok = false;
            break;
        }
        dtm_buf_printf(&b, "%s%s", n++ ? "," : "", allowed[k]);
        if (!p[len])
            break;
        p += len + 1;
    }
    const char *out = NULL;
    if (ok) {
        dtm_buf_puts(&b, "}");
        out = dtm_arena_strdup(req->arena, b.data);
    } else {
        char list[128] = "";
        size_t used = 0;
        for (int i = 0; allowed[i]; i++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                     allowed[i]);
        dtm_valid_fail(v, field, "must be a comma-separated list of: %s", list);
    }
    dtm_buf_free(&b);
    return out;
}

void todos_list(dtm_req_t *req)
{
    todos_filter_t f = {.scope_user = scope_user(req), .sort = TODOS_SORT_CREATED_DESC};
    if (!dtm_req_page(req, &f.page, &f.limit))
        return;
    dtm_valid_t v;
    dtm_valid_init(&v);
    const char *q;
    if ((q = dtm_req_query(req, "status")) && *q)
        f.statuses = enum_list(req, q, "status", statuses, &v);
    if ((q = dtm_req_query(req, "priority")) && *q)
        f.priorities = enum_list(req, q, "priority", priorities, &v);
    f.assignee_id = dtm_req_query_uuid(req, &v, "assigneeId");
    f.store_id = dtm_req_query_uuid(req, &v, "storeId");
    if ((q = dtm_req_query(req, "search")) && *q) {
        if (strlen(q) <= 200)
            f.search = todos_like_pattern(req->arena, q);
        else
            dtm_valid_fail(&v, "search", "must be at most 200 characters long");
    }
    if ((q = dtm_req_query(req, "dueBefore")) && *q) {
        int64_t ms;
        if (dtm_parse_iso8601(q, &ms) == 0)
            f.due_before = iso_from_ms(req, ms);
        else
            dtm_valid_fail(&v, "dueBefore", "must be an ISO-8601 timestamp");
    }
    if ((q = dtm_req_query(req, "sort")) && *q) {
        static const struct {
            const char *name;
            todos_sort_t sort;
        } sorts[] = {
            {"-createdAt", TODOS_SORT_CREATED_DESC}, {"createdAt", TODOS_SORT_CREATED_ASC},
            {"dueAt", TODOS_SORT_DUE_ASC},           {"-dueAt", TODOS_SORT_DUE_DESC},
            {"priority", TODOS_SORT_PRIORITY},
        };
        bool found = false;
        for (size_t i = 0; i < sizeof sorts / sizeof sorts[0]; i++)
            if (strcmp(q, sorts[i].name) == 0) {
                f.sort = sorts[i].sort;
                found = true;
            }
        if (!found)
            dtm_valid_fail(&v, "sort",
                           "must be one of: dueAt, -dueAt, createdAt, -createdAt, "
                           "priority");
    }
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, "Bad filter", &v);
        return;
    }
    dtm_valid_cleanup(&v);
    dtm_db_t *db = dtm_svc_db(req, "todos", req->arena);
    if (!db)
        return;
    PGresult *r;
    long long total = 0;
    dtm_err_t err = todos_db_list(db, &f, &r, &total);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(items, todos_row_json(r, i));
    dtm_resp_json(req, 200,
                  json_pack("{s:o, s:o}", "items", items, "pagination",
                            dtm_pagination(f.page, f.limit, total)));
}

/* ---- POST /api/todos ---- */

void todos_create(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    todos_input_t in = {.created_by = req->auth.sub};
    dtm_valid_t v;
    dtm_valid_init(&v);
    const char *s;
    int64_t ms;
    if (dtm_jstr(&v, body, "title", true, 1, 200, &s))
        in.title = s;
    if (dtm_jstr(&v, body, "description", false, 0, MAX_DESCRIPTION, &s))
        in.description = s;
    if (dtm_jenum(&v, body, "priority", false, priorities, &s))
        in.priority = s;
    if (dtm_jtime(&v, body, "dueAt", false, &ms))
        in.due_at = iso_from_ms(req, ms);
    if (dtm_juuid(&v, body, "assigneeId", false, &s))
        in.assignee_id = s;
    if (dtm_juuid(&v, body, "storeId", false, &s))
        in.store_id = s;
    in.checklist = read_checklist(req, body, &v);
    /* Another service creating a todo on its own behalf (an audit's corrective task) names
     * what caused it; a second request with that reference gets the same todo (200). */
    if (json_object_get(body, "sourceRef")) {
        if (req->auth.role != DTM_ROLE_SERVICE)
            dtm_valid_fail(&v, "sourceRef", "is set by services only");
        else if (dtm_jstr(&v, body, "sourceRef", false, 1, 200, &s))
            in.source_ref = s;
    }
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, "Request is not valid", &v);
        return;
    }
    dtm_valid_cleanup(&v);
    if (!in.assignee_id)
        in.assignee_id = req->auth.sub;
    if (!is_staff(req) && strcasecmp(in.assignee_id, req->auth.sub) != 0) {
        forbidden(req, "Merchandisers can only create todos for themselves");
        return;
    }
    if (!refs_ok(req, in.assignee_id, in.store_id))
        return;
    dtm_db_t *db = dtm_svc_db(req, "todos", req->arena);
    if (!db)
        return;
    PGresult *r;
    bool created = false;
    /* The todo and its todo.assigned event commit together (db/outbox.h). */
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = todos_db_insert(db, &in, &r, &created);
    if (!err && created)
        err = todos_db_emit_assigned(db, r, 0, req->auth.sub);
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        dtm_resp_err(req, err, NULL);
        return;
    }
    if (created) {
        dtm_metric_inc(todos_created_total);
        dtm_outbox_wake(req->arena, "todos");
    }
    resp_todo(req, created ? 201 : 200, r);
}

/* ---- GET/PATCH/DELETE /api/todos/:id ---- */

void todos_get(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Todo not found");
    if (!id)
        return;
    dtm_db_t *db = dtm_svc_db(req, "todos", req->arena);
    if (!db)
        return;
    PGresult *r;
    dtm_err_t err = todos_db_get(db, id, false, &r);
    if (err == DTM_ENOTFOUND || (!err && !(access_to(req, r) & CAN_READ))) {
        not_found(req);
        return;
    }
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    resp_todo(req, 200, r);
}

void todos_update(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Todo not found");
    if (!id)
        return;
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    todos_input_t in = {0};
    dtm_valid_t v;
    dtm_valid_init(&v);
    const char *s;
    int64_t ms;
    if (dtm_jstr(&v, body, "title", false, 1, 200, &s))
        in.title = s;
    if (dtm_jis_null(body, "description"))
        in.description = "";
    else if (dtm_jstr(&v, body, "description", false, 0, MAX_DESCRIPTION, &s))
        in.description = s;
    if (dtm_jenum(&v, body, "status", false, statuses, &s))
        in.status = s;
    if (dtm_jenum(&v, body, "priority", false, priorities, &s))
        in.priority = s;
    if (dtm_jis_null(body, "dueAt"))
        in.due_at_clear = true;
    else if (dtm_jtime(&v, body, "dueAt", false, &ms))
        in.due_at = iso_from_ms(req, ms);
    if (dtm_jis_null(body, "assigneeId"))
        dtm_valid_fail(&v, "assigneeId", "cannot be null");
    else if (dtm_juuid(&v, body, "assigneeId", false, &s))
        in.assignee_id = s;
    if (dtm_jis_null(body, "storeId"))
        in.store_id_clear = true;
    else if (dtm_juuid(&v, body, "storeId", false, &s))
        in.store_id = s;
    in.checklist = read_checklist(req, body, &v);
    bool other = in.title || in.description || in.priority || in.due_at || in.due_at_clear ||
                 in.assignee_id || in.store_id || in.store_id_clear || in.checklist;
    if (dtm_valid_ok(&v) && !other && !in.status)
        dtm_valid_fail(&v, "body",
                       "must hold at least one of title, description, status, priority, dueAt, "
                       "assigneeId, storeId, checklist");
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, "Request is not valid", &v);
        return;
    }
    dtm_valid_cleanup(&v);
    if (!is_staff(req) && in.assignee_id && strcasecmp(in.assignee_id, req->auth.sub) != 0) {
        forbidden(req, "Merchandisers cannot assign todos to others");
        return;
    }
    if (!refs_ok(req, in.assignee_id, in.store_id))
        return;

    dtm_db_t *db = dtm_svc_db(req, "todos", req->arena);
    if (!db)
        return;
    PGresult *cur, *r;
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = todos_db_get(db, id, true, &cur);
    if (err) {
        if (err == DTM_ENOTFOUND)
            not_found(req);
        else
            dtm_resp_err(req, err, NULL);
        return; /* the open transaction is rolled back when the arena releases the handle */
    }
    unsigned can = access_to(req, cur);
    if (!(can & CAN_READ)) {
        not_found(req);
        return;
    }
    if (other && !(can & CAN_EDIT)) {
        forbidden(req, "The assignee may only change the status of this todo");
        return;
    }
    if (in.status && !(can & (CAN_EDIT | CAN_STATUS))) {
        forbidden(req, "You may not change this todo");
        return;
    }
    const char *was = dtm_pg_get(cur, 0, "status");
    const char *was_assignee = dtm_pg_get(cur, 0, "assignee_id");
    bool moved = in.assignee_id && (!was_assignee || strcasecmp(was_assignee, in.assignee_id) != 0);
    err = todos_db_update(db, id, &in, &r);
    if (!err && moved)
        err = todos_db_emit_assigned(db, r, 0, req->auth.sub);
    if (!err)
        err = dtm_db_commit(db);
    if (!err && moved)
        dtm_outbox_wake(req->arena, "todos");
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    if (in.status && strcmp(in.status, "completed") == 0 && was && strcmp(was, "completed") != 0)
        dtm_metric_inc(todos_completed_total);
    resp_todo(req, 200, r);
}

void todos_delete(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Todo not found");
    if (!id)
        return;
    dtm_db_t *db = dtm_svc_db(req, "todos", req->arena);
    if (!db)
        return;
    PGresult *cur;
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = todos_db_get(db, id, true, &cur);
    if (!err) {
        unsigned can = access_to(req, cur);
        if (!(can & CAN_READ)) {
            not_found(req);
            return;
        }
        if (!(can & CAN_DELETE)) {
            forbidden(req, "Only the creator, a manager or an admin may delete this todo");
            return;
        }
        err = todos_db_delete(db, id);
    }
    if (!err)
        err = dtm_db_commit(db);
    if (err == DTM_ENOTFOUND)
        not_found(req);
    else if (err)
        dtm_resp_err(req, err, NULL);
    else
        dtm_resp_json(req, 204, NULL);
}

/* ---- complete / reopen / checklist: one conditional UPDATE each ---- */

/* After a conditional update changed nothing: say why (404, 403, or `conflict`). */
static void explain_miss(dtm_req_t *req, dtm_db_t *db, const char *id, const char *conflict_code,
                         const char *conflict_msg)
{
    PGresult *r;
    dtm_err_t err = todos_db_get(db, id, false, &r);
    if (err == DTM_ENOTFOUND || (!err && !(access_to(req, r) & CAN_READ))) {
        not_found(req);
        return;
    }
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    if (!(access_to(req, r) & CAN_STATUS)) {
        forbidden(req, "Only the assignee, a manager or an admin may do this");
        return;
    }
    if (conflict_code)
        dtm_resp_error(req, 409, conflict_code, conflict_msg, NULL);
    else
        dtm_resp_error(req, 404, "not_found", conflict_msg, NULL);
}

void todos_complete(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Todo not found");
    if (!id)
        return;
    dtm_db_t *db = dtm_svc_db(req, "todos", req->arena);
    if (!db)
        return;
    PGresult *r;
    dtm_err_t err = todos_db_complete(db, id, scope_user(req), &r);
    if (err == DTM_ENOTFOUND) {
        explain_miss(req, db, id, "already_completed", "Todo is already completed");
        return;
    }
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_metric_inc(todos_completed_total);
    resp_todo(req, 200, r);
}

void todos_reopen(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Todo not found");
    if (!id)
        return;
    dtm_db_t *db = dtm_svc_db(req, "todos", req->arena);
    if (!db)
        return;
    PGresult *r;
    dtm_err_t err = todos_db_reopen(db, id, scope_user(req), &r);
    if (err == DTM_ENOTFOUND) {
        explain_miss(req, db, id, "not_completed", "Todo is not completed");
        return;
    }
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    resp_todo(req, 200, r);
}

void todos_check_item(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "Todo not found");
    if (!id)
        return;
    const char *item = dtm_req_uuid_param(req, "itemId", "Checklist item not found");
    if (!item)
        return;
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t v;
    dtm_valid_init(&v);
    bool done = false;
    dtm_jbool(&v, body, "done", true, &done);
    int64_t captured_ms;
    bool captured = dtm_req_captured_field(&v, body, &captured_ms);
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, "Request is not valid", &v);
        return;
    }
    dtm_valid_cleanup(&v);
    const char *captured_at = NULL;
    if (captured && !(captured_at = dtm_req_captured_ok(req, captured_ms, INT64_MIN)))
        return;
    dtm_db_t *db = dtm_svc_db(req, "todos", req->arena);
    if (!db)
        return;
    PGresult *r; /* item ids come lower-cased, like the stored ones (dtm_req_uuid_param) */
    dtm_err_t err = todos_db_check_item(db, id, item, done, scope_user(req), captured_at, &r);
    if (err == DTM_ENOTFOUND) {
        explain_miss(req, db, id, NULL, "Checklist item not found");
        return;
    }
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    resp_todo(req, 200, r);
}

/* ---- POST /api/todos/bulk-assign ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void todos_bulk_assign(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t v;
    dtm_valid_init(&v);
    const char *assignee = NULL;
    dtm_juuid(&v, body, "assigneeId", true, &assignee);
    json_t *ids = json_object_get(body, "todoIds");
    size_t n = json_array_size(ids);
    if (!json_is_array(ids) || n < 1 || n > MAX_BULK)
        dtm_valid_fail(&v, "todoIds", "must be an array of 1 to %d todo ids", MAX_BULK);
    const char **list = dtm_arena_alloc(req->arena, (n ? n : 1) * sizeof *list);
    for (size_t i = 0; json_is_array(ids) && i < n; i++) {
        const char *s = json_string_value(json_array_get(ids, i));
        if (!s || !dtm_uuid_valid(s)) {
            char field[32];
            snprintf(field, sizeof field, "todoIds[%zu]", i);
            dtm_valid_fail(&v, field, "must be a UUID");
            continue;
        }
        char *low = dtm_arena_strdup(req->arena, s);
        for (char *p = low; *p; p++)
            if (*p >= 'A' && *p <= 'F')
                *p += 32;
        list[i] = low;
    }
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, "Request is not valid", &v);
        return;
    }
    dtm_valid_cleanup(&v);
    /* Distinct ids, and their uuid[] literal (each element is a validated UUID). */
    qsort(list, n, sizeof *list, cmp_str);
    dtm_buf_t arr;
    dtm_buf_init(&arr);
    dtm_buf_puts(&arr, "{");
    long long distinct = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(list[i], list[i - 1]) == 0)
            continue;
        dtm_buf_printf(&arr, "%s%s", distinct++ ? "," : "", list[i]);
    }
    dtm_buf_puts(&arr, "}");
    const char *idarr = dtm_arena_strdup(req->arena, arr.data);
    dtm_buf_free(&arr);

    if (!refs_ok(req, assignee, NULL))
        return;
    dtm_db_t *db = dtm_svc_db(req, "todos", req->arena);
    if (!db)
        return;
    long long updated = 0;
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = todos_db_bulk_assign(db, idarr, assignee, req->auth.sub, &updated);
    if (!err && updated != distinct) {
        /* All or nothing: one unknown id and no todo changes. */
        dtm_db_rollback(db);
        PGresult *miss;
        err = todos_db_missing(db, idarr, &miss);
        if (err) {
            dtm_resp_err(req, err, NULL);
            return;
        }
        json_t *details = json_array();
        for (int i = 0; i < PQntuples(miss); i++)
            json_array_append_new(details,
                                  json_pack("{s:s, s:s, s:s}", "field", "todoIds", "message",
                                            "no such todo", "id", dtm_pg_get(miss, i, "id")));
        dtm_resp_error(req, 404, "not_found", "Some todos do not exist; nothing was changed",
                       details);
        return;
    }
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_outbox_wake(req->arena, "todos");
    dtm_resp_json(req, 200, json_pack("{s:I}", "updated", (json_int_t)updated));
}

/* ---- GET /api/todos/stats ---- */

void todos_stats(dtm_req_t *req)
{
    dtm_db_t *db = dtm_svc_db(req, "todos", req->arena);
    if (!db)
        return;
    PGresult *r;
    dtm_err_t err = todos_db_stats(db, scope_user(req), &r);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
#define N(col) (json_int_t) dtm_pg_int(r, 0, col, 0)
    dtm_resp_json(req, 200,
                  json_pack("{s:I, s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I}, s:I, s:I}",
                            "total", N("total"), "byStatus", "pending", N("s_pending"),
                            "in_progress", N("s_in_progress"), "completed", N("s_completed"),
                            "cancelled", N("s_cancelled"), "byPriority", "low", N("p_low"),
                            "medium", N("p_medium"), "high", N("p_high"), "urgent", N("p_urgent"),
                            "overdue", N("overdue"), "completedLast7Days", N("completed_7d")));
#undef N
}
