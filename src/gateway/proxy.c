/* SPDX-License-Identifier: MIT */
/* The client side of the gateway, on the server's loops: keep-alive connection pools per
 * upstream and loop (no locks: a loop only touches its own pool), llhttp (strict) for responses,
 * retries, timeouts and the mapping of failures to 502/503/504 JSON.
 *
 * A proxied request is sent as one buffer (request line, forwarded headers, body), the
 * response is collected and handed back to the connection layer, which writes it in order
 * with the other responses of the client connection.
 *
 * Retries: a request that never reached an upstream (connect refused/timed out) may go to
 * another replica whatever its method; one that may have reached it is retried only when
 * idempotent (GET, HEAD), and only before any response byte arrived. A keep-alive connection
 * that the upstream closed while idle fails the same way and is retried like the others. */
#include "core/config.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "gateway/gw.h"
#include "http/internal.h"
#include "http/server.h"

#include <limits.h>
#include <llhttp.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MAX_IDLE_PER_UPSTREAM  256
#define MAX_CONNS_PER_UPSTREAM 256 /* per loop; more requests wait for a free connection */
#define POOL_IDLE_MS           30000
#define MAX_ATTEMPTS           3
#define MAX_PASS_HEADERS       16
#define MAX_RESP_HEADER_BYTES  (64 * 1024)
#define BUFFER_MAX             (256 * 1024) /* larger (or unknown) bodies are streamed */

typedef struct upconn upconn_t;
typedef struct px px_t;

typedef struct {
    uv_loop_t *loop;
    upconn_t **idle; /* per upstream index */
    int *nidle;
    int *nconn;       /* open connections (idle, busy, connecting) per upstream */
    px_t **wait_head; /* requests waiting for a connection, per upstream (FIFO) */
    px_t **wait_tail;
    bool stopped;
    upconn_t *all; /* every connection, for the stop */
} gw_loop_t;

struct upconn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t creq;
    uv_write_t wreq;
    gw_loop_t *gl;
    gw_upstream_t *up;
    upconn_t *next_idle, *prev_all, *next_all;
    llhttp_t parser;
    px_t *px;
    int handles; /* open handles; freed at 0 */
    bool closing, reused, no_reuse;
    /* reused by every exchange on this connection: no per-request heap buffers */
    dtm_buf_t out, f, v, body;
    char rbuf[16384];
};

typedef enum { PX_NONE = 0, PX_CONNECT, PX_SENT } px_phase_t;

struct px {
    dtm_req_t *req;
    gw_service_t *gs;
    gw_upstream_t *up;
    gw_upstream_t *tried[MAX_ATTEMPTS];
    int ntried;
    upconn_t *uc;
    px_phase_t phase;
    bool head, idempotent, got_bytes, hdr_value, complete;
    bool streaming;  /* the body is relayed as it arrives (big, unknown length, events) */
    bool refused;    /* the last try's connection was refused */
    px_t *next_wait; /* in gl->wait_* while no connection is free */
    bool pause_read; /* the client is slower than the upstream */
    double t0;
    /* response */
    int status;
    dtm_header_t hdrs[MAX_PASS_HEADERS];
    int nh;
    size_t hdr_bytes;
    const char *content_type;
    char *body; /* arena copy of a buffered body */
    size_t body_len;
    char connection_tokens[256]; /* header names listed in Connection: dropped too */
};

static llhttp_settings_t g_settings;
static uv_once_t g_once = UV_ONCE_INIT;

static void attempt(px_t *px);
static void uc_close(upconn_t *uc);
static bool wait_next(gw_loop_t *gl, int index, upconn_t *uc);
static void start_streaming(px_t *px, long long content_length);
static void build_request(px_t *px);
static void send_on(px_t *px, upconn_t *uc);
static void connect_new(gw_loop_t *gl, px_t *px);

/* ---- hop-by-hop (RFC 9110 7.6.1) ---- */

static bool is_name(const char *name, size_t len, const char *lit, size_t litlen)
{
    return len == litlen && strncasecmp(name, lit, len) == 0;
}
#define IS(name, len, lit) is_name(name, len, lit, sizeof lit - 1)

/* Every header of every proxied message goes through this: sort by length first. */
static bool hop_by_hop_n(const char *name, size_t len)
{
    switch (len) {
    case 2:
        return IS(name, len, "te");
    case 7:
        return IS(name, len, "trailer") || IS(name, len, "upgrade");
    case 10:
        return IS(name, len, "connection") || IS(name, len, "keep-alive");
    case 16:
        return IS(name, len, "proxy-connection");
    case 17:
        return IS(name, len, "transfer-encoding");
    case 18:
        return IS(name, len, "proxy-authenticate");
    case 19:
        return IS(name, len, "proxy-authorization");
    default:
        return false;
    }
}

/* Is `name` one of the comma-separated tokens of a Connection header value? */
static bool in_connection(const char *tokens, const char *name)
{
    if (!tokens || !*tokens)
        return false;
    size_t nl = strlen(name);
    const char *p = tokens;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        size_t n = strcspn(p, ", \t");
        if (n == nl && strncasecmp(p, name, n) == 0)
            return true;
        p += n;
    }
    return false;
}

/* ---- per-loop pools ---- */

static gw_loop_t *loop_state(uv_loop_t *loop)
{
    gw_loop_t *gl = loop->data;
    if (!gl) {
        gl = dtm_calloc(1, sizeof *gl);
        gl->loop = loop;
        gl->idle = dtm_calloc(GW_MAX_UPSTREAMS, sizeof *gl->idle);
        gl->nidle = dtm_calloc(GW_MAX_UPSTREAMS, sizeof *gl->nidle);
        gl->nconn = dtm_calloc(GW_MAX_UPSTREAMS, sizeof *gl->nconn);
        gl->wait_head = dtm_calloc(GW_MAX_UPSTREAMS, sizeof *gl->wait_head);
        gl->wait_tail = dtm_calloc(GW_MAX_UPSTREAMS, sizeof *gl->wait_tail);
        loop->data = gl;
    }
    return gl;
}

static void gl_free(gw_loop_t *gl)
{
    gl->loop->data = NULL;
    free(gl->idle);
    free(gl->nidle);
    free(gl->nconn);
    free(gl->wait_head);
    free(gl->wait_tail);
    free(gl);
}

static void idle_remove(upconn_t *uc)
{
    gw_loop_t *gl = uc->gl;
    for (upconn_t **pp = &gl->idle[uc->up->index]; *pp; pp = &(*pp)->next_idle) {
        if (*pp == uc) {
            *pp = uc->next_idle;
            gl->nidle[uc->up->index]--;
            break;
        }
    }
    uc->next_idle = NULL;
}

static void uc_handle_closed(uv_handle_t *h)
{
    upconn_t *uc = h->data;
    if (--uc->handles > 0)
        return;
    gw_loop_t *gl = uc->gl;
    if (uc->prev_all)
        uc->prev_all->next_all = uc->next_all;
    else
        gl->all = uc->next_all;
    if (uc->next_all)
        uc->next_all->prev_all = uc->prev_all;
    dtm_buf_free(&uc->out);
    dtm_buf_free(&uc->f);
    dtm_buf_free(&uc->v);
    dtm_buf_free(&uc->body);
    int index = uc->up->index;
    gl->nconn[index]--;
    free(uc);
    if (gl->stopped && !gl->all) {
        gl_free(gl);
        return;
    }
    wait_next(gl, index, NULL); /* a slot opened */
}

static void uc_close(upconn_t *uc)
{
    if (uc->closing)
        return;
    uc->closing = true;
    if (!uc->px)
        idle_remove(uc);
    uv_close((uv_handle_t *)&uc->tcp, uc_handle_closed);
    uv_close((uv_handle_t *)&uc->timer, uc_handle_closed);
}

void gw_loop_stop(uv_loop_t *loop)
{
    gw_loop_t *gl = loop->data;
    if (!gl)
        return;
    gl->stopped = true;
    for (int i = 0; i < GW_MAX_UPSTREAMS; i++) {
        while (gl->idle[i])
            uc_close(gl->idle[i]);
        while (gl->wait_head[i]) { /* their clients are gone (the loop drained) */
            px_t *px = gl->wait_head[i];
            gl->wait_head[i] = px->next_wait;
            atomic_fetch_sub(&px->up->outstanding, 1);
            dtm_server_resp_ready(px->req);
        }
        gl->wait_tail[i] = NULL;
    }
    if (!gl->all)
        gl_free(gl);
}

static void uc_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void uc_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    upconn_t *uc = h->data;
    (void)hint;
    *buf = uv_buf_init(uc->rbuf, sizeof uc->rbuf);
}

static void idle_timeout(uv_timer_t *t)
{
    uc_close(t->data);
}

/* Back to the pool after a complete keep-alive exchange. */
static void uc_release(upconn_t *uc)
{
    gw_loop_t *gl = uc->gl;
    uc->px = NULL;
    uv_timer_stop(&uc->timer);
    if (gl->stopped || uc->no_reuse || gl->nidle[uc->up->index] >= MAX_IDLE_PER_UPSTREAM ||
        !llhttp_should_keep_alive(&uc->parser)) {
        uc_close(uc);
        return;
    }
    uc->reused = true;
    if (wait_next(gl, uc->up->index, uc))
        return; /* went straight to a waiting request */
    uc->next_idle = gl->idle[uc->up->index];
    gl->idle[uc->up->index] = uc;
    gl->nidle[uc->up->index]++;
    /* it stays readable: an idle upstream connection that speaks or closes is done */
    uv_timer_start(&uc->timer, idle_timeout, POOL_IDLE_MS, 0);
}

/* ---- finishing ---- */

/* The end of a proxied request: its response is set (or err mapped to one). */
static void px_done(px_t *px, dtm_err_t err, const char *msg)
{
    dtm_req_t *req = px->req;
    dtm_resp_t *resp = dtm_req_resp(req);
    if (px->up) {
        atomic_fetch_sub(&px->up->outstanding, 1);
        dtm_histogram_observe(px->up->m_lat, dtm_mono_s() - px->t0);
        ((dtm_req_core_t *)req->core)->upstream = dtm_arena_strdup(req->arena, px->up->url);
    }
    if (px->streaming) {
        /* the head and body went out already */
    } else if (err != DTM_OK) {
        memset(resp, 0, sizeof *resp);
        dtm_resp_err(req, err, msg);
    } else {
        memset(resp, 0, sizeof *resp);
        resp->kind = DTM_RESP_BODY;
        resp->status = px->status;
        resp->content_type = px->content_type;
        for (int i = 0; i < px->nh; i++)
            resp->headers[resp->nheaders++] = px->hdrs[i];
        resp->body = px->body;
        resp->body_len = px->body_len;
    }
    dtm_server_resp_ready(req);
}

/* A failed exchange: retry where allowed, else answer with the mapped error. */
static void px_fail(px_t *px, dtm_err_t err, const char *msg, bool reached)
{
    upconn_t *uc = px->uc;
    px->uc = NULL;
    if (uc) {
        uc->px = NULL;
        uc_close(uc);
    }
    if (px->up) {
        atomic_fetch_sub(&px->up->outstanding, 1);
        dtm_metric_inc(px->up->m_fail);
        if (px->refused)
            gw_eject(px->up, msg); /* nothing listens there: down until a check says otherwise */
        else
            gw_note(px->up, true); /* slow or failing: counts toward a suspension */
    }
    if (px->streaming) {
        /* part of the response is out: the only honest thing left is to cut it short */
        px->up = NULL;
        dtm_server_stream_abort(px->req);
        dtm_server_resp_ready(px->req);
        return;
    }
    bool retry = !px->got_bytes && (!reached || px->idempotent) && px->ntried < MAX_ATTEMPTS &&
                 px->ntried < px->gs->nups && !dtm_server_req_gone(px->req) && err != DTM_ETIMEOUT;
    gw_upstream_t *last = px->up;
    px->up = NULL;
    if (retry) {
        dtm_metric_inc(px->gs->m_retry);
        dtm_log_debug("retrying %s %s after %s on %s", px->req->method, px->req->path, msg,
                      last ? last->url : "-");
        attempt(px);
        return;
    }
    if (last)
        ((dtm_req_core_t *)px->req->core)->upstream = dtm_arena_strdup(px->req->arena, last->url);
    /* nothing reached any replica: the service is unavailable */
    if (!reached && err == DTM_EUPSTREAM)
        err = DTM_EUNAVAIL;
    dtm_req_t *req = px->req;
    memset(dtm_req_resp(req), 0, sizeof(dtm_resp_t));
    dtm_resp_err(req, err, msg);
    dtm_server_resp_ready(req);
}

/* ---- response parsing ---- */

static void commit_resp_header(upconn_t *uc)
{
    px_t *px = uc->px;
    if (!uc->f.len)
        return;
    size_t nl = uc->f.len;
    dtm_buf_append(&uc->f, "", 1);
    dtm_buf_append(&uc->v, "", 1);
    const char *name = uc->f.data, *value = uc->v.data;
    dtm_arena_t *a = px->req->arena;
    if (IS(name, nl, "content-type")) {
        px->content_type = dtm_arena_strdup(a, value);
    } else if (IS(name, nl, "connection")) {
        snprintf(px->connection_tokens, sizeof px->connection_tokens, "%s", value);
    } else if (!hop_by_hop_n(name, nl) && !IS(name, nl, "content-length") &&
               !IS(name, nl, "date") && !IS(name, nl, "x-request-id") &&
               !IS(name, nl, "x-content-type-options") && px->nh < MAX_PASS_HEADERS) {
        px->hdrs[px->nh].name = dtm_arena_strdup(a, name);
        px->hdrs[px->nh].value = dtm_arena_strdup(a, value);
        px->nh++;
    }
    dtm_buf_reset(&uc->f);
    dtm_buf_reset(&uc->v);
}

static int r_header_field(llhttp_t *p, const char *at, size_t len)
{
    upconn_t *uc = p->data;
    px_t *px = uc->px;
    px->hdr_bytes += len;
    if (px->hdr_bytes > MAX_RESP_HEADER_BYTES)
        return -1;
    if (px->hdr_value) {
        commit_resp_header(uc);
        px->hdr_value = false;
    }
    dtm_buf_append(&uc->f, at, len);
    return 0;
}

static int r_header_value(llhttp_t *p, const char *at, size_t len)
{
    upconn_t *uc = p->data;
    px_t *px = uc->px;
    px->hdr_bytes += len;
    if (px->hdr_bytes > MAX_RESP_HEADER_BYTES)
        return -1;
    px->hdr_value = true;
    dtm_buf_append(&uc->v, at, len);
    return 0;
}

static int r_headers_complete(llhttp_t *p)
{
    upconn_t *uc = p->data;
    px_t *px = uc->px;
    commit_resp_header(uc);
    px->status = p->status_code;
    /* headers named by Connection are hop-by-hop too */
    if (px->connection_tokens[0]) {
        int k = 0;
        for (int i = 0; i < px->nh; i++)
            if (!in_connection(px->connection_tokens, px->hdrs[i].name))
                px->hdrs[k++] = px->hdrs[i];
        px->nh = k;
    }
    bool chunked = p->flags & F_CHUNKED;
    bool unknown = chunked || !(p->flags & F_CONTENT_LENGTH);
    bool events = px->content_type && strncmp(px->content_type, "text/event-stream", 17) == 0;
    bool bodiless = px->head || px->status == 204 || px->status == 304 || px->status < 200;
    if (!bodiless && (unknown || events || p->content_length > BUFFER_MAX))
        start_streaming(px, unknown ? -1 : (long long)p->content_length);
    else if (px->head && px->status >= 200 && px->status != 204 && px->status != 304)
        start_streaming(px, unknown ? -1 : (long long)p->content_length); /* its length, no body */
    return px->head ? 1 : 0; /* a response to HEAD has no body whatever it declares */
}

static int r_body(llhttp_t *p, const char *at, size_t len)
{
    upconn_t *uc = p->data;
    px_t *px = uc->px;
    if (!px->streaming) {
        dtm_buf_append(&uc->body, at, len);
        return 0;
    }
    if (dtm_server_req_gone(px->req))
        return -1;              /* nobody to relay to */
    uv_timer_again(&uc->timer); /* while streaming, the timeout is between chunks */
    if (dtm_server_stream_write(px->req, at, len) > DTM_SERVER_STREAM_HIGH)
        px->pause_read = true;
    return 0;
}

static int r_message_complete(llhttp_t *p)
{
    px_t *px = ((upconn_t *)p->data)->px;
    px->complete = true;
    return HPE_PAUSED;
}

/* The client drained: read the upstream again. */
static void resume_read(void *ud)
{
    upconn_t *uc = ud;
    if (uc->px && !uc->closing)
        uv_read_start((uv_stream_t *)&uc->tcp, uc_alloc, uc_read);
}

static void start_streaming(px_t *px, long long content_length)
{
    dtm_req_t *req = px->req;
    dtm_resp_t *resp = dtm_req_resp(req);
    memset(resp, 0, sizeof *resp);
    for (int i = 0; i < px->nh; i++)
        resp->headers[resp->nheaders++] = px->hdrs[i];
    ((dtm_req_core_t *)req->core)->upstream = dtm_arena_strdup(req->arena, px->up->url);
    px->streaming = true;
    upconn_t *uc = px->uc;
    int to = dtm_cfg.upstream_timeout_ms > 0 ? dtm_cfg.upstream_timeout_ms : 30000;
    uv_timer_set_repeat(&uc->timer, (uint64_t)to);
    uv_timer_again(&uc->timer);
    dtm_server_stream_on_drain(req, resume_read, uc);
    dtm_server_stream_begin(req, px->status,
                            px->content_type ? px->content_type : "application/octet-stream",
                            content_length);
}

static void settings_init(void)
{
    llhttp_settings_init(&g_settings);
    g_settings.on_header_field = r_header_field;
    g_settings.on_header_value = r_header_value;
    g_settings.on_headers_complete = r_headers_complete;
    g_settings.on_body = r_body;
    g_settings.on_message_complete = r_message_complete;
}

static void response_done(upconn_t *uc)
{
    px_t *px = uc->px;
    px->uc = NULL;
    if (!px->streaming && uc->body.len) {
        px->body = dtm_arena_alloc(px->req->arena, uc->body.len + 1);
        memcpy(px->body, uc->body.data, uc->body.len);
        px->body_len = uc->body.len;
    }
    if (uc->body.cap > 64 * 1024)
        dtm_buf_free(&uc->body); /* do not keep a big buffer per pooled connection */
    else
        dtm_buf_reset(&uc->body);
    dtm_metric_inc(px->up->m_req);
    gw_note(px->up, px->status >= 500);
    if (px->status >= 500)
        dtm_metric_inc(px->up->m_fail);
    llhttp_resume(&uc->parser);
    if (px->streaming) {
        dtm_server_stream_on_drain(px->req, NULL, NULL);
        dtm_server_stream_end(px->req);
    }
    uc_release(uc);
    px_done(px, DTM_OK, NULL);
}

static void uc_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    upconn_t *uc = s->data;
    px_t *px = uc->px;
    if (!px) {
        if (n != 0)
            uc_close(uc); /* idle: an upstream that speaks or closes now is done with it */
        return;
    }
    if (n < 0) {
        /* EOF ends a close-delimited body; anything else is a broken exchange */
        if (n == UV_EOF && px->got_bytes) {
            llhttp_finish(&uc->parser);
            if (px->complete) {
                uc->no_reuse = true; /* it closed */
                response_done(uc);
                return;
            }
        }
        px_fail(px, DTM_EUPSTREAM,
                px->got_bytes ? "The upstream closed the connection mid-response"
                              : "The upstream closed the connection without answering",
                true);
        return;
    }
    if (n == 0)
        return;
    px->got_bytes = true;
    llhttp_errno_t e = llhttp_execute(&uc->parser, buf->base, (size_t)n);
    if (px->complete) {
        const char *at = llhttp_get_error_pos(&uc->parser);
        if (e != HPE_PAUSED || (at && at < buf->base + n))
            uc->no_reuse = true; /* bytes after the response: not a connection to reuse */
        response_done(uc);
        return;
    }
    if (e != HPE_OK) {
        px_fail(px, DTM_EUPSTREAM, "The upstream sent a malformed response", true);
        return;
    }
    if (px->pause_read) {
        px->pause_read = false;
        uv_read_stop((uv_stream_t *)&uc->tcp);
    }
}

static void resp_timeout(uv_timer_t *t)
{
    upconn_t *uc = t->data;
    px_t *px = uc->px;
    if (!px)
        return;
    if (px->phase == PX_CONNECT)
        px_fail(px, DTM_EUPSTREAM, "Connecting to the upstream timed out", false);
    else
        px_fail(px, DTM_ETIMEOUT, "The upstream did not answer in time", true);
}

/* ---- sending ---- */

static void on_sent(uv_write_t *w, int status)
{
    upconn_t *uc = w->data;
    px_t *px = uc->px;
    if (!px || uc->closing)
        return;
    if (status < 0)
        px_fail(px, DTM_EUPSTREAM, "Sending to the upstream failed", true);
}

static void send_req(upconn_t *uc)
{
    px_t *px = uc->px;
    px->phase = PX_SENT;
    llhttp_init(&uc->parser, HTTP_RESPONSE, &g_settings);
    uc->parser.data = uc;
    int to = dtm_cfg.upstream_timeout_ms > 0 ? dtm_cfg.upstream_timeout_ms : 30000;
    uv_timer_start(&uc->timer, resp_timeout, (uint64_t)to, 0);
    uv_buf_t b = uv_buf_init(uc->out.data, (unsigned)uc->out.len);
    int n = uv_try_write((uv_stream_t *)&uc->tcp, &b, 1);
    if (n < 0 && n != UV_EAGAIN) {
        px_fail(px, DTM_EUPSTREAM, "Sending to the upstream failed", uc->reused);
        return;
    }
    if (n < (int)b.len) {
        size_t done = n > 0 ? (size_t)n : 0;
        b.base += done;
        b.len -= done;
        uc->wreq.data = uc;
        if (uv_write(&uc->wreq, (uv_stream_t *)&uc->tcp, &b, 1, on_sent) < 0) {
            px_fail(px, DTM_EUPSTREAM, "Sending to the upstream failed", true);
            return;
        }
    }
}

static void on_connect(uv_connect_t *cr, int status)
{
    upconn_t *uc = cr->data;
    px_t *px = uc->px;
    if (uc->closing || !px)
        return;
    uv_timer_stop(&uc->timer);
    if (status < 0) {
        px->refused = status == UV_ECONNREFUSED;
        px_fail(px, DTM_EUPSTREAM,
                px->refused ? "The upstream refused the connection"
                            : "Cannot connect to the upstream",
                false);
        return;
    }
    uv_tcp_nodelay(&uc->tcp, 1);
    uv_read_start((uv_stream_t *)&uc->tcp, uc_alloc, uc_read); /* for its whole life */
    send_req(uc);
}

static upconn_t *uc_new(gw_loop_t *gl, gw_upstream_t *up)
{
    upconn_t *uc = dtm_calloc(1, sizeof *uc);
    uc->gl = gl;
    uc->up = up;
    uv_tcp_init(gl->loop, &uc->tcp);
    uv_timer_init(gl->loop, &uc->timer);
    uc->tcp.data = uc->timer.data = uc;
    uc->handles = 2;
    gl->nconn[up->index]++;
    uc->next_all = gl->all;
    if (gl->all)
        gl->all->prev_all = uc;
    gl->all = uc;
    return uc;
}

/* One try on the next replica. */
static void attempt(px_t *px)
{
    gw_upstream_t *up = gw_pick(px->gs, px->tried, px->ntried);
    if (!up) {
        dtm_req_t *req = px->req;
        memset(dtm_req_resp(req), 0, sizeof(dtm_resp_t));
        dtm_resp_err(req, DTM_EUNAVAIL,
                     dtm_arena_sprintf(req->arena, "No healthy replica of the %s service",
                                       px->gs->svc->name));
        dtm_server_resp_ready(req);
        return;
    }
    px->tried[px->ntried++] = up;
    px->up = up;
    px->refused = false;
    px->got_bytes = false;
    px->complete = false;
    px->t0 = dtm_mono_s();
    atomic_fetch_add(&up->outstanding, 1);
    gw_loop_t *gl = loop_state(dtm_server_req_loop(px->req));
    upconn_t *uc = gl->idle[up->index];
    if (uc) {
        idle_remove(uc);
        send_on(px, uc);
        return;
    }
    if (gl->nconn[up->index] >= MAX_CONNS_PER_UPSTREAM) {
        /* a burst: wait for a connection instead of flooding the upstream's accept queue */
        px->next_wait = NULL;
        if (gl->wait_tail[up->index])
            gl->wait_tail[up->index]->next_wait = px;
        else
            gl->wait_head[up->index] = px;
        gl->wait_tail[up->index] = px;
        return;
    }
    connect_new(gl, px);
}

/* px gets the free connection uc (or a new one when uc is NULL and there is room). */
static bool wait_next(gw_loop_t *gl, int index, upconn_t *uc)
{
    while (gl->wait_head[index]) {
        if (!uc && gl->nconn[index] >= MAX_CONNS_PER_UPSTREAM)
            return false;
        px_t *px = gl->wait_head[index];
        gl->wait_head[index] = px->next_wait;
        if (!gl->wait_head[index])
            gl->wait_tail[index] = NULL;
        if (dtm_server_req_gone(px->req)) {
            atomic_fetch_sub(&px->up->outstanding, 1);
            dtm_server_resp_ready(px->req); /* frees it */
            continue;
        }
        if (uc)
            send_on(px, uc);
        else
            connect_new(gl, px);
        return true;
    }
    return false;
}

static void send_on(px_t *px, upconn_t *uc)
{
    uc->px = px;
    px->uc = uc;
    build_request(px); /* per try: the Host header names the replica */
    send_req(uc);
}

static void connect_new(gw_loop_t *gl, px_t *px)
{
    gw_upstream_t *up = px->up;
    upconn_t *uc = uc_new(gl, up);
    uc->px = px;
    px->uc = uc;
    build_request(px);
    px->phase = PX_CONNECT;
    uc->creq.data = uc;
    int to = dtm_cfg.upstream_connect_timeout_ms > 0 ? dtm_cfg.upstream_connect_timeout_ms : 2000;
    uv_timer_start(&uc->timer, resp_timeout, (uint64_t)to, 0);
    int rc = uv_tcp_connect(&uc->creq, &uc->tcp, (const struct sockaddr *)&up->addr, on_connect);
    if (rc < 0)
        px_fail(px, DTM_EUPSTREAM, "Cannot connect to the upstream", false);
}

static void put(dtm_buf_t *o, const char *s)
{
    dtm_buf_append(o, s, strlen(s));
}

static void put_header(dtm_buf_t *o, const char *name, const char *value)
{
    put(o, name);
    dtm_buf_append(o, ": ", 2);
    put(o, value);
    dtm_buf_append(o, "\r\n", 2);
}

/* The request as the upstream sees it, into the connection's buffer. */
static void build_request(px_t *px)
{
    dtm_req_t *req = px->req;
    dtm_buf_t *o = &px->uc->out;
    dtm_buf_reset(o);
    const char *conn_tokens = dtm_req_header(req, "connection");
    put(o, req->method);
    dtm_buf_append(o, " ", 1);
    put(o, dtm_server_req_target(req));
    dtm_buf_append(o, " HTTP/1.1\r\n", 11);
    const char *xff = NULL, *host = NULL;
    for (int i = 0; i < req->nheaders; i++) {
        const dtm_header_t *h = &req->headers[i];
        size_t nl = strlen(h->name); /* names arrive lower-cased */
        if (nl == 15 && memcmp(h->name, "x-forwarded-for", 15) == 0) {
            xff = h->value;
            continue;
        }
        if (nl == 4 && memcmp(h->name, "host", 4) == 0) {
            host = h->value;
            continue;
        }
        if (hop_by_hop_n(h->name, nl) || (conn_tokens && in_connection(conn_tokens, h->name)) ||
            IS(h->name, nl, "content-length") || IS(h->name, nl, "expect") ||
            IS(h->name, nl, "x-request-id") || IS(h->name, nl, "x-forwarded-proto") ||
            IS(h->name, nl, "x-forwarded-host"))
            continue;
        dtm_buf_append(o, h->name, nl);
        dtm_buf_append(o, ": ", 2);
        put(o, h->value);
        dtm_buf_append(o, "\r\n", 2);
    }
    const char *peer = dtm_server_req_peer(req);
    /* the edge rewrote client_ip only when the peer is a trusted proxy */
    bool trusted = req->client_ip && strcmp(req->client_ip, peer) != 0;
    put_header(o, "Host", px->up->hostport);
    if (host)
        put_header(o, "X-Forwarded-Host", host);
    put(o, "X-Forwarded-For: ");
    if (xff && trusted) {
        put(o, xff);
        dtm_buf_append(o, ", ", 2);
    }
    put(o, peer);
    dtm_buf_append(o, "\r\n", 2);
    const char *proto = trusted ? dtm_req_header(req, "x-forwarded-proto") : NULL;
    put_header(o, "X-Forwarded-Proto", proto ? proto : "http");
    put_header(o, "X-Request-Id", req->request_id);
    bool bodyful = req->body_len || strcmp(req->method, "POST") == 0 ||
                   strcmp(req->method, "PUT") == 0 || strcmp(req->method, "PATCH") == 0;
    if (bodyful)
        dtm_buf_printf(o, "Content-Length: %zu\r\n", req->body_len);
    put(o, "Connection: keep-alive\r\n\r\n");
    if (req->body_len)
        dtm_buf_append(o, req->body, req->body_len);
}

void gw_proxy(dtm_req_t *req)
{
    uv_once(&g_once, settings_init);
    gw_service_t *gs = gw_service_find(req->service);
    if (!gs) {
        dtm_resp_err(req, DTM_EUNAVAIL, "The service is not reachable from here");
        dtm_server_resp_ready(req);
        return;
    }
    px_t *px = dtm_arena_calloc(req->arena, sizeof *px);
    px->req = req;
    px->gs = gs;
    px->head = strcmp(req->method, "HEAD") == 0;
    px->idempotent = px->head || strcmp(req->method, "GET") == 0;
    attempt(px);
}
