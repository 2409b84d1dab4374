/* SPDX-License-Identifier: MIT */
/* Handlers of /api/users (shared/API.md) and the internal credential routes used by auth.
 * Each handler runs on a worker thread; every write is one transaction and deletes the
 * cache-aside key `user:{id}` after it committed. */
#include "services/users/users.h"
#include "services/auth/revoke.h"
#include "services/common/audit.h"
#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "db/redis.h"
#include <ctype.h>
#include <pthread.h>
#include <string.h>

static const char *const roles[] = {"admin", "manager", "merchandiser", NULL};

static dtm_metric_t *m_created;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_setup(void)
{
    m_created = dtm_counter("dtm_users_created_total", "Users created", NULL);
}

dtm_err_t users_init(void)
{
    pthread_once(&metrics_once, metrics_setup);
    /* Warm libsodium and the dummy hash now rather than in the first login. */
    users_password_verify(NULL, "warm-up");
    return DTM_OK;
}

/* ---- small helpers ---- */

/* Bookkeeping fields that are no change of their own in the audit log. */
static const char *const audit_skip[] = {"updatedAt", "createdAt", "lastLoginAt", NULL};

/* In the write's transaction, when an admin or manager makes it: the fields that changed (all
 * of them for a creation). A write that changed nothing is not recorded. */
static dtm_err_t audit_user(dtm_db_t *db, const dtm_req_t *req, const char *action,
                            const users_row_t *before, const users_row_t *after)
{
    if (!dtm_audit_wanted(req))
        return DTM_OK;
    json_t *b = before ? users_row_json(before) : NULL, *a = users_row_json(after);
    json_t *changes = dtm_audit_diff(b, a, audit_skip);
    json_decref(b);
    json_decref(a);
    if (before && json_object_size(changes) == 0) {
        json_decref(changes);
        return DTM_OK;
    }
    return dtm_audit_append(db, req, action, "user", after->id, changes);
}

/* The connection lives on its own arena ("scope"), freed when the handler returns (see
 * scoped) rather than with the request: when auth calls us in-process the request arena is
 * auth's, and holding our connection until auth finishes would need two connections per
 * login and can exhaust a pool no larger than the worker count. Row strings point into the
 * scope's results, so anything used after a release is copied first (row_keep). */
static dtm_db_t *db_open(dtm_req_t *req, dtm_arena_t **scope)
{
    dtm_pg_pool_t *pool = dtm_pg_pool_for("users");
    if (!*scope)
        *scope = dtm_arena_new(0);
    dtm_db_t *db = pool ? dtm_db_open(pool, *scope) : NULL;
    if (!db)
        dtm_resp_err(req, DTM_EDB, NULL);
    return db;
}

static void db_release(dtm_arena_t **scope)
{
    dtm_arena_free(*scope);
    *scope = NULL;
}

typedef void (*impl_fn)(dtm_req_t *req, dtm_arena_t **scope);

static void scoped(dtm_req_t *req, impl_fn fn)
{
    dtm_arena_t *scope = NULL;
    fn(req, &scope);
    db_release(&scope);
}

static void row_keep(dtm_arena_t *a, users_row_t *u)
{
    u->id = dtm_arena_strdup(a, u->id);
    u->email = dtm_arena_strdup(a, u->email);
    u->first_name = dtm_arena_strdup(a, u->first_name);
    u->last_name = dtm_arena_strdup(a, u->last_name);
    u->role = dtm_arena_strdup(a, u->role);
    u->created_at = dtm_arena_strdup(a, u->created_at);
    u->updated_at = dtm_arena_strdup(a, u->updated_at);
    u->last_login_at = dtm_arena_strdup(a, u->last_login_at);
    u->password_hash = dtm_arena_strdup(a, u->password_hash);
}

static void resp_store_err(dtm_req_t *req, dtm_err_t err)
{
    if (err == DTM_ENOTFOUND)
        dtm_resp_error(req, 404, "not_found", "User not found", NULL);
    else if (err == DTM_ECONFLICT)
        dtm_resp_error(req, 409, "email_taken", "E-mail address is already in use", NULL);
    else
        dtm_resp_err(req, err, NULL);
}

/* The :id parameter, lower-cased; NULL (404 already sent) when it is not a UUID, because a
 * malformed id names no resource. */
static char *id_param(dtm_req_t *req)
{
    const char *raw = dtm_req_param(req, "id");
    if (!dtm_uuid_valid(raw)) {
        dtm_resp_error(req, 404, "not_found", "User not found", NULL);
        return NULL;
    }
    char *id = dtm_arena_strdup(req->arena, raw);
    for (char *p = id; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return id;
}

static bool is_admin(const dtm_req_t *req)
{
    return req->auth.role == DTM_ROLE_ADMIN || req->auth.role == DTM_ROLE_SERVICE;
}

static bool is_self(const dtm_req_t *req, const char *id)
{
    return req->auth.role != DTM_ROLE_SERVICE && strcasecmp(req->auth.sub, id) == 0;
}

static void resp_user(dtm_req_t *req, int status, const users_row_t *u)
{
    json_t *j = users_row_json(u);
    if (!j) {
        dtm_resp_err(req, DTM_EINTERNAL, NULL);
        return;
    }
    dtm_resp_json(req, status, json_pack("{s:o}", "user", j));
}

/* ---- GET /api/users ---- */

static void users_list_impl(dtm_req_t *req, dtm_arena_t **scope)
{
    users_filter_t f = {.active = -1};
    if (!dtm_req_page(req, &f.page, &f.limit))
        return;
    dtm_valid_t v;
    dtm_valid_init(&v);
    const char *role = dtm_req_query(req, "role");
    if (role && *role) {
        if (!dtm_role_parse(role) || strcmp(role, "service") == 0)
            dtm_valid_fail(&v, "role", "must be one of admin, manager, merchandiser");
        else
            f.role = role;
    }
    const char *active = dtm_req_query(req, "active");
    if (active && *active) {
        if (strcmp(active, "true") == 0)
            f.active = 1;
        else if (strcmp(active, "false") == 0)
            f.active = 0;
        else
            dtm_valid_fail(&v, "active", "must be true or false");
    }
    f.search = dtm_req_query(req, "search");
    if (f.search && strlen(f.search) > 200)
        dtm_valid_fail(&v, "search", "must be at most 200 characters");
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, "Query is not valid", &v);
        return;
    }
    dtm_valid_cleanup(&v);

    dtm_db_t *db = db_open(req, scope);
    if (!db)
        return;
    users_row_t *rows;
    int n;
    long long total;
    dtm_err_t err = users_store_list(db, req->arena, &f, &rows, &n, &total);
    if (err) {
        resp_store_err(req, err);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < n; i++) {
        json_t *j = users_row_json(&rows[i]);
        if (j)
            json_array_append_new(items, j);
    }
    dtm_resp_json(req, 200,
                  json_pack("{s:o, s:o}", "items", items, "pagination",
                            dtm_pagination(f.page, f.limit, total)));
}

/* ---- POST /api/users ---- */

static void users_create_impl(dtm_req_t *req, dtm_arena_t **scope)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t v;
    dtm_valid_init(&v);
    const char *email = NULL, *password = NULL, *first = NULL, *last = NULL;
    const char *role = NULL;
    bool active = true;
    char *norm = NULL;
    if (dtm_jstr(&v, body, "email", true, 1, USERS_EMAIL_MAX, &email)) {
        norm = users_email_normalize(req->arena, email);
        if (!norm)
            dtm_valid_fail(&v, "email", "must be a valid e-mail address");
    }
    if (dtm_jstr(&v, body, "password", true, 0, USERS_PASSWORD_MAX * 4, &password)) {
        const char *problem = users_password_problem(password, norm ? norm : email);
        if (problem)
            dtm_valid_fail(&v, "password", "%s", problem);
    }
    dtm_jstr(&v, body, "firstName", true, 1, USERS_NAME_MAX, &first);
    dtm_jstr(&v, body, "lastName", true, 1, USERS_NAME_MAX, &last);
    dtm_jenum(&v, body, "role", true, roles, &role);
    dtm_jbool(&v, body, "active", false, &active);
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, NULL, &v);
        return;
    }
    dtm_valid_cleanup(&v);

    char hash[USERS_HASH_LEN];
    dtm_err_t err = users_password_hash(password, hash);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_db_t *db = db_open(req, scope);
    if (!db)
        return;
    users_row_t u;
    err = dtm_db_begin(db);
    if (!err)
        err = users_store_insert(db, req->arena, norm, hash, first, last, role, active, &u);
    if (!err)
        err = audit_user(db, req, "user.create", NULL, &u);
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        resp_store_err(req, err);
        return;
    }
    pthread_once(&metrics_once, metrics_setup);
    dtm_metric_inc(m_created);
    users_cache_del(req->arena, u.id);
    resp_user(req, 201, &u);
}

/* ---- GET /api/users/:id (cache-aside) ---- */

static void users_get_impl(dtm_req_t *req, dtm_arena_t **scope)
{
    char *id = id_param(req);
    if (!id)
        return;
    if (!dtm_req_has_role(req, DTM_ROLES_STAFF) && !is_self(req, id)) {
        dtm_resp_err(req, DTM_EFORBIDDEN, NULL);
        return;
    }
    json_t *cached = users_cache_get(req->arena, id);
    if (cached) {
        dtm_resp_header(req, "X-Cache", "hit");
        dtm_resp_json(req, 200, json_pack("{s:o}", "user", cached));
        return;
    }
    dtm_db_t *db = db_open(req, scope);
    if (!db)
        return;
    users_row_t u;
    dtm_err_t err = users_store_get(db, req->arena, id, false, &u);
    if (err) {
        resp_store_err(req, err);
        return;
    }
    json_t *j = users_row_json(&u);
    if (!j) {
        dtm_resp_err(req, DTM_EINTERNAL, NULL);
        return;
    }
    users_cache_put(req->arena, id, j);
    dtm_resp_header(req, "X-Cache", "miss");
    dtm_resp_json(req, 200, json_pack("{s:o}", "user", j));
}

/* ---- PATCH /api/users/:id ---- */

static void users_patch_impl(dtm_req_t *req, dtm_arena_t **scope)
{
    char *id = id_param(req);
    if (!id)
        return;
    bool admin = is_admin(req), self = is_self(req, id);
    if (!admin && !self) {
        dtm_resp_err(req, DTM_EFORBIDDEN, NULL);
        return;
    }
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t v;
    dtm_valid_init(&v);
    const char *email = NULL, *first = NULL, *last = NULL, *role = NULL;
    char *norm = NULL;
    bool active_v = true;
    int active = -1;
    if (dtm_jstr(&v, body, "email", false, 1, USERS_EMAIL_MAX, &email)) {
        norm = users_email_normalize(req->arena, email);
        if (!norm)
            dtm_valid_fail(&v, "email", "must be a valid e-mail address");
    }
    dtm_jstr(&v, body, "firstName", false, 1, USERS_NAME_MAX, &first);
    dtm_jstr(&v, body, "lastName", false, 1, USERS_NAME_MAX, &last);
    dtm_jenum(&v, body, "role", false, roles, &role);
    if (dtm_jbool(&v, body, "active", false, &active_v))
        active = active_v;
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, NULL, &v);
        return;
    }
    dtm_valid_cleanup(&v);

    dtm_db_t *db = db_open(req, scope);
    if (!db)
        return;
    users_row_t cur, u;
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = users_store_get(db, req->arena, id, true, &cur);
    if (err) {
        dtm_db_rollback(db);
        resp_store_err(req, err);
        return;
    }
    /* Self-service is limited to names; nobody changes their own role or active flag (an
     * admin cannot lock themselves out). Sending the current value unchanged is allowed so a
     * client may PATCH the whole object. */
    bool role_change = role && strcmp(role, cur.role) != 0;
    bool active_change = active >= 0 && (active != 0) != cur.active;
    bool email_change = norm && strcmp(norm, cur.email) != 0;
    if ((self && (role_change || active_change)) || (!admin && email_change)) {
        dtm_db_rollback(db);
        dtm_resp_error(req, 403, "forbidden",
                       admin ? "You cannot change your own role or active flag"
                             : "You may only change your own names",
                       NULL);
        return;
    }
    /* A new role or a deactivation takes effect on the user's access tokens at once (the epoch
     * is bumped in this transaction), not at their expiry. */
    bool revoke = role_change || (active_change && active == 0);
    int64_t valid_after = 0;
    err = users_store_update(db, req->arena, id, norm, first, last, role, active, &u);
    if (!err && revoke)
        err = dtm_auth_revoke_user(db, id, &valid_after);
    if (!err)
        err = audit_user(db, req, "user.update", &cur, &u);
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        resp_store_err(req, err);
        return;
    }
    if (revoke)
        dtm_auth_revoke_user_published(id, valid_after);
    users_cache_del(req->arena, id);
    resp_user(req, 200, &u);
}

/* ---- DELETE /api/users/:id (deactivate) ---- */

static void users_delete_impl(dtm_req_t *req, dtm_arena_t **scope)
{
    char *id = id_param(req);
    if (!id)
        return;
    if (is_self(req, id)) {
        dtm_resp_error(req, 403, "forbidden", "You cannot deactivate yourself", NULL);
        return;
    }
    dtm_db_t *db = db_open(req, scope);
    if (!db)
        return;
    users_row_t u;
    int64_t valid_after = 0;
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = users_store_update(db, req->arena, id, NULL, NULL, NULL, NULL, 0, &u);
    if (!err)
        err = dtm_auth_revoke_user(db, id, &valid_after);
    if (!err && dtm_audit_wanted(req))
        err = dtm_audit_append(db, req, "user.deactivate", "user", id,
                               json_pack("{s:{s:b, s:b}}", "active", "from", 1, "to", 0));
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        resp_store_err(req, err);
        return;
    }
    dtm_auth_revoke_user_published(id, valid_after);
    users_cache_del(req->arena, id);
    dtm_resp_json(req, 204, NULL);
}

/* ---- internal: POST /api/users/internal/verify-credentials ---- */

static void users_verify_credentials_impl(dtm_req_t *req, dtm_arena_t **scope)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t v;
    dtm_valid_init(&v);
    const char *email = NULL, *password = NULL;
    dtm_jstr(&v, body, "email", true, 1, 1024, &email);
    dtm_jstr(&v, body, "password", true, 1, 4096, &password);
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, NULL, &v);
        return;
    }
    dtm_valid_cleanup(&v);
    char *norm = users_email_normalize(req->arena, email);

    /* No connection is held while argon2id runs (tens of milliseconds). */
    users_row_t u = {0};
    dtm_err_t err = DTM_ENOTFOUND;
    if (norm) {
        dtm_db_t *db = db_open(req, scope);
        if (!db)
            return;
        err = users_store_get_by_email_secret(db, req->arena, norm, &u);
        if (!err)
            row_keep(req->arena, &u);
        db_release(scope);
        if (err && err != DTM_ENOTFOUND) {
            dtm_resp_err(req, err, NULL);
            return;
        }
    }
    /* Unknown e-mails are verified against a dummy hash: same cost, same answer. */
    if (!users_password_verify(err ? NULL : u.password_hash, password)) {
        dtm_resp_error(req, 401, "invalid_credentials", "E-mail or password is wrong", NULL);
        return;
    }
    if (u.active) {
        char upgraded[USERS_HASH_LEN];
        const char *new_hash = NULL;
        if (users_password_needs_rehash(u.password_hash) &&
            users_password_hash(password, upgraded) == DTM_OK)
            new_hash = upgraded;
        dtm_db_t *db = db_open(req, scope);
        if (!db)
            return;
        users_row_t t;
        err = users_store_touch_login(db, req->arena, u.id, new_hash, &t);
        if (err && err != DTM_ENOTFOUND) {
            dtm_resp_err(req, err, NULL);
            return;
        }
        if (!err)
            u = t;
        users_cache_del(req->arena, u.id);
    }
    resp_user(req, 200, &u);
}

/* ---- internal: POST /api/users/internal/:id/password ---- */

/* Both password routes: a change proves the current password, a reset (auth checked a mailed
 * token) does not. */
static void set_password(dtm_req_t *req, dtm_arena_t **scope, bool need_current)
{
    char *id = id_param(req);
    if (!id)
        return;
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t v;
    dtm_valid_init(&v);
    const char *current = NULL, *next = NULL;
    if (need_current)
        dtm_jstr(&v, body, "currentPassword", true, 1, 4096, &current);
    dtm_jstr(&v, body, "newPassword", true, 0, USERS_PASSWORD_MAX * 4, &next);
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, NULL, &v);
        return;
    }
    dtm_db_t *db = db_open(req, scope);
    if (!db) {
        dtm_valid_cleanup(&v);
        return;
    }
    users_row_t u;
    dtm_err_t err = users_store_get_secret(db, req->arena, id, &u);
    if (!err)
        row_keep(req->arena, &u);
    db_release(scope);
    if (err) {
        dtm_valid_cleanup(&v);
        resp_store_err(req, err);
        return;
    }
    const char *problem = users_password_problem(next, u.email);
    if (problem) {
        dtm_valid_fail(&v, "newPassword", "%s", problem);
        dtm_resp_invalid(req, NULL, &v);
        return;
    }
    dtm_valid_cleanup(&v);
    if (need_current && !users_password_verify(u.password_hash, current)) {
        dtm_resp_error(req, 401, "invalid_credentials", "Current password is wrong", NULL);
        return;
    }
    char hash[USERS_HASH_LEN];
    err = users_password_hash(next, hash);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    /* Compare-and-swap on the hash that was read: a concurrent change in between makes this
     * one fail instead of silently overwriting it. One statement, one transaction. */
    if (!(db = db_open(req, scope)))
        return;
    err = users_store_swap_password(db, id, u.password_hash, hash);
    if (err == DTM_ECONFLICT) {
        dtm_resp_error(req, 409, "conflict", "The password was changed concurrently; try again",
                       NULL);
        return;
    }
    if (err) {
        resp_store_err(req, err);
        return;
    }
    users_cache_del(req->arena, id);
    dtm_resp_json(req, 204, NULL);
}

static void users_change_password_impl(dtm_req_t *req, dtm_arena_t **scope)
{
    set_password(req, scope, true);
}

static void users_reset_password_impl(dtm_req_t *req, dtm_arena_t **scope)
{
    set_password(req, scope, false);
}

/* ---- internal: POST /api/users/internal/lookup {email} ---- */

static void users_lookup_impl(dtm_req_t *req, dtm_arena_t **scope)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    const char *email = NULL;
    dtm_jstr(v, body, "email", true, 1, 1024, &email);
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, NULL, v);
        return;
    }
    char *norm = users_email_normalize(req->arena, email);
    users_row_t u;
    dtm_err_t err = DTM_ENOTFOUND;
    if (norm) {
        dtm_db_t *db = db_open(req, scope);
        if (!db)
            return;
        err = users_store_get_by_email_secret(db, req->arena, norm, &u);
    }
    if (err) {
        resp_store_err(req, err);
        return;
    }
    u.password_hash = NULL;
    resp_user(req, 200, &u);
}

/* ---- the route table's entry points ---- */

void users_list(dtm_req_t *req)
{
    scoped(req, users_list_impl);
}

void users_create(dtm_req_t *req)
{
    scoped(req, users_create_impl);
}

void users_get(dtm_req_t *req)
{
    scoped(req, users_get_impl);
}

void users_patch(dtm_req_t *req)
{
    scoped(req, users_patch_impl);
}

void users_delete(dtm_req_t *req)
{
    scoped(req, users_delete_impl);
}

void users_verify_credentials(dtm_req_t *req)
{
    scoped(req, users_verify_credentials_impl);
}

void users_change_password(dtm_req_t *req)
{
    scoped(req, users_change_password_impl);
}

void users_reset_password(dtm_req_t *req)
{
    scoped(req, users_reset_password_impl);
}

void users_lookup(dtm_req_t *req)
{
    scoped(req, users_lookup_impl);
}
