/* SPDX-License-Identifier: MIT */
/* The auth service: login, refresh-token rotation, logout, change-password.
 *
 * It owns the `auth` schema (refresh tokens, login failures / lockout, a durable copy of the
 * access-token denylist) and never reads the users schema: credentials are checked by the users
 * service through its internal routes (see services/users/users.h), so password hashes stay in
 * one place.
 *
 * Redis keys (all optional: Redis down means slower, never wrong):
 *   auth:revoke (pub/sub channel)   revocations, applied by every process (revoke.h)
 *   rl:login:ip:<ip>                login attempts per client IP, 60 s window
 *   rl:login:email:<ip>:<email>     login attempts per client IP + e-mail, 60 s window
 * When Redis is down, rate limits fall back to a per-process table (auth_rl_*). */
#ifndef DTM_SERVICES_AUTH_H
#define DTM_SERVICES_AUTH_H

#include "core/arena.h"
#include "core/err.h"
#include "db/pg.h"
#include "http/http.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_LOCK_FAILURES  5
#define AUTH_LOCK_SECONDS   (15 * 60)
#define AUTH_RL_WINDOW_S    60
#define AUTH_REFRESH_BYTES  32
#define AUTH_TOKEN_HASH_LEN 64 /* hex SHA-256 */

/* ---- in-process fixed-window counters (fallback when Redis is down; ratelimit.c) ---- */
typedef struct auth_rl auth_rl_t;

/** New table holding up to `capacity` live keys (rounded up to a power of two). Caller frees. */
auth_rl_t *auth_rl_new(size_t capacity);
void auth_rl_free(auth_rl_t *rl);
/** Count one hit for `key` in its window of `window_s` seconds starting at the key's first hit.
 *  Returns the count in the current window (1 for a first hit); *retry_after_s gets the seconds
 *  left in the window (>= 1). Thread-safe. When the table is full the oldest window is evicted. */
long auth_rl_hit(auth_rl_t *rl, const char *key, int window_s, int64_t now_ms, int *retry_after_s);

/** SHA-256 of a refresh token as lower-case hex into out[65]. */
void auth_token_hash(const char *token, char out[AUTH_TOKEN_HASH_LEN + 1]);

/* ---- TOTP, recovery codes (totp.c: pure) ---- */
#define AUTH_TOTP_PERIOD     30
#define AUTH_TOTP_WINDOW     1  /* steps accepted either side of now */
#define AUTH_TOTP_KEY_BYTES  20 /* 160 bits, RFC 4226's recommendation */
#define AUTH_RECOVERY_CODES  10
#define AUTH_RECOVERY_LEN    19 /* xxxx-xxxx-xxxx-xxxx: 80 bits */
#define AUTH_MFA_TOKEN_TTL_S 300
#define AUTH_MFA_TRIES       5

/** RFC 4648 base32 without padding into out (cap bytes); length, or 0 when it does not fit. */
size_t auth_base32_encode(const unsigned char *in, size_t n, char *out, size_t cap);
/** Decode (case, spaces, '-' and '=' ignored); bytes written, or -1 when malformed / too long. */
long auth_base32_decode(const char *in, unsigned char *out, size_t cap);
/** The 6-digit HOTP code of `key` for time step `step`, NUL-terminated. */
void auth_totp_code(const unsigned char *key, size_t keylen, uint64_t step, char out[7]);
/** The time step whose code `code` is, within AUTH_TOTP_WINDOW steps of now_s and later than
 *  last_step (a code is accepted once), or -1. */
int64_t auth_totp_match(const unsigned char *key, size_t keylen, const char *code, int64_t now_s,
                        int64_t last_step);
/** otpauth://totp/<issuer>:<account>?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30 */
char *auth_totp_uri(dtm_arena_t *a, const char *issuer, const char *account, const char *secret);
/** QR code of `text` as a standalone SVG document (arena), NULL when it cannot be encoded. */
char *auth_qr_svg(dtm_arena_t *a, const char *text);
/** A new random recovery code, xxxx-xxxx-xxxx-xxxx (base32, lower case). */
void auth_recovery_code_new(char out[AUTH_RECOVERY_LEN + 1]);
/** The stored form of a recovery code as typed (case, '-' and spaces ignored); false when it
 *  cannot be one. */
bool auth_recovery_code_hash(const char *code, char out[AUTH_TOKEN_HASH_LEN + 1]);

/* ---- store (all SQL and Redis keys of the auth service; store.c) ---- */

typedef struct {
    const char *jti;
    int64_t exp_s;
} auth_denied_t;

typedef struct {
    const char *id, *family_id, *user_id;
    bool used, revoked, expired;
} auth_token_row_t;

/** Lockout state of an e-mail: *locked and the seconds left. */
dtm_err_t auth_store_lock_state(dtm_db_t *db, const char *email, bool *locked, int *retry_s);
/** Count a failed login; sets the lock when this is the AUTH_LOCK_FAILURES-th in a row.
 *  *now_locked tells whether the account is locked after this failure. */
dtm_err_t auth_store_record_failure(dtm_db_t *db, const char *email, bool *now_locked);
dtm_err_t auth_store_clear_failures(dtm_db_t *db, const char *email);

dtm_err_t auth_store_token_insert(dtm_db_t *db, const char *hash, const char *family_id,
                                  const char *user_id, const char *access_jti, int ttl_s);
/** By hash; DTM_ENOTFOUND when unknown. for_update locks the row (inside a transaction). */
dtm_err_t auth_store_token_find(dtm_db_t *db, dtm_arena_t *a, const char *hash, bool for_update,
                                auth_token_row_t *out);
dtm_err_t auth_store_token_mark_used(dtm_db_t *db, const char *id);
/** Revoke every live token of a family; *n gets how many (may be NULL). */
dtm_err_t auth_store_family_revoke(dtm_db_t *db, const char *family_id);
/** Family of the refresh token issued together with access token `jti`; NULL when none. */
dtm_err_t auth_store_family_of_jti(dtm_db_t *db, dtm_arena_t *a, const char *jti,
                                   const char **family_id);
/** Revoke every live refresh token of a user except family `keep` (NULL = all). */
dtm_err_t auth_store_revoke_user_except(dtm_db_t *db, const char *user_id, const char *keep);
/** Durable denylist row for an access token (kept until its expiry). */
dtm_err_t auth_store_deny_access(dtm_db_t *db, const char *jti, const char *user_id, int64_t exp_s);

/** Denylist the access tokens of `user_id` that may still be live (issued within access_ttl_s),
 *  by the family of the refresh token issued with them: family `family` only (in = true), or
 *  every other family (in = false; family NULL = every family). *rows and *n get them (arena). */
dtm_err_t auth_store_deny_families(dtm_db_t *db, dtm_arena_t *a, const char *user_id,
                                   const char *family, bool in, int access_ttl_s,
                                   auth_denied_t **rows, int *n);

typedef struct {
    const char *id; /* the family id */
    const char *device, *user_agent, *ip, *created_at, *last_used_at;
} auth_session_t;
/** A new family's session (or, for an existing one, a use). Strings are cut to the columns. */
dtm_err_t auth_store_session_open(dtm_db_t *db, const char *family_id, const char *user_id,
                                  const char *user_agent, const char *device, const char *ip);
/** A refresh: last used now, from `ip`. */
dtm_err_t auth_store_session_touch(dtm_db_t *db, const char *family_id, const char *ip);
/** The live sessions of a user, most recently used first (at most 100). Arena-owned. */
dtm_err_t auth_store_sessions_list(dtm_db_t *db, dtm_arena_t *a, const char *user_id,
                                   auth_session_t **rows, int *n);
/** DTM_OK when `family_id` is a live session of `user_id` (row locked), else DTM_ENOTFOUND. */
dtm_err_t auth_store_session_is_live(dtm_db_t *db, const char *user_id, const char *family_id);

/* ---- MFA store ---- */
typedef struct {
    const char *secret; /* base32 */
    bool enabled;
    int64_t last_step;
    int confirm_tries;
} auth_totp_row_t;
/** The TOTP row of a user (locked with for_update); DTM_ENOTFOUND when none. */
dtm_err_t auth_store_totp_get(dtm_db_t *db, dtm_arena_t *a, const char *user_id, bool for_update,
                              auth_totp_row_t *out);
/** Store a new pending secret (replacing a pending one); DTM_ECONFLICT when TOTP is enabled. */
dtm_err_t auth_store_totp_pending(dtm_db_t *db, const char *user_id, const char *secret);
/** A wrong confirmation code: count it; the pending secret is dropped at AUTH_MFA_TRIES. */
dtm_err_t auth_store_totp_confirm_failed(dtm_db_t *db, const char *user_id);
/** Enable the pending secret, `step` being the code that confirmed it. */
dtm_err_t auth_store_totp_enable(dtm_db_t *db, const char *user_id, int64_t step);
/** Record `step` as used: DTM_ECONFLICT when it (or a later one) already was (replay). */
dtm_err_t auth_store_totp_use_step(dtm_db_t *db, const char *user_id, int64_t step);
/** Remove TOTP and the recovery codes of a user; *existed (may be NULL) tells whether TOTP was
 *  enabled. */
dtm_err_t auth_store_totp_delete(dtm_db_t *db, const char *user_id, bool *existed);
/** Replace the recovery codes of a user by these n hashes. */
dtm_err_t auth_store_recovery_replace(dtm_db_t *db, const char *user_id, char (*hashes)[65], int n);
/** How many unused recovery codes a user has. */
dtm_err_t auth_store_recovery_left(dtm_db_t *db, const char *user_id, int *n);
/** Use one recovery code: DTM_OK once, then DTM_ENOTFOUND (as for an unknown code). */
dtm_err_t auth_store_recovery_use(dtm_db_t *db, const char *user_id, const char *hash);

typedef struct {
    const char *user_id, *purpose;
    int tries;
    bool dead; /* used, expired or out of tries */
} auth_challenge_t;
dtm_err_t auth_store_challenge_new(dtm_db_t *db, const char *hash, const char *user_id,
                                   const char *purpose);
/** By hash, row locked; DTM_ENOTFOUND when unknown. */
dtm_err_t auth_store_challenge_get(dtm_db_t *db, dtm_arena_t *a, const char *hash,
                                   auth_challenge_t *out);
dtm_err_t auth_store_challenge_failed(dtm_db_t *db, const char *hash);
dtm_err_t auth_store_challenge_use(dtm_db_t *db, const char *hash);

/* ---- password reset store ---- */
/** A new reset token (hash) of a user valid ttl_s; the user's older unused ones are voided.
 *  *expires_at gets its expiry (ISO-8601, arena). */
dtm_err_t auth_store_reset_new(dtm_db_t *db, dtm_arena_t *a, const char *hash, const char *user_id,
                               int ttl_s, const char **expires_at);
/** Mark a live token used; *user_id gets its user. DTM_ENOTFOUND when unknown, used, expired. */
dtm_err_t auth_store_reset_take(dtm_db_t *db, dtm_arena_t *a, const char *hash,
                                const char **user_id);
/** Give a taken token back (the reset did not happen). */
dtm_err_t auth_store_reset_untake(dtm_db_t *db, const char *hash);
/** Void every unused token of a user (after a reset). */
dtm_err_t auth_store_reset_void_user(dtm_db_t *db, const char *user_id);

/** A short device name from a User-Agent ("Firefox on Linux", "curl", "Unknown device") into
 *  out (cap bytes). Pure. */
void auth_device_name(const char *user_agent, char *out, size_t cap);

/** Delete expired history (old refresh tokens, stale failure counts, expired denylist rows). */
dtm_err_t auth_store_housekeeping(dtm_db_t *db);
typedef struct {
    const char *user_id;
    int64_t valid_after;
} auth_epoch_t;
typedef struct {
    auth_denied_t *denied; /* access tokens denylisted and not expired yet */
    int ndenied;
    auth_epoch_t *epochs; /* valid-after epochs that may still refuse a live token */
    int nepochs;
    const char *now; /* the database's clock before reading: the next `since` */
} auth_revocations_t;
/** Revocations changed after `since` (a timestamptz text from a previous answer's `now`, less a
 *  30 s overlap for transactions that commit late), or every live one when since is NULL.
 *  Arena-owned. */
dtm_err_t auth_store_revocations_since(dtm_db_t *db, dtm_arena_t *a, const char *since,
                                       int access_ttl_s, auth_revocations_t *out);
/** Set the valid-after epoch of a user to the database clock rounded up to the second (never
 *  lowering it); *valid_after (may be NULL) gets it. */
dtm_err_t auth_store_epoch_bump(dtm_db_t *db, const char *user_id, int64_t *valid_after);
/** The stored epoch of a user (0 when none). */
dtm_err_t auth_store_epoch_get(dtm_db_t *db, const char *user_id, int64_t *valid_after);

/** Count a login attempt for ip and ip+email in Redis (one round trip). Returns false when
 *  Redis is unavailable (the caller falls back to auth_rl_hit). */
bool auth_cache_login_hits(dtm_arena_t *a, const char *ip, const char *email, long *ip_count,
                           int *ip_ttl, long *email_count, int *email_ttl);

/* ---- helpers of the handlers (handlers.c) ---- */

/* A database handle on its own arena: the connection returns to the pool at auth_scope_end. */
typedef struct {
    dtm_arena_t *arena;
    dtm_db_t *db;
} auth_scope_t;
/** Open a scope on the auth pool; false with 503 answered when the database is unavailable. */
bool auth_scope_begin(dtm_req_t *req, auth_scope_t *s);
void auth_scope_end(auth_scope_t *s);
/** End sessions of a user inside the scope's transaction: family `family` only (in), or every
 *  family but `family` (NULL: all). Their refresh tokens are revoked and their outstanding
 *  access tokens denylisted; *denied gets those for auth_scope_commit. */
dtm_err_t auth_end_sessions(auth_scope_t *s, const char *user_id, const char *family, bool in,
                            auth_denied_t **denied, int *ndenied);
/** Commit (or, after `err`, roll back) the scope's transaction, then tell every process about
 *  the denylisted tokens, and end the scope. Returns the outcome. */
dtm_err_t auth_scope_commit(auth_scope_t *s, dtm_err_t err, const auth_denied_t *denied,
                            int ndenied);
/** The body's required string `field` (1..max bytes), or NULL with the 400/415 answered. */
const char *auth_body_str(dtm_req_t *req, const char *field, size_t max);
/** Pass an error answered by another service through unchanged (status, code, details). */
void auth_forward(dtm_req_t *req, dtm_err_t err, int status, json_t *out);
/** The user object of a users-service answer {"user": {...}}; NULL when malformed. */
json_t *auth_user_of(json_t *out);
/** Issue an access token and a refresh token in `family` (NULL: a new family, i.e. a new
 *  session) for `user`; *resp gets the login shape (new reference). Written on `db`. */
dtm_err_t auth_issue_tokens(dtm_req_t *req, dtm_db_t *db, json_t *user, const char *family,
                            json_t **resp);

/** The end of a login whose factors are all checked (mfa.c): 403 for an inactive user, else
 *  a new session's tokens in *resp (new reference). DTM_OK, or the error already answered. */
dtm_err_t auth_login_finish(dtm_req_t *req, json_t *user, json_t **resp);
/** Inside the login's transaction, after the password was right: when the user has TOTP
 *  enabled, or must enrol (DTM_MFA_REQUIRED_ROLES), *resp gets the {mfaRequired, mfaToken}
 *  answer (new reference) and no tokens are issued; else *resp stays NULL. */
dtm_err_t auth_mfa_login_step(dtm_req_t *req, dtm_db_t *db, json_t *user, json_t **resp);

/** Login limits (DTM_LOGIN_LIMIT_PER_IP / _PER_EMAIL a minute) for `key` (an e-mail, or a
 *  prefixed one for other uses): false with the 429 answered. */
bool auth_login_allowed(dtm_req_t *req, const char *key);
/** Inside a transaction on db: the outbox event auth.password_changed {userId, email, name, at}
 *  for `user` (a users-service object). Wake the relay after the commit. */
dtm_err_t auth_emit_password_changed(dtm_req_t *req, dtm_db_t *db, json_t *user);
/** The forgot-password worker thread (reset.c). 0 or -1; stop drains the queue. */
int auth_reset_start(void);
void auth_reset_stop(void);

/* ---- handlers (handlers.c, mfa.c, reset.c) ---- */
void auth_forgot_password(dtm_req_t *req);
void auth_audit_log(dtm_req_t *req);
void auth_reset_password(dtm_req_t *req);
void auth_mfa_status(dtm_req_t *req);
void auth_mfa_setup(dtm_req_t *req);
void auth_mfa_confirm(dtm_req_t *req);
void auth_mfa_disable(dtm_req_t *req);
void auth_mfa_verify(dtm_req_t *req);
void auth_mfa_enroll(dtm_req_t *req);
void auth_mfa_enroll_confirm(dtm_req_t *req);
void auth_mfa_admin_reset(dtm_req_t *req);
void auth_login(dtm_req_t *req);
void auth_refresh(dtm_req_t *req);
void auth_logout(dtm_req_t *req);
void auth_me(dtm_req_t *req);
void auth_change_password(dtm_req_t *req);
void auth_sessions_list(dtm_req_t *req);
void auth_session_revoke(dtm_req_t *req);

/** Service init: metrics, fallback rate-limit table. Idempotent. */
dtm_err_t auth_init(void);
void auth_shutdown(void);

#endif
