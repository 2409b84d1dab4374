/* SPDX-License-Identifier: MIT */
/* Every SQL statement and Redis key of the auth service. */
#include "services/auth/auth.h"
#include "db/outbox.h"
#include "db/redis.h"
#include <stdio.h>
#include <string.h>

dtm_err_t auth_store_lock_state(dtm_db_t *db, const char *email, bool *locked, int *retry_s)
{
    const char *params[] = {email};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "SELECT ceil(extract(epoch FROM locked_until - now()))::int AS "
                                 "retry FROM auth.login_failures "
                                 "WHERE email = $1 AND locked_until > now()",
                                 1, params);
    if (err)
        return err;
    *locked = PQntuples(r) == 1;
    *retry_s = *locked ? (int)dtm_pg_int(r, 0, "retry", 1) : 0;
    if (*locked && *retry_s < 1)
        *retry_s = 1;
    return DTM_OK;
}

/* A lock that has run out starts a fresh count; the AUTH_LOCK_FAILURES-th consecutive failure
 * sets locked_until. All in one statement so concurrent failures cannot lose counts. */
dtm_err_t auth_store_record_failure(dtm_db_t *db, const char *email, bool *now_locked)
{
    char max[16], secs[16];
    snprintf(max, sizeof max, "%d", AUTH_LOCK_FAILURES);
    snprintf(secs, sizeof secs, "%d", AUTH_LOCK_SECONDS);
    const char *params[] = {email, max, secs};
    PGresult *r;
    dtm_err_t err = dtm_db_query(
        db, &r,
        "INSERT INTO auth.login_failures AS f (email, failures, locked_until, updated_at) "
        "VALUES ($1, 1, CASE WHEN 1 >= $2::int THEN now() + make_interval(secs => $3::int) END, "
        "now()) "
        "ON CONFLICT (email) DO UPDATE SET "
        "failures = CASE WHEN f.locked_until IS NOT NULL AND f.locked_until <= now() THEN 1 "
        "ELSE f.failures + 1 END, "
        "locked_until = CASE "
        "WHEN f.locked_until > now() THEN f.locked_until "
        "WHEN (CASE WHEN f.locked_until IS NOT NULL THEN 1 ELSE f.failures + 1 END) >= $2::int "
        "THEN now() + make_interval(secs => $3::int) END, "
        "updated_at = now() "
        "RETURNING locked_until IS NOT NULL AND locked_until > now() AS locked",
        3, params);
    if (err)
        return err;
    *now_locked = PQntuples(r) == 1 && dtm_pg_bool(r, 0, "locked");
    return DTM_OK;
}

dtm_err_t auth_store_clear_failures(dtm_db_t *db, const char *email)
{
    const char *params[] = {email};
    return dtm_db_query(db, NULL, "DELETE FROM auth.login_failures WHERE email = $1", 1, params);
}

dtm_err_t auth_store_token_insert(dtm_db_t *db, const char *hash, const char *family_id,
                                  const char *user_id, const char *access_jti, int ttl_s)
{
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", ttl_s);
    const char *params[] = {hash, family_id, user_id, access_jti, ttl};
    return dtm_db_query(db, NULL,
                        "INSERT INTO auth.refresh_tokens (token_hash, family_id, user_id, "
                        "access_jti, expires_at) "
                        "VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::int))",
                        5, params);
}

dtm_err_t auth_store_token_find(dtm_db_t *db, dtm_arena_t *a, const char *hash, bool for_update,
                                auth_token_row_t *out)
{
    (void)a;
    const char *params[] = {hash};
    PGresult *r;
    dtm_err_t err = dtm_db_query(
        db, &r,
        for_update ? "SELECT id::text AS id, family_id::text AS family_id, user_id::text AS "
                     "user_id, used_at IS NOT NULL AS used, revoked_at IS NOT NULL AS "
                     "revoked, expires_at <= now() AS expired "
                     "FROM auth.refresh_tokens WHERE token_hash = $1 FOR UPDATE"
                   : "SELECT id::text AS id, family_id::text AS family_id, user_id::text AS "
                     "user_id, used_at IS NOT NULL AS used, revoked_at IS NOT NULL AS "
                     "revoked, expires_at <= now() AS expired "
                     "FROM auth.refresh_tokens WHERE token_hash = $1",
        1, params);
    if (err)
        return err;
    if (PQntuples(r) != 1)
        return DTM_ENOTFOUND;
    out->id = dtm_pg_get(r, 0, "id");
    out->family_id = dtm_pg_get(r, 0, "family_id");
    out->user_id = dtm_pg_get(r, 0, "user_id");
    out->used = dtm_pg_bool(r, 0, "used");
    out->revoked = dtm_pg_bool(r, 0, "revoked");
    out->expired = dtm_pg_bool(r, 0, "expired");
    return DTM_OK;
}

dtm_err_t auth_store_token_mark_used(dtm_db_t *db, const char *id)
{
    const char *params[] = {id};
    return dtm_db_query(db, NULL, "UPDATE auth.refresh_tokens SET used_at = now() WHERE id = $1", 1,
                        params);
}

dtm_err_t auth_store_family_revoke(dtm_db_t *db, const char *family_id)
{
    const char *params[] = {family_id};
    return dtm_db_query(db, NULL,
                        "UPDATE auth.refresh_tokens SET revoked_at = now() "
                        "WHERE family_id = $1 AND revoked_at IS NULL",
                        1, params);
}

dtm_err_t auth_store_family_of_jti(dtm_db_t *db, dtm_arena_t *a, const char *jti,
                                   const char **family_id)
{
    (void)a;
    const char *params[] = {jti};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "SELECT family_id::text AS family_id FROM auth.refresh_tokens "
                                 "WHERE access_jti = $1 LIMIT 1",
                                 1, params);
    if (err)
        return err;
    *family_id = PQntuples(r) == 1 ? dtm_pg_get(r, 0, "family_id") : NULL;
    return DTM_OK;
}

dtm_err_t auth_store_revoke_user_except(dtm_db_t *db, const char *user_id, const char *keep)
{
    const char *params[] = {user_id, keep};
    return dtm_db_query(db, NULL,
                        "UPDATE auth.refresh_tokens SET revoked_at = now() "
                        "WHERE user_id = $1 AND revoked_at IS NULL "
                        "AND ($2::uuid IS NULL OR family_id <> $2::uuid)",
                        2, params);
}

dtm_err_t auth_store_deny_access(dtm_db_t *db, const char *jti, const char *user_id, int64_t exp_s)
{
    char exp[24];
    snprintf(exp, sizeof exp, "%lld", (long long)exp_s);
    const char *params[] = {jti, user_id, exp};
    return dtm_db_query(db, NULL,
                        "INSERT INTO auth.revoked_access_tokens (jti, user_id, expires_at) "
                        "VALUES ($1, $2, to_timestamp($3::bigint)) ON CONFLICT (jti) DO NOTHING",
                        3, params);
}

dtm_err_t auth_store_deny_families(dtm_db_t *db, dtm_arena_t *a, const char *user_id,
                                   const char *family, bool in, int access_ttl_s,
                                   auth_denied_t **rows, int *n)
{
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", access_ttl_s);
    const char *params[] = {user_id, family, in ? "true" : "false", ttl};
    PGresult *r;
    /* The token's exp is iat + ttl, and iat may lie up to a second after the row's created_at
     * (issue_tokens): a minute of margin keeps the row until the token is surely dead. */
    dtm_err_t err =
        dtm_db_query(db, &r,
                     "INSERT INTO auth.revoked_access_tokens (jti, user_id, expires_at) "
                     "SELECT access_jti, user_id, created_at + make_interval(secs => $4::int + 60) "
                     "FROM auth.refresh_tokens WHERE user_id = $1 AND access_jti IS NOT NULL "
                     "AND ($2::uuid IS NULL OR (family_id = $2::uuid) = $3::boolean) "
                     "AND created_at > now() - make_interval(secs => $4::int + 60) "
                     "ON CONFLICT (jti) DO NOTHING "
                     "RETURNING jti::text AS jti, extract(epoch FROM expires_at)::bigint AS exp",
                     4, params);
    if (err)
        return err;
    *n = PQntuples(r);
    *rows = dtm_arena_calloc(a, sizeof(auth_denied_t) * (size_t)(*n + 1));
    for (int i = 0; i < *n; i++) {
        (*rows)[i].jti = dtm_pg_get(r, i, "jti");
        (*rows)[i].exp_s = dtm_pg_int(r, i, "exp", 0);
    }
    return DTM_OK;
}

/* ---- sessions ---- */

dtm_err_t auth_store_session_open(dtm_db_t *db, const char *family_id, const char *user_id,
                                  const char *user_agent, const char *device, const char *ip)
{
    const char *params[] = {family_id, user_id, user_agent, device, ip};
    return dtm_db_query(db, NULL,
                        "INSERT INTO auth.sessions (family_id, user_id, user_agent, device, ip) "
                        "VALUES ($1, $2, left($3, 512), left($4, 100), left($5, 64)) "
                        "ON CONFLICT (family_id) DO UPDATE SET last_used_at = now(), "
                        "ip = EXCLUDED.ip",
                        5, params);
}

dtm_err_t auth_store_session_touch(dtm_db_t *db, const char *family_id, const char *ip)
{
    const char *params[] = {family_id, ip};
    return dtm_db_query(db, NULL,
                        "UPDATE auth.sessions SET last_used_at = now(), ip = left($2, 64) "
                        "WHERE family_id = $1",
                        2, params);
}

#define TS(col) "to_char(s." col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS " col
#define SESSION_COLS                                                                               \
    "s.family_id::text AS id, s.device, s.user_agent, s.ip, " TS("created_at") ", " TS(            \
        "last_used_at")

/* Live: the family still holds a refresh token that is neither used, revoked nor expired. */
#define SESSION_LIVE                                                                               \
    "EXISTS (SELECT 1 FROM auth.refresh_tokens t WHERE t.family_id = s.family_id "                 \
    "AND t.used_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > now())"

dtm_err_t auth_store_sessions_list(dtm_db_t *db, dtm_arena_t *a, const char *user_id,
                                   auth_session_t **rows, int *n)
{
    const char *params[] = {user_id};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "SELECT " SESSION_COLS " FROM auth.sessions s "
                                 "WHERE s.user_id = $1 AND " SESSION_LIVE
                                 " ORDER BY s.last_used_at DESC LIMIT 100",
                                 1, params);
    if (err)
        return err;
    *n = PQntuples(r);
    *rows = dtm_arena_calloc(a, sizeof(auth_session_t) * (size_t)(*n + 1));
    for (int i = 0; i < *n; i++) {
        auth_session_t *x = &(*rows)[i];
        x->id = dtm_pg_get(r, i, "id");
        x->device = dtm_pg_get(r, i, "device");
        x->user_agent = dtm_pg_get(r, i, "user_agent");
        x->ip = dtm_pg_get(r, i, "ip");
        x->created_at = dtm_pg_get(r, i, "created_at");
        x->last_used_at = dtm_pg_get(r, i, "last_used_at");
    }
    return DTM_OK;
}

dtm_err_t auth_store_session_is_live(dtm_db_t *db, const char *user_id, const char *family_id)
{
    const char *params[] = {user_id, family_id};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "SELECT 1 FROM auth.sessions s WHERE s.user_id = $1 "
                                 "AND s.family_id = $2 AND " SESSION_LIVE " FOR UPDATE OF s",
                                 2, params);
    if (err)
        return err;
    return PQntuples(r) == 1 ? DTM_OK : DTM_ENOTFOUND;
}

/* ---- MFA ---- */

dtm_err_t auth_store_totp_get(dtm_db_t *db, dtm_arena_t *a, const char *user_id, bool for_update,
                              auth_totp_row_t *out)
{
    (void)a;
    const char *params[] = {user_id};
    PGresult *r;
    dtm_err_t err = dtm_db_query(
        db, &r,
        for_update ? "SELECT secret, enabled_at IS NOT NULL AS enabled, last_step, confirm_tries "
                     "FROM auth.mfa_totp WHERE user_id = $1 FOR UPDATE"
                   : "SELECT secret, enabled_at IS NOT NULL AS enabled, last_step, confirm_tries "
                     "FROM auth.mfa_totp WHERE user_id = $1",
        1, params);
    if (err)
        return err;
    if (PQntuples(r) != 1)
        return DTM_ENOTFOUND;
    out->secret = dtm_pg_get(r, 0, "secret");
    out->enabled = dtm_pg_bool(r, 0, "enabled");
    out->last_step = dtm_pg_int(r, 0, "last_step", 0);
    out->confirm_tries = (int)dtm_pg_int(r, 0, "confirm_tries", 0);
    return DTM_OK;
}

/* Affected rows of a statement ending in RETURNING 1: DTM_OK when one, else `none`. */
static dtm_err_t one_row(dtm_db_t *db, const char *sql, int n, const char *const *params,
                         dtm_err_t none)
{
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r, sql, n, params);
    if (err)
        return err;
    return PQntuples(r) >= 1 ? DTM_OK : none;
}

dtm_err_t auth_store_totp_pending(dtm_db_t *db, const char *user_id, const char *secret)
{
    const char *params[] = {user_id, secret};
    return one_row(db,
                   "INSERT INTO auth.mfa_totp AS t (user_id, secret) VALUES ($1, $2) "
                   "ON CONFLICT (user_id) DO UPDATE SET secret = EXCLUDED.secret, last_step = 0, "
                   "confirm_tries = 0, created_at = now() WHERE t.enabled_at IS NULL RETURNING 1",
                   2, params, DTM_ECONFLICT);
}

dtm_err_t auth_store_totp_confirm_failed(dtm_db_t *db, const char *user_id)
{
    char max[16];
    snprintf(max, sizeof max, "%d", AUTH_MFA_TRIES);
    const char *params[] = {user_id, max};
    dtm_err_t err = dtm_db_query(db, NULL,
                                 "UPDATE auth.mfa_totp SET confirm_tries = confirm_tries + 1 "
                                 "WHERE user_id = $1 AND enabled_at IS NULL",
                                 1, params);
    if (!err)
        err = dtm_db_query(db, NULL,
                           "DELETE FROM auth.mfa_totp WHERE user_id = $1 AND enabled_at IS NULL "
                           "AND confirm_tries >= $2::int",
                           2, params);
    return err;
}

dtm_err_t auth_store_totp_enable(dtm_db_t *db, const char *user_id, int64_t step)
{
    char st[24];
    snprintf(st, sizeof st, "%lld", (long long)step);
    const char *params[] = {user_id, st};
    return one_row(db,
                   "UPDATE auth.mfa_totp SET enabled_at = now(), last_step = $2::bigint "
                   "WHERE user_id = $1 AND enabled_at IS NULL RETURNING 1",
                   2, params, DTM_ECONFLICT);
}

dtm_err_t auth_store_totp_use_step(dtm_db_t *db, const char *user_id, int64_t step)
{
    char st[24];
    snprintf(st, sizeof st, "%lld", (long long)step);
    const char *params[] = {user_id, st};
    return one_row(db,
                   "UPDATE auth.mfa_totp SET last_step = $2::bigint WHERE user_id = $1 "
                   "AND enabled_at IS NOT NULL AND last_step < $2::bigint RETURNING 1",
                   2, params, DTM_ECONFLICT);
}

dtm_err_t auth_store_totp_delete(dtm_db_t *db, const char *user_id, bool *existed)
{
    const char *params[] = {user_id};
    dtm_err_t err = one_row(db,
                            "DELETE FROM auth.mfa_totp WHERE user_id = $1 "
                            "RETURNING enabled_at IS NOT NULL AS enabled",
                            1, params, DTM_ENOTFOUND);
    if (existed)
        *existed = err == DTM_OK;
    if (err == DTM_ENOTFOUND)
        err = DTM_OK;
    if (!err)
        err = dtm_db_query(db, NULL, "DELETE FROM auth.mfa_recovery_codes WHERE user_id = $1", 1,
                           params);
    return err;
}

dtm_err_t auth_store_recovery_replace(dtm_db_t *db, const char *user_id, char (*hashes)[65], int n)
{
    const char *params[2] = {user_id, NULL};
    dtm_err_t err =
        dtm_db_query(db, NULL, "DELETE FROM auth.mfa_recovery_codes WHERE user_id = $1", 1, params);
    for (int i = 0; !err && i < n; i++) {
        params[1] = hashes[i];
        err = dtm_db_query(
            db, NULL, "INSERT INTO auth.mfa_recovery_codes (user_id, code_hash) VALUES ($1, $2)", 2,
            params);
    }
    return err;
}

dtm_err_t auth_store_recovery_left(dtm_db_t *db, const char *user_id, int *n)
{
    const char *params[] = {user_id};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "SELECT count(*) AS n FROM auth.mfa_recovery_codes "
                                 "WHERE user_id = $1 AND used_at IS NULL",
                                 1, params);
    if (!err)
        *n = (int)dtm_pg_int(r, 0, "n", 0);
    return err;
}

dtm_err_t auth_store_recovery_use(dtm_db_t *db, const char *user_id, const char *hash)
{
    const char *params[] = {user_id, hash};
    return one_row(db,
                   "UPDATE auth.mfa_recovery_codes SET used_at = now() WHERE user_id = $1 "
                   "AND code_hash = $2 AND used_at IS NULL RETURNING 1",
                   2, params, DTM_ENOTFOUND);
}

dtm_err_t auth_store_challenge_new(dtm_db_t *db, const char *hash, const char *user_id,
                                   const char *purpose)
{
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", AUTH_MFA_TOKEN_TTL_S);
    const char *params[] = {hash, user_id, purpose, ttl};
    return dtm_db_query(
        db, NULL,
        "INSERT INTO auth.mfa_challenges (token_hash, user_id, purpose, expires_at) "
        "VALUES ($1, $2, $3, now() + make_interval(secs => $4::int))",
        4, params);
}

dtm_err_t auth_store_challenge_get(dtm_db_t *db, dtm_arena_t *a, const char *hash,
                                   auth_challenge_t *out)
{
    (void)a;
    char max[16];
    snprintf(max, sizeof max, "%d", AUTH_MFA_TRIES);
    const char *params[] = {hash, max};
    PGresult *r;
    dtm_err_t err =
        dtm_db_query(db, &r,
                     "SELECT user_id::text AS user_id, purpose, tries, "
                     "(used_at IS NOT NULL OR expires_at <= now() OR tries >= $2::int) "
                     "AS dead FROM auth.mfa_challenges WHERE token_hash = $1 FOR UPDATE",
                     2, params);
    if (err)
        return err;
    if (PQntuples(r) != 1)
        return DTM_ENOTFOUND;
    out->user_id = dtm_pg_get(r, 0, "user_id");
    out->purpose = dtm_pg_get(r, 0, "purpose");
    out->tries = (int)dtm_pg_int(r, 0, "tries", 0);
    out->dead = dtm_pg_bool(r, 0, "dead");
    return DTM_OK;
}

dtm_err_t auth_store_challenge_failed(dtm_db_t *db, const char *hash)
{
    const char *params[] = {hash};
    return dtm_db_query(db, NULL,
                        "UPDATE auth.mfa_challenges SET tries = tries + 1 WHERE token_hash = $1", 1,
                        params);
}

dtm_err_t auth_store_challenge_use(dtm_db_t *db, const char *hash)
{
    const char *params[] = {hash};
    return dtm_db_query(db, NULL,
                        "UPDATE auth.mfa_challenges SET used_at = now() WHERE token_hash = $1", 1,
                        params);
}

/* ---- password reset ---- */

dtm_err_t auth_store_reset_new(dtm_db_t *db, dtm_arena_t *a, const char *hash, const char *user_id,
                               int ttl_s, const char **expires_at)
{
    (void)a;
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", ttl_s);
    const char *params[] = {hash, user_id, ttl};
    dtm_err_t err = dtm_db_query(db, NULL,
                                 "UPDATE auth.password_resets SET used_at = now() "
                                 "WHERE user_id = $1 AND used_at IS NULL",
                                 1, params + 1);
    PGresult *r;
    if (!err)
        err = dtm_db_query(db, &r,
                           "INSERT INTO auth.password_resets (token_hash, user_id, expires_at) "
                           "VALUES ($1, $2, now() + make_interval(secs => $3::int)) RETURNING "
                           "to_char(expires_at AT TIME ZONE 'UTC', "
                           "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS expires_at",
                           3, params);
    if (err)
        return err;
    *expires_at = dtm_pg_get(r, 0, "expires_at");
    return DTM_OK;
}

dtm_err_t auth_store_reset_take(dtm_db_t *db, dtm_arena_t *a, const char *hash,
                                const char **user_id)
{
    (void)a;
    const char *params[] = {hash};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "UPDATE auth.password_resets SET used_at = now() "
                                 "WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() "
                                 "RETURNING user_id::text AS user_id",
                                 1, params);
    if (err)
        return err;
    if (PQntuples(r) != 1)
        return DTM_ENOTFOUND;
    *user_id = dtm_pg_get(r, 0, "user_id");
    return DTM_OK;
}

dtm_err_t auth_store_reset_untake(dtm_db_t *db, const char *hash)
{
    const char *params[] = {hash};
    return dtm_db_query(db, NULL,
                        "UPDATE auth.password_resets SET used_at = NULL WHERE token_hash = $1", 1,
                        params);
}

dtm_err_t auth_store_reset_void_user(dtm_db_t *db, const char *user_id)
{
    const char *params[] = {user_id};
    return dtm_db_query(db, NULL,
                        "UPDATE auth.password_resets SET used_at = now() "
                        "WHERE user_id = $1 AND used_at IS NULL",
                        1, params);
}

/* Old rows are only history: expired refresh tokens (a day of grace so that a late reuse is
 * still recognised as such), stale failure counts, denylist rows past their token's expiry. */
dtm_err_t auth_store_housekeeping(dtm_db_t *db)
{
    dtm_err_t err = dtm_db_query(
        db, NULL, "DELETE FROM auth.refresh_tokens WHERE expires_at < now() - interval '1 day'", 0,
        NULL);
    if (!err)
        err = dtm_db_query(db, NULL,
                           "DELETE FROM auth.login_failures WHERE updated_at < now() - "
                           "interval '1 day' AND (locked_until IS NULL OR locked_until < now())",
                           0, NULL);
    if (!err)
        err = dtm_db_query(
            db, NULL, "DELETE FROM auth.revoked_access_tokens WHERE expires_at < now()", 0, NULL);
    if (!err)
        err = dtm_db_query(db, NULL,
                           "DELETE FROM auth.password_resets WHERE expires_at < now() - "
                           "interval '1 day'",
                           0, NULL);
    if (!err)
        err = dtm_outbox_purge(db, "auth", 7);
    if (!err)
        err = dtm_db_query(db, NULL,
                           "DELETE FROM auth.mfa_challenges WHERE expires_at < now() - "
                           "interval '1 hour'",
                           0, NULL);
    if (!err)
        err = dtm_db_query(db, NULL,
                           "DELETE FROM auth.sessions s WHERE NOT EXISTS (SELECT 1 FROM "
                           "auth.refresh_tokens t WHERE t.family_id = s.family_id)",
                           0, NULL);
    return err;
}

/* `since` less 30 s: a transaction stamps changed_at when it starts, not when it commits, so a
 * row may become visible after a look whose `now` is later than its stamp. Applying a row twice
 * is harmless. */
dtm_err_t auth_store_revocations_since(dtm_db_t *db, dtm_arena_t *a, const char *since,
                                       int access_ttl_s, auth_revocations_t *out)
{
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", access_ttl_s);
    const char *params[] = {since, ttl};
    PGresult *now, *d, *e;
    dtm_err_t err = dtm_db_query(db, &now, "SELECT now()::text AS now", 0, NULL);
    if (!err)
        err = dtm_db_query(db, &d,
                           "SELECT jti::text AS jti, extract(epoch FROM expires_at)::bigint AS exp "
                           "FROM auth.revoked_access_tokens WHERE expires_at > now() "
                           "AND ($1::timestamptz IS NULL "
                           "OR revoked_at > $1::timestamptz - interval '30 seconds')",
                           1, params);
    if (!err)
        err = dtm_db_query(db, &e,
                           "SELECT user_id::text AS user_id, valid_after FROM auth.user_epochs "
                           "WHERE valid_after > extract(epoch FROM now())::bigint - $2::int - 60 "
                           "AND ($1::timestamptz IS NULL "
                           "OR changed_at > $1::timestamptz - interval '30 seconds')",
                           2, params);
    if (err)
        return err;
    out->now = dtm_pg_get(now, 0, "now");
    out->ndenied = PQntuples(d);
    out->denied = dtm_arena_calloc(a, sizeof(auth_denied_t) * (size_t)(out->ndenied + 1));
    for (int i = 0; i < out->ndenied; i++) {
        out->denied[i].jti = dtm_pg_get(d, i, "jti");
        out->denied[i].exp_s = dtm_pg_int(d, i, "exp", 0);
    }
    out->nepochs = PQntuples(e);
    out->epochs = dtm_arena_calloc(a, sizeof(auth_epoch_t) * (size_t)(out->nepochs + 1));
    for (int i = 0; i < out->nepochs; i++) {
        out->epochs[i].user_id = dtm_pg_get(e, i, "user_id");
        out->epochs[i].valid_after = dtm_pg_int(e, i, "valid_after", 0);
    }
    return DTM_OK;
}

/* clock_timestamp(), not now(): the epoch must not predate tokens issued while the caller's
 * transaction was running. Rounded up: a token issued earlier in the same second is refused
 * too; tokens issued afterwards carry a later iat (issue_tokens). */
dtm_err_t auth_store_epoch_bump(dtm_db_t *db, const char *user_id, int64_t *valid_after)
{
    const char *params[] = {user_id};
    PGresult *r;
    dtm_err_t err = dtm_db_query(
        db, &r,
        "INSERT INTO auth.user_epochs AS e (user_id, valid_after, changed_at) "
        "VALUES ($1, ceil(extract(epoch FROM clock_timestamp()))::bigint, now()) "
        "ON CONFLICT (user_id) DO UPDATE SET "
        "valid_after = GREATEST(e.valid_after, EXCLUDED.valid_after), changed_at = now() "
        "RETURNING valid_after",
        1, params);
    if (err)
        return err;
    if (valid_after)
        *valid_after = PQntuples(r) == 1 ? dtm_pg_int(r, 0, "valid_after", 0) : 0;
    return DTM_OK;
}

dtm_err_t auth_store_epoch_get(dtm_db_t *db, const char *user_id, int64_t *valid_after)
{
    const char *params[] = {user_id};
    PGresult *r;
    dtm_err_t err = dtm_db_query(
        db, &r, "SELECT valid_after FROM auth.user_epochs WHERE user_id = $1", 1, params);
    if (err)
        return err;
    *valid_after = PQntuples(r) == 1 ? dtm_pg_int(r, 0, "valid_after", 0) : 0;
    return DTM_OK;
}

/* ---- Redis ---- */

/* INCR + EXPIRE of both counters in one round trip. The expiry is set on the first hit only,
 * so a window is 60 s from the first attempt (fixed window). */
static const char rl_script[] =
    "local r = {}\n"
    "for i, k in ipairs(KEYS) do\n"
    "  local c = redis.call('INCR', k)\n"
    "  if c == 1 then redis.call('EXPIRE', k, ARGV[1]) end\n"
    "  local t = redis.call('TTL', k)\n"
    "  if t < 0 then redis.call('EXPIRE', k, ARGV[1]); t = tonumber(ARGV[1]) end\n"
    "  r[#r + 1] = c; r[#r + 1] = t\n"
    "end\n"
    "return r\n";

bool auth_cache_login_hits(dtm_arena_t *a, const char *ip, const char *email, long *ip_count,
                           int *ip_ttl, long *email_count, int *email_ttl)
{
    char window[16];
    snprintf(window, sizeof window, "%d", AUTH_RL_WINDOW_S);
    const char *k1 = dtm_arena_sprintf(a, "rl:login:ip:%s", ip);
    const char *k2 = dtm_arena_sprintf(a, "rl:login:email:%s:%s", ip, email);
    const char *argv[] = {"EVAL", rl_script, "2", k1, k2, window};
    size_t lens[] = {4, sizeof rl_script - 1, 1, strlen(k1), strlen(k2), strlen(window)};
    redisReply *r = dtm_redis_cmdargv(a, 6, argv, lens);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 4)
        return false;
    for (size_t i = 0; i < 4; i++)
        if (r->element[i]->type != REDIS_REPLY_INTEGER)
            return false;
    *ip_count = (long)r->element[0]->integer;
    *ip_ttl = (int)r->element[1]->integer;
    *email_count = (long)r->element[2]->integer;
    *email_ttl = (int)r->element[3]->integer;
    return true;
}
