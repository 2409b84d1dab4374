/* SPDX-License-Identifier: MIT */
/* Access-token revocation, owned by the auth service: the one place that knows how a revoked
 * token is recorded and checked. Two kinds of record, both durable in the auth schema:
 *   - the logout denylist (auth.revoked_access_tokens: one jti until that token's expiry);
 *   - a per-user "valid after" epoch (auth.user_epochs): a token of that user issued at or
 *     before it (iat <= valid_after, whole seconds) is refused. Bumped in the same transaction
 *     as deactivation, role change, password change or reset.
 *
 * Every process that serves authenticated routes keeps both in memory (dtm_auth_revocation_start)
 * and answers the router's authenticate hook from there: no round trip per request. The memory
 * is kept current by
 *   - the writer, which applies its change locally and PUBLISHes it on Redis `auth:revoke`
 *     ("u <userId> <validAfter>" or "j <jti> <exp>") once its transaction has committed;
 *   - a subscriber in every process applying those messages (milliseconds);
 *   - a poll of what changed in PostgreSQL: every 2 s while Redis is down (or just came back),
 *     every 10 s while it is up (a lost message costs at most that), with a 30 s overlap so that
 *     a transaction committing late is not missed.
 * So a revocation holds everywhere within about 2 s even when Redis is down. */
#ifndef DTM_SERVICES_AUTH_REVOKE_H
#define DTM_SERVICES_AUTH_REVOKE_H

#include "core/arena.h"
#include "core/err.h"
#include "db/pg.h"
#include "http/http.h"
#include <stdbool.h>
#include <stdint.h>

#define DTM_AUTH_REVOKE_CHANNEL "auth:revoke"
#define DTM_AUTH_POLL_DOWN_MS   2000  /* Redis down or recovering */
#define DTM_AUTH_POLL_UP_MS     10000 /* Redis up: bound on a lost message */

/** Load the live revocations from PostgreSQL, subscribe to Redis and start the poller. When
 *  PostgreSQL is unreachable the first load is retried by the poller; until it succeeds tokens
 *  are checked against what is known (nothing): the platform keeps serving. 0 or -1. */
int dtm_auth_revocation_start(void);
void dtm_auth_revocation_stop(void);

/** True when the access token `jti` of user `sub`, issued at `iat`, has been revoked (logout,
 *  or issued at or before the user's valid-after epoch). Memory only: never blocks on I/O. */
bool dtm_auth_token_revoked(const char *jti, const char *sub, int64_t iat);

/** Bump the valid-after epoch of `user_id` on `db`, inside the caller's transaction (the users
 *  service's deactivation or role change, auth's password change and reset): every access
 *  token of that user issued until now stops working. *valid_after (may be NULL) gets the new
 *  epoch for dtm_auth_revoke_user_published. DTM_OK or the database error. */
dtm_err_t dtm_auth_revoke_user(dtm_db_t *db, const char *user_id, int64_t *valid_after);

/** After the transaction of dtm_auth_revoke_user committed: apply it in this process and tell
 *  the others (Redis; when that fails they find it by polling). */
void dtm_auth_revoke_user_published(const char *user_id, int64_t valid_after);

/** After a denylist row (auth_store_deny_access) committed: the same for one access token. */
void dtm_auth_deny_published(const char *jti, int64_t exp_s);

/** The valid-after epoch this process knows for `user_id` (0 when none). */
int64_t dtm_auth_valid_after(const char *user_id);

/** The router's authenticate hook: req->auth holds verified claims; false (401 set) when the
 *  token has been revoked. Service identities (in-process / internal calls) are not revocable. */
bool dtm_auth_authenticate(dtm_req_t *req);

#endif
