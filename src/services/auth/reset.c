/* SPDX-License-Identifier: MIT */
/* Password reset by e-mail (shared/API.md "Account security"):
 *   POST /api/auth/forgot-password {email}            202 always
 *   POST /api/auth/reset-password {token, newPassword} 204; every session of the user ends
 *
 * No enumeration by status or timing: forgot-password validates, counts the attempt (429 past
 * the login limits, keyed apart from logins) and queues the address; the answer is the same 202
 * before anything depends on whether the account exists. A background thread then looks the
 * account up, and for an active one writes a reset token (random, stored as SHA-256, 1 h,
 * single use; older unused ones of the user are voided) and the outbox event
 * auth.password_reset_requested {userId, email, name, resetUrl, expiresAt} in one transaction.
 * The notifications service mails it (no SMTP here). A queue that is full drops the request
 * (counted, logged): the user asks again.
 *
 * A reset takes the token atomically (a second use finds it taken), sets the password through
 * the users service (which applies the policy: a weak password gives the token back), then in
 * one transaction revokes every session and bumps the user's epoch (all access tokens stop
 * within seconds, auth/revoke.h) and emits auth.password_changed {userId, email, name, at}. */
#include "core/config.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/timeutil.h"
#include "db/outbox.h"
#include "services/auth/auth.h"
#include "services/auth/revoke.h"

#include <pthread.h>
#include <sodium.h>
#include <time.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define RESET_QUEUE 256
#define RESET_TTL_S 3600
/* A job waits this long (plus up to as much again, at random) before it runs, so that its work
 * (more for an existing account) does not compete with the request that queued it, nor with a
 * predictable later one: a timing difference would tell the account exists. */
#define RESET_DELAY_MS 50

typedef struct {
    char email[256];
    char request_id[129];
    int64_t due_ms; /* monotonic */
} reset_job_t;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv; /* CLOCK_MONOTONIC, set up by auth_reset_start */
static reset_job_t g_queue[RESET_QUEUE];
static int g_head, g_len;
static bool g_running, g_stop;
static pthread_t g_thread;
static dtm_metric_t *m_dropped, *m_issued;

static int64_t mono_ms(void)
{
    return (int64_t)(dtm_mono_s() * 1000.0);
}

/* A request of the relay kind: acts for nobody (the nil user), for dtm_call. */
static dtm_req_t *background_req(dtm_arena_t *a, const char *request_id)
{
    dtm_req_t *req = dtm_arena_calloc(a, sizeof *req);
    req->arena = a;
    req->request_id = dtm_arena_strdup(a, request_id);
    req->client_ip = "127.0.0.1";
    req->method = "POST";
    req->path = "/api/auth/forgot-password";
    snprintf(req->auth.sub, sizeof req->auth.sub, "00000000-0000-0000-0000-000000000000");
    return req;
}

static char *full_name(dtm_arena_t *a, json_t *user)
{
    const char *f = json_string_value(json_object_get(user, "firstName"));
    const char *l = json_string_value(json_object_get(user, "lastName"));
    return dtm_arena_sprintf(a, "%s%s%s", f ? f : "", f && l ? " " : "", l ? l : "");
}

static void issue_reset(const reset_job_t *job)
{
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_req_t *req = background_req(a, job->request_id);
    int status = 0;
    json_t *out = NULL;
    json_t *body = json_pack("{s:s}", "email", job->email);
    dtm_err_t err = dtm_call(req, "POST", "/api/users/internal/lookup", body, &status, &out);
    json_decref(body);
    json_t *user = !err && status == 200 ? auth_user_of(out) : NULL;
    if (!user || !json_is_true(json_object_get(user, "active"))) {
        if (err || (status != 200 && status != 404))
            dtm_log_warn("forgot-password: users lookup failed (%s %d)",
                         err ? dtm_err_code(err) : "status", status);
        dtm_arena_free(a);
        return;
    }
    const char *uid = json_string_value(json_object_get(user, "id"));
    char token[64], hash[AUTH_TOKEN_HASH_LEN + 1];
    dtm_random_token(token, AUTH_REFRESH_BYTES);
    auth_token_hash(token, hash);
    dtm_pg_pool_t *pool = dtm_pg_pool_for("auth");
    dtm_db_t *db = pool ? dtm_db_open(pool, a) : NULL;
    const char *expires_at = NULL;
    err = db ? dtm_db_begin(db) : DTM_EDB;
    if (!err)
        err = auth_store_reset_new(db, a, hash, uid, RESET_TTL_S, &expires_at);
    if (!err) {
        const char *base = dtm_cfg.public_url ? dtm_cfg.public_url : "";
        size_t n = strlen(base);
        json_t *payload =
            json_pack("{s:s, s:O, s:s, s:s, s:s}", "userId", uid, "email",
                      json_object_get(user, "email"), "name", full_name(a, user), "resetUrl",
                      dtm_arena_sprintf(a, "%.*s/reset-password?token=%s",
                                        (int)(n && base[n - 1] == '/' ? n - 1 : n), base, token),
                      "expiresAt", expires_at);
        err = payload ? dtm_outbox_emit(db, "auth", "auth.password_reset_requested", payload, NULL)
                      : DTM_EINTERNAL;
        json_decref(payload);
    }
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        if (db)
            dtm_db_rollback(db);
        dtm_log_warn("forgot-password: no reset issued: %s", dtm_err_code(err));
    } else {
        dtm_metric_inc(m_issued);
        dtm_outbox_wake(a, "auth");
    }
    dtm_arena_free(a);
}

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_mu);
    for (;;) {
        while (!g_stop && g_len == 0)
            pthread_cond_wait(&g_cv, &g_mu);
        if (g_len == 0 && g_stop)
            break;
        int64_t wait_ms = g_queue[g_head].due_ms - mono_ms();
        if (wait_ms > 0 && !g_stop) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += (time_t)(wait_ms / 1000);
            ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&g_cv, &g_mu, &ts);
            continue;
        }
        reset_job_t job = g_queue[g_head];
        g_head = (g_head + 1) % RESET_QUEUE;
        g_len--;
        pthread_mutex_unlock(&g_mu);
        issue_reset(&job);
        pthread_mutex_lock(&g_mu);
    }
    pthread_mutex_unlock(&g_mu);
    return NULL;
}

int auth_reset_start(void)
{
    pthread_mutex_lock(&g_mu);
    if (g_running) {
        pthread_mutex_unlock(&g_mu);
        return 0;
    }
    m_dropped = dtm_counter("dtm_auth_reset_requests_dropped_total",
                            "forgot-password requests dropped because the queue was full", NULL);
    m_issued =
        dtm_counter("dtm_auth_reset_tokens_issued_total", "Password reset tokens issued", NULL);
    g_stop = false;
    g_head = g_len = 0;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g_cv, &ca);
    pthread_condattr_destroy(&ca);
    g_running = pthread_create(&g_thread, NULL, worker, NULL) == 0;
    pthread_mutex_unlock(&g_mu);
    return g_running ? 0 : -1;
}

void auth_reset_stop(void)
{
    pthread_mutex_lock(&g_mu);
    if (!g_running) {
        pthread_mutex_unlock(&g_mu);
        return;
    }
    g_stop = true;
    pthread_cond_signal(&g_cv);
    pthread_mutex_unlock(&g_mu);
    pthread_join(g_thread, NULL); /* what is queued is still issued: a drain, not a drop */
    g_running = false;
}

/* ---- POST /api/auth/forgot-password ---- */

void auth_forgot_password(dtm_req_t *req)
{
    const char *email = auth_body_str(req, "email", 254);
    if (!email)
        return;
    if (!auth_login_allowed(req, dtm_arena_sprintf(req->arena, "reset:%s", email)))
        return;
    bool queued = false;
    pthread_mutex_lock(&g_mu);
    if (g_running && g_len < RESET_QUEUE) {
        reset_job_t *j = &g_queue[(g_head + g_len) % RESET_QUEUE];
        snprintf(j->email, sizeof j->email, "%s", email);
        snprintf(j->request_id, sizeof j->request_id, "%s", req->request_id ? req->request_id : "");
        j->due_ms = mono_ms() + RESET_DELAY_MS + (int64_t)randombytes_uniform(RESET_DELAY_MS);
        g_len++;
        queued = true;
        pthread_cond_signal(&g_cv);
    }
    pthread_mutex_unlock(&g_mu);
    if (!queued) {
        dtm_metric_inc(m_dropped);
        dtm_log_warn("forgot-password: queue full, request dropped");
    }
    dtm_resp_json(req, 202, NULL);
}

/* ---- POST /api/auth/reset-password ---- */

void auth_reset_password(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    const char *token = NULL, *next = NULL;
    dtm_jstr(v, body, "token", true, 1, 512, &token);
    dtm_jstr(v, body, "newPassword", true, 0, 4096, &next);
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, NULL, v);
        return;
    }
    char hash[AUTH_TOKEN_HASH_LEN + 1];
    auth_token_hash(token, hash);

    /* 1. Take the token: of two uses at once, one wins. */
    auth_scope_t s;
    if (!auth_scope_begin(req, &s))
        return;
    const char *uid = NULL;
    dtm_err_t err = auth_store_reset_take(s.db, s.arena, hash, &uid);
    uid = uid ? dtm_arena_strdup(req->arena, uid) : NULL;
    auth_scope_end(&s);
    if (err == DTM_ENOTFOUND) {
        dtm_resp_error(req, 401, "invalid_token", "The reset link is invalid, used or expired",
                       NULL);
        return;
    }
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }

    /* 2. The users service sets it (and applies the policy). */
    int status = 0;
    json_t *out = NULL;
    json_t *call_body = json_pack("{s:s}", "newPassword", next);
    err = dtm_call(req, "POST",
                   dtm_arena_sprintf(req->arena, "/api/users/internal/%s/password-reset", uid),
                   call_body, &status, &out);
    json_decref(call_body);
    if (err || status != 204) {
        /* Not used after all (a weak password, an outage): the link keeps working. */
        if (auth_scope_begin(req, &s)) {
            if (auth_store_reset_untake(s.db, hash) != DTM_OK)
                dtm_log_warn("reset-password: token not given back");
            auth_scope_end(&s);
        }
        if (!err && status == 404)
            dtm_resp_error(req, 401, "invalid_token", "The account no longer exists", NULL);
        else
            auth_forward(req, err, status, out);
        return;
    }
    json_t *user = NULL;
    err = dtm_call(req, "GET", dtm_arena_sprintf(req->arena, "/api/users/%s", uid), NULL, &status,
                   &out);
    if (!err && status == 200)
        user = auth_user_of(out);

    /* 3. Every session ends, every access token stops; the user hears of it. */
    if (!auth_scope_begin(req, &s))
        return;
    auth_denied_t *denied = NULL;
    int ndenied = 0;
    int64_t valid_after = 0;
    err = dtm_db_begin(s.db);
    if (!err)
        err = auth_end_sessions(&s, uid, NULL, false, &denied, &ndenied);
    if (!err)
        err = dtm_auth_revoke_user(s.db, uid, &valid_after);
    if (!err)
        err = auth_store_reset_void_user(s.db, uid);
    if (!err && user)
        err = auth_emit_password_changed(req, s.db, user);
    err = auth_scope_commit(&s, err, denied, ndenied);
    if (err) {
        dtm_log_error("reset-password: the password changed but sessions were not revoked: %s",
                      dtm_err_code(err));
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_auth_revoke_user_published(uid, valid_after);
    dtm_outbox_wake(req->arena, "auth");
    dtm_resp_json(req, 204, NULL);
}

dtm_err_t auth_emit_password_changed(dtm_req_t *req, dtm_db_t *db, json_t *user)
{
    char at[32];
    dtm_iso8601(dtm_now_ms(), at);
    json_t *payload =
        json_pack("{s:O, s:O, s:s, s:s}", "userId", json_object_get(user, "id"), "email",
                  json_object_get(user, "email"), "name", full_name(req->arena, user), "at", at);
    dtm_err_t err = payload ? dtm_outbox_emit(db, "auth", "auth.password_changed", payload, NULL)
                            : DTM_EINTERNAL;
    json_decref(payload);
    return err;
}
