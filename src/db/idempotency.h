/* SPDX-License-Identifier: MIT */
/* Storage of Idempotency-Key outcomes (migrations/idempotency): one row per (caller, key) with
 * the request's fingerprint and, once the first request finished, its response. Every call is
 * one statement on its own connection, outside the handler's transaction. The request-layer
 * policy that uses it is src/services/idempotency.c. */
#ifndef DTM_DB_IDEMPOTENCY_H
#define DTM_DB_IDEMPOTENCY_H

#include "db/pg.h"
#include <stddef.h>

typedef enum {
    DTM_IDEM_CLAIMED = 0, /* the key is ours: run the handler, then complete or release */
    DTM_IDEM_REPLAY,      /* a finished request with the same fingerprint: answer *stored */
    DTM_IDEM_MISMATCH,    /* the key was used for a different request: 422 */
    DTM_IDEM_RUNNING,     /* the first request with this key is still running: 409 */
} dtm_idem_outcome_t;

typedef struct {
    int status;
    const char *content_type, *location; /* NULL when none */
    const char *body;                    /* arena text; body_len bytes */
    size_t body_len;
} dtm_idem_stored_t;

/** Claims (scope, key) for a request with `fingerprint` (64 hex chars), or reports what holds
 *  it. A row older than ttl_s counts as absent; a running row whose lease ran out (its process
 *  died) is taken over by a request with the same fingerprint. Lease: lease_ms from now.
 *  *stored (strings in db's arena) is set for DTM_IDEM_REPLAY. */
dtm_err_t dtm_idem_claim(dtm_db_t *db, const char *scope, const char *key, const char *fingerprint,
                         const char *method, const char *path, int ttl_s, int lease_ms,
                         dtm_idem_outcome_t *outcome, dtm_idem_stored_t *stored);

/** Stores the response of the claimed (scope, key) and marks it done. */
dtm_err_t dtm_idem_complete(dtm_db_t *db, const char *scope, const char *key,
                            const dtm_idem_stored_t *resp);

/** Gives the claimed (scope, key) up (the handler failed with 5xx, or its response cannot be
 *  stored): a retry runs again. */
dtm_err_t dtm_idem_release(dtm_db_t *db, const char *scope, const char *key);

/** Deletes rows older than ttl_s; *deleted = how many. */
dtm_err_t dtm_idem_purge(dtm_db_t *db, int ttl_s, long long *deleted);

#endif
