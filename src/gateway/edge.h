/* SPDX-License-Identifier: MIT */
/* Edge protection, applied by the process that faces clients (the gateway, or `all`), on the
 * event loop and without I/O:
 *  (the client IP is settled before, by the realip phase: http/realip.h)
 *  - rate limits per client IP and per user: token buckets (rate = limit per minute, burst =
 *    DTM_RATE_LIMIT_BURST_PCT % of it) kept in memory and shared across gateway replicas by a
 *    background thread that exchanges consumption through Redis every 250 ms; when Redis is
 *    down each replica limits on its own,
 *  - CORS with an allowlist (DTM_CORS_ORIGINS) and preflight answers,
 *  - security headers (HSTS behind TLS, nosniff, frame-ancestors, referrer policy). */
#ifndef DTM_EDGE_H
#define DTM_EDGE_H

#include "core/jwt.h"
#include "core/str.h"
#include "http/http.h"
#include <stdbool.h>

/** Parse the trusted proxies (dtm_realip_init) and CORS origins, start the sync thread.
 *  0 or -1 (logged). */
int dtm_edge_init(void);
void dtm_edge_shutdown(void);

/** The router's preaccess phase at the edge: true when the request was fully answered here
 *  (CORS preflight, 429 rate limited). */
bool dtm_edge_filter(dtm_req_t *req);

/** The router's resp_headers phase at the edge: append the edge's response headers (CORS for an
 * allowed Origin, security headers, Cache-Control: no-store for JSON that has no policy of its
 * own) as "Name: value\r\n" lines. Used for local and proxied responses alike. */
void dtm_edge_headers(const dtm_req_t *req, dtm_buf_t *out);

/** True when dtm_edge_init ran in this process. */
bool dtm_edge_enabled(void);

#endif
