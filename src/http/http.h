/* SPDX-License-Identifier: MIT */
/* Requests, responses and route tables: what every service handler sees.
 *
 * A handler runs on a worker thread (blocking PostgreSQL/Redis calls are fine there) unless its
 * route has DTM_ROUTE_ON_LOOP. It reads the request through the accessors below and sets exactly
 * one response with dtm_resp_*; if it sets none the core answers 500. All memory a handler
 * needs comes from req->arena (freed after the response is written). */
#ifndef DTM_HTTP_H
#define DTM_HTTP_H

#include "core/arena.h"
#include "core/err.h"
#include "core/json.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Roles are bits so a route can allow several. SERVICE is the internal caller identity used by
 * dtm_call (never accepted by the gateway from outside); it passes every role check. */
enum {
    DTM_ROLE_ADMIN = 1u,
    DTM_ROLE_MANAGER = 2u,
    DTM_ROLE_MERCH = 4u,
    DTM_ROLE_SERVICE = 8u,
};
#define DTM_ROLES_STAFF (DTM_ROLE_ADMIN | DTM_ROLE_MANAGER)
#define DTM_ROLES_ANY   (DTM_ROLE_ADMIN | DTM_ROLE_MANAGER | DTM_ROLE_MERCH)
#define DTM_PUBLIC      0u /* no token needed */

/** "admin" -> DTM_ROLE_ADMIN ...; 0 when unknown. */
unsigned dtm_role_parse(const char *s);
const char *dtm_role_name(unsigned role);

/* Route flags */
enum {
    DTM_ROUTE_ON_LOOP = 1u,  /* run on the event loop: must never block (health, metrics) */
    DTM_ROUTE_RAW_BODY = 2u, /* no JSON content-type check (multipart, CSV...) */
    DTM_ROUTE_NO_LOG = 4u,   /* no access-log line (metrics scrapes) */
    /* Idempotency-Key is ignored (a write whose repetition is harmless and whose answer must
     * not be replayed, e.g. logout) */
    DTM_ROUTE_NO_IDEMPOTENCY = 8u,
};

typedef struct dtm_req dtm_req_t;
typedef void (*dtm_handler_fn)(dtm_req_t *req);

typedef struct dtm_route {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* "/api/users/:id"; full path as seen at the gateway */
    dtm_handler_fn handler;
    unsigned roles; /* DTM_PUBLIC or a mask of DTM_ROLE_* */
    unsigned flags;
    long max_body; /* 0 = dtm_cfg.max_body_bytes */
} dtm_route_t;     /* tables end with a {0} sentinel */

typedef struct {
    bool authed;
    unsigned role; /* one DTM_ROLE_* bit */
    char sub[64];  /* user id */
    char jti[64];
    int64_t iat, exp;
    const char *token; /* raw bearer token (for forwarding in dtm_call) */
} dtm_auth_t;

typedef struct {
    const char *name, *value;
} dtm_header_t;

struct dtm_req {
    dtm_arena_t *arena;
    const char *method;
    const char *path;      /* percent-decoded path, no query */
    const char *raw_query; /* after '?', undecoded; NULL when none */
    dtm_header_t *headers; /* names lower-cased */
    int nheaders;
    const char *body; /* NUL-terminated copy of the body (body_len excludes the NUL) */
    size_t body_len;
    const char *request_id;
    const char *client_ip;
    const char *service; /* the service that owns the matched route */
    const dtm_route_t *route;
    dtm_header_t params[8]; /* route :params, decoded */
    int nparams;
    dtm_auth_t auth;
    bool internal; /* in-process dtm_call */
    void *core;    /* private to the HTTP core */
    bool via_tls;  /* a trusted proxy said the client used HTTPS (edge) */
};

/* ---- request accessors ---- */
/** Header value by case-insensitive name; NULL when absent. */
const char *dtm_req_header(const dtm_req_t *req, const char *name);
/** Route parameter (":id" -> "id"); NULL when absent. */
const char *dtm_req_param(const dtm_req_t *req, const char *name);
/** Decoded query parameter; NULL when absent. First occurrence wins. */
const char *dtm_req_query(const dtm_req_t *req, const char *name);

/** Parse the body as a JSON object. On failure the error response (400 naming line/column for
 *  malformed JSON or a non-object, 415 for a non-JSON content type) is already set and NULL is
 *  returned: the handler just returns. The result is owned by the arena. */
json_t *dtm_req_json(dtm_req_t *req);
/** The same for a body that may be left out (punch-out, approve, ...): no body at all is an
 *  empty object. */
json_t *dtm_req_json_optional(dtm_req_t *req);

/** page/limit from the query (defaults 1 and 20; limit 1..100). On bad values the 400 is set
 *  and false returned. */
bool dtm_req_page(dtm_req_t *req, int *page, int *limit);
/** {"page","limit","total","pages"} (new reference). */
json_t *dtm_pagination(int page, int limit, long long total);

/* ---- offline-safe writes (API.md "Offline-safe writes") ---- */
/** How far a client's capturedAt may lie from the server's clock. */
#define DTM_CAPTURED_MAX_PAST_MS   (72LL * 3600 * 1000)
#define DTM_CAPTURED_MAX_FUTURE_MS (5LL * 60 * 1000)
/** The optional "capturedAt" of `body`: false when absent; when present but not an ISO-8601
 *  time the validator gets the field error (400 with the others). *ms set when true. */
bool dtm_req_captured_field(dtm_valid_t *v, json_t *body, int64_t *ms);
/** Checks a capture time against the skew rules and against `floor_ms`, the latest instant of
 *  the record the write extends or closes (INT64_MIN when none): NULL with 422
 *  invalid_captured_at answered (details: capturedAt, earliest, latest). On success the time as
 *  ISO-8601 text in the request arena, for SQL. */
const char *dtm_req_captured_ok(dtm_req_t *req, int64_t ms, int64_t floor_ms);

/** A validator owned by the request (cleaned up with its arena), for dtm_j* checks. */
dtm_valid_t *dtm_req_validator(dtm_req_t *req);

/** Route parameter `name` that must be a UUID, lower-cased (arena copy). A missing or malformed
 *  one cannot name anything: 404 not_found with `message` is answered and NULL returned. */
const char *dtm_req_uuid_param(dtm_req_t *req, const char *name, const char *message);

/** An optional UUID query filter: NULL when absent or empty; NULL with a field error on `v`
 *  ("must be a UUID") when malformed; else the value. */
const char *dtm_req_query_uuid(dtm_req_t *req, dtm_valid_t *v, const char *name);

/** The user filter of a list a merchandiser may read only for themselves: staff (and service
 *  calls) keep *user_id as asked; a merchandiser gets their own id, or 403 forbidden
 *  ("Merchandisers see only their own <what>") and false when they asked for someone else. */
bool dtm_req_own_scope(dtm_req_t *req, const char **user_id, const char *what);

/** True if req->auth.role is in `roles` (SERVICE always passes). */
bool dtm_req_has_role(const dtm_req_t *req, unsigned roles);

/* ---- responses (call exactly one per request) ---- */
/** JSON body; `body` is stolen. Status 204 sends no body (pass NULL). */
void dtm_resp_json(dtm_req_t *req, int status, json_t *body);
/** {"error":{"code","message","details"},"requestId"}; details stolen, may be NULL. */
void dtm_resp_error(dtm_req_t *req, int status, const char *code, const char *message,
                    json_t *details);
/** 400 validation_failed with the validator's details (taken out of v; v still needs
 *  dtm_valid_cleanup). message NULL = "Request is not valid". */
void dtm_resp_invalid(dtm_req_t *req, const char *message, dtm_valid_t *v);
/** Error from a code, with the table's default status/code; message NULL = default. */
void dtm_resp_err(dtm_req_t *req, dtm_err_t err, const char *message);
/** Raw body, copied. */
void dtm_resp_body(dtm_req_t *req, int status, const char *content_type, const void *data,
                   size_t len);
/** Serve a file from disk (streamed by the loop). 404 JSON when missing. */
void dtm_resp_file(dtm_req_t *req, const char *path, const char *content_type,
                   const char *cache_control);
/** Extra response header (copied). May be called before any dtm_resp_*. */
void dtm_resp_header(dtm_req_t *req, const char *name, const char *value);

/* ---- streamed responses (chunked transfer encoding), from a worker-thread handler ----
 * begin, then any number of writes (each blocks while too much is queued: backpressure), then
 * end. A write returns -1 when the client went away: stop producing and call end. */
void dtm_resp_stream_begin(dtm_req_t *req, int status, const char *content_type);
int dtm_resp_stream_write(dtm_req_t *req, const void *data, size_t len);
void dtm_resp_stream_end(dtm_req_t *req);

/* ---- Server-Sent Events ----
 * dtm_resp_sse turns the connection into an event stream subscribed to `topic`; the handler
 * then returns. Events published with dtm_sse_publish (any thread) reach every subscriber of the
 * topic in this process. Keep-alive comments are sent every 15 s. */
void dtm_resp_sse(dtm_req_t *req, const char *topic);
void dtm_sse_publish(const char *topic, const char *event, const char *data);
/** A stream that resumes (Last-Event-ID) without a gap: from this call on, events of `topic`
 *  are held for this request while the handler reads what the client missed and queues it,
 *  oldest first, with dtm_resp_sse_event. The stream then sends those, then the held events
 *  with a higher id, then live ones: nothing published after this call is lost, none is sent
 *  twice (ids must grow per topic in commit order). Both dtm_resp_sse calls answer 503
 *  too_many_streams past DTM_SSE_MAX_CLIENTS per process; this one then returns false. */
bool dtm_resp_sse_resume(dtm_req_t *req, const char *topic);
void dtm_resp_sse_event(dtm_req_t *req, long long id, const char *event, const char *data);
/** dtm_sse_publish with an event id ("id:" line; -1 = none). */
void dtm_sse_publish_id(const char *topic, long long id, const char *event, const char *data);
/** Connected SSE clients in this process (for the gauge). */
long dtm_sse_clients(void);

/* ---- calling another service (DESIGN: never read another service's tables) ----
 * In `all` mode the call is dispatched in-process through the same router; otherwise it is an
 * HTTP request to DTM_UPSTREAM_<SERVICE>. The callee sees role SERVICE with sub = the caller's
 * user id. *status gets the HTTP status, *out the parsed JSON body (arena-owned; NULL when
 * none). `body` is borrowed. Returns DTM_OK when a response was received (any status), or
 * DTM_EUNAVAIL / DTM_ETIMEOUT when the callee could not be reached. */
dtm_err_t dtm_call(dtm_req_t *req, const char *method, const char *path, json_t *body, int *status,
                   json_t **out);

#endif
