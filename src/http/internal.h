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

/* What the process serves; set once by `dtm serve` before the loops start. */
typedef struct {
    const char *process_service; /* log/metrics name: "dtm", "api-gateway", "auth"... */
    bool gateway;                /* this process answers the web client and /api at the edge */
    const struct dtm_service *const *local; /* services handled in-process, NULL-terminated */
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

/** Verify the bearer token into req->auth (401 response set and false on failure). */
bool dtm_router_authenticate(dtm_req_t *req);

/** Auth (JWT + denylist), role check, then the handler. Runs where dtm_router_match said. */
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
