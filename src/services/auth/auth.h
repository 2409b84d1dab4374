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

/* ---- handlers (handlers.c) ---- */
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
