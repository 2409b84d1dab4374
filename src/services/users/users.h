/* SPDX-License-Identifier: MIT */
/* The users service: accounts (schema `users`), their argon2id password hashes and the
 * cache-aside copy of each public user object in Redis (`user:{id}`, TTL 3600 s).
 *
 * Password hashes never leave this service: the auth service asks it to verify credentials and
 * to change passwords through internal routes (DTM_ROLE_SERVICE only):
 *   POST /api/users/internal/verify-credentials {email, password}
 *        200 {user} (active may be false) | 401 invalid_credentials
 *   POST /api/users/internal/:id/password {currentPassword, newPassword}
 *        204 | 400 validation_failed | 401 invalid_credentials | 404
 *   POST /api/users/internal/:id/password-reset {newPassword}   (auth checked a mailed token)
 *        204 | 400 validation_failed | 404
 *   POST /api/users/internal/lookup {email}    200 {user} (active may be false) | 404 */
#ifndef DTM_SERVICES_USERS_H
#define DTM_SERVICES_USERS_H

#include "core/arena.h"
#include "core/err.h"
#include "db/pg.h"
#include "http/http.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define USERS_PASSWORD_MIN 10
#define USERS_PASSWORD_MAX 128
#define USERS_NAME_MAX     100
#define USERS_EMAIL_MAX    254
#define USERS_CACHE_TTL_S  3600

/* ---- pure helpers (users.c-free: unit-tested in tests/unit/services/users) ---- */

/** Validate an e-mail address and lower-case it into arena memory. Accepts local@domain with a
 *  dotted domain of letters, digits and hyphens, no whitespace or control characters, at most
 *  254 bytes. Returns the normalised copy, or NULL when invalid. */
char *users_email_normalize(dtm_arena_t *a, const char *email);

/** Password policy: 10..128 characters (code points) and not equal to the e-mail (ignoring
 *  case). Returns NULL when acceptable, else a static message for the client. */
const char *users_password_problem(const char *password, const char *email);

/** argon2id hash (libsodium crypto_pwhash_str_alg, opslimit 2, memlimit 19 MiB) into out.
 *  Slow (~tens of ms): never call on an event loop. DTM_OK or DTM_EINTERNAL (out of memory). */
#define USERS_HASH_LEN 128
dtm_err_t users_password_hash(const char *password, char out[USERS_HASH_LEN]);
/** Constant-work verification against a stored hash; a NULL hash verifies against a dummy so
 *  unknown e-mails cost the same time as known ones. */
bool users_password_verify(const char *hash, const char *password);
/** True when the stored hash uses weaker parameters than the current ones. */
bool users_password_needs_rehash(const char *hash);

/* ---- store (all SQL of the users schema; src/services/users/store.c) ---- */

/** One row as read from users.users, strings in the arena. */
typedef struct {
    const char *id, *email, *first_name, *last_name, *role;
    bool active;
    const char *created_at, *updated_at, *last_login_at; /* ISO-8601 UTC ms; last may be NULL */
    const char *password_hash; /* only filled by users_store_get_by_email_secret */
} users_row_t;

typedef struct {
    const char *role;   /* NULL = any */
    int active;         /* -1 any, 0, 1 */
    const char *search; /* NULL = none; substring of first/last name or e-mail, case-insensitive */
    int page, limit;
} users_filter_t;

/** The public JSON object of a row (no password hash). New reference. */
json_t *users_row_json(const users_row_t *u);

/** Page of users matching the filter, newest first. rows/total set on success. */
dtm_err_t users_store_list(dtm_db_t *db, dtm_arena_t *a, const users_filter_t *f,
                           users_row_t **rows, int *n, long long *total);
/** By id: DTM_OK, DTM_ENOTFOUND. `for_update` locks the row (inside a transaction). */
dtm_err_t users_store_get(dtm_db_t *db, dtm_arena_t *a, const char *id, bool for_update,
                          users_row_t *out);
/** By (normalised) e-mail, including the password hash. DTM_OK, DTM_ENOTFOUND. */
dtm_err_t users_store_get_by_email_secret(dtm_db_t *db, dtm_arena_t *a, const char *email,
                                          users_row_t *out);
/** By id with the password hash. DTM_OK, DTM_ENOTFOUND. */
dtm_err_t users_store_get_secret(dtm_db_t *db, dtm_arena_t *a, const char *id, users_row_t *out);
/** Insert; DTM_ECONFLICT when the e-mail is taken. out gets the stored row. */
dtm_err_t users_store_insert(dtm_db_t *db, dtm_arena_t *a, const char *email,
                             const char *password_hash, const char *first_name,
                             const char *last_name, const char *role, bool active,
                             users_row_t *out);
/** Update the given fields (NULL / active < 0 = keep). DTM_ENOTFOUND, DTM_ECONFLICT. */
dtm_err_t users_store_update(dtm_db_t *db, dtm_arena_t *a, const char *id, const char *email,
                             const char *first_name, const char *last_name, const char *role,
                             int active, users_row_t *out);
dtm_err_t users_store_set_password(dtm_db_t *db, const char *id, const char *password_hash);
/** Replace the hash only if it is still `old_hash`; DTM_ECONFLICT when it changed meanwhile. */
dtm_err_t users_store_swap_password(dtm_db_t *db, const char *id, const char *old_hash,
                                    const char *new_hash);
/** Record a successful login (and store `new_hash` when not NULL: parameter upgrade). */
dtm_err_t users_store_touch_login(dtm_db_t *db, dtm_arena_t *a, const char *id,
                                  const char *new_hash, users_row_t *out);
/** Number of users (for seed output and gauges). */
dtm_err_t users_store_count(dtm_db_t *db, long long *n);

/* ---- cache (Redis `user:{id}`) ---- */
/** Cached public JSON of a user, or NULL on a miss or when Redis is down. New reference. */
json_t *users_cache_get(dtm_arena_t *a, const char *id);
void users_cache_put(dtm_arena_t *a, const char *id, const json_t *user);
void users_cache_del(dtm_arena_t *a, const char *id);

/* ---- handlers (handlers.c) ---- */
void users_list(dtm_req_t *req);
void users_create(dtm_req_t *req);
void users_get(dtm_req_t *req);
void users_patch(dtm_req_t *req);
void users_delete(dtm_req_t *req);
void users_verify_credentials(dtm_req_t *req);
void users_change_password(dtm_req_t *req);
void users_reset_password(dtm_req_t *req);
void users_lookup(dtm_req_t *req);

/** Service init: metrics, libsodium. Idempotent. */
dtm_err_t users_init(void);

#endif
