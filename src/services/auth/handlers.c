/* SPDX-License-Identifier: MIT */
/* Handlers of /api/auth (shared/API.md). They run on worker threads.
 *
 * Credentials are verified by the users service (dtm_call to its internal routes), which may
 * hold a pooled PostgreSQL connection until this request ends. So that one login never needs
 * two connections at once from the auth side, auth's own database work is done on short-lived
 * arenas ("scopes") whose connection goes back to the pool as soon as the step is over. */
#include "services/auth/auth.h"
#include "services/auth/revoke.h"
#include "core/config.h"
#include "core/ids.h"
#include "core/json.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/timeutil.h"
#include "db/outbox.h"
#include "db/redis.h"
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- metrics and the fallback limiter ---- */

enum { R_SUCCESS, R_INVALID, R_DISABLED, R_LOCKED, R_RATE, R_NRESULTS };
static const char *const result_names[R_NRESULTS] = {
    "success", "invalid_credentials", "account_disabled", "account_locked", "rate_limited",
};
static dtm_metric_t *m_logins[R_NRESULTS];
static dtm_metric_t *m_refresh_reuse;
static auth_rl_t *g_rl;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_once_fn(void)
{
    for (int i = 0; i < R_NRESULTS; i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "result=\"%s\"", result_names[i]);
        m_logins[i] = dtm_counter("dtm_logins_total", "Login attempts by result", labels);
    }
    m_refresh_reuse = dtm_counter("dtm_refresh_token_reuse_total",
                                  "Rotated refresh tokens presented again (family revoked)", NULL);
    g_rl = auth_rl_new(8192);
}

/* Housekeeping of the auth schema. Failures are only logged: the service must start even
 * while PostgreSQL is down. */
static void maintain(void)
{
    dtm_pg_pool_t *pool = dtm_pg_pool_for("auth");
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = pool ? dtm_db_open(pool, a) : NULL;
    if (!db || auth_store_housekeeping(db) != DTM_OK)
        dtm_log_warn("auth: housekeeping skipped: database unavailable");
    dtm_arena_free(a);
}

static atomic_uint g_logins;

/* Every 1000 logins per process, so long-running processes do not accumulate history. */
static void maybe_maintain(void)
{
    if (atomic_fetch_add(&g_logins, 1) % 1000 == 999)
        maintain();
}

dtm_err_t auth_init(void)
{
    pthread_once(&init_once, init_once_fn);
    maintain();
    return auth_reset_start() == 0 ? DTM_OK : DTM_EINTERNAL;
}

void auth_shutdown(void)
{
    auth_reset_stop();
    /* g_rl lives for the process: handlers may still be finishing on other threads. */
}

static void count_login(int result)
{
    pthread_once(&init_once, init_once_fn);
    dtm_metric_inc(m_logins[result]);
}

/* ---- helpers ---- */

/* A database handle on its own arena: the connection returns to the pool at auth_scope_end. */
bool auth_scope_begin(dtm_req_t *req, auth_scope_t *s)
{
    dtm_pg_pool_t *pool = dtm_pg_pool_for("auth");
    s->arena = dtm_arena_new(0);
    s->db = pool ? dtm_db_open(pool, s->arena) : NULL;
    if (!s->db) {
        dtm_arena_free(s->arena);
        s->arena = NULL;
        dtm_resp_err(req, DTM_EDB, NULL);
        return false;
    }
    return true;
}

void auth_scope_end(auth_scope_t *s)
{
    dtm_arena_free(s->arena);
    s->arena = NULL;
    s->db = NULL;
}

/* End sessions of a user inside the scope's transaction: family `family` only (in), or every
 * family but `family` (NULL: all). Their refresh tokens are revoked and their outstanding
 * access tokens denylisted; *denied gets those for auth_scope_commit. */
dtm_err_t auth_end_sessions(auth_scope_t *s, const char *user_id, const char *family, bool in,
                            auth_denied_t **denied, int *ndenied)
{
    dtm_err_t err = in ? auth_store_family_revoke(s->db, family)
                       : auth_store_revoke_user_except(s->db, user_id, family);
    if (!err)
        err = auth_store_deny_families(s->db, s->arena, user_id, family, in, dtm_cfg.access_ttl_s,
                                       denied, ndenied);
    return err;
}

/* Commit (or, after `err`, roll back) the scope's transaction, then tell every process about the
 * denylisted tokens, and end the scope. Returns the outcome. */
dtm_err_t auth_scope_commit(auth_scope_t *s, dtm_err_t err, const auth_denied_t *denied,
                            int ndenied)
{
    if (!err)
        err = dtm_db_commit(s->db);
    if (err)
        dtm_db_rollback(s->db);
    for (int i = 0; !err && i < ndenied; i++)
        dtm_auth_deny_published(denied[i].jti, denied[i].exp_s);
    auth_scope_end(s);
    return err;
}

const char *auth_body_str(dtm_req_t *req, const char *field, size_t max)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return NULL;
    dtm_valid_t *v = dtm_req_validator(req);
    const char *value = NULL;
    dtm_jstr(v, body, field, true, 1, max, &value);
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, NULL, v);
        return NULL;
    }
    return value;
}

static void resp_invalid_token(dtm_req_t *req)
{
    dtm_resp_error(req, 401, "invalid_token", "The refresh token is invalid or expired", NULL);
}

/* Pass an error answered by another service through unchanged (status, code, details). */
void auth_forward(dtm_req_t *req, dtm_err_t err, int status, json_t *out)
{
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    json_t *e = out ? json_object_get(out, "error") : NULL;
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    json_t *details = json_object_get(e, "details");
    if (status < 400 || !code) {
        dtm_log_error("unexpected answer %d from the users service", status);
        dtm_resp_err(req, DTM_EUPSTREAM, NULL);
        return;
    }
    dtm_resp_error(req, status, code, msg ? msg : dtm_err_message(DTM_EUPSTREAM),
                   details && !json_is_null(details) ? json_deep_copy(details) : NULL);
}

/* The user object of a users-service answer {"user": {...}}; NULL when malformed. */
json_t *auth_user_of(json_t *out)
{
    json_t *u = out ? json_object_get(out, "user") : NULL;
    if (!json_is_object(u) || !json_is_string(json_object_get(u, "id")) ||
        !json_is_string(json_object_get(u, "role")))
        return NULL;
    return u;
}

static char *lower_dup(dtm_arena_t *a, const char *s, size_t max)
{
    size_t n = strlen(s);
    char *out = dtm_arena_strndup(a, s, n > max ? max : n);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return out;
}

/* Issue an access token and a refresh token in `family` (NULL: a new family) for `user` and
 * answer 200 with the login shape. The refresh token row is written on `db`. */
dtm_err_t auth_issue_tokens(dtm_req_t *req, dtm_db_t *db, json_t *user, const char *family,
                            json_t **resp)
{
    const char *uid = json_string_value(json_object_get(user, "id"));
    const char *role = json_string_value(json_object_get(user, "role"));
    dtm_claims_t c = {0};
    snprintf(c.sub, sizeof c.sub, "%s", uid);
    snprintf(c.role, sizeof c.role, "%s", role);
    dtm_uuid_v4(c.jti);
    snprintf(c.iss, sizeof c.iss, "dtm");
    /* A token must be issued after the user's valid-after epoch (which is rounded up, so it may
     * lie a second ahead): verification allows an iat up to 60 s ahead. */
    int64_t valid_after = 0;
    dtm_err_t err = auth_store_epoch_get(db, uid, &valid_after);
    if (err)
        return err;
    c.iat = dtm_now_ms() / 1000;
    if (c.iat <= valid_after)
        c.iat = valid_after + 1;
    c.exp = c.iat + dtm_cfg.access_ttl_s;
    char fam[DTM_UUID_LEN + 1];
    const char *ip = req->client_ip ? req->client_ip : "";
    if (!family) {
        dtm_uuid_v4(fam);
        family = fam;
        const char *ua = dtm_req_header(req, "user-agent");
        char device[100];
        auth_device_name(ua, device, sizeof device);
        err = auth_store_session_open(db, family, uid, ua ? ua : "", device, ip);
    } else {
        err = auth_store_session_touch(db, family, ip);
    }
    if (err)
        return err;
    char refresh[64], hash[AUTH_TOKEN_HASH_LEN + 1];
    dtm_random_token(refresh, AUTH_REFRESH_BYTES);
    auth_token_hash(refresh, hash);
    err = auth_store_token_insert(db, hash, family, uid, c.jti, dtm_cfg.refresh_ttl_s);
    if (err)
        return err;
    char *access = dtm_jwt_sign(&c, dtm_jwt_keys());
    if (!access)
        return DTM_EINTERNAL;
    *resp = json_pack("{s:s, s:s, s:s, s:i, s:O}", "accessToken", access, "refreshToken", refresh,
                      "tokenType", "Bearer", "expiresIn", dtm_cfg.access_ttl_s, "user", user);
    free(access);
    return *resp ? DTM_OK : DTM_EINTERNAL;
}

/* Login limits (DTM_LOGIN_LIMIT_PER_IP, DTM_LOGIN_LIMIT_PER_EMAIL per minute): Redis counters,
 * or this process's table when Redis is down. Returns false with the 429 set. */
bool auth_login_allowed(dtm_req_t *req, const char *email)
{
    const char *ip = req->client_ip ? req->client_ip : "-";
    long ip_n, email_n;
    int ip_ttl, email_ttl;
    if (!auth_cache_login_hits(req->arena, ip, email, &ip_n, &ip_ttl, &email_n, &email_ttl)) {
        pthread_once(&init_once, init_once_fn);
        int64_t now = dtm_now_ms();
        ip_n = auth_rl_hit(g_rl, dtm_arena_sprintf(req->arena, "ip:%s", ip), AUTH_RL_WINDOW_S, now,
                           &ip_ttl);
        email_n = auth_rl_hit(g_rl, dtm_arena_sprintf(req->arena, "email:%s:%s", ip, email),
                              AUTH_RL_WINDOW_S, now, &email_ttl);
    }
    bool over_ip = dtm_cfg.login_limit_per_ip > 0 && ip_n > dtm_cfg.login_limit_per_ip;
    bool over_email = dtm_cfg.login_limit_per_email > 0 && email_n > dtm_cfg.login_limit_per_email;
    if (!over_ip && !over_email)
        return true;
    int retry = 1;
    if (over_ip && ip_ttl > retry)
        retry = ip_ttl;
    if (over_email && email_ttl > retry)
        retry = email_ttl;
    dtm_resp_header(req, "Retry-After", dtm_arena_sprintf(req->arena, "%d", retry));
    dtm_resp_error(req, 429, "rate_limited", "Too many login attempts; try again later",
                   json_pack("{s:i}", "retryAfterSeconds", retry));
    return false;
}

/* ---- POST /api/auth/login ---- */

void auth_login(dtm_req_t *req)
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
    /* Counters, lockout and the users lookup all key on the lower-cased e-mail. */
    const char *key = lower_dup(req->arena, email, 254);

    if (!auth_login_allowed(req, key)) {
        count_login(R_RATE);
        return;
    }

    auth_scope_t s;
    if (!auth_scope_begin(req, &s))
        return;
    bool locked = false;
    int retry = 0;
    dtm_err_t err = auth_store_lock_state(s.db, key, &locked, &retry);
    auth_scope_end(&s);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    if (locked) {
        count_login(R_LOCKED);
        dtm_resp_header(req, "Retry-After", dtm_arena_sprintf(req->arena, "%d", retry));
        dtm_resp_error(req, 423, "account_locked",
                       "Too many failed logins; the account is locked for 15 minutes",
                       json_pack("{s:i}", "retryAfterSeconds", retry));
        return;
    }

    int status;
    json_t *out;
    json_t *call_body = json_pack("{s:s, s:s}", "email", email, "password", password);
    err = dtm_call(req, "POST", "/api/users/internal/verify-credentials", call_body, &status, &out);
    json_decref(call_body);
    if (err || (status != 200 && status != 401)) {
        auth_forward(req, err, status, out);
        return;
    }
    if (status == 401) {
        bool now_locked = false;
        if (!auth_scope_begin(req, &s))
            return;
        err = auth_store_record_failure(s.db, key, &now_locked);
        auth_scope_end(&s);
        if (err) {
            dtm_resp_err(req, err, NULL);
            return;
        }
        if (now_locked)
            dtm_log_with(DTM_LOG_WARN,
                         json_pack("{s:s}", "ip", req->client_ip ? req->client_ip : ""),
                         "login locked after %d consecutive failures", AUTH_LOCK_FAILURES);
        count_login(R_INVALID);
        dtm_resp_error(req, 401, "invalid_credentials", "E-mail or password is wrong", NULL);
        return;
    }
    json_t *user = auth_user_of(out);
    if (!user) {
        dtm_resp_err(req, DTM_EUPSTREAM, NULL);
        return;
    }
    if (!json_is_true(json_object_get(user, "active"))) {
        count_login(R_DISABLED);
        dtm_resp_error(req, 403, "account_disabled", "This account has been deactivated", NULL);
        return;
    }
    if (!auth_scope_begin(req, &s))
        return;
    json_t *resp = NULL;
    err = dtm_db_begin(s.db);
    if (!err)
        err = auth_store_clear_failures(s.db, key);
    /* With TOTP enabled (or to be enrolled) the answer is an mfaToken, not tokens. */
    if (!err)
        err = auth_mfa_login_step(req, s.db, user, &resp);
    if (!err && !resp)
        err = auth_issue_tokens(req, s.db, user, NULL, &resp);
    err = auth_scope_commit(&s, err, NULL, 0);
    if (err) {
        json_decref(resp);
        dtm_resp_err(req, err, NULL);
        return;
    }
    count_login(R_SUCCESS);
    dtm_resp_json(req, 200, resp);
    maybe_maintain();
}

dtm_err_t auth_login_finish(dtm_req_t *req, json_t *user, json_t **resp)
{
    *resp = NULL;
    if (!json_is_true(json_object_get(user, "active"))) {
        count_login(R_DISABLED);
        dtm_resp_error(req, 403, "account_disabled", "This account has been deactivated", NULL);
        return DTM_EFORBIDDEN;
    }
    auth_scope_t s;
    if (!auth_scope_begin(req, &s))
        return DTM_EDB;
    dtm_err_t err = dtm_db_begin(s.db);
    if (!err)
        err = auth_issue_tokens(req, s.db, user, NULL, resp);
    err = auth_scope_commit(&s, err, NULL, 0);
    if (err) {
        json_decref(*resp);
        *resp = NULL;
        dtm_resp_err(req, err, NULL);
        return err;
    }
    count_login(R_SUCCESS);
    return DTM_OK;
}

/* ---- POST /api/auth/refresh ---- */

void auth_refresh(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t v;
    dtm_valid_init(&v);
    const char *token = NULL;
    dtm_jstr(&v, body, "refreshToken", true, 1, 512, &token);
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, NULL, &v);
        return;
    }
    dtm_valid_cleanup(&v);
    char hash[AUTH_TOKEN_HASH_LEN + 1];
    auth_token_hash(token, hash);

    /* 1. Look the token up without holding a lock across the call to the users service. */
    auth_scope_t s;
    if (!auth_scope_begin(req, &s))
        return;
    auth_token_row_t t;
    dtm_err_t err = auth_store_token_find(s.db, s.arena, hash, false, &t);
    if (err) {
        auth_scope_end(&s);
        if (err == DTM_ENOTFOUND)
            resp_invalid_token(req);
        else
            dtm_resp_err(req, err, NULL);
        return;
    }
    if (t.used && !t.revoked) {
        /* A rotated token came back: whoever holds the family may be an attacker. */
        err = auth_store_family_revoke(s.db, t.family_id);
        pthread_once(&init_once, init_once_fn);
        dtm_metric_inc(m_refresh_reuse);
        dtm_log_with(DTM_LOG_WARN, json_pack("{s:s}", "userId", t.user_id),
                     "refresh token reuse: family revoked");
    }
    bool dead = t.used || t.revoked || t.expired;
    char *user_id = dtm_arena_strdup(req->arena, t.user_id);
    char *family = dtm_arena_strdup(req->arena, t.family_id);
    auth_scope_end(&s);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    if (dead) {
        resp_invalid_token(req);
        return;
    }

    /* 2. The user's current role and state. */
    int status;
    json_t *out;
    err = dtm_call(req, "GET", dtm_arena_sprintf(req->arena, "/api/users/%s", user_id), NULL,
                   &status, &out);
    if (err || (status != 200 && status != 404)) {
        auth_forward(req, err, status, out);
        return;
    }
    json_t *user = status == 200 ? auth_user_of(out) : NULL;
    bool usable = user && json_is_true(json_object_get(user, "active"));

    /* 3. Rotate under a row lock: of two concurrent refreshes with one token, the second sees
     * it used and is treated as reuse. */
    if (!auth_scope_begin(req, &s))
        return;
    json_t *resp = NULL;
    bool reuse = false, rejected = false;
    err = dtm_db_begin(s.db);
    if (!err)
        err = auth_store_token_find(s.db, s.arena, hash, true, &t);
    if (!err && (t.used || t.revoked || t.expired || !usable)) {
        reuse = t.used && !t.revoked;
        rejected = true;
        err = auth_store_family_revoke(s.db, family);
    } else {
        if (!err)
            err = auth_store_token_mark_used(s.db, t.id);
        if (!err)
            err = auth_issue_tokens(req, s.db, user, family, &resp);
    }
    err = auth_scope_commit(&s, err, NULL, 0);
    if (reuse && !err) {
        dtm_metric_inc(m_refresh_reuse);
        dtm_log_warn("refresh token reuse (concurrent): family revoked");
    }
    if (rejected && !err)
        err = DTM_EAUTH;
    if (err == DTM_EAUTH || err == DTM_ENOTFOUND) {
        resp_invalid_token(req);
        return;
    }
    if (err) {
        json_decref(resp);
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 200, resp);
}

/* ---- POST /api/auth/logout ---- */

void auth_logout(dtm_req_t *req)
{
    const char *token = NULL;
    if (req->body_len > 0) {
        json_t *body = dtm_req_json(req);
        if (!body)
            return;
        dtm_valid_t v;
        dtm_valid_init(&v);
        dtm_jstr(&v, body, "refreshToken", false, 1, 512, &token);
        if (!dtm_valid_ok(&v)) {
            dtm_resp_invalid(req, NULL, &v);
            return;
        }
        dtm_valid_cleanup(&v);
    }
    auth_scope_t s;
    if (!auth_scope_begin(req, &s))
        return;
    const char *jti_family = NULL;
    dtm_err_t err = dtm_db_begin(s.db);
    if (!err)
        err = auth_store_deny_access(s.db, req->auth.jti, req->auth.sub, req->auth.exp);
    /* The family issued with this access token, and the one named in the body when it is the
     * caller's own: another user's token in the body is ignored rather than revoked. */
    if (!err)
        err = auth_store_family_of_jti(s.db, s.arena, req->auth.jti, &jti_family);
    if (!err && jti_family)
        err = auth_store_family_revoke(s.db, jti_family);
    if (!err && token) {
        char hash[AUTH_TOKEN_HASH_LEN + 1];
        auth_token_row_t t;
        auth_token_hash(token, hash);
        err = auth_store_token_find(s.db, s.arena, hash, false, &t);
        if (!err && strcmp(t.user_id, req->auth.sub) == 0)
            err = auth_store_family_revoke(s.db, t.family_id);
        else if (err == DTM_ENOTFOUND)
            err = DTM_OK;
    }
    err = auth_scope_commit(&s, err, NULL, 0);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_auth_deny_published(req->auth.jti, req->auth.exp);
    dtm_resp_json(req, 204, NULL);
}

/* ---- GET /api/auth/me ---- */

void auth_me(dtm_req_t *req)
{
    int status;
    json_t *out;
    dtm_err_t err =
        dtm_call(req, "GET", dtm_arena_sprintf(req->arena, "/api/users/%s", req->auth.sub), NULL,
                 &status, &out);
    if (!err && status == 404) {
        dtm_resp_error(req, 401, "invalid_token", "The account no longer exists", NULL);
        return;
    }
    json_t *user = !err && status == 200 ? auth_user_of(out) : NULL;
    if (!user) {
        auth_forward(req, err, status, out);
        return;
    }
    dtm_resp_json(req, 200, json_pack("{s:O}", "user", user));
}

/* ---- POST /api/auth/change-password ---- */

void auth_change_password(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t v;
    dtm_valid_init(&v);
    const char *current = NULL, *next = NULL;
    dtm_jstr(&v, body, "currentPassword", true, 1, 4096, &current);
    dtm_jstr(&v, body, "newPassword", true, 0, 4096, &next);
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, NULL, &v);
        return;
    }
    dtm_valid_cleanup(&v);
    /* The users service applies the whole policy (length, not the e-mail). */
    int status;
    json_t *out;
    json_t *call_body = json_pack("{s:s, s:s}", "currentPassword", current, "newPassword", next);
    dtm_err_t err =
        dtm_call(req, "POST",
                 dtm_arena_sprintf(req->arena, "/api/users/internal/%s/password", req->auth.sub),
                 call_body, &status, &out);
    json_decref(call_body);
    if (!err && status == 404) {
        dtm_resp_error(req, 401, "invalid_token", "The account no longer exists", NULL);
        return;
    }
    if (err || status != 204) {
        auth_forward(req, err, status, out);
        return;
    }
    /* For the mail that tells the user (auth.password_changed); a failed lookup only costs it. */
    json_t *user = NULL;
    if (dtm_call(req, "GET", dtm_arena_sprintf(req->arena, "/api/users/%s", req->auth.sub), NULL,
                 &status, &out) == DTM_OK &&
        status == 200)
        user = auth_user_of(out);
    auth_scope_t s;
    if (!auth_scope_begin(req, &s))
        return;
    /* The other sessions lose their refresh tokens and their outstanding access tokens (the
     * denylist rather than the user's epoch: the caller's own session goes on). */
    const char *keep = NULL;
    auth_denied_t *denied = NULL;
    int ndenied = 0;
    err = dtm_db_begin(s.db);
    if (!err)
        err = auth_store_family_of_jti(s.db, s.arena, req->auth.jti, &keep);
    if (!err)
        err = auth_end_sessions(&s, req->auth.sub, keep, false, &denied, &ndenied);
    if (!err && user)
        err = auth_emit_password_changed(req, s.db, user);
    err = auth_scope_commit(&s, err, denied, ndenied);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_outbox_wake(req->arena, "auth");
    dtm_resp_json(req, 204, NULL);
}

/* ---- GET /api/auth/sessions ---- */

void auth_sessions_list(dtm_req_t *req)
{
    auth_scope_t s;
    if (!auth_scope_begin(req, &s))
        return;
    auth_session_t *rows = NULL;
    int n = 0;
    const char *current = NULL;
    dtm_err_t err = auth_store_sessions_list(s.db, s.arena, req->auth.sub, &rows, &n);
    if (!err)
        err = auth_store_family_of_jti(s.db, s.arena, req->auth.jti, &current);
    if (err) {
        auth_scope_end(&s);
        dtm_resp_err(req, err, NULL);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(
            items, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "id", rows[i].id, "device",
                             rows[i].device, "userAgent", rows[i].user_agent, "ip", rows[i].ip,
                             "createdAt", rows[i].created_at, "lastUsedAt", rows[i].last_used_at,
                             "current", current && strcmp(current, rows[i].id) == 0));
    auth_scope_end(&s);
    dtm_resp_json(req, 200, json_pack("{s:o}", "items", items));
}

/* ---- DELETE /api/auth/sessions/:id ---- */

/* The family's refresh tokens and its outstanding access tokens stop working (the caller's own
 * session too, when that is the one named: a "log out here"). */
void auth_session_revoke(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "No such session");
    if (!id)
        return;
    auth_scope_t s;
    if (!auth_scope_begin(req, &s))
        return;
    auth_denied_t *denied = NULL;
    int ndenied = 0;
    dtm_err_t err = dtm_db_begin(s.db);
    if (!err)
        err = auth_store_session_is_live(s.db, req->auth.sub, id);
    if (!err)
        err = auth_end_sessions(&s, req->auth.sub, id, true, &denied, &ndenied);
    err = auth_scope_commit(&s, err, denied, ndenied);
    if (err == DTM_ENOTFOUND) {
        dtm_resp_error(req, 404, "not_found", "No such session", NULL);
        return;
    }
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 204, NULL);
}
