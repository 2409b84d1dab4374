/* SPDX-License-Identifier: MIT */
/* Offline-safe writes (shared/API.md "Offline-safe writes"): the Idempotency-Key policy of every
 * service, as two content-phase hooks of the router (registered by cli/serve.c in processes
 * that run services). A POST or PATCH by an authenticated caller with the header runs once per
 * (caller, key); a retry with the same request gets the stored response with
 * Idempotent-Replayed: true, a different request 422 idempotency_key_reused, a retry while the
 * first still runs 409 request_in_progress. 5xx answers are not kept (the retry runs again).
 * Storage: src/db/idempotency.c. */
#ifndef DTM_SERVICES_IDEMPOTENCY_H
#define DTM_SERVICES_IDEMPOTENCY_H

#include "http/http.h"
#include <stdbool.h>

/** Metrics and the purge job; call once before serving. */
void dtm_idempotency_start(void);
void dtm_idempotency_stop(void);

/** content_before hook: true when the request was answered (replay, 400, 409, 422, 503). */
bool dtm_idempotency_before(dtm_req_t *req);
/** content_after hook: keeps the handler's response for the claimed key (or gives it up). */
void dtm_idempotency_after(dtm_req_t *req);

#endif
