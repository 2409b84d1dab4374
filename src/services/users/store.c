/* SPDX-License-Identifier: MIT */
/* Every SQL statement and Redis key of the users service. */
#include "services/users/users.h"
#include "core/json.h"
#include "core/ids.h"
#include "db/redis.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS " col
#define USER_COLS                                                                                  \
    "id::text AS id, email, first_name, last_name, role, active, " TS("created_at") ", " TS(       \
        "updated_at") ", " TS("last_login_at")

static void row_read(const PGresult *r, int i, users_row_t *u)
{
    u->id = dtm_pg_get(r, i, "id");
    u->email = dtm_pg_get(r, i, "email");
    u->first_name = dtm_pg_get(r, i, "first_name");
    u->last_name = dtm_pg_get(r, i, "last_name");
    u->role = dtm_pg_get(r, i, "role");
    u->active = dtm_pg_bool(r, i, "active");
    u->created_at = dtm_pg_get(r, i, "created_at");
    u->updated_at = dtm_pg_get(r, i, "updated_at");
    u->last_login_at = dtm_pg_get(r, i, "last_login_at");
    u->password_hash = dtm_pg_get(r, i, "password_hash");
}

json_t *users_row_json(const users_row_t *u)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:o}", "id", u->id, "email",
                     u->email, "firstName", u->first_name, "lastName", u->last_name, "role",
                     u->role, "active", u->active, "createdAt", u->created_at, "updatedAt",
                     u->updated_at, "lastLoginAt", dtm_json_str_or_null(u->last_login_at));
}

/* LIKE pattern for a substring search: the user's text matches literally. */
static char *like_pattern(dtm_arena_t *a, const char *s)
{
    size_t n = strlen(s);
    char *out = dtm_arena_alloc(a, 2 * n + 3);
    size_t o = 0;
    out[o++] = '%';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' || s[i] == '_' || s[i] == '\\')
            out[o++] = '\\';
        out[o++] = s[i];
    }
    out[o++] = '%';
    out[o] = '\0';
    return out;
}

dtm_err_t users_store_list(dtm_db_t *db, dtm_arena_t *a, const users_filter_t *f,
                           users_row_t **rows, int *n, long long *total)
{
    static const char *const sql =
        "SELECT " USER_COLS ", count(*) OVER () AS total FROM users.users "
        "WHERE ($1::text IS NULL OR role = $1) AND ($2::boolean IS NULL OR active = $2) "
        "AND ($3::text IS NULL OR email ILIKE $3 OR first_name ILIKE $3 OR last_name ILIKE $3 "
        "OR (first_name || ' ' || last_name) ILIKE $3) "
        "ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5";
    static const char *const count_sql =
        "SELECT count(*) AS total FROM users.users "
        "WHERE ($1::text IS NULL OR role = $1) AND ($2::boolean IS NULL OR active = $2) "
        "AND ($3::text IS NULL OR email ILIKE $3 OR first_name ILIKE $3 OR last_name ILIKE $3 "
        "OR (first_name || ' ' || last_name) ILIKE $3)";
    const char *params[5];
    params[0] = f->role;
    params[1] = f->active < 0 ? NULL : f->active ? "true" : "false";
    params[2] = f->search && *f->search ? like_pattern(a, f->search) : NULL;
    params[3] = dtm_arena_sprintf(a, "%d", f->limit);
    params[4] = dtm_arena_sprintf(a, "%lld", (long long)(f->page - 1) * f->limit);
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r, sql, 5, params);
    if (err)
        return err;
    int nr = PQntuples(r);
    *rows = dtm_arena_calloc(a, sizeof(users_row_t) * (size_t)(nr ? nr : 1));
    for (int i = 0; i < nr; i++)
        row_read(r, i, &(*rows)[i]);
    *n = nr;
    if (nr > 0) {
        *total = dtm_pg_int(r, 0, "total", 0);
        return DTM_OK;
    }
    /* Past the last page the window count is not available: count separately. */
    err = dtm_db_query(db, &r, count_sql, 3, params);
    if (err)
        return err;
    *total = dtm_pg_int(r, 0, "total", 0);
    return DTM_OK;
}

static dtm_err_t one_row(dtm_db_t *db, dtm_arena_t *a, const char *sql, int np,
                         const char *const *params, users_row_t *out)
{
    (void)a;
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r, sql, np, params);
    if (err)
        return err;
    if (PQntuples(r) != 1)
        return DTM_ENOTFOUND;
    row_read(r, 0, out);
    return DTM_OK;
}

dtm_err_t users_store_get(dtm_db_t *db, dtm_arena_t *a, const char *id, bool for_update,
                          users_row_t *out)
{
    const char *params[] = {id};
    return one_row(db, a,
                   for_update ? "SELECT " USER_COLS " FROM users.users WHERE id = $1 FOR UPDATE"
                              : "SELECT " USER_COLS " FROM users.users WHERE id = $1",
                   1, params, out);
}

dtm_err_t users_store_get_by_email_secret(dtm_db_t *db, dtm_arena_t *a, const char *email,
                                          users_row_t *out)
{
    const char *params[] = {email};
    return one_row(db, a, "SELECT " USER_COLS ", password_hash FROM users.users WHERE email = $1",
                   1, params, out);
}

dtm_err_t users_store_get_secret(dtm_db_t *db, dtm_arena_t *a, const char *id, users_row_t *out)
{
    const char *params[] = {id};
    return one_row(db, a, "SELECT " USER_COLS ", password_hash FROM users.users WHERE id = $1", 1,
                   params, out);
}

/* 23505 on the e-mail index is the only expected conflict; 23514 is a CHECK the handler's
 * validation should have caught. */
static dtm_err_t map_write_err(dtm_db_t *db, dtm_err_t err)
{
    if (err == DTM_ECONFLICT && strcmp(dtm_db_constraint(db), "users_email_key") != 0)
        return DTM_EINTERNAL;
    return err;
}

dtm_err_t users_store_insert(dtm_db_t *db, dtm_arena_t *a, const char *email,
                             const char *password_hash, const char *first_name,
                             const char *last_name, const char *role, bool active, users_row_t *out)
{
    const char *params[] = {email,     password_hash, first_name,
                            last_name, role,          active ? "true" : "false"};
    dtm_err_t err = one_row(db, a,
                            "INSERT INTO users.users (email, password_hash, first_name, "
                            "last_name, role, active) VALUES ($1, $2, $3, $4, $5, $6) "
                            "RETURNING " USER_COLS,
                            6, params, out);
    return map_write_err(db, err);
}

dtm_err_t users_store_update(dtm_db_t *db, dtm_arena_t *a, const char *id, const char *email,
                             const char *first_name, const char *last_name, const char *role,
                             int active, users_row_t *out)
{
    const char *params[] = {id,        email, first_name,
                            last_name, role,  active < 0 ? NULL : active ? "true" : "false"};
    dtm_err_t err = one_row(db, a,
                            "UPDATE users.users SET email = COALESCE($2, email), "
                            "first_name = COALESCE($3, first_name), "
                            "last_name = COALESCE($4, last_name), role = COALESCE($5, role), "
                            "active = COALESCE($6::boolean, active), updated_at = now() "
                            "WHERE id = $1 RETURNING " USER_COLS,
                            6, params, out);
    return map_write_err(db, err);
}

dtm_err_t users_store_set_password(dtm_db_t *db, const char *id, const char *password_hash)
{
    const char *params[] = {id, password_hash};
    PGresult *r;
    dtm_err_t err = dtm_db_query(
        db, &r, "UPDATE users.users SET password_hash = $2, updated_at = now() WHERE id = $1", 2,
        params);
    if (err)
        return err;
    return strcmp(PQcmdTuples(r), "1") == 0 ? DTM_OK : DTM_ENOTFOUND;
}

dtm_err_t users_store_swap_password(dtm_db_t *db, const char *id, const char *old_hash,
                                    const char *new_hash)
{
    const char *params[] = {id, new_hash, old_hash};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "UPDATE users.users SET password_hash = $2, updated_at = now() "
                                 "WHERE id = $1 AND password_hash = $3",
                                 3, params);
    if (err)
        return err;
    return strcmp(PQcmdTuples(r), "1") == 0 ? DTM_OK : DTM_ECONFLICT;
}

dtm_err_t users_store_touch_login(dtm_db_t *db, dtm_arena_t *a, const char *id,
                                  const char *new_hash, users_row_t *out)
{
    const char *params[] = {id, new_hash};
    return one_row(db, a,
                   "UPDATE users.users SET last_login_at = now(), "
                   "password_hash = COALESCE($2, password_hash) WHERE id = $1 RETURNING " USER_COLS,
                   2, params, out);
}

dtm_err_t users_store_count(dtm_db_t *db, long long *n)
{
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r, "SELECT count(*) AS n FROM users.users", 0, NULL);
    if (!err)
        *n = dtm_pg_int(r, 0, "n", 0);
    return err;
}

/* ---- cache-aside: user:{id} holds the public JSON object, TTL 3600 s ----
 *
 * A write that cannot delete its key (Redis unreachable, breaker open) must not leave a stale
 * copy to be served once Redis answers again. Such ids are remembered here and deleted before
 * this process next reads or writes the cache; when too many pile up, every user:* key is
 * deleted instead. (Another process's stale copy can still live until the TTL: documented.) */

#define PENDING_MAX 1024

static pthread_mutex_t pend_mu = PTHREAD_MUTEX_INITIALIZER;
static char pending[PENDING_MAX][DTM_UUID_LEN + 1];
static int npending;
static bool pending_all;
static atomic_bool pending_flag;

static void remember_locked(const char *id)
{
    for (int i = 0; i < npending; i++)
        if (strcmp(pending[i], id) == 0)
            return;
    if (npending < PENDING_MAX)
        snprintf(pending[npending++], sizeof pending[0], "%s", id);
    else
        pending_all = true;
    atomic_store(&pending_flag, true);
}

static void remember(const char *id)
{
    pthread_mutex_lock(&pend_mu);
    remember_locked(id);
    pthread_mutex_unlock(&pend_mu);
}

static bool delete_all_user_keys(dtm_arena_t *a)
{
    char cursor[32] = "0";
    do {
        redisReply *r = dtm_redis_cmd(a, "SCAN %s MATCH user:* COUNT 500", cursor);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING)
            return false;
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        if (keys->type == REDIS_REPLY_ARRAY && keys->elements > 0) {
            size_t n = keys->elements + 1;
            const char **argv = dtm_arena_alloc(a, n * sizeof *argv);
            size_t *lens = dtm_arena_alloc(a, n * sizeof *lens);
            argv[0] = "DEL";
            lens[0] = 3;
            for (size_t i = 0; i < keys->elements; i++) {
                argv[i + 1] = keys->element[i]->str;
                lens[i + 1] = keys->element[i]->len;
            }
            if (!dtm_redis_cmdargv(a, (int)n, argv, lens))
                return false;
        }
    } while (strcmp(cursor, "0") != 0);
    return true;
}

/* Apply remembered deletions. True when none is left (Redis reachable). */
static bool flush_pending(dtm_arena_t *a)
{
    if (!atomic_load(&pending_flag))
        return true;
    pthread_mutex_lock(&pend_mu);
    int n = npending;
    bool all = pending_all;
    char(*ids)[DTM_UUID_LEN + 1] = dtm_arena_alloc(a, sizeof pending[0] * (size_t)(n ? n : 1));
    memcpy(ids, pending, sizeof pending[0] * (size_t)n);
    npending = 0;
    pending_all = false;
    atomic_store(&pending_flag, false);
    pthread_mutex_unlock(&pend_mu);

    bool ok = !all || delete_all_user_keys(a);
    for (int i = 0; ok && i < n; i++)
        ok = dtm_redis_cmd(a, "DEL user:%s", ids[i]) != NULL;
    if (!ok) {
        pthread_mutex_lock(&pend_mu);
        for (int i = 0; i < n; i++)
            remember_locked(ids[i]);
        if (all)
            pending_all = true;
        pthread_mutex_unlock(&pend_mu);
    }
    return ok;
}

json_t *users_cache_get(dtm_arena_t *a, const char *id)
{
    if (!flush_pending(a))
        return NULL;
    redisReply *r = dtm_redis_cmd(a, "GET user:%s", id);
    if (!r || r->type != REDIS_REPLY_STRING)
        return NULL;
    json_t *j = json_loadb(r->str, r->len, 0, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

void users_cache_put(dtm_arena_t *a, const char *id, const json_t *user)
{
    if (!flush_pending(a))
        return;
    char *s = dtm_json_dumps(user);
    dtm_redis_cmd(a, "SET user:%s %b EX %d", id, s, strlen(s), USERS_CACHE_TTL_S);
    free(s);
}

void users_cache_del(dtm_arena_t *a, const char *id)
{
    if (!flush_pending(a) || !dtm_redis_cmd(a, "DEL user:%s", id))
        remember(id);
}
