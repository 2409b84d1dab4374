/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the connection layer's request parsing (src/http/server.c): request
 * line, headers, limits, chunked and fixed bodies, pipelining, early answers and errors,
 * with reads cut at fuzzed sizes. The router seam of internal.h is replaced by the small one
 * below, so only the connection layer (plus core helpers) is under test, and it checks every
 * request that reaches it against the rules the layer must enforce (check_rules):
 *   /l...  runs on the loop     /w...  runs on the worker pool (echoes the body)
 *   /s...  streams a response   /e...  event stream           else 404 without reading a body
 *
 * Built by tests/fuzz/run.sh (make test-fuzz) against dtmcore and llhttp in strict mode, as the
 * server uses it; by hand, after that build:
 *
 *   build-fuzz/http_parse_fuzz -max_total_time=60 -max_len=4096 -dict=tests/fuzz/http.dict \
 *       tests/fuzz/corpus/http
 */
#include "core/config.h"
#include "core/ids.h"
#include "core/log.h"
#include "http/internal.h"
#include "http/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

dtm_config_t dtm_cfg;

const char *dtm_req_header(const dtm_req_t *req, const char *name)
{
    for (int i = 0; i < req->nheaders; i++)
        if (strcmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

void dtm_resp_header(dtm_req_t *req, const char *name, const char *value)
{
    dtm_resp_t *r = dtm_req_resp(req);
    if (r->nheaders < 24)
        r->headers[r->nheaders++] =
            (dtm_header_t){dtm_arena_strdup(req->arena, name), dtm_arena_strdup(req->arena, value)};
}

void dtm_resp_header_default(dtm_req_t *req, const char *name, const char *value)
{
    dtm_resp_t *r = dtm_req_resp(req);
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return;
    dtm_resp_header(req, name, value);
}

void dtm_resp_body(dtm_req_t *req, int status, const char *content_type, const void *data,
                   size_t len)
{
    dtm_resp_t *r = dtm_req_resp(req);
    r->kind = DTM_RESP_BODY;
    r->status = status;
    r->content_type = content_type;
    r->body = dtm_arena_alloc(req->arena, len + 1);
    memcpy(r->body, data, len);
    r->body_len = len;
}

void dtm_resp_error(dtm_req_t *req, int status, const char *code, const char *message,
                    json_t *details)
{
    json_decref(details);
    char *b = dtm_arena_sprintf(req->arena, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                                code ? code : "x", message ? message : "");
    dtm_resp_body(req, status, "application/json", b, strlen(b));
}

void dtm_resp_err(dtm_req_t *req, dtm_err_t err, const char *message)
{
    dtm_resp_error(req, dtm_err_status(err), dtm_err_code(err),
                   message ? message : dtm_err_message(err), NULL);
}

void dtm_resp_head(dtm_req_t *req, int status, bool keep_alive, long long content_length,
                   const char *content_type, dtm_buf_t *out)
{
    dtm_resp_t *r = dtm_req_resp(req);
    dtm_buf_printf(out, "HTTP/1.1 %d X\r\n", status);
    if (content_type)
        dtm_buf_printf(out, "Content-Type: %s\r\n", content_type);
    if (content_length >= 0)
        dtm_buf_printf(out, "Content-Length: %lld\r\n", content_length);
    for (int i = 0; i < r->nheaders; i++)
        dtm_buf_printf(out, "%s: %s\r\n", r->headers[i].name, r->headers[i].value);
    dtm_buf_puts(out, keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
}

void dtm_resp_serialize(dtm_req_t *req, bool keep_alive, dtm_buf_t *out)
{
    dtm_resp_t *r = dtm_req_resp(req);
    dtm_resp_head(req, r->status, keep_alive, (long long)r->body_len, r->content_type, out);
    dtm_buf_append(out, r->body, r->body_len);
}

/* RFC 9110 5.6.2 tchar */
static bool tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The differential check: whatever bytes came in, a request that reaches the router obeys the
 * rules the connection layer enforces (RFC 9112 framing, our Host and query rules). */
static void check_rules(const dtm_req_t *req)
{
    int hosts = 0;
    bool cl = false, te = false;
    for (int i = 0; i < req->nheaders; i++) {
        const char *n = req->headers[i].name, *v = req->headers[i].value;
        if (!*n)
            abort();
        for (const char *s = n; *s; s++)
            if (!tchar((unsigned char)*s))
                abort(); /* "Content-Length : 2" and the like */
        for (const unsigned char *s = (const unsigned char *)v; *s; s++)
            if ((*s < 0x20 && *s != '\t') || *s == 0x7f)
                abort(); /* CR, LF (obs-fold), NUL or other controls in a value */
        hosts += strcmp(n, "host") == 0;
        cl |= strcmp(n, "content-length") == 0;
        te |= strcmp(n, "transfer-encoding") == 0;
    }
    if (hosts > 1 || (cl && te))
        abort();
    if (req->raw_query && strstr(req->raw_query, "%00"))
        abort();
    if (strlen(req->path) == 0 || req->path[0] != '/')
        abort();
}

dtm_dispatch_t dtm_router_match(dtm_req_t *req, long *max_body)
{
    check_rules(req);
    req->request_id = "fuzz";
    *max_body = 512;
    if (!req->path || !req->method)
        abort(); /* the connection layer must set them before matching */
    switch (req->path[1]) {
    case 'l':
        return DTM_DISPATCH_LOOP;
    case 'w':
        return DTM_DISPATCH_WORKER;
    case 's':
        return DTM_DISPATCH_WORKER;
    case 'e':
        return DTM_DISPATCH_LOOP;
    case 'p':
        return DTM_DISPATCH_PROXY;
    default:
        dtm_resp_err(req, DTM_ENOTFOUND, NULL);
        return DTM_DISPATCH_DONE;
    }
}

void dtm_router_run(dtm_req_t *req)
{
    if (req->body[req->body_len] != '\0')
        abort(); /* bodies are NUL-terminated */
    switch (req->path[1]) {
    case 's':
        dtm_resp_stream_begin(req, 200, "text/plain");
        dtm_resp_stream_write(req, req->body, req->body_len);
        dtm_resp_stream_write(req, "tail", 4);
        dtm_resp_stream_end(req);
        break;
    case 'e':
        dtm_resp_sse(req, "t");
        break;
    default:
        dtm_resp_body(req, 200, "text/plain", req->body, req->body_len);
    }
}

void dtm_router_finish(dtm_req_t *req, int status, double seconds)
{
    (void)req;
    (void)status;
    (void)seconds;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    dtm_log_init("fuzz", DTM_LOG_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dtm_server_fuzz_input(data, size);
    if (dtm_server_inflight() != 0 || dtm_server_connections() != 0)
        abort(); /* every request and connection is released */
    return 0;
}
