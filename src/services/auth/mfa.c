/* SPDX-License-Identifier: MIT */
/* TOTP second factor (shared/API.md "Account security"):
 *   POST /api/auth/mfa/totp/setup            bearer: a pending secret, its otpauth URI and QR
 *   POST /api/auth/mfa/totp/confirm {code}   bearer: enables it, answers 10 recovery codes
 *   DELETE /api/auth/mfa/totp {code}         bearer: turns it off
 *   POST /api/auth/mfa/verify {mfaToken, code | recoveryCode}: the login's second step
 *   POST /api/auth/mfa/enroll {mfaToken}, POST /api/auth/mfa/enroll/confirm {mfaToken, code}:
 *        setup and confirm for a role that must enrol (DTM_MFA_REQUIRED_ROLES) and so got no
 *        tokens from login; the confirmation answers the recovery codes and the tokens
 *   DELETE /api/users/:id/mfa                admin: reset another user's MFA
 * A login whose password is right answers {mfaRequired, mfaToken} instead of tokens when TOTP
 * is enabled (auth_mfa_login_step). An mfaToken lives 5 minutes and allows 5 wrong codes. */
#include "core/config.h"
#include "core/ids.h"
#include "core/timeutil.h"
#include "services/auth/auth.h"
#include "services/common/audit.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define MFA_ISSUER "dtm"

static void resp_invalid_code(dtm_req_t *req, int tries_left)
{
    dtm_resp_error(req, 401, "invalid_code", "The code is wrong, expired or already used",
                   tries_left >= 0 ? json_pack("{s:i}", "triesLeft", tries_left) : NULL);
}

static void resp_invalid_mfa_token(dtm_req_t *req)
{
    dtm_resp_error(req, 401, "invalid_token",
                   "The MFA token is invalid, expired or out of tries; log in again", NULL);
}

static bool role_required(const char *role)
{
    const char *list = dtm_cfg.mfa_required_roles;
    size_t n = strlen(role);
    for (const char *p = list ? list : ""; *p;) {
        size_t m = strcspn(p, ",");
        if (m == n && strncmp(p, role, n) == 0)
            return true;
        p += m;
        if (*p == ',')
            p++;
    }
    return false;
}

/* The user `id` from the users service, or NULL with the answer set. */
static json_t *fetch_user(dtm_req_t *req, const char *id)
{
    int status;
    json_t *out;
    dtm_err_t err = dtm_call(req, "GET", dtm_arena_sprintf(req->arena, "/api/users/%s", id), NULL,
                             &status, &out);
    if (!err && status == 404) {
        dtm_resp_error(req, 404, "not_found", "No such user", NULL);
        return NULL;
    }
    json_t *user = !err && status == 200 ? auth_user_of(out) : NULL;
    if (!user)
        auth_forward(req, err, status, out);
    return user;
}

/* Secret text -> key bytes; false when the stored secret is malformed. */
static bool secret_key(const char *secret, unsigned char key[64], size_t *keylen)
{
    long n = auth_base32_decode(secret, key, 64);
    if (n <= 0)
        return false;
    *keylen = (size_t)n;
    return true;
}

static int64_t now_s(void)
{
    return dtm_now_ms() / 1000;
}

/* ---- login: the second step ---- */

dtm_err_t auth_mfa_login_step(dtm_req_t *req, dtm_db_t *db, json_t *user, json_t **resp)
{
    *resp = NULL;
    const char *uid = json_string_value(json_object_get(user, "id"));
    const char *role = json_string_value(json_object_get(user, "role"));
    auth_totp_row_t t;
    dtm_err_t err = auth_store_totp_get(db, req->arena, uid, false, &t);
    if (err && err != DTM_ENOTFOUND)
        return err;
    bool enabled = !err && t.enabled;
    if (!enabled && !role_required(role))
        return DTM_OK;
    char token[64], hash[AUTH_TOKEN_HASH_LEN + 1];
    dtm_random_token(token, AUTH_REFRESH_BYTES);
    auth_token_hash(token, hash);
    err = auth_store_challenge_new(db, hash, uid, enabled ? "verify" : "enroll");
    if (err)
        return err;
    *resp = enabled ? json_pack("{s:b, s:s, s:i}", "mfaRequired", 1, "mfaToken", token, "expiresIn",
                                AUTH_MFA_TOKEN_TTL_S)
                    : json_pack("{s:b, s:b, s:s, s:i}", "mfaRequired", 1, "mfaEnrollmentRequired",
                                1, "mfaToken", token, "expiresIn", AUTH_MFA_TOKEN_TTL_S);
    return *resp ? DTM_OK : DTM_EINTERNAL;
}

/* An enrolment challenge named by the body's mfaToken: the user id (arena), or NULL with 401
 * answered. Not consumed: enroll/confirm does that. */
static const char *enroll_user(dtm_req_t *req, const char *token, char hash[65])
{
    auth_token_hash(token, hash);
    auth_scope_t s;
    if (!auth_scope_begin(req, &s))
        return NULL;
    auth_challenge_t c;
    dtm_err_t err = dtm_db_begin(s.db);
    if (!err)
        err = auth_store_challenge_get(s.db, s.arena, hash, &c);
    const char *uid = NULL;
    if (!err && !c.dead && strcmp(c.purpose, "enroll") == 0)
        uid = dtm_arena_strdup(req->arena, c.user_id);
    dtm_db_rollback(s.db);
    auth_scope_end(&s);
    if (err && err != DTM_ENOTFOUND) {
        dtm_resp_err(req, err, NULL);
        return NULL;
    }
    if (!uid)
        resp_invalid_mfa_token(req);
    return uid;
}

/* ---- GET /api/auth/mfa: the caller's second factors ---- */

void auth_mfa_status(dtm_req_t *req)
{
    auth_scope_t s;
    if (!auth_scope_begin(req, &s))
        return;
    auth_totp_row_t t;
    int left = 0;
    dtm_err_t err = auth_store_totp_get(s.db, s.arena, req->auth.sub, false, &t);
    bool enabled = !err && t.enabled;
    if (err == DTM_ENOTFOUND)
        err = DTM_OK;
    if (!err && enabled)
        err = auth_store_recovery_left(s.db, req->auth.sub, &left);
    auth_scope_end(&s);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 200,
                  json_pack("{s:b, s:i, s:b}", "totpEnabled", enabled, "recoveryCodesLeft", left,
                            "required", role_required(dtm_role_name(req->auth.role))));
}

/* ---- setup ---- */

static void setup_for(dtm_req_t *req, const char *user_id)
{
    json_t *user = fetch_user(req, user_id);
    if (!user)
        return;
    const char *email = json_string_value(json_object_get(user, "email"));
    unsigned char key[AUTH_TOTP_KEY_BYTES];
    char secret[64];
    randombytes_buf(key, sizeof key);
    auth_base32_encode(key, sizeof key, secret, sizeof secret);
    sodium_memzero(key, sizeof key);
    auth_scope_t s;
    if (!auth_scope_begin(req, &s))
        return;
    dtm_err_t err = auth_store_totp_pending(s.db, user_id, secret);
    auth_scope_end(&s);
    if (err == DTM_ECONFLICT) {
        dtm_resp_error(req, 409, "mfa_already_enabled", "TOTP is already enabled", NULL);
        return;
    }
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    char *uri = auth_totp_uri(req->arena, MFA_ISSUER, email ? email : user_id, secret);
    char *svg = auth_qr_svg(req->arena, uri);
    if (!svg) {
        dtm_resp_err(req, DTM_EINTERNAL, NULL);
        return;
    }
    dtm_resp_json(req, 200,
                  json_pack("{s:s, s:s, s:s}", "secret", secret, "otpauthUri", uri, "qrSvg", svg));
}

void auth_mfa_setup(dtm_req_t *req)
{
    setup_for(req, req->auth.sub);
}

/* ---- confirm ---- */

/* Enable the pending secret of user_id with `code`: the 10 recovery codes (new reference), or
 * NULL with the answer set. `challenge` (enrolment) is consumed in the same transaction; a
 * wrong code counts against it too. */
static json_t *confirm_for(dtm_req_t *req, const char *user_id, const char *code,
                           const char *challenge)
{
    auth_scope_t s;
    if (!auth_scope_begin(req, &s))
        return NULL;
    auth_totp_row_t t;
    dtm_err_t err = dtm_db_begin(s.db);
    if (!err)
        err = auth_store_totp_get(s.db, s.arena, user_id, true, &t);
    if (err == DTM_ENOTFOUND || (!err && t.enabled)) {
        dtm_db_rollback(s.db);
        auth_scope_end(&s);
        if (err)
            dtm_resp_error(req, 404, "not_found", "No TOTP setup to confirm: call setup first",
                           NULL);
        else
            dtm_resp_error(req, 409, "mfa_already_enabled", "TOTP is already enabled", NULL);
        return NULL;
    }
    unsigned char key[64];
    size_t keylen = 0;
    int64_t step = -1;
    if (!err && secret_key(t.secret, key, &keylen))
        step = auth_totp_match(key, keylen, code, now_s(), 0);
    sodium_memzero(key, sizeof key);
    json_t *codes = NULL;
    if (!err && step < 0) {
        err = auth_store_totp_confirm_failed(s.db, user_id);
        if (!err && challenge)
            err = auth_store_challenge_failed(s.db, challenge);
        err = auth_scope_commit(&s, err, NULL, 0);
        if (err)
            dtm_resp_err(req, err, NULL);
        else
            resp_invalid_code(req, AUTH_MFA_TRIES - t.confirm_tries - 1);
        return NULL;
    }
    char hashes[AUTH_RECOVERY_CODES][AUTH_TOKEN_HASH_LEN + 1];
    codes = json_array();
    for (int i = 0; i < AUTH_RECOVERY_CODES; i++) {
        char rc[AUTH_RECOVERY_LEN + 1];
        auth_recovery_code_new(rc);
        auth_recovery_code_hash(rc, hashes[i]);
        json_array_append_new(codes, json_string(rc));
    }
    if (!err)
        err = auth_store_totp_enable(s.db, user_id, step);
    if (!err)
        err = auth_store_recovery_replace(s.db, user_id, hashes, AUTH_RECOVERY_CODES);
    if (!err && challenge)
        err = auth_store_challenge_use(s.db, challenge);
    err = auth_scope_commit(&s, err, NULL, 0);
    if (err) {
        json_decref(codes);
        if (err == DTM_ECONFLICT) /* a concurrent confirmation won */
            dtm_resp_error(req, 409, "mfa_already_enabled", "TOTP is already enabled", NULL);
        else
            dtm_resp_err(req, err, NULL);
        return NULL;
    }
    return codes;
}

static const char *body_code(dtm_req_t *req, json_t *body, bool need_token, const char **token)
{
    dtm_valid_t *v = dtm_req_validator(req);
    const char *code = NULL;
    dtm_jstr(v, body, "code", true, 1, 16, &code);
    if (need_token)
        dtm_jstr(v, body, "mfaToken", true, 1, 512, token);
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, NULL, v);
        return NULL;
    }
    return code;
}

void auth_mfa_confirm(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    const char *code = body ? body_code(req, body, false, NULL) : NULL;
    if (!code)
        return;
    json_t *codes = confirm_for(req, req->auth.sub, code, NULL);
    if (codes)
        dtm_resp_json(req, 200, json_pack("{s:o}", "recoveryCodes", codes));
}

/* ---- enrolment with an mfaToken (DTM_MFA_REQUIRED_ROLES) ---- */

void auth_mfa_enroll(dtm_req_t *req)
{
    const char *token = auth_body_str(req, "mfaToken", 512);
    if (!token)
        return;
    char hash[AUTH_TOKEN_HASH_LEN + 1];
    const char *uid = enroll_user(req, token, hash);
    if (uid)
        setup_for(req, uid);
}

void auth_mfa_enroll_confirm(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    const char *token = NULL;
    const char *code = body ? body_code(req, body, true, &token) : NULL;
    if (!code)
        return;
    char hash[AUTH_TOKEN_HASH_LEN + 1];
    const char *uid = enroll_user(req, token, hash);
    if (!uid)
        return;
    json_t *codes = confirm_for(req, uid, code, hash);
    if (!codes)
        return;
    json_t *resp = NULL;
    json_t *user = fetch_user(req, uid);
    if (user && !auth_login_finish(req, user, &resp)) {
        json_object_set_new(resp, "recoveryCodes", codes);
        dtm_resp_json(req, 200, resp);
        return;
    }
    json_decref(codes);
}

/* ---- the login's second step ---- */

void auth_mfa_verify(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    const char *token = NULL, *code = NULL, *recovery = NULL;
    dtm_jstr(v, body, "mfaToken", true, 1, 512, &token);
    dtm_jstr(v, body, "code", false, 1, 16, &code);
    dtm_jstr(v, body, "recoveryCode", false, 1, 64, &recovery);
    if (dtm_valid_ok(v) && !code == !recovery)
        dtm_valid_fail(v, "code", "give either code or recoveryCode");
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, NULL, v);
        return;
    }
    char hash[AUTH_TOKEN_HASH_LEN + 1];
    auth_token_hash(token, hash);
    auth_scope_t s;
    if (!auth_scope_begin(req, &s))
        return;
    auth_challenge_t c;
    dtm_err_t err = dtm_db_begin(s.db);
    if (!err)
        err = auth_store_challenge_get(s.db, s.arena, hash, &c);
    if (err == DTM_ENOTFOUND || (!err && (c.dead || strcmp(c.purpose, "verify") != 0))) {
        dtm_db_rollback(s.db);
        auth_scope_end(&s);
        resp_invalid_mfa_token(req);
        return;
    }
    /* Wrong codes count per user across mfaTokens too (a password holder could otherwise get
     * 5 tries per login): the 5th in a row locks the second step for 15 minutes. */
    const char *lock_key = err ? NULL : dtm_arena_sprintf(req->arena, "mfa:%s", c.user_id);
    bool locked = false;
    int retry = 0;
    if (!err)
        err = auth_store_lock_state(s.db, lock_key, &locked, &retry);
    if (!err && locked) {
        dtm_db_rollback(s.db);
        auth_scope_end(&s);
        dtm_resp_header(req, "Retry-After", dtm_arena_sprintf(req->arena, "%d", retry));
        dtm_resp_error(req, 423, "account_locked",
                       "Too many wrong codes; two-factor sign-in is locked for 15 minutes",
                       json_pack("{s:i}", "retryAfterSeconds", retry));
        return;
    }
    bool ok = false;
    if (!err && code) {
        auth_totp_row_t t;
        err = auth_store_totp_get(s.db, s.arena, c.user_id, true, &t);
        unsigned char key[64];
        size_t keylen = 0;
        int64_t step = -1;
        if (!err && t.enabled && secret_key(t.secret, key, &keylen))
            step = auth_totp_match(key, keylen, code, now_s(), t.last_step);
        sodium_memzero(key, sizeof key);
        if (err == DTM_ENOTFOUND)
            err = DTM_OK;
        if (!err && step >= 0) {
            err = auth_store_totp_use_step(s.db, c.user_id, step);
            ok = err == DTM_OK;
            if (err == DTM_ECONFLICT)
                err = DTM_OK;
        }
    } else if (!err) {
        char rh[AUTH_TOKEN_HASH_LEN + 1];
        if (auth_recovery_code_hash(recovery, rh)) {
            err = auth_store_recovery_use(s.db, c.user_id, rh);
            ok = err == DTM_OK;
            if (err == DTM_ENOTFOUND)
                err = DTM_OK;
        }
    }
    if (!err)
        err = ok ? auth_store_challenge_use(s.db, hash) : auth_store_challenge_failed(s.db, hash);
    bool now_locked = false;
    if (!err)
        err = ok ? auth_store_clear_failures(s.db, lock_key)
                 : auth_store_record_failure(s.db, lock_key, &now_locked);
    if (!err)
        err = dtm_db_commit(s.db);
    if (err)
        dtm_db_rollback(s.db);
    char *uid = dtm_arena_strdup(req->arena, c.user_id);
    int tries_left = AUTH_MFA_TRIES - c.tries - 1;
    auth_scope_end(&s);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    if (!ok) {
        resp_invalid_code(req, tries_left);
        return;
    }
    json_t *user = fetch_user(req, uid);
    json_t *resp = NULL;
    if (user && !auth_login_finish(req, user, &resp))
        dtm_resp_json(req, 200, resp);
}

/* ---- turning it off ---- */

void auth_mfa_disable(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    const char *code = body ? body_code(req, body, false, NULL) : NULL;
    if (!code)
        return;
    auth_scope_t s;
    if (!auth_scope_begin(req, &s))
        return;
    auth_totp_row_t t;
    dtm_err_t err = dtm_db_begin(s.db);
    if (!err)
        err = auth_store_totp_get(s.db, s.arena, req->auth.sub, true, &t);
    if (err == DTM_ENOTFOUND || (!err && !t.enabled)) {
        dtm_db_rollback(s.db);
        auth_scope_end(&s);
        dtm_resp_error(req, 404, "not_found", "TOTP is not enabled", NULL);
        return;
    }
    unsigned char key[64];
    size_t keylen = 0;
    int64_t step = -1;
    if (!err && secret_key(t.secret, key, &keylen))
        step = auth_totp_match(key, keylen, code, now_s(), t.last_step);
    sodium_memzero(key, sizeof key);
    if (!err && step >= 0)
        err = auth_store_totp_delete(s.db, req->auth.sub, NULL);
    if (!err && step >= 0)
        err = dtm_db_commit(s.db);
    if (err || step < 0)
        dtm_db_rollback(s.db);
    auth_scope_end(&s);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    if (step < 0) {
        resp_invalid_code(req, -1);
        return;
    }
    dtm_resp_json(req, 204, NULL);
}

void auth_mfa_admin_reset(dtm_req_t *req)
{
    const char *id = dtm_req_uuid_param(req, "id", "No such user");
    if (!id || !fetch_user(req, id))
        return;
    auth_scope_t s;
    if (!auth_scope_begin(req, &s))
        return;
    dtm_err_t err = dtm_db_begin(s.db);
    bool existed = false;
    if (!err)
        err = auth_store_totp_delete(s.db, id, &existed);
    if (!err)
        err = dtm_audit_append(s.db, req, "user.mfa_reset", "user", id,
                               json_pack("{s:{s:b, s:b}}", "totp", "from", existed, "to", 0));
    err = auth_scope_commit(&s, err, NULL, 0);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_json(req, 204, NULL);
}
