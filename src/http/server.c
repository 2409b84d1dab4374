/* SPDX-License-Identifier: MIT */
/* The connection layer. One libuv loop per thread, each with its own SO_REUSEPORT listener;
 * a control loop on the calling thread handles signals and the drain.
 *
 * Per connection: llhttp (strict mode) feeds a queue of requests (pipelining). Each request lives
 * in its own arena, and so does its core state (sreq_t, whose first member is dtm_req_core_t).
 * Responses leave strictly in queue order: only the head of the queue writes. Ready
 * responses at the head are serialized into one per-connection buffer and written with
 * uv_try_write first, so the keep-alive fast path allocates nothing beyond the arena.
 *
 * Deadlines (read timeout of a request, idle keep-alive, lingering close) are swept by one
 * coarse timer per loop instead of a timer per connection.
 *
 * Threads: handlers on the worker pool touch only their own request. Streamed responses and
 * SSE cross threads through a per-loop mutex, a queue and a uv_async_t. A connection is
 * reference counted (its handle plus every worker job or fs operation in flight), so a
 * client that leaves never frees memory a worker still uses. */
#include "http/server.h"

#include "core/config.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/str.h"
#include "core/timeutil.h"
#include "http/internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define READ_BUF_SIZE   (64 * 1024)
#define FILE_CHUNK      (64 * 1024)
#define MAX_PIPELINE    32 /* queued requests per connection before reading pauses */
#define RESUME_PIPELINE 8
#define STREAM_HIGH     DTM_SERVER_STREAM_HIGH /* a stream writer blocks above this */
#define SSE_MAX_QUEUE   (1024 * 1024)          /* a slower SSE client is dropped */
#define SSE_PING_MS     15000
#define LINGER_MS       2000

typedef struct loopctx lctx_t;
typedef struct conn conn_t;
typedef struct sreq sreq_t;
typedef struct ssepend ssepend_t;

enum { DL_NONE = 0, DL_READ, DL_IDLE, DL_LINGER };

struct sreq {
    dtm_req_core_t core; /* first: req.core points here */
    dtm_req_t req;
    conn_t *conn;
    sreq_t *next;
    uv_work_t work;
    dtm_dispatch_t dispatch;
    long max_body;
    bool keep_alive;
    bool headers_done;
    bool complete; /* whole request received */
    bool ready;    /* response (or stream) may go out when at the head */
    bool busy;     /* a worker job or fs operation holds it */
    bool orphan;   /* the connection closed while busy */
    bool expect_continue;
    bool close_after;   /* respond, then close (error, unread body) */
    bool counted;       /* in g_inflight */
    const char *target; /* raw origin-form request-target (proxying) */
    /* headers under construction (arena) */
    dtm_header_t *hdrs;
    int hcap;
    size_t hdr_bytes;
    /* body */
    char *body;
    size_t body_len, body_cap;
    bool body_heap;
    /* streamed response; guarded by conn->lc->smu */
    uv_cond_t cv;
    bool cv_init;
    bool st_begun, st_ended, st_signaled, gone;
    bool st_aborted; /* the client read nothing for DTM_WRITE_TIMEOUT_MS: close it */
    dtm_buf_t sq;    /* produced, not yet handed to the socket */
    dtm_buf_t sw;    /* in flight on the socket (loop only) */
    size_t queued;   /* sq.len + sw.len */
    sreq_t *st_next;
    uv_write_t stw;
    bool st_raw; /* no chunk framing: a Content-Length, or an HTTP/1.0 client (close-delimited) */
    bool http10; /* HTTP/1.0 request: never a chunked response */
    bool drain_wanted;
    void (*on_drain)(void *);
    void *drain_ud;
    /* SSE resume (dtm_resp_sse_resume): events held while the handler reads the backlog */
    ssepend_t *sse_pend;
    dtm_buf_t sse_backlog; /* formatted events the client missed */
    long long sse_min_id;  /* highest id in sse_backlog, -1 when none */
};

struct conn {
    uv_tcp_t tcp; /* first: handle->data is not needed */
    lctx_t *lc;
    conn_t *prev, *next;         /* lc->conns */
    conn_t *sse_prev, *sse_next; /* lc->sse when an event stream */
    llhttp_t parser;
    sreq_t *qhead, *qtail, *cur;
    int qlen;
    int refs;
    dtm_buf_t field, value, url; /* header pieces across reads */
    bool last_was_value;
    char version[8]; /* the request line's "1.1" (what llhttp saw, for 400 vs 505) */
    size_t version_len;
    const char *feed_start; /* the bytes llhttp_execute is parsing, and the byte before them */
    char prev_tail;
    dtm_buf_t wbuf;
    uv_write_t wreq;
    uv_shutdown_t shreq;
    dtm_buf_t pending, pending2; /* unparsed input while paused */
    uint64_t deadline;
    int dl_kind;
    int err_status;       /* set by a callback that aborts parsing */
    const char *err_code; /* its error code */
    const char *err_msg;  /* and message (static) */
    bool writing, closing, shut, reading, paused, parse_dead, in_feed, need_pump, close_after;
    bool sse;
    bool metrics; /* accepted on the metrics listener */
    sreq_t *sse_req;
    uint64_t sse_seen;    /* messages up to this publish number were sent with the backlog */
    long long sse_min_id; /* ids up to this one were in the backlog (-1: none) */
    /* file response */
    uv_fs_t fs;
    uv_file ffd;
    int64_t foff, fleft;
    char *fbuf;
    bool fs_pending;
    char ip[INET6_ADDRSTRLEN];
};

typedef struct ssemsg {
    atomic_int refs;
    size_t len;
    char *topic;
    uint64_t gseq; /* publish number, increasing (under g_pub_mu) */
    long long id;  /* the event's id, -1 when none */
    char data[];
} ssemsg_t;

/* An event stream being set up (dtm_resp_sse_resume): from the handler's call until the
 * connection attaches on its loop, every message of the topic is held here (under g_pub_mu). */
struct ssepend {
    ssepend_t *prev, *next;
    char *topic;
    uint64_t start; /* the first publish number it may hold */
    ssemsg_t **msgs;
    size_t n, cap, bytes;
    bool overflow; /* more than SSE_MAX_QUEUE held: the stream is refused, the client retries */
};

typedef struct {
    uv_write_t w;
    ssemsg_t *m; /* NULL for the static keep-alive comment */
    conn_t *c;
} ssewrite_t;

typedef struct server server_t;

struct loopctx {
    uv_loop_t loop;
    uv_thread_t thread;
    server_t *srv;
    int index;
    uv_tcp_t listener;
    bool listener_open;
    uv_tcp_t mlistener; /* the metrics listener, on the first loop only */
    bool mlistener_open;
    uv_timer_t sweep, ping;
    uv_async_t wake;
    uv_mutex_t smu;     /* streams + SSE queue */
    sreq_t *st_pending; /* streams with new data */
    ssemsg_t **mq;      /* SSE messages to fan out */
    size_t mqn, mqcap;
    atomic_int drain_req, force_req;
    bool handles; /* timers and async initialised */
    bool draining, stopped;
    conn_t *conns, *sse;
    long nconns;
    char rbuf[READ_BUF_SIZE];
};

struct server {
    lctx_t *loops;
    int nloops;
    int port;
    int max_header, read_to, idle_to, drain_to;
    uint64_t tick;
    uv_loop_t ctl;
    uv_async_t stop_async, done_async;
    uv_signal_t sigterm, sigint;
    uv_timer_t drain_timer;
    bool signals, draining;
    atomic_int loops_done;
};

static server_t *g_srv;
static uv_mutex_t g_pub_mu; /* g_srv vs dtm_sse_publish from other threads */
static uv_once_t g_once = UV_ONCE_INIT;
static atomic_int g_stop_pending;
static atomic_long g_inflight, g_conns, g_sse_clients, g_sse_pending;
static ssepend_t *g_pend;  /* under g_pub_mu */
static uint64_t g_pub_seq; /* under g_pub_mu */
static dtm_proxy_fn g_proxy;
static dtm_loop_stop_fn g_loop_stop;
static llhttp_settings_t g_settings;

static void pump(conn_t *c);
static void conn_close(conn_t *c);
static void conn_unref(conn_t *c);
static void stream_flush(conn_t *c, sreq_t *r);
static void loop_check_drained(lctx_t *lc);
static void settings_init(void);

/* ---------------------------------------------------------------- helpers ---- */

static sreq_t *req_of(const dtm_req_t *req)
{
    return (sreq_t *)req->core;
}

static double gauge_inflight(void *ud)
{
    (void)ud;
    return (double)atomic_load(&g_inflight);
}

static double gauge_conns(void *ud)
{
    (void)ud;
    return (double)atomic_load(&g_conns);
}

static double gauge_sse(void *ud)
{
    (void)ud;
    return (double)atomic_load(&g_sse_clients);
}

static void once_init(void)
{
    uv_mutex_init(&g_pub_mu);
    dtm_gauge_fn("http_requests_in_flight", "Requests received and not yet answered", NULL,
                 gauge_inflight, NULL);
    dtm_gauge_fn("http_connections_open", "Open client connections", NULL, gauge_conns, NULL);
    dtm_gauge_fn("dtm_sse_clients", "Connected Server-Sent Events clients", NULL, gauge_sse, NULL);
}

long dtm_server_inflight(void)
{
    return atomic_load(&g_inflight);
}

long dtm_server_connections(void)
{
    return atomic_load(&g_conns);
}

long dtm_sse_clients(void)
{
    return atomic_load(&g_sse_clients);
}

int dtm_server_port(void)
{
    server_t *s = g_srv;
    return s ? s->port : 0;
}

void dtm_server_set_proxy(dtm_proxy_fn fn)
{
    g_proxy = fn;
}

void dtm_server_set_loop_stop(dtm_loop_stop_fn fn)
{
    g_loop_stop = fn;
}

const char *dtm_server_req_peer(const dtm_req_t *req)
{
    return req_of(req)->conn->ip;
}

const char *dtm_server_req_target(const dtm_req_t *req)
{
    const char *t = req_of(req)->target;
    return t ? t : req->path;
}

static bool is_head(const dtm_req_t *req)
{
    return req->method && strcmp(req->method, "HEAD") == 0;
}

struct uv_loop_s *dtm_server_req_loop(const dtm_req_t *req)
{
    sreq_t *r = req_of(req);
    return r && r->conn ? &r->conn->lc->loop : NULL;
}

/* ------------------------------------------------------- request life cycle ---- */

static sreq_t *req_new(conn_t *c)
{
    dtm_arena_t *a = dtm_arena_new(0);
    sreq_t *r = dtm_arena_calloc(a, sizeof *r);
    r->req.arena = a;
    r->req.core = r;
    r->req.client_ip = c->ip;
    r->req.via_metrics_listener = c->metrics;
    r->req.body = "";
    r->conn = c;
    r->core.started = dtm_mono_s();
    r->keep_alive = true;
    r->sse_min_id = -1;
    /* queue it now so responses keep request order */
    if (c->qtail)
        c->qtail->next = r;
    else
        c->qhead = r;
    c->qtail = r;
    c->qlen++;
    r->counted = true;
    atomic_fetch_add(&g_inflight, 1);
    return r;
}

/* Logs (when `log`), then frees everything the request owns. */
static void sse_pend_release(sreq_t *r);

static void req_free(sreq_t *r, int status, bool log)
{
    sse_pend_release(r);
    dtm_buf_free(&r->sse_backlog);
    if (log)
        dtm_router_finish(&r->req, status, dtm_mono_s() - r->core.started);
    if (r->cv_init)
        uv_cond_destroy(&r->cv);
    dtm_buf_free(&r->sq);
    dtm_buf_free(&r->sw);
    if (r->body_heap)
        free(r->body);
    if (r->counted)
        atomic_fetch_sub(&g_inflight, 1);
    dtm_arena_free(r->req.arena);
}

static void q_pop(conn_t *c)
{
    sreq_t *r = c->qhead;
    c->qhead = r->next;
    if (!c->qhead)
        c->qtail = NULL;
    if (c->cur == r)
        c->cur = NULL;
    c->qlen--;
    r->next = NULL;
}

static int resp_status(sreq_t *r)
{
    return r->core.resp.status ? r->core.resp.status : 500;
}

static void ensure_request_id(sreq_t *r)
{
    if (r->req.request_id)
        return;
    char *id = dtm_arena_alloc(r->req.arena, DTM_UUID_LEN + 1);
    dtm_request_id_new(id);
    r->req.request_id = id;
}

/* An error decided by this layer (malformed, too large...): the request is answered and the
 * connection closes after the answer. */
static void req_fail(sreq_t *r, int status, const char *code, const char *message)
{
    if (!r->req.method)
        r->req.method = "-";
    if (!r->req.path)
        r->req.path = "-";
    ensure_request_id(r);
    dtm_resp_t *resp = &r->core.resp;
    memset(resp, 0, sizeof *resp);
    dtm_resp_error(&r->req, status, code, message, NULL);
    r->keep_alive = false;
    r->close_after = true;
    r->complete = true;
    r->ready = true;
}

/* ------------------------------------------------------------ deadlines ---- */

static void set_deadline(conn_t *c, int kind, int ms)
{
    c->dl_kind = kind;
    c->deadline = kind == DL_NONE ? 0 : uv_now(&c->lc->loop) + (uint64_t)ms;
}

static void sweep_cb(uv_timer_t *t)
{
    lctx_t *lc = t->data;
    uint64_t now = uv_now(&lc->loop);
    conn_t *next;
    for (conn_t *c = lc->conns; c; c = next) {
        next = c->next;
        if (!c->closing && c->qhead) {
            /* A producer gave up on a client that read nothing (DTM_WRITE_TIMEOUT_MS). */
            uv_mutex_lock(&lc->smu);
            bool aborted = c->qhead->st_aborted;
            uv_mutex_unlock(&lc->smu);
            if (aborted) {
                conn_close(c);
                continue;
            }
        }
        if (c->closing || !c->deadline || now < c->deadline)
            continue;
        if (c->dl_kind == DL_READ)
            dtm_log_debug("read timeout from %s", c->ip);
        conn_close(c);
    }
}

/* ------------------------------------------------------------ writing ---- */

static void read_start(conn_t *c);

static void on_shutdown(uv_shutdown_t *sr, int status)
{
    conn_t *c = sr->data;
    if (status < 0)
        conn_close(c);
}

/* All responses are out and the connection must end: half-close, then keep reading (and
 * discarding) for a moment so an unread request body does not turn our close into a reset
 * that destroys the response in flight. */
static void conn_finish(conn_t *c)
{
    if (c->closing || c->shut)
        return;
    c->shut = true;
    c->parse_dead = true;
    c->shreq.data = c;
    if (uv_shutdown(&c->shreq, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        conn_close(c);
        return;
    }
    read_start(c);
    set_deadline(c, DL_LINGER, LINGER_MS);
}

static void on_write(uv_write_t *w, int status)
{
    conn_t *c = w->data;
    c->writing = false;
    dtm_buf_reset(&c->wbuf);
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->close_after) {
        conn_finish(c);
        return;
    }
    pump(c);
}

/* Writes c->wbuf: try_write first, the rest asynchronously. */
static void write_out(conn_t *c, bool close_after)
{
    uv_buf_t b = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)c->wbuf.len) {
        dtm_buf_reset(&c->wbuf);
        if (close_after)
            conn_finish(c);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c);
        return;
    }
    if (n > 0) {
        b.base += n;
        b.len -= (size_t)n;
    }
    c->writing = true;
    c->close_after = close_after;
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
        c->writing = false;
        conn_close(c);
    }
}

/* ------------------------------------------------------------ parsing ---- */

static void parse_resume(conn_t *c);

static void read_stop(conn_t *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    conn_t *c = (conn_t *)h;
    lctx_t *lc = c->lc;
    (void)hint;
    /* One read buffer per loop: every read is parsed (and copied where kept) at once. */
    *buf = uv_buf_init(lc->rbuf, sizeof lc->rbuf);
}

static bool header_limit(conn_t *c, sreq_t *r, size_t more)
{
    r->hdr_bytes += more;
    if (r->hdr_bytes > (size_t)c->lc->srv->max_header) {
        c->err_status = 431;
        c->err_code = "headers_too_large";
        return false;
    }
    return true;
}

static int on_message_begin(llhttp_t *p)
{
    conn_t *c = p->data;
    c->cur = req_new(c);
    dtm_buf_reset(&c->url);
    dtm_buf_reset(&c->field);
    dtm_buf_reset(&c->value);
    c->last_was_value = false;
    c->version_len = 0;
    set_deadline(c, DL_READ, c->lc->srv->read_to);
    return 0;
}

static int on_version(llhttp_t *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    size_t n = len < sizeof c->version - c->version_len ? len : sizeof c->version - c->version_len;
    memcpy(c->version + c->version_len, at, n);
    c->version_len += n;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    if (!header_limit(c, c->cur, len)) {
        c->err_status = 414;
        c->err_code = "uri_too_long";
        return -1;
    }
    dtm_buf_append(&c->url, at, len);
    return 0;
}

static void commit_header(conn_t *c)
{
    sreq_t *r = c->cur;
    if (!c->field.len)
        return;
    if (r->req.nheaders == r->hcap) {
        int ncap = r->hcap ? r->hcap * 2 : 16;
        dtm_header_t *n = dtm_arena_alloc(r->req.arena, sizeof *n * (size_t)ncap);
        if (r->req.nheaders)
            memcpy(n, r->hdrs, sizeof *n * (size_t)r->req.nheaders);
        r->hdrs = n;
        r->hcap = ncap;
        r->req.headers = n;
    }
    char *name = dtm_arena_strndup(r->req.arena, c->field.data, c->field.len);
    for (char *s = name; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s + 32);
    size_t vl = c->value.len;
    while (vl && (c->value.data[vl - 1] == ' ' || c->value.data[vl - 1] == '\t'))
        vl--;
    char *value = dtm_arena_strndup(r->req.arena, vl ? c->value.data : "", vl);
    r->hdrs[r->req.nheaders].name = name;
    r->hdrs[r->req.nheaders].value = value;
    r->req.nheaders++;
    dtm_buf_reset(&c->field);
    dtm_buf_reset(&c->value);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    if (c->last_was_value) {
        commit_header(c);
        c->last_was_value = false;
    }
    if (!header_limit(c, c->cur, len + 4))
        return -1;
    dtm_buf_append(&c->field, at, len);
    return 0;
}

static int reject(conn_t *c, int status, const char *code, const char *msg);

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    /* llhttp 8 joins an obs-fold continuation line to the value; RFC 9112 5.2 lets a server
     * refuse it, and we do: the span of a continuation starts right after the LF, with its
     * whitespace. (An empty value is a zero-length span there too: that one is fine.) */
    char before = at > c->feed_start ? at[-1] : c->prev_tail;
    /* An empty value ("Name:\r\n") arrives as an empty span that may point past its line. */
    if (len > 0 && before == '\n')
        return reject(c, 400, "bad_request", "Header line folding (obs-fold) is not accepted");
    if (!header_limit(c, c->cur, len))
        return -1;
    c->last_was_value = true;
    dtm_buf_append(&c->value, at, len);
    return 0;
}

/* A callback refuses the request: parse_error answers it. */
static int reject(conn_t *c, int status, const char *code, const char *msg)
{
    c->err_status = status;
    c->err_code = code;
    c->err_msg = msg;
    return -1;
}

/* Every %XX of a query string is two hex digits, and none decodes to NUL: a value that cannot
 * be decoded is refused here once, not read as absent by each handler. */
static bool query_escapes_ok(const char *q)
{
    for (const char *s = q; (s = strchr(s, '%')) != NULL; s += 3) {
        if (!isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2]) ||
            (s[1] == '0' && s[2] == '0'))
            return false;
    }
    return true;
}

/* "http://host:port/path?q" (absolute form) -> "/path?q" */
static const char *origin_form(const char *u)
{
    if (u[0] == '/')
        return u;
    const char *s = strstr(u, "://");
    if (!s)
        return NULL;
    s = strchr(s + 3, '/');
    return s ? s : "/";
}

static int on_headers_complete(llhttp_t *p)
{
    conn_t *c = p->data;
    sreq_t *r = c->cur;
    dtm_req_t *req = &r->req;
    if (c->last_was_value || c->field.len)
        commit_header(c);
    r->headers_done = true;
    req->method = llhttp_method_name((llhttp_method_t)p->method);
    r->keep_alive = llhttp_should_keep_alive(p) && !c->lc->draining;

    /* llhttp also takes "GET /" (HTTP/0.9) and HTTP/0.9 or 2.0 in a request line. A request
     * line without a version is not one (RFC 9112 3: 400); a well-formed version we do not
     * speak is a 505 (RFC 9110 15.6.6). */
    if (!c->version_len)
        return reject(c, 400, "bad_request", "The request line has no HTTP version");
    if (p->http_major != 1 || p->http_minor > 1)
        return reject(c, 505, "http_version_not_supported",
                      "Only HTTP/1.0 and HTTP/1.1 are supported");
    r->http10 = p->http_minor == 0;
    int hosts = 0;
    for (int i = 0; i < req->nheaders; i++)
        hosts += strcmp(req->headers[i].name, "host") == 0;
    if (hosts > 1 || (hosts == 0 && !r->http10))
        return reject(c, 400, "bad_request",
                      hosts ? "A request carries one Host header, not several"
                            : "An HTTP/1.1 request needs a Host header (RFC 9112 3.2)");
    if (!c->url.len)
        return reject(c, 400, "bad_request", "The request target is missing");
    dtm_buf_append(&c->url, "", 1); /* NUL */
    const char *u = origin_form(c->url.data);
    if (!u)
        return reject(c, 400, "bad_request",
                      "The request target must be a path or an absolute URL");
    const char *q = strchr(u, '?');
    size_t plen = q ? (size_t)(q - u) : strlen(u);
    const char *hash = memchr(u, '#', plen);
    if (hash)
        plen = (size_t)(hash - u);
    char *path = dtm_arena_alloc(req->arena, plen + 1);
    if (dtm_url_decode(u, plen, path, false) < 0)
        return reject(c, 400, "bad_request",
                      "The path has a malformed or NUL (%00) percent-encoding");
    req->path = path;
    r->target = dtm_arena_strdup(req->arena, u);
    if (q) {
        const char *qe = strchr(q + 1, '#');
        req->raw_query =
            dtm_arena_strndup(req->arena, q + 1, qe ? (size_t)(qe - q - 1) : strlen(q + 1));
        if (!query_escapes_ok(req->raw_query))
            return reject(c, 400, "bad_request",
                          "The query string has a malformed or NUL (%00) percent-encoding");
    }
    /* llhttp lets an empty Transfer-Encoding pass beside a Content-Length; any request with
     * both is a smuggling attempt (RFC 9112 6.1). Found by the fuzz harness's rule check. */
    if (dtm_req_header(req, "transfer-encoding") && dtm_req_header(req, "content-length"))
        return reject(c, 400, "bad_request",
                      "A request carries Content-Length or Transfer-Encoding, not both");
    const char *expect = dtm_req_header(req, "expect");
    if (expect) {
        if (!dtm_streq_ci(expect, "100-continue"))
            return reject(c, 417, "expectation_failed", "Only Expect: 100-continue is supported");
        r->expect_continue = true;
    }

    r->max_body = 0;
    r->dispatch = dtm_router_match(req, &r->max_body);
    if (r->max_body <= 0)
        r->max_body = dtm_cfg.max_body_bytes > 0 ? dtm_cfg.max_body_bytes : 1024 * 1024;
    bool has_body = (p->flags & F_CHUNKED) || p->content_length > 0;
    if (r->dispatch == DTM_DISPATCH_DONE) {
        /* Answered without reading the body: reply at once and close if a body follows. */
        r->ready = true;
        if (has_body) {
            r->keep_alive = false;
            r->close_after = true;
            r->complete = true;
            c->parse_dead = true;
            c->need_pump = true;
            return -2; /* stops the parser: see feed() */
        }
        return 0;
    }
    if (!(p->flags & F_CHUNKED) && p->content_length > 0) {
        if (p->content_length > (uint64_t)r->max_body) {
            c->err_status = 413;
            return -1;
        }
        r->body_cap = (size_t)p->content_length + 1;
        r->body = dtm_arena_alloc(req->arena, r->body_cap);
    }
    if (r->expect_continue && has_body && c->qhead == r && !c->writing) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        uv_buf_t b = uv_buf_init((char *)cont, sizeof cont - 1);
        uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    sreq_t *r = c->cur;
    if (r->body_len + len > (size_t)r->max_body) {
        c->err_status = 413;
        return -1;
    }
    if (r->body_len + len + 1 > r->body_cap) {
        size_t ncap = r->body_cap ? r->body_cap * 2 : 4096;
        while (ncap < r->body_len + len + 1)
            ncap *= 2;
        if (r->body_heap) {
            r->body = dtm_realloc(r->body, ncap);
        } else {
            char *nb = dtm_alloc(ncap);
            if (r->body_len)
                memcpy(nb, r->body, r->body_len);
            r->body = nb;
            r->body_heap = true;
        }
        r->body_cap = ncap;
    }
    memcpy(r->body + r->body_len, at, len);
    r->body_len += len;
    return 0;
}

static void after_work(uv_work_t *w, int status);
static void work_cb(uv_work_t *w)
{
    sreq_t *r = w->data;
    dtm_router_run(&r->req);
}

/* The handler returned (loop or worker). */
static void handler_done(sreq_t *r)
{
    dtm_resp_t *resp = &r->core.resp;
    if (resp->kind == DTM_RESP_STREAM && !r->st_ended) {
        /* the handler forgot dtm_resp_stream_end */
        dtm_resp_stream_end(&r->req);
    }
    r->ready = true;
}

static void dispatch(conn_t *c, sreq_t *r)
{
    switch (r->dispatch) {
    case DTM_DISPATCH_DONE:
        r->ready = true;
        break;
    case DTM_DISPATCH_LOOP:
        dtm_router_run(&r->req);
        handler_done(r);
        break;
    case DTM_DISPATCH_WORKER:
        r->busy = true;
        c->refs++;
        r->work.data = r;
        if (uv_queue_work(&c->lc->loop, &r->work, work_cb, after_work) < 0) {
            r->busy = false;
            c->refs--;
            dtm_resp_err(&r->req, DTM_EINTERNAL, NULL);
            r->ready = true;
        }
        break;
    case DTM_DISPATCH_PROXY:
        if (g_proxy) {
            r->busy = true;
            c->refs++;
            g_proxy(&r->req); /* calls dtm_server_resp_ready when done */
        } else {
            dtm_resp_err(&r->req, DTM_EUNAVAIL, "The service is not reachable from here");
            r->ready = true;
        }
        break;
    }
}

static int on_message_complete(llhttp_t *p)
{
    conn_t *c = p->data;
    sreq_t *r = c->cur;
    c->cur = NULL;
    r->complete = true;
    if (r->body) {
        r->body[r->body_len] = '\0';
        r->req.body = r->body;
        r->req.body_len = r->body_len;
    }
    set_deadline(c, DL_NONE, 0);
    if (!r->ready)
        dispatch(c, r);
    c->need_pump = true;
    return c->qlen >= MAX_PIPELINE ? HPE_PAUSED : 0;
}

/* What llhttp refused, in words for the client: its error names are internals. */
static const char *parse_error_message(llhttp_errno_t e)
{
    switch (e) {
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        return "Content-Length and Transfer-Encoding must not both be present";
    case HPE_INVALID_CONTENT_LENGTH:
        return "Content-Length is not a single decimal number";
    case HPE_INVALID_TRANSFER_ENCODING:
        return "Transfer-Encoding must end with chunked";
    case HPE_INVALID_CHUNK_SIZE:
        return "A chunk size is malformed";
    case HPE_INVALID_HEADER_TOKEN:
        return "A header field has an invalid character (no space before the colon, no "
               "line folding)";
    case HPE_INVALID_METHOD:
        return "Unknown request method";
    case HPE_INVALID_URL:
        return "The request target has invalid characters";
    case HPE_INVALID_VERSION:
        return "The HTTP version is malformed";
    case HPE_STRICT:
        return "Chunk data must be followed by CRLF";
    case HPE_CR_EXPECTED:
    case HPE_LF_EXPECTED:
        return "Lines end with CRLF";
    case HPE_INVALID_EOF_STATE:
        return "The request ended early";
    default:
        return "Malformed HTTP request";
    }
}

/* "1.2", "3.0": a version, just not ours (llhttp refuses them as invalid). */
static bool version_well_formed(const conn_t *c)
{
    return c->version_len == 3 && isdigit((unsigned char)c->version[0]) && c->version[1] == '.' &&
           isdigit((unsigned char)c->version[2]);
}

static void parse_error(conn_t *c, llhttp_errno_t e)
{
    sreq_t *r = c->cur;
    if (!r || r->complete)
        r = req_new(c);
    c->cur = NULL;
    int status = c->err_status ? c->err_status : 400;
    const char *code = c->err_code ? c->err_code : "bad_request";
    const char *msg = c->err_msg;
    if (e == HPE_PAUSED_H2_UPGRADE || (e == HPE_INVALID_VERSION && version_well_formed(c))) {
        status = 505;
        code = "http_version_not_supported";
        msg = "Only HTTP/1.0 and HTTP/1.1 are supported";
    }
    switch (status) {
    case 413:
        code = "payload_too_large";
        msg = dtm_arena_sprintf(r->req.arena, "Request body exceeds %ld bytes", r->max_body);
        break;
    case 414:
        code = "uri_too_long";
        msg = "The request target is too long";
        break;
    case 431:
        code = "headers_too_large";
        msg = "Request header fields are too large";
        break;
    default:
        if (!msg)
            msg = parse_error_message(e);
    }
    req_fail(r, status, code, msg);
    c->parse_dead = true;
    c->need_pump = true;
}

/* Parses data; stops on pause (pipeline full: the rest is kept) or error. */
static void feed(conn_t *c, const char *data, size_t n)
{
    c->in_feed = true;
    if (n && !c->parse_dead && !c->closing) {
        c->feed_start = data;
        char tail_before = c->prev_tail;
        llhttp_errno_t e = llhttp_execute(&c->parser, data, n);
        c->prev_tail = data[n - 1];
        switch (e) {
        case HPE_OK:
            break;
        case HPE_PAUSED: {
            const char *at = llhttp_get_error_pos(&c->parser);
            size_t off = at && at >= data && at <= data + n ? (size_t)(at - data) : n;
            dtm_buf_append(&c->pending, data + off, n - off);
            c->prev_tail = off ? data[off - 1] : tail_before; /* what precedes the kept rest */
            c->paused = true;
            read_stop(c);
            break;
        }
        case HPE_PAUSED_UPGRADE:
            /* No protocol switching here: answer what arrived and close. */
            if (c->qtail)
                c->qtail->keep_alive = false;
            c->parse_dead = true;
            break;
        case HPE_CLOSED_CONNECTION:
            c->parse_dead = true; /* bytes after a request that closes the connection */
            break;
        case HPE_CB_HEADERS_COMPLETE:
            if (c->parse_dead && !c->err_status)
                break; /* answered early (DONE with a body) */
            parse_error(c, e);
            break;
        default:
            parse_error(c, e);
        }
    }
    c->in_feed = false;
    if (c->need_pump) {
        c->need_pump = false;
        pump(c);
    }
}

static void parse_resume(conn_t *c)
{
    if (!c->paused || c->closing)
        return;
    c->paused = false;
    llhttp_resume(&c->parser);
    dtm_buf_t tmp = c->pending;
    c->pending = c->pending2;
    c->pending2 = tmp;
    dtm_buf_reset(&c->pending);
    if (c->pending2.len)
        feed(c, c->pending2.data, c->pending2.len);
    dtm_buf_reset(&c->pending2);
    if (!c->paused && !c->closing)
        read_start(c);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn_t *c = (conn_t *)s;
    if (n < 0) {
        conn_close(c);
        return;
    }
    if (n == 0 || c->parse_dead || c->sse || c->closing)
        return; /* discard */
    feed(c, buf->base, (size_t)n);
}

static void read_start(conn_t *c)
{
    if (c->reading || c->closing)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read) == 0)
        c->reading = true;
}

/* ------------------------------------------------------------ responses ---- */

static void sse_attach(conn_t *c, sreq_t *r);
static void file_start(conn_t *c, sreq_t *r);

/* The queue head is done (its bytes are out or in c->wbuf): log, free, next. */
static void head_done(conn_t *c, int status)
{
    sreq_t *r = c->qhead;
    q_pop(c);
    req_free(r, status, true);
}

/* Writes every ready response at the head of the queue, in order. */
static void pump(conn_t *c)
{
    if (c->in_feed) {
        c->need_pump = true;
        return;
    }
    while (!c->writing && !c->closing && !c->shut && !c->sse) {
        bool close_after = false;
        sreq_t *special = NULL;
        while (c->qhead && c->qhead->ready && !close_after) {
            sreq_t *r = c->qhead;
            dtm_resp_t *resp = &r->core.resp;
            if (resp->kind == DTM_RESP_FILE || resp->kind == DTM_RESP_STREAM ||
                resp->kind == DTM_RESP_SSE) {
                special = r;
                break;
            }
            if (r->busy)
                break; /* a proxy or worker still holds it */
            if (resp->kind == DTM_RESP_NONE || !resp->status) {
                memset(resp, 0, sizeof *resp);
                dtm_resp_err(&r->req, DTM_EINTERNAL, NULL);
            }
            bool ka = r->keep_alive && !r->close_after && !c->lc->draining;
            dtm_resp_serialize(&r->req, ka, &c->wbuf);
            head_done(c, resp_status(r));
            if (!ka)
                close_after = true;
        }
        if (c->wbuf.len) {
            write_out(c, close_after); /* flush what precedes a special response too */
            if (c->writing || c->closing || c->shut)
                return;
            if (special)
                continue;
        } else if (close_after) {
            conn_finish(c);
            return;
        }
        if (special) {
            dtm_resp_t *resp = &special->core.resp;
            if (resp->kind == DTM_RESP_FILE)
                file_start(c, special);
            else if (resp->kind == DTM_RESP_STREAM)
                stream_flush(c, special);
            else
                sse_attach(c, special);
            return;
        }
        break;
    }
    if (c->writing || c->closing || c->shut || c->sse)
        return;
    if (c->paused && c->qlen <= RESUME_PIPELINE) {
        parse_resume(c);
        return;
    }
    if (!c->qhead) {
        if (c->lc->draining || c->parse_dead)
            conn_finish(c);
        else
            set_deadline(c, DL_IDLE, c->lc->srv->idle_to);
    }
}

void dtm_server_resp_ready(dtm_req_t *req)
{
    sreq_t *r = req_of(req);
    conn_t *c = r->conn;
    r->busy = false;
    if (r->orphan) {
        req_free(r, 499, true);
        conn_unref(c);
        return;
    }
    r->ready = true;
    c->refs--;
    pump(c);
}

bool dtm_server_req_gone(const dtm_req_t *req)
{
    return req_of(req)->orphan;
}

static void after_work(uv_work_t *w, int status)
{
    sreq_t *r = w->data;
    conn_t *c = r->conn;
    lctx_t *lc = c->lc;
    (void)status;
    uv_mutex_lock(&lc->smu);
    if (r->st_signaled) {
        /* drop it from the loop's pending list: it may be freed below */
        for (sreq_t **pp = &lc->st_pending; *pp; pp = &(*pp)->st_next) {
            if (*pp == r) {
                *pp = r->st_next;
                break;
            }
        }
        r->st_signaled = false;
    }
    uv_mutex_unlock(&lc->smu);
    r->busy = false;
    if (r->orphan) {
        req_free(r, 499, true);
        conn_unref(c);
        return;
    }
    handler_done(r);
    c->refs--;
    pump(c);
}

/* ------------------------------------------------------------ files ---- */

/* One fs operation at a time per connection; it holds a reference on the connection. */
static void fs_begin(conn_t *c)
{
    c->refs++;
    c->fs_pending = true;
}

/* At the top of every fs callback. True when the client left meanwhile: everything is
 * cleaned up and the callback just returns. */
static bool fs_end(conn_t *c)
{
    c->fs_pending = false;
    if (!c->closing) {
        c->refs--;
        return false;
    }
    if (c->ffd >= 0) {
        close(c->ffd);
        c->ffd = -1;
    }
    sreq_t *r = c->qhead;
    if (r) {
        q_pop(c);
        req_free(r, 499, true);
    }
    conn_unref(c);
    return true;
}

static void file_end(conn_t *c, bool ok)
{
    if (c->ffd >= 0) {
        close(c->ffd);
        c->ffd = -1;
    }
    c->writing = false;
    dtm_buf_reset(&c->wbuf);
    if (!ok) {
        conn_close(c);
        return;
    }
    sreq_t *r = c->qhead;
    bool ka = r->keep_alive && !r->close_after && !c->lc->draining;
    head_done(c, 200);
    if (!ka)
        conn_finish(c);
    else
        pump(c);
}

static void file_read_cb(uv_fs_t *fs);

static void file_read_next(conn_t *c)
{
    fs_begin(c);
    uv_buf_t b = uv_buf_init(c->fbuf, FILE_CHUNK);
    if (uv_fs_read(&c->lc->loop, &c->fs, c->ffd, &b, 1, c->foff, file_read_cb) < 0) {
        fs_end(c);
        file_end(c, false);
    }
}

static void file_write_cb(uv_write_t *w, int status)
{
    conn_t *c = w->data;
    dtm_buf_reset(&c->wbuf);
    if (c->closing)
        return; /* on_close cleans up */
    if (status < 0) {
        file_end(c, false);
        return;
    }
    if (c->fleft <= 0)
        file_end(c, true);
    else
        file_read_next(c);
}

static void file_send(conn_t *c, const char *data, size_t len)
{
    uv_buf_t bufs[2];
    unsigned nb = 0;
    if (c->wbuf.len)
        bufs[nb++] = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
    if (len)
        bufs[nb++] = uv_buf_init((char *)data, (unsigned)len);
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, nb, file_write_cb) < 0)
        file_end(c, false);
}

static void file_read_cb(uv_fs_t *fs)
{
    conn_t *c = fs->data;
    ssize_t n = fs->result;
    uv_fs_req_cleanup(fs);
    if (fs_end(c))
        return;
    if (n <= 0) {
        file_end(c, false); /* the file shrank under us: the length we sent is wrong */
        return;
    }
    if (n > c->fleft)
        n = (ssize_t)c->fleft;
    c->foff += n;
    c->fleft -= n;
    file_send(c, c->fbuf, (size_t)n);
}

static void file_not_found(conn_t *c, sreq_t *r)
{
    if (c->ffd >= 0) {
        close(c->ffd);
        c->ffd = -1;
    }
    dtm_resp_t *resp = &r->core.resp;
    memset(resp, 0, sizeof *resp);
    dtm_resp_err(&r->req, DTM_ENOTFOUND, NULL);
    c->writing = false;
    pump(c);
}

static void file_stat_cb(uv_fs_t *fs)
{
    conn_t *c = fs->data;
    int res = (int)fs->result;
    uv_stat_t st = fs->statbuf;
    uv_fs_req_cleanup(fs);
    if (fs_end(c))
        return;
    sreq_t *r = c->qhead;
    if (res < 0 || !S_ISREG(st.st_mode)) {
        file_not_found(c, r);
        return;
    }
    dtm_resp_t *resp = &r->core.resp;
    bool ka = r->keep_alive && !r->close_after && !c->lc->draining;
    dtm_buf_reset(&c->wbuf);
    if (resp->cache_control)
        dtm_resp_header(&r->req, "Cache-Control", resp->cache_control);
    resp->status = 200;
    resp->body_len = (size_t)st.st_size; /* bytes_out in the access log */
    dtm_resp_head(&r->req, 200, ka, (long long)st.st_size,
                  resp->content_type ? resp->content_type : "application/octet-stream", &c->wbuf);
    c->foff = 0;
    c->fleft = (int64_t)st.st_size;
    if (is_head(&r->req))
        c->fleft = 0;
    if (c->fleft == 0) {
        file_send(c, NULL, 0);
        return;
    }
    if (!c->fbuf)
        c->fbuf = dtm_alloc(FILE_CHUNK);
    file_read_next(c);
}

static void file_open_cb(uv_fs_t *fs)
{
    conn_t *c = fs->data;
    int res = (int)fs->result;
    uv_fs_req_cleanup(fs);
    if (res >= 0)
        c->ffd = res;
    if (fs_end(c))
        return;
    if (res < 0) {
        file_not_found(c, c->qhead);
        return;
    }
    fs_begin(c);
    if (uv_fs_fstat(&c->lc->loop, &c->fs, c->ffd, file_stat_cb) < 0) {
        fs_end(c);
        file_end(c, false);
    }
}

/* The head of the queue is a file response: open, fstat, then read/write 64 KiB at a time on
 * the thread pool and the loop, never blocking the loop. */
static void file_start(conn_t *c, sreq_t *r)
{
    dtm_resp_t *resp = &r->core.resp;
    c->writing = true;
    c->ffd = -1;
    c->fs.data = c;
    fs_begin(c);
    if (uv_fs_open(&c->lc->loop, &c->fs, resp->file_path, O_RDONLY | O_CLOEXEC, 0, file_open_cb) <
        0) {
        fs_end(c);
        file_not_found(c, r);
    }
}

void dtm_resp_file(dtm_req_t *req, const char *path, const char *content_type,
                   const char *cache_control)
{
    dtm_resp_t *r = dtm_req_resp(req);
    r->kind = DTM_RESP_FILE;
    r->status = 200;
    r->file_path = dtm_arena_strdup(req->arena, path);
    r->content_type = dtm_arena_strdup(req->arena, content_type);
    r->cache_control = dtm_arena_strdup(req->arena, cache_control);
}

/* ------------------------------------------------------------ streams ---- */

/* Under lc->smu: make the loop look at r. */
static void stream_signal(sreq_t *r)
{
    lctx_t *lc = r->conn->lc;
    if (!r->st_signaled && !r->gone && !lc->stopped) {
        r->st_signaled = true;
        r->st_next = lc->st_pending;
        lc->st_pending = r;
        uv_async_send(&lc->wake);
    }
}

void dtm_resp_stream_begin(dtm_req_t *req, int status, const char *content_type)
{
    sreq_t *r = req_of(req);
    lctx_t *lc = r->conn->lc;
    dtm_resp_t *resp = &r->core.resp;
    dtm_buf_t head;
    dtm_buf_init(&head);
    resp->status = status;
    resp->content_type = dtm_arena_strdup(req->arena, content_type);
    /* HTTP/1.0 has no chunked coding: the body ends when the connection does. */
    r->st_raw = r->http10;
    if (r->http10)
        r->keep_alive = false;
    else
        dtm_resp_header(req, "Transfer-Encoding", "chunked");
    /* A default: the handler's own policy (no-store on a personal-data export) wins. */
    dtm_resp_header_default(req, "Cache-Control", "no-cache");
    dtm_resp_head(req, status, r->keep_alive, -1, resp->content_type, &head);
    uv_mutex_lock(&lc->smu);
    if (!r->cv_init) {
        uv_cond_init(&r->cv);
        r->cv_init = true;
    }
    resp->kind = DTM_RESP_STREAM;
    r->st_begun = true;
    dtm_buf_append(&r->sq, head.data, head.len);
    r->queued += head.len;
    stream_signal(r);
    uv_mutex_unlock(&lc->smu);
    dtm_buf_free(&head);
}

int dtm_resp_stream_write(dtm_req_t *req, const void *data, size_t len)
{
    sreq_t *r = req_of(req);
    lctx_t *lc = r->conn->lc;
    if (!r->st_begun)
        return -1;
    uv_mutex_lock(&lc->smu);
    /* Each wake-up means the socket took bytes; a client that takes none for the write timeout
     * is cut off, or it would hold this worker (and its database connection) forever. */
    uint64_t limit_ns =
        (uint64_t)(dtm_cfg.write_timeout_ms > 0 ? dtm_cfg.write_timeout_ms : 30000) * 1000000ull;
    while (r->queued > STREAM_HIGH && !r->gone && !r->st_aborted) {
        if (uv_cond_timedwait(&r->cv, &lc->smu, limit_ns) == UV_ETIMEDOUT &&
            r->queued > STREAM_HIGH && !r->gone) {
            r->st_aborted = true;
            stream_signal(r);
            uv_mutex_unlock(&lc->smu);
            return -1;
        }
    }
    if (r->gone || r->st_aborted) {
        uv_mutex_unlock(&lc->smu);
        return -1;
    }
    if (len && !is_head(req)) {
        size_t before = r->sq.len;
        if (!r->st_raw)
            dtm_buf_printf(&r->sq, "%zx\r\n", len);
        dtm_buf_append(&r->sq, data, len);
        if (!r->st_raw)
            dtm_buf_append(&r->sq, "\r\n", 2);
        r->queued += r->sq.len - before;
        r->core.resp.body_len += len;
        stream_signal(r);
    }
    uv_mutex_unlock(&lc->smu);
    return 0;
}

void dtm_resp_stream_end(dtm_req_t *req)
{
    sreq_t *r = req_of(req);
    lctx_t *lc = r->conn->lc;
    if (!r->st_begun)
        return;
    uv_mutex_lock(&lc->smu);
    if (!r->st_ended) {
        r->st_ended = true;
        if (!is_head(req) && !r->st_raw) {
            dtm_buf_append(&r->sq, "0\r\n\r\n", 5);
            r->queued += 5;
        }
        stream_signal(r);
    }
    uv_mutex_unlock(&lc->smu);
}

/* ---- loop-side streams (the gateway relays upstream bodies) ---- */

void dtm_server_stream_begin(dtm_req_t *req, int status, const char *content_type,
                             long long content_length)
{
    sreq_t *r = req_of(req);
    conn_t *c = r->conn;
    lctx_t *lc = c->lc;
    dtm_resp_t *resp = &r->core.resp;
    dtm_buf_t head;
    dtm_buf_init(&head);
    resp->status = status;
    resp->content_type = dtm_arena_strdup(req->arena, content_type);
    r->st_raw = content_length >= 0 || r->http10;
    if (!r->st_raw)
        dtm_resp_header(req, "Transfer-Encoding", "chunked");
    else if (content_length < 0)
        r->keep_alive = false; /* HTTP/1.0, unknown length: close-delimited */
    dtm_resp_head(req, status, r->keep_alive && !r->close_after, content_length, resp->content_type,
                  &head);
    uv_mutex_lock(&lc->smu);
    resp->kind = DTM_RESP_STREAM;
    r->st_begun = true;
    dtm_buf_append(&r->sq, head.data, head.len);
    r->queued += head.len;
    uv_mutex_unlock(&lc->smu);
    dtm_buf_free(&head);
    r->ready = true;
    if (c->qhead == r)
        pump(c);
}

size_t dtm_server_stream_write(dtm_req_t *req, const void *data, size_t len)
{
    sreq_t *r = req_of(req);
    conn_t *c = r->conn;
    lctx_t *lc = c->lc;
    uv_mutex_lock(&lc->smu);
    if (len && !is_head(req) && !r->gone) {
        size_t before = r->sq.len;
        if (!r->st_raw)
            dtm_buf_printf(&r->sq, "%zx\r\n", len);
        dtm_buf_append(&r->sq, data, len);
        if (!r->st_raw)
            dtm_buf_append(&r->sq, "\r\n", 2);
        r->queued += r->sq.len - before;
        r->core.resp.body_len += len;
    }
    size_t q = r->queued;
    uv_mutex_unlock(&lc->smu);
    if (q > STREAM_HIGH)
        r->drain_wanted = true;
    if (c->qhead == r && !c->closing)
        stream_flush(c, r);
    return q;
}

void dtm_server_stream_end(dtm_req_t *req)
{
    sreq_t *r = req_of(req);
    lctx_t *lc = r->conn->lc;
    uv_mutex_lock(&lc->smu);
    if (!r->st_ended) {
        r->st_ended = true;
        if (!is_head(req) && !r->st_raw) {
            dtm_buf_append(&r->sq, "0\r\n\r\n", 5);
            r->queued += 5;
        }
    }
    uv_mutex_unlock(&lc->smu);
}

void dtm_server_stream_abort(dtm_req_t *req)
{
    conn_close(req_of(req)->conn);
}

void dtm_server_stream_on_drain(dtm_req_t *req, void (*fn)(void *), void *ud)
{
    sreq_t *r = req_of(req);
    r->on_drain = fn;
    r->drain_ud = ud;
}

static void stream_written(uv_write_t *w, int status)
{
    sreq_t *r = w->data;
    conn_t *c = r->conn;
    lctx_t *lc = c->lc;
    c->writing = false;
    uv_mutex_lock(&lc->smu);
    r->queued -= r->sw.len;
    if (r->cv_init)
        uv_cond_broadcast(&r->cv);
    uv_mutex_unlock(&lc->smu);
    dtm_buf_reset(&r->sw);
    if (status < 0 || c->closing) {
        conn_close(c);
        return;
    }
    if (r->drain_wanted && r->queued < STREAM_HIGH / 2 && r->on_drain) {
        r->drain_wanted = false;
        r->on_drain(r->drain_ud); /* the producer resumes; its data comes in later callbacks */
    }
    stream_flush(c, r);
}

/* On the loop, r at the head of the queue: hand produced bytes to the socket; when the
 * producer ended and everything is out, the request is done. */
static void stream_flush(conn_t *c, sreq_t *r)
{
    lctx_t *lc = c->lc;
    uv_mutex_lock(&lc->smu);
    bool aborted = r->st_aborted;
    uv_mutex_unlock(&lc->smu);
    if (aborted && !c->closing) {
        conn_close(c); /* also cancels the write the client never drained */
        return;
    }
    if (c->writing || c->closing || c->qhead != r)
        return;
    uv_mutex_lock(&lc->smu);
    dtm_buf_t t = r->sw;
    r->sw = r->sq;
    r->sq = t;
    bool ended = r->st_ended;
    uv_mutex_unlock(&lc->smu);
    if (r->sw.len) {
        r->stw.data = r;
        uv_buf_t b = uv_buf_init(r->sw.data, (unsigned)r->sw.len);
        c->writing = true;
        if (uv_write(&r->stw, (uv_stream_t *)&c->tcp, &b, 1, stream_written) < 0) {
            c->writing = false;
            conn_close(c);
        }
        return;
    }
    if (ended && !r->busy) {
        bool ka = r->keep_alive && !c->lc->draining;
        head_done(c, r->core.resp.status);
        if (!ka)
            conn_finish(c);
        else
            pump(c);
    }
}

/* ------------------------------------------------------------ SSE ---- */

/* The per-process bound on event streams (DTM_SSE_MAX_CLIENTS), counting those being set up:
 * past it the request gets 503 with Retry-After, so a flood of streams cannot take every file
 * descriptor and the loops' memory. */
static bool sse_admit(dtm_req_t *req)
{
    if (req->internal || !req->core) {
        dtm_resp_error(req, 400, "bad_request", "Event streams are for clients only", NULL);
        return false;
    }
    long n = atomic_load(&g_sse_clients) + atomic_load(&g_sse_pending);
    if (dtm_cfg.sse_max_clients > 0 && n >= dtm_cfg.sse_max_clients) {
        dtm_resp_header(req, "Retry-After", "5");
        dtm_resp_error(req, 503, "too_many_streams",
                       "Too many event streams are open on this server; retry later", NULL);
        return false;
    }
    return true;
}

static void sse_resp_set(dtm_req_t *req, const char *topic)
{
    dtm_resp_t *r = dtm_req_resp(req);
    r->kind = DTM_RESP_SSE;
    r->status = 200;
    r->sse_topic = dtm_arena_strdup(req->arena, topic);
}

void dtm_resp_sse(dtm_req_t *req, const char *topic)
{
    if (sse_admit(req))
        sse_resp_set(req, topic);
}

bool dtm_resp_sse_resume(dtm_req_t *req, const char *topic)
{
    uv_once(&g_once, once_init);
    if (!sse_admit(req))
        return false;
    sreq_t *sr = req_of(req);
    if (sr->sse_pend)
        return true;
    ssepend_t *p = dtm_alloc(sizeof *p);
    memset(p, 0, sizeof *p);
    p->topic = dtm_strdup(topic);
    uv_mutex_lock(&g_pub_mu);
    p->start = g_pub_seq + 1;
    p->next = g_pend;
    if (g_pend)
        g_pend->prev = p;
    g_pend = p;
    uv_mutex_unlock(&g_pub_mu);
    atomic_fetch_add(&g_sse_pending, 1);
    sr->sse_pend = p;
    sse_resp_set(req, topic);
    return true;
}

static void sse_format(dtm_buf_t *b, long long id, const char *event, const char *data);

void dtm_resp_sse_event(dtm_req_t *req, long long id, const char *event, const char *data)
{
    sreq_t *sr = req_of(req);
    sse_format(&sr->sse_backlog, id, event, data);
    if (id > sr->sse_min_id)
        sr->sse_min_id = id;
}

/* Unhook a request's held messages (attach took them, or the request ended first). */
static void sse_pend_take(ssepend_t *p)
{
    uv_mutex_lock(&g_pub_mu);
    if (p->prev)
        p->prev->next = p->next;
    else
        g_pend = p->next;
    if (p->next)
        p->next->prev = p->prev;
    uv_mutex_unlock(&g_pub_mu);
    atomic_fetch_sub(&g_sse_pending, 1);
}

static void sse_msg_unref(ssemsg_t *m)
{
    if (atomic_fetch_sub(&m->refs, 1) == 1)
        free(m);
}

static void sse_pend_free(ssepend_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        sse_msg_unref(p->msgs[i]);
    free(p->msgs);
    free(p->topic);
    free(p);
}

static void sse_pend_release(sreq_t *r)
{
    if (!r->sse_pend)
        return;
    sse_pend_take(r->sse_pend);
    sse_pend_free(r->sse_pend);
    r->sse_pend = NULL;
}

static void sse_written(uv_write_t *w, int status)
{
    ssewrite_t *sw = (ssewrite_t *)w;
    if (sw->m && atomic_fetch_sub(&sw->m->refs, 1) == 1)
        free(sw->m);
    if (status < 0 && !sw->c->closing)
        conn_close(sw->c);
    free(sw);
}

static void sse_send(conn_t *c, ssemsg_t *m, const char *data, size_t len)
{
    if (c->closing)
        return;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > SSE_MAX_QUEUE) {
        conn_close(c); /* too slow: the client reconnects and catches up itself */
        return;
    }
    ssewrite_t *sw = dtm_alloc(sizeof *sw);
    sw->m = m;
    sw->c = c;
    if (m)
        atomic_fetch_add(&m->refs, 1);
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    if (uv_write(&sw->w, (uv_stream_t *)&c->tcp, &b, 1, sse_written) < 0) {
        if (m)
            atomic_fetch_sub(&m->refs, 1);
        free(sw);
        conn_close(c);
    }
}

static void sse_attach(conn_t *c, sreq_t *r)
{
    lctx_t *lc = c->lc;
    q_pop(c);
    /* An event stream ends the connection's HTTP life: drop anything pipelined behind it. */
    while (c->qhead) {
        sreq_t *x = c->qhead;
        if (x->busy) {
            x->orphan = true;
            q_pop(c);
            continue;
        }
        q_pop(c);
        req_free(x, 499, false);
    }
    c->parse_dead = true;
    c->sse = true;
    c->sse_req = r;
    c->sse_min_id = r->sse_min_id;
    ssepend_t *held = r->sse_pend;
    r->sse_pend = NULL;
    if (held) {
        sse_pend_take(held);
        /* Everything published since the handler began is either held here or still queued
         * for this loop's fan-out, in publish order: what is held goes out now, and the fan-out
         * skips it (and anything older, which the backlog covers). */
        c->sse_seen = held->n ? held->msgs[held->n - 1]->gseq : held->start - 1;
        if (held->start - 1 > c->sse_seen)
            c->sse_seen = held->start - 1;
    }
    r->counted = false; /* a subscriber, no longer a request in flight */
    atomic_fetch_sub(&g_inflight, 1);
    set_deadline(c, DL_NONE, 0);
    c->sse_next = lc->sse;
    c->sse_prev = NULL;
    if (lc->sse)
        lc->sse->sse_prev = c;
    lc->sse = c;
    atomic_fetch_add(&g_sse_clients, 1);
    dtm_resp_header_default(&r->req, "Cache-Control", "no-cache");
    dtm_resp_header(&r->req, "X-Accel-Buffering", "no");
    dtm_buf_reset(&c->wbuf);
    /* No length and no chunking: the stream ends when the connection does. */
    dtm_resp_head(&r->req, 200, false, -1, "text/event-stream; charset=utf-8", &c->wbuf);
    dtm_buf_puts(&c->wbuf, ": connected\n\n");
    if (r->sse_backlog.len)
        dtm_buf_append(&c->wbuf, r->sse_backlog.data, r->sse_backlog.len);
    if (held) {
        bool overflow = held->overflow;
        for (size_t i = 0; i < held->n && !overflow; i++) {
            ssemsg_t *m = held->msgs[i];
            if (m->id < 0 || m->id > c->sse_min_id)
                dtm_buf_append(&c->wbuf, m->data, m->len);
        }
        sse_pend_free(held);
        if (overflow) {
            /* Too much happened while the backlog was read: end the stream; the client
             * resumes from the last id it got. */
            conn_close(c);
            return;
        }
    }
    uv_buf_t b = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c);
        return;
    }
    if (n < (int)b.len) {
        size_t done = n > 0 ? (size_t)n : 0;
        sse_send(c, NULL, c->wbuf.data + done, b.len - done);
        /* wbuf stays untouched while that write is queued: SSE never uses it again */
    }
}

static void sse_detach(conn_t *c)
{
    lctx_t *lc = c->lc;
    if (c->sse_prev)
        c->sse_prev->sse_next = c->sse_next;
    else
        lc->sse = c->sse_next;
    if (c->sse_next)
        c->sse_next->sse_prev = c->sse_prev;
    atomic_fetch_sub(&g_sse_clients, 1);
    if (c->sse_req) {
        req_free(c->sse_req, 200, true);
        c->sse_req = NULL;
    }
}

static void ping_cb(uv_timer_t *t)
{
    static const char ping[] = ": keep-alive\n\n";
    lctx_t *lc = t->data;
    conn_t *next;
    for (conn_t *c = lc->sse; c; c = next) {
        next = c->sse_next;
        sse_send(c, NULL, ping, sizeof ping - 1);
    }
}

/* "id: n\nevent: e\ndata: line\ndata: line\n\n" */
static void sse_format(dtm_buf_t *b, long long id, const char *event, const char *data)
{
    if (id >= 0)
        dtm_buf_printf(b, "id: %lld\n", id);
    if (event && *event) {
        dtm_buf_puts(b, "event: ");
        for (const char *s = event; *s; s++)
            if (*s != '\n' && *s != '\r')
                dtm_buf_append(b, s, 1);
        dtm_buf_puts(b, "\n");
    }
    const char *s = data ? data : "";
    for (;;) {
        const char *nl = strpbrk(s, "\r\n");
        dtm_buf_puts(b, "data: ");
        dtm_buf_append(b, s, nl ? (size_t)(nl - s) : strlen(s));
        dtm_buf_puts(b, "\n");
        if (!nl)
            break;
        s = nl + 1;
        if (nl[0] == '\r' && nl[1] == '\n')
            s++;
    }
    dtm_buf_puts(b, "\n");
}

void dtm_sse_publish(const char *topic, const char *event, const char *data)
{
    dtm_sse_publish_id(topic, -1, event, data);
}

void dtm_sse_publish_id(const char *topic, long long id, const char *event, const char *data)
{
    uv_once(&g_once, once_init);
    uv_mutex_lock(&g_pub_mu);
    server_t *s = g_srv;
    if (!s || (!atomic_load(&g_sse_clients) && !g_pend)) {
        uv_mutex_unlock(&g_pub_mu);
        return;
    }
    dtm_buf_t b;
    dtm_buf_init(&b);
    sse_format(&b, id, event, data);
    size_t tl = strlen(topic);
    ssemsg_t *m = dtm_alloc(sizeof *m + b.len + tl + 1);
    atomic_init(&m->refs, 1 + s->nloops);
    m->len = b.len;
    m->gseq = ++g_pub_seq;
    m->id = id;
    memcpy(m->data, b.data, b.len);
    m->topic = m->data + b.len;
    memcpy(m->topic, topic, tl + 1);
    dtm_buf_free(&b);
    for (ssepend_t *p = g_pend; p; p = p->next) {
        if (p->overflow || strcmp(p->topic, topic) != 0)
            continue;
        if (p->bytes + m->len > SSE_MAX_QUEUE) {
            p->overflow = true;
            continue;
        }
        if (p->n == p->cap) {
            p->cap = p->cap ? p->cap * 2 : 8;
            p->msgs = dtm_realloc(p->msgs, p->cap * sizeof *p->msgs);
        }
        atomic_fetch_add(&m->refs, 1);
        p->msgs[p->n++] = m;
        p->bytes += m->len;
    }
    for (int i = 0; i < s->nloops; i++) {
        lctx_t *lc = &s->loops[i];
        uv_mutex_lock(&lc->smu);
        if (lc->stopped) {
            atomic_fetch_sub(&m->refs, 1);
        } else {
            if (lc->mqn == lc->mqcap) {
                lc->mqcap = lc->mqcap ? lc->mqcap * 2 : 16;
                lc->mq = dtm_realloc(lc->mq, lc->mqcap * sizeof *lc->mq);
            }
            lc->mq[lc->mqn++] = m;
            uv_async_send(&lc->wake);
        }
        uv_mutex_unlock(&lc->smu);
    }
    uv_mutex_unlock(&g_pub_mu);
    if (atomic_fetch_sub(&m->refs, 1) == 1)
        free(m);
}

static void sse_fanout(lctx_t *lc, ssemsg_t *m)
{
    conn_t *next;
    for (conn_t *c = lc->sse; c; c = next) {
        next = c->sse_next;
        if (!c->sse_req || strcmp(c->sse_req->core.resp.sse_topic, m->topic) != 0)
            continue;
        if (m->gseq <= c->sse_seen || (m->id >= 0 && m->id <= c->sse_min_id))
            continue; /* already sent with the stream's backlog */
        sse_send(c, m, m->data, m->len);
    }
    if (atomic_fetch_sub(&m->refs, 1) == 1)
        free(m);
}

/* ------------------------------------------------------------ connections ---- */

static void conn_free(conn_t *c)
{
    dtm_buf_free(&c->field);
    dtm_buf_free(&c->value);
    dtm_buf_free(&c->url);
    dtm_buf_free(&c->wbuf);
    dtm_buf_free(&c->pending);
    dtm_buf_free(&c->pending2);
    free(c->fbuf);
    free(c);
}

static void conn_unref(conn_t *c)
{
    if (--c->refs == 0)
        conn_free(c);
}

static void on_close(uv_handle_t *h)
{
    conn_t *c = (conn_t *)h;
    lctx_t *lc = c->lc;
    if (c->prev)
        c->prev->next = c->next;
    else
        lc->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    lc->nconns--;
    atomic_fetch_sub(&g_conns, 1);
    if (c->sse)
        sse_detach(c);
    /* Requests still queued: free them, or leave them to the worker/fs callback that holds
     * them. Stream producers are told the client left. */
    uv_mutex_lock(&lc->smu);
    for (sreq_t *r = c->qhead; r; r = r->next) {
        r->gone = true;
        if (r->cv_init)
            uv_cond_broadcast(&r->cv);
    }
    uv_mutex_unlock(&lc->smu);
    /* An fs operation in flight keeps the head request: its callback frees it. */
    sreq_t *keep = c->fs_pending ? c->qhead : NULL;
    sreq_t *r = keep ? keep->next : c->qhead;
    if (keep) {
        keep->next = NULL;
        c->qtail = keep;
        c->qlen = 1;
    } else {
        c->qhead = c->qtail = NULL;
        c->qlen = 0;
        if (c->ffd >= 0) {
            close(c->ffd);
            c->ffd = -1;
        }
    }
    c->cur = NULL;
    while (r) {
        sreq_t *next = r->next;
        r->next = NULL;
        if (r->busy)
            r->orphan = true;
        else
            req_free(r, 499, r->headers_done);
        r = next;
    }
    conn_unref(c);
    loop_check_drained(lc);
}

static void conn_close(conn_t *c)
{
    if (c->closing)
        return;
    c->closing = true;
    c->reading = false;
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

/* c->tcp is connected: register the connection with its loop and start reading. */
static void conn_setup(lctx_t *lc, conn_t *c)
{
    c->refs = 1;
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    strcpy(c->ip, "-");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)&ss, c->ip, sizeof c->ip);
        else if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->ip, sizeof c->ip);
    }
    llhttp_init(&c->parser, HTTP_REQUEST, &g_settings);
    c->parser.data = c;
    c->next = lc->conns;
    if (lc->conns)
        lc->conns->prev = c;
    lc->conns = c;
    lc->nconns++;
    atomic_fetch_add(&g_conns, 1);
    set_deadline(c, DL_IDLE, lc->srv->idle_to);
    read_start(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    lctx_t *lc = server->data;
    if (status < 0 || lc->draining)
        return;
    conn_t *c = dtm_calloc(1, sizeof *c);
    c->lc = lc;
    c->ffd = -1;
    c->metrics = server == (uv_stream_t *)&lc->mlistener;
    uv_tcp_init(&lc->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
        return;
    }
    conn_setup(lc, c);
}

/* ------------------------------------------------------------ loops ---- */

static void listeners_close(lctx_t *lc)
{
    if (lc->listener_open) {
        uv_close((uv_handle_t *)&lc->listener, NULL);
        lc->listener_open = false;
    }
    if (lc->mlistener_open) {
        uv_close((uv_handle_t *)&lc->mlistener, NULL);
        lc->mlistener_open = false;
    }
}

static void loop_handles_close(lctx_t *lc)
{
    if (lc->stopped)
        return;
    uv_mutex_lock(&lc->smu);
    lc->stopped = true;
    for (size_t i = 0; i < lc->mqn; i++)
        if (atomic_fetch_sub(&lc->mq[i]->refs, 1) == 1)
            free(lc->mq[i]);
    lc->mqn = 0;
    uv_mutex_unlock(&lc->smu);
    listeners_close(lc);
    uv_close((uv_handle_t *)&lc->sweep, NULL);
    uv_close((uv_handle_t *)&lc->ping, NULL);
    uv_close((uv_handle_t *)&lc->wake, NULL);
    if (g_loop_stop)
        g_loop_stop(&lc->loop);
}

static void loop_check_drained(lctx_t *lc)
{
    if (lc->draining && lc->nconns == 0)
        loop_handles_close(lc);
}

static void loop_begin_drain(lctx_t *lc)
{
    if (lc->draining)
        return;
    lc->draining = true;
    listeners_close(lc);
    conn_t *next;
    for (conn_t *c = lc->conns; c; c = next) {
        next = c->next;
        if (c->closing)
            continue;
        if (c->sse || (!c->qhead && !c->writing))
            conn_close(c); /* idle keep-alive or event stream */
        /* otherwise the in-flight response goes out with Connection: close */
    }
    loop_check_drained(lc);
}

static void wake_cb(uv_async_t *a)
{
    lctx_t *lc = a->data;
    if (atomic_load(&lc->force_req)) {
        loop_begin_drain(lc);
        conn_t *next;
        for (conn_t *c = lc->conns; c; c = next) {
            next = c->next;
            conn_close(c);
        }
    } else if (atomic_load(&lc->drain_req)) {
        loop_begin_drain(lc);
    }
    if (lc->stopped)
        return;
    uv_mutex_lock(&lc->smu);
    sreq_t *st = lc->st_pending;
    lc->st_pending = NULL;
    for (sreq_t *r = st; r; r = r->st_next)
        r->st_signaled = false;
    ssemsg_t **mq = lc->mq;
    size_t mqn = lc->mqn;
    lc->mq = NULL;
    lc->mqn = lc->mqcap = 0;
    uv_mutex_unlock(&lc->smu);
    sreq_t *next;
    for (sreq_t *r = st; r; r = next) {
        next = r->st_next;
        conn_t *c = r->conn;
        if (r->orphan || c->closing)
            continue;
        if (r->st_aborted) { /* set under smu before the signal: visible after the lock above */
            conn_close(c);
            continue;
        }
        r->ready = true;
        if (c->qhead == r)
            pump(c);
    }
    for (size_t i = 0; i < mqn; i++)
        sse_fanout(lc, mq[i]);
    free(mq);
}

static void loop_thread(void *arg)
{
    lctx_t *lc = arg;
    uv_run(&lc->loop, UV_RUN_DEFAULT);
    server_t *s = lc->srv;
    atomic_fetch_add(&s->loops_done, 1);
    uv_async_send(&s->done_async);
}

/* SO_REUSEPORT would let a second server on the same port share its traffic silently: make
 * sure nobody listens there first (bind without the option). */
static int port_free(const struct sockaddr *sa, socklen_t salen)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = bind(fd, sa, salen) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

/* A listening socket of our own: libuv 1.44 has no UV_TCP_REUSEPORT. */
static int make_listener(const struct sockaddr *sa, socklen_t salen, int *fd_out)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 || bind(fd, sa, salen) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *fd_out = fd;
    return 0;
}

/* Accept on a bound socket from the loop of lc; the handle is closed with the loop's handles
 * (*open), fd closed here when libuv refuses it. */
static int listen_on(lctx_t *lc, uv_tcp_t *h, bool *open, int fd, int backlog)
{
    uv_tcp_init(&lc->loop, h);
    h->data = lc;
    *open = true;
    int rc = uv_tcp_open(h, fd);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return uv_listen((uv_stream_t *)h, backlog, on_connection);
}

static int loop_init(server_t *s, lctx_t *lc, struct sockaddr_storage *ss, socklen_t salen)
{
    int rc = uv_loop_init(&lc->loop);
    if (rc < 0)
        return rc;
    lc->srv = s;
    uv_mutex_init(&lc->smu);
    int fd = -1;
    rc = make_listener((struct sockaddr *)ss, salen, &fd);
    if (rc < 0) {
        uv_loop_close(&lc->loop);
        uv_loop_init(&lc->loop); /* the cleanup path runs and closes it again */
        return rc;
    }
    if (!s->port) {
        struct sockaddr_storage b;
        socklen_t bl = sizeof b;
        getsockname(fd, (struct sockaddr *)&b, &bl);
        s->port = ntohs(b.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&b)->sin6_port
                                                : ((struct sockaddr_in *)&b)->sin_port);
        /* the other loops share this port */
        if (ss->ss_family == AF_INET6)
            ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)s->port);
        else
            ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)s->port);
    }
    if ((rc = listen_on(lc, &lc->listener, &lc->listener_open, fd, 1024)) < 0)
        return rc;
    uv_timer_init(&lc->loop, &lc->sweep);
    lc->sweep.data = lc;
    uv_timer_start(&lc->sweep, sweep_cb, s->tick, s->tick);
    uv_timer_init(&lc->loop, &lc->ping);
    lc->ping.data = lc;
    uv_timer_start(&lc->ping, ping_cb, SSE_PING_MS, SSE_PING_MS);
    uv_async_init(&lc->loop, &lc->wake, wake_cb);
    lc->wake.data = lc;
    lc->handles = true;
    return 0;
}

/* The metrics listener: on the first loop (a scrape a few times a minute needs no more), and
 * refused when someone already listens there (port_free), like the public port. */
static int metrics_listen(lctx_t *lc, const char *host, int port)
{
    struct sockaddr_storage ss;
    socklen_t salen;
    memset(&ss, 0, sizeof ss);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) == 0)
        salen = sizeof(struct sockaddr_in);
    else if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) == 0)
        salen = sizeof(struct sockaddr_in6);
    else
        return UV_EINVAL;
    int fd = -1;
    int rc = port_free((struct sockaddr *)&ss, salen);
    if (rc == 0)
        rc = make_listener((struct sockaddr *)&ss, salen, &fd);
    if (rc < 0)
        return rc;
    return listen_on(lc, &lc->mlistener, &lc->mlistener_open, fd, 64);
}

/* ------------------------------------------------------------ control ---- */

static void drain_timeout_cb(uv_timer_t *t)
{
    server_t *s = t->data;
    dtm_log_warn("drain timeout (%d ms): closing remaining connections", s->drain_to);
    for (int i = 0; i < s->nloops; i++) {
        atomic_store(&s->loops[i].force_req, 1);
        uv_async_send(&s->loops[i].wake);
    }
}

static void begin_drain(server_t *s)
{
    if (s->draining) {
        drain_timeout_cb(&s->drain_timer); /* a second signal: stop waiting */
        return;
    }
    s->draining = true;
    dtm_log_info("draining: %ld requests in flight, %ld connections", dtm_server_inflight(),
                 dtm_server_connections());
    for (int i = 0; i < s->nloops; i++) {
        atomic_store(&s->loops[i].drain_req, 1);
        uv_async_send(&s->loops[i].wake);
    }
    uv_timer_start(&s->drain_timer, drain_timeout_cb, (uint64_t)s->drain_to, 0);
}

static void stop_async_cb(uv_async_t *a)
{
    begin_drain(a->data);
}

static void signal_cb(uv_signal_t *h, int signum)
{
    dtm_log_info("signal %d received", signum);
    begin_drain(h->data);
}

static void done_async_cb(uv_async_t *a)
{
    server_t *s = a->data;
    if (atomic_load(&s->loops_done) < s->nloops)
        return;
    uv_close((uv_handle_t *)&s->stop_async, NULL);
    uv_close((uv_handle_t *)&s->done_async, NULL);
    uv_close((uv_handle_t *)&s->drain_timer, NULL);
    if (s->signals) {
        uv_close((uv_handle_t *)&s->sigterm, NULL);
        uv_close((uv_handle_t *)&s->sigint, NULL);
    }
}

void dtm_server_stop(void)
{
    server_t *s = g_srv;
    if (s)
        uv_async_send(&s->stop_async);
    else
        atomic_store(&g_stop_pending, 1);
}

/* ------------------------------------------------------------ fuzzing ---- */

static void fuzz_drain(int fd)
{
    char b[65536];
    while (read(fd, b, sizeof b) > 0)
        ;
}

int dtm_server_fuzz_input(const uint8_t *data, size_t len)
{
    static server_t srv;
    static lctx_t *lc;
    if (!lc) {
        settings_init();
        srv.max_header = 1024;
        srv.read_to = srv.idle_to = srv.drain_to = 1000;
        srv.nloops = 1;
        lc = dtm_calloc(1, sizeof *lc);
        uv_loop_init(&lc->loop);
        lc->srv = &srv;
        uv_mutex_init(&lc->smu);
        uv_async_init(&lc->loop, &lc->wake, wake_cb);
        lc->wake.data = lc;
        uv_unref((uv_handle_t *)&lc->wake);
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    conn_t *c = dtm_calloc(1, sizeof *c);
    c->lc = lc;
    c->ffd = -1;
    uv_tcp_init(&lc->loop, &c->tcp);
    if (uv_tcp_open(&c->tcp, sv[0]) < 0) {
        close(sv[0]);
        close(sv[1]);
        uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
        uv_run(&lc->loop, UV_RUN_DEFAULT);
        return -1;
    }
    conn_setup(lc, c);
    /* The first byte picks the split size, so reads cut requests anywhere. */
    size_t step = len ? (size_t)data[0] % 64 + 1 : 1;
    for (size_t off = len ? 1 : 0; off < len;) {
        size_t n = len - off < step ? len - off : step;
        if (c->closing || c->shut || c->paused)
            break;
        if (!c->parse_dead && !c->sse)
            feed(c, (const char *)data + off, n);
        off += n;
        uv_run(&lc->loop, UV_RUN_NOWAIT);
        fuzz_drain(sv[1]);
    }
    conn_close(c);
    while (uv_run(&lc->loop, UV_RUN_NOWAIT))
        fuzz_drain(sv[1]);
    close(sv[1]);
    return 0;
}

static int pick(int v, int cfg, int def)
{
    return v > 0 ? v : cfg > 0 ? cfg : def;
}

static void settings_init(void)
{
    llhttp_settings_init(&g_settings);
    g_settings.on_message_begin = on_message_begin;
    g_settings.on_url = on_url;
    g_settings.on_version = on_version;
    g_settings.on_header_field = on_header_field;
    g_settings.on_header_value = on_header_value;
    g_settings.on_headers_complete = on_headers_complete;
    g_settings.on_body = on_body;
    g_settings.on_message_complete = on_message_complete;
}

int dtm_server_run(const dtm_server_opts_t *o)
{
    uv_once(&g_once, once_init);
    settings_init();
    server_t *s = dtm_calloc(1, sizeof *s);
    s->nloops = pick(o->loops, dtm_cfg.loops, 0);
    if (s->nloops <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->nloops = n > 0 ? (int)n : 1;
    }
    int threads = pick(o->threads, dtm_cfg.threads, 16);
    s->max_header = pick(o->max_header_bytes, dtm_cfg.max_header_bytes, 16 * 1024);
    s->read_to = pick(o->read_timeout_ms, dtm_cfg.read_timeout_ms, 15000);
    s->idle_to = pick(o->idle_timeout_ms, dtm_cfg.idle_timeout_ms, 60000);
    s->drain_to = pick(o->drain_timeout_ms, dtm_cfg.drain_timeout_ms, 10000);
    int shortest = s->read_to < s->idle_to ? s->read_to : s->idle_to;
    s->tick = (uint64_t)(shortest / 4 < 25 ? 25 : shortest / 4 > 1000 ? 1000 : shortest / 4);
    s->signals = o->signals;
    s->port = o->port;

    /* The thread pool starts on first use; size it before any loop runs. */
    char nbuf[16];
    snprintf(nbuf, sizeof nbuf, "%d", threads);
    setenv("UV_THREADPOOL_SIZE", nbuf, 0);
    signal(SIGPIPE, SIG_IGN);

    const char *host = o->host ? o->host : dtm_cfg.host ? dtm_cfg.host : "127.0.0.1";
    struct sockaddr_storage ss;
    socklen_t salen;
    memset(&ss, 0, sizeof ss);
    if (uv_ip4_addr(host, o->port, (struct sockaddr_in *)&ss) == 0) {
        salen = sizeof(struct sockaddr_in);
    } else if (uv_ip6_addr(host, o->port, (struct sockaddr_in6 *)&ss) == 0) {
        salen = sizeof(struct sockaddr_in6);
    } else {
        dtm_log_error("invalid listen address %s (an IPv4 or IPv6 literal)", host);
        free(s);
        return UV_EINVAL;
    }

    s->loops = dtm_calloc((size_t)s->nloops, sizeof *s->loops);
    int rc = o->port ? port_free((struct sockaddr *)&ss, salen) : 0;
    if (rc < 0) {
        dtm_log_error("cannot listen on %s:%d: %s", host, o->port, uv_strerror(rc));
        free(s->loops);
        free(s);
        return rc;
    }
    int inited = 0;
    for (int i = 0; i < s->nloops && rc == 0; i++) {
        s->loops[i].index = i;
        rc = loop_init(s, &s->loops[i], &ss, salen);
        inited = i + 1;
    }
    if (rc < 0) {
        dtm_log_error("cannot listen on %s:%d: %s", host, o->port, uv_strerror(rc));
    } else if (o->metrics_port > 0) {
        const char *mhost = o->metrics_host ? o->metrics_host : "127.0.0.1";
        if ((rc = metrics_listen(&s->loops[0], mhost, o->metrics_port)) < 0)
            dtm_log_error("cannot listen for metrics on %s:%d: %s", mhost, o->metrics_port,
                          uv_strerror(rc));
    }
    if (rc < 0) {
        for (int i = 0; i < inited; i++) {
            lctx_t *lc = &s->loops[i];
            if (lc->handles)
                loop_handles_close(lc);
            else
                listeners_close(lc);
            uv_run(&lc->loop, UV_RUN_DEFAULT);
            uv_loop_close(&lc->loop);
            uv_mutex_destroy(&lc->smu);
        }
        free(s->loops);
        free(s);
        return rc;
    }

    uv_loop_init(&s->ctl);
    uv_async_init(&s->ctl, &s->stop_async, stop_async_cb);
    s->stop_async.data = s;
    uv_async_init(&s->ctl, &s->done_async, done_async_cb);
    s->done_async.data = s;
    uv_timer_init(&s->ctl, &s->drain_timer);
    s->drain_timer.data = s;
    if (s->signals) {
        uv_signal_init(&s->ctl, &s->sigterm);
        s->sigterm.data = s;
        uv_signal_start(&s->sigterm, signal_cb, SIGTERM);
        uv_signal_init(&s->ctl, &s->sigint);
        s->sigint.data = s;
        uv_signal_start(&s->sigint, signal_cb, SIGINT);
    }

    uv_mutex_lock(&g_pub_mu);
    g_srv = s;
    uv_mutex_unlock(&g_pub_mu);
    for (int i = 0; i < s->nloops; i++)
        uv_thread_create(&s->loops[i].thread, loop_thread, &s->loops[i]);
    dtm_log_info("listening on %s:%d (%d loops, %d workers)", host, s->port, s->nloops, threads);
    if (o->metrics_port > 0)
        dtm_log_info("metrics on %s:%d only", o->metrics_host ? o->metrics_host : "127.0.0.1",
                     o->metrics_port);
    if (o->on_ready)
        o->on_ready(o->ud, s->port);
    if (atomic_exchange(&g_stop_pending, 0))
        begin_drain(s);

    uv_run(&s->ctl, UV_RUN_DEFAULT);

    for (int i = 0; i < s->nloops; i++)
        uv_thread_join(&s->loops[i].thread);
    uv_mutex_lock(&g_pub_mu);
    g_srv = NULL;
    uv_mutex_unlock(&g_pub_mu);
    for (int i = 0; i < s->nloops; i++) {
        lctx_t *lc = &s->loops[i];
        uv_loop_close(&lc->loop);
        uv_mutex_destroy(&lc->smu);
        free(lc->mq);
    }
    uv_loop_close(&s->ctl);
    free(s->loops);
    free(s);
    dtm_log_info("drained; bye");
    return 0;
}
