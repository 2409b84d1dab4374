/* SPDX-License-Identifier: MIT */
/* HS256 JSON Web Tokens (libsodium HMAC-SHA256). Only HS256 is accepted; `none` and every
 * other alg are rejected. Key rotation: the header carries `kid`; verification tries the key
 * with that kid, else every configured key. */
#ifndef DTM_JWT_H
#define DTM_JWT_H

#include "core/err.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char sub[64];
    char role[16]; /* admin | manager | merchandiser | service */
    char jti[64];
    char iss[32];          /* "dtm" */
    int64_t iat, exp, nbf; /* seconds; nbf 0 when absent */
} dtm_claims_t;

typedef struct {
    const char *secrets[8]; /* [0] signs; all verify */
    int n;
} dtm_keyset_t;

/** Keys from dtm_cfg (DTM_JWT_SECRET then DTM_JWT_PREVIOUS_SECRETS). Static storage. */
const dtm_keyset_t *dtm_jwt_keys(void);

/** kid of a secret: first 8 hex chars of SHA-256(secret). out[9]. */
void dtm_jwt_kid(const char *secret, char out[9]);

/** Sign claims with keys->secrets[0]. Returns a malloc'd token (caller frees). */
char *dtm_jwt_sign(const dtm_claims_t *c, const dtm_keyset_t *keys);

/** Verify signature, alg, exp, nbf, iat (<= now + 60 s skew) and iss.
 *  DTM_OK, or DTM_EAUTH for anything wrong. */
dtm_err_t dtm_jwt_verify(const char *token, const dtm_keyset_t *keys, int64_t now_s,
                         dtm_claims_t *out);

/** dtm_jwt_verify(token, dtm_jwt_keys(), now_s, out) with a per-thread cache of recently
 *  verified tokens (matched in constant time; exp and nbf re-checked against now_s on every
 *  hit), so a client's token costs one HMAC and JSON parse per thread, not one per request.
 *  Safe because the keys do not change while the process runs; revocation (the denylist) is
 *  checked by the caller. DTM_OK or DTM_EAUTH. */
dtm_err_t dtm_jwt_verify_cached(const char *token, int64_t now_s, dtm_claims_t *out);

#endif
