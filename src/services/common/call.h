/* SPDX-License-Identifier: MIT */
/* Helpers for services that ask other services (dtm_call) from a request handler. */
#ifndef DTM_COMMON_CALL_H
#define DTM_COMMON_CALL_H

#include "http/http.h"

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
