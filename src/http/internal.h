/* SPDX-License-Identifier: MIT */
/* The seam between the connection layer (server.c, on the event loops) and the request layer
 * (request.c / router.c). Not for services. */
#ifndef DTM_HTTP_INTERNAL_H
#define DTM_HTTP_INTERNAL_H

#include "core/str.h"
#include "http/http.h"

typedef enum {
    DTM_RESP_NONE = 0, /* handler set nothing: the core answers 500 */
    DTM_RESP_BODY,     /* status + headers + body */
    DTM_RESP_FILE,     /* file_path streamed by the loop */
    DTM_RESP_STREAM,   /* chunked; produced by dtm_resp_stream_* (server.c) */
    DTM_RESP_SSE,      /* event stream subscribed to sse_topic (server.c) */
} dtm_resp_kind_t;

/* Response as built by a handler; lives in the request arena. */
typedef struct {
    dtm_resp_kind_t kind;
    int status;
    const char *content_type;
    dtm_header_t headers[24]; /* extra headers (copied into the arena) */
    int nheaders;
    char *body; /* arena memory */
    size_t body_len;
    const char *file_path, *cache_control;
    const char *sse_topic;
} dtm_resp_t;

/* Per-request core state hung on req->core. server.c owns the struct; it starts with this. */
typedef struct {
    dtm_resp_t resp;
    double started;       /* dtm_mono_s() when the request line arrived */
    const char *upstream; /* for the access log when proxied */
} dtm_req_core_t;

static inline dtm_resp_t *dtm_req_resp(dtm_req_t *req)
{
    return &((dtm_req_core_t *)req->core)->resp;
}

/* ---- phase hooks (nginx's phases) ----
 * The HTTP layer knows requests, routes and phases, no policy, storage or service: the layers
 * above fill these at start (cli/serve.c). Every hook may be NULL (the phase is skipped). Order:
 *
 *  on the loop, in dtm_router_match, for client requests (never for in-process dtm_call):
 *   1. realip(req)          settle req->client_ip / req->via_tls (http/realip.c)
 *   2. preaccess(req)       true = answered, stop (CORS preflight, 429: gateway/edge.c)
 *      then route match, 404 / 405 / 413, the proxy decision
 *  where the handler runs (dtm_router_run; a worker thread unless DTM_ROUTE_ON_LOOP):
 *      a route that is not DTM_PUBLIC: the router verifies the bearer token into req->auth
 *      (401 when absent / invalid), then
 *   3. authenticate(req)    false = refused with the response set (revoked token: services/auth)
 *      then the role check (403)
 *   4. content_before(req)  true = answered, the handler is skipped (e.g. a stored response)
 *   5. the route's handler
 *   6. content_after(req)   the handler's response is in dtm_req_resp(req) (kind, status,
 *                           headers, body) and not sent yet; the hook may read or replace it.
 *                           Not called when content_before answered. For DTM_RESP_STREAM / SSE
 *                           the bytes have already gone out: only kind and status are meaningful.
 *  when the response head is written (not for in-process calls, which have no wire):
 *   7. resp_headers(req, out)  append "Name: value\r\n" lines (CORS, security headers)
 *
 * 3, 4 and 6 also run for in-process dtm_call sub-requests (req->internal is true, the caller
 * identity is role SERVICE): a hook that is about clients checks req->internal. Hooks 1, 2 and
 * 7 run on a loop thread and must not block; 3, 4 and 6 run where the handler runs. */
typedef void (*dtm_realip_hook_fn)(dtm_req_t *req);
typedef bool (*dtm_preaccess_hook_fn)(dtm_req_t *req);
typedef bool (*dtm_authenticate_hook_fn)(dtm_req_t *req);
typedef bool (*dtm_content_before_fn)(dtm_req_t *req);
typedef void (*dtm_content_after_fn)(dtm_req_t *req);
typedef void (*dtm_resp_headers_hook_fn)(const dtm_req_t *req, dtm_buf_t *out);

/* What the process serves; set once by `dtm serve` before the loops start. */
typedef struct {
    const char *process_service; /* log/metrics name: "dtm", "api-gateway", "auth"... */
    bool gateway;                /* this process answers the web client and /api at the edge */
    /* Every route table of the binary, NULL-terminated (NULL = only `local`): the edge answers
     * 404/405/413/401 for remote services without a hop and knows whom to proxy to. */
    const struct dtm_service *const *registry;
    const struct dtm_service *const *local; /* handled in-process, NULL-terminated */
    dtm_realip_hook_fn realip;
    dtm_preaccess_hook_fn preaccess;
    dtm_authenticate_hook_fn authenticate;
    dtm_content_before_fn content_before;
    dtm_content_after_fn content_after;
    dtm_resp_headers_hook_fn resp_headers;
    /* A private metrics listener runs (DTM_METRICS_ADDR): /metrics is answered only there, and
     * that listener answers nothing else (404 both ways). */
    bool metrics_private;
} dtm_router_conf_t;
void dtm_router_configure(const dtm_router_conf_t *conf);
const dtm_router_conf_t *dtm_router_conf(void);

typedef enum {
    DTM_DISPATCH_DONE = 0, /* response already set (404, 405, 413, error...) */
    DTM_DISPATCH_LOOP,     /* call dtm_router_run on the loop thread */
    DTM_DISPATCH_WORKER,   /* call dtm_router_run on a worker thread */
    DTM_DISPATCH_PROXY,    /* not local: the gateway proxies it (issue 3); service in req */
} dtm_dispatch_t;

/** On the loop, after the headers arrived (body not yet read): match the route, set params,
 *  request id, service; check method (405 + Allow) and declared body size (413 via
 *  route->max_body). `*max_body` gets the limit for this request. */
dtm_dispatch_t dtm_router_match(dtm_req_t *req, long *max_body);

/** The service whose prefix owns `path` (local or not), or NULL. */
const struct dtm_service *dtm_router_owner(const char *path);

/** True when `service` is handled in this process. */
bool dtm_router_is_local(const char *service);

/** Verify the bearer token into req->auth, then the authenticate hook (401 response set and
 *  false on failure). */
bool dtm_router_authenticate(dtm_req_t *req);

/** Token verification, the authenticate hook, role check, content_before, the handler,
 *  content_after. Runs where dtm_router_match said. */
void dtm_router_run(dtm_req_t *req);

/** Serialize a DTM_RESP_BODY response (status line, headers incl. X-Request-Id, Date,
 *  Content-Length, Connection) into out. keep_alive selects the Connection header. */
void dtm_resp_serialize(dtm_req_t *req, bool keep_alive, dtm_buf_t *out);

/** Status line and headers only (Date, Content-Type, Content-Length when >= 0, X-Request-Id,
 *  nosniff, the handler's extra headers, Connection). For file, stream and SSE responses. */
void dtm_resp_head(dtm_req_t *req, int status, bool keep_alive, long long content_length,
                   const char *content_type, dtm_buf_t *out);

/** After the response went out: access log line and request metrics. */
void dtm_router_finish(dtm_req_t *req, int status, double seconds);

#endif
