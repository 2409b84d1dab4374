/* SPDX-License-Identifier: MIT */
/* Helpers for service handlers: their database handle, and calls to other services (dtm_call). */
#ifndef DTM_COMMON_CALL_H
#define DTM_COMMON_CALL_H

#include "db/pg.h"
#include "http/http.h"

/** A connection of `service`'s pool for the lifetime of arena `a` (usually req->arena); NULL
 *  with 503 answered when PostgreSQL cannot be reached. */
dtm_db_t *dtm_svc_db(dtm_req_t *req, const char *service, dtm_arena_t *a);

/** For read-only handlers (lists, reports, search, stats): a connection of `service`'s read
 *  replica (DATABASE_URL_REPLICA) when it is usable and has replayed the caller's last write
 *  (read-your-writes, db/ryw.h), else of the primary; never for a read whose result feeds a
 *  write. Without a replica configured, dtm_svc_db. NULL with 503 answered when no database can
 *  be reached. Writes through dtm_svc_db on a non-GET request record the caller's commit LSN. */
dtm_db_t *dtm_svc_db_read(dtm_req_t *req, const char *service, dtm_arena_t *a);

/** dtm_call on a private arena: in `all` mode the callee's database connection is tied to the
 *  arena it runs on, so with this the callee's connection goes back at once and a request
 *  never waits for a connection while the callee holds one of the same pool. *out (the parsed
 *  answer, NULL when none) is owned by req->arena. Same results as dtm_call. */
dtm_err_t dtm_svc_call(dtm_req_t *req, const char *method, const char *path, json_t *body,
                       int *status, json_t **out);

/** The answer when a call failed or answered unexpectedly: the transport error (503/504), or
 *  502 bad_gateway (503 when the callee said 503) naming `what` ("stores service"). */
void dtm_svc_resp_upstream(dtm_req_t *req, dtm_err_t err, int status, const char *what);

#endif
