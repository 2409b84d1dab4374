/* SPDX-License-Identifier: MIT */
/* Access-token revocation, owned by the auth service: the one place that knows how a revoked
 * token is recorded (store.c writes the denylist, this file reads it). Every process that
 * serves authenticated routes registers dtm_auth_authenticate as the router's authenticate
 * phase hook (cli/serve.c). */
#ifndef DTM_SERVICES_AUTH_REVOKE_H
#define DTM_SERVICES_AUTH_REVOKE_H

#include "core/arena.h"
#include "http/http.h"
#include <stdbool.h>
#include <stdint.h>

/** True when the access token `jti` (of user `sub`, issued at `iat`) has been revoked (logout).
 *  When Redis is down the answer is false: tokens live DTM_ACCESS_TTL and the platform keeps
 *  serving. */
bool dtm_auth_token_revoked(dtm_arena_t *a, const char *jti, const char *sub, int64_t iat);

/** The router's authenticate hook: req->auth holds verified claims; false (401 set) when the
 *  token has been revoked. Service identities (in-process / internal calls) are not revocable. */
bool dtm_auth_authenticate(dtm_req_t *req);

#endif
