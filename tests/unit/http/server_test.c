/* SPDX-License-Identifier: MIT */
/* The connection layer over real sockets: a server on 127.0.0.1 (port 41000-41999) in a thread,
 * serving a small route table through the real router. */
#include "core/config.h"
#include "core/log.h"
#include "http/internal.h"
#include "http/server.h"
#include "services/service.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- routes ---- */

static char g_file[64];

static void h_loop(dtm_req_t *req)
{
    dtm_resp_body(req, 200, "text/plain", "loop", 4);
}

static void h_hello(dtm_req_t *req)
{
    dtm_resp_body(req, 200, "text/plain", "hello", 5);
}

static void h_slow(dtm_req_t *req)
{
    usleep(400 * 1000);
    dtm_resp_body(req, 200, "text/plain", "slow", 4);
}

static void h_echo(dtm_req_t *req)
{
    dtm_resp_body(req, 200, "text/plain", req->body, req->body_len);
}

static void h_stream(dtm_req_t *req)
{
    char chunk[1024];
    dtm_resp_stream_begin(req, 200, "text/plain");
    for (int i = 0; i < 100; i++) {
        memset(chunk, 'a' + i % 26, sizeof chunk);
        if (dtm_resp_stream_write(req, chunk, sizeof chunk) < 0)
            break;
    }
    dtm_resp_stream_end(req);
}

static void h_sse(dtm_req_t *req)
{
    dtm_resp_sse(req, "news");
}

/* A resume: events published while the "backlog" is read, some of them also in it. */
static void h_resume(dtm_req_t *req)
{
    if (!dtm_resp_sse_resume(req, "inbox"))
        return;
    dtm_sse_publish_id("inbox", 2, "n", "two-live"); /* committed before the backlog read */
    dtm_sse_publish_id("inbox", 4, "n", "four");
    dtm_sse_publish_id("other", 9, "n", "not ours");
    usleep(50 * 1000); /* let the loops fan those out before this stream attaches */
    dtm_resp_sse_event(req, 2, "n", "two");
    dtm_resp_sse_event(req, 3, "n", "three");
    dtm_sse_publish_id("inbox", 5, "n", "five");
}

static void h_file(dtm_req_t *req)
{
    dtm_resp_file(req, g_file, "text/plain; charset=utf-8", "max-age=60");
}

static void h_nofile(dtm_req_t *req)
{
    dtm_resp_file(req, "/nonexistent/dtm-test-file", "text/plain", NULL);
}

static void h_none(dtm_req_t *req)
{
    (void)req; /* sets no response: the core answers 500 */
}

static const dtm_route_t t_routes[] = {
    {.method = "GET", .path = "/t/loop", .handler = h_loop, .flags = DTM_ROUTE_ON_LOOP},
    {.method = "GET", .path = "/t/hello", .handler = h_hello},
    {.method = "GET", .path = "/t/slow", .handler = h_slow},
    {.method = "POST",
     .path = "/t/echo",
     .handler = h_echo,
     .flags = DTM_ROUTE_RAW_BODY,
     .max_body = 1000},
    {.method = "GET", .path = "/t/stream", .handler = h_stream},
    {.method = "GET", .path = "/t/sse", .handler = h_sse},
    {.method = "GET", .path = "/t/resume", .handler = h_resume},
    {.method = "GET", .path = "/t/file", .handler = h_file},
    {.method = "GET", .path = "/t/nofile", .handler = h_nofile},
    {.method = "GET", .path = "/t/none", .handler = h_none},
    {0},
};
static const dtm_service_t t_svc = {.name = "t", .prefix = "/t", .routes = t_routes};
static const dtm_service_t *t_local[] = {&t_svc, NULL};

/* ---- server in a thread ---- */

static pthread_t g_thread;
static sem_t g_ready;
static int g_port, g_rc = -12345;
static dtm_server_opts_t g_opts;

static void on_ready(void *ud, int port)
{
    (void)ud;
    g_port = port;
    sem_post(&g_ready);
}

static void *server_main(void *arg)
{
    (void)arg;
    g_rc = dtm_server_run(&g_opts);
    sem_post(&g_ready); /* in case it failed before on_ready */
    return NULL;
}

/* A free port in this suite's range (41000-41999). Probed without SO_REUSEPORT, so a port
 * another process listens on is never shared. */
static int pick_port(void)
{
    for (int i = 0; i < 200; i++) {
        int port = 41000 + (int)((getpid() * 7 + i * 13) % 1000);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return port;
    }
    cr_assert_fail("no free port in 41000-41999");
    return 0;
}

static void start_with(int read_to, int idle_to)
{
    setenv("DTM_LOG_LEVEL", "error", 1);
    dtm_config_load(0, stderr);
    dtm_log_init("test", DTM_LOG_ERROR);
    dtm_router_conf_t rc = {.process_service = "test", .gateway = false, .local = t_local};
    dtm_router_configure(&rc);
    snprintf(g_file, sizeof g_file, "/tmp/dtm-server-test-%d.txt", (int)getpid());
    FILE *f = fopen(g_file, "w");
    cr_assert(f);
    for (int i = 0; i < 3000; i++)
        fprintf(f, "line %05d of the test file\n", i); /* 84 KB: more than one read chunk */
    fclose(f);
    g_opts = (dtm_server_opts_t){
        .host = "127.0.0.1",
        .port = pick_port(),
        .loops = 2,
        .threads = 4,
        .read_timeout_ms = read_to,
        .idle_timeout_ms = idle_to,
        .drain_timeout_ms = 3000,
        .on_ready = on_ready,
    };
    sem_init(&g_ready, 0, 0);
    pthread_create(&g_thread, NULL, server_main, NULL);
    sem_wait(&g_ready);
    cr_assert_gt(g_port, 0, "server did not start (rc %d)", g_rc);
}

static void start(void)
{
    start_with(2000, 5000);
}

static int stop(void)
{
    dtm_server_stop();
    pthread_join(g_thread, NULL);
    unlink(g_file);
    return g_rc;
}

static void teardown(void)
{
    if (g_rc == -12345)
        stop();
}

/* ---- a small blocking client ---- */

static int connect_srv(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        cr_assert_gt(w, 0, "send: %s", strerror(errno));
        s += w;
        n -= (size_t)w;
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

typedef struct {
    int fd;
    char buf[1 << 20];
    size_t len, off;
    bool eof;
} conn_t;

static conn_t *conn_new(void)
{
    conn_t *c = calloc(1, sizeof *c);
    c->fd = connect_srv();
    return c;
}

static void conn_free(conn_t *c)
{
    close(c->fd);
    free(c);
}

/* More bytes into c->buf; false on EOF or timeout. */
static bool fill(conn_t *c)
{
    if (c->eof)
        return false;
    if (c->off > 0) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len - 1, 0);
    if (n <= 0) {
        c->eof = true;
        return false;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    return true;
}

typedef struct {
    int status;
    char headers[8192];
    char *body;
    size_t body_len;
} resp_t;

static const char *hdr(const resp_t *r, const char *name)
{
    static char val[512];
    char pat[128];
    snprintf(pat, sizeof pat, "\r\n%s:", name);
    const char *p = strcasestr(r->headers, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r");
    snprintf(val, sizeof val, "%.*s", (int)n, p);
    return val;
}

static void resp_free(resp_t *r)
{
    free(r->body);
    free(r);
}

static void body_add(resp_t *r, const char *p, size_t n)
{
    r->body = realloc(r->body, r->body_len + n + 1);
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
}

/* Reads one response (Content-Length, chunked or close-delimited); NULL on EOF first. */
static resp_t *read_resp(conn_t *c, bool head)
{
    char *end;
    while (!(end = strstr(c->buf + c->off, "\r\n\r\n")))
        if (!fill(c))
            return NULL;
    resp_t *r = calloc(1, sizeof *r);
    size_t hl = (size_t)(end + 4 - (c->buf + c->off));
    snprintf(r->headers, sizeof r->headers, "%.*s", (int)hl, c->buf + c->off);
    sscanf(r->headers, "HTTP/1.1 %d", &r->status);
    c->off += hl;
    body_add(r, "", 0);
    const char *cl = hdr(r, "content-length");
    const char *te = hdr(r, "transfer-encoding");
    if (head || r->status == 204) {
        return r;
    } else if (cl) {
        size_t want = strtoul(cl, NULL, 10);
        while (c->len - c->off < want)
            cr_assert(fill(c), "short body");
        body_add(r, c->buf + c->off, want);
        c->off += want;
    } else if (te && strcmp(te, "chunked") == 0) {
        for (;;) {
            char *nl;
            while (!(nl = strstr(c->buf + c->off, "\r\n")))
                cr_assert(fill(c), "eof in chunk size");
            size_t n = strtoul(c->buf + c->off, NULL, 16);
            c->off = (size_t)(nl + 2 - c->buf);
            while (c->len - c->off < n + 2)
                cr_assert(fill(c), "eof in chunk");
            body_add(r, c->buf + c->off, n);
            c->off += n + 2;
            if (n == 0)
                break;
        }
    } else {
        while (fill(c))
            ;
        body_add(r, c->buf + c->off, c->len - c->off);
        c->off = c->len;
    }
    return r;
}

/* True when the server closes the connection within ms. */
static bool closed_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char b[4096];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        int left = ms - (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0)
            return false;
        if (poll(&p, 1, left) <= 0)
            return false;
        ssize_t n = recv(fd, b, sizeof b, 0);
        if (n <= 0)
            return true;
    }
}

static resp_t *get(conn_t *c, const char *path)
{
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    send_str(c->fd, req);
    return read_resp(c, false);
}

TestSuite(server, .init = start, .fini = teardown, .timeout = 30);

Test(server, keep_alive_serves_many_requests_on_one_connection)
{
    conn_t *c = conn_new();
    for (int i = 0; i < 5; i++) {
        resp_t *r = get(c, i % 2 ? "/t/loop" : "/t/hello");
        cr_assert_not_null(r, "response %d", i);
        cr_expect_eq(r->status, 200);
        cr_expect_str_eq(r->body, i % 2 ? "loop" : "hello");
        cr_expect_str_eq(hdr(r, "connection"), "keep-alive");
        cr_expect_not_null(hdr(r, "x-request-id"));
        resp_free(r);
    }
    conn_free(c);
    cr_expect_eq(stop(), 0);
}

Test(server, http10_without_keep_alive_closes)
{
    conn_t *c = conn_new();
    send_str(c->fd, "GET /t/hello HTTP/1.0\r\n\r\n");
    resp_t *r = read_resp(c, false);
    cr_assert_not_null(r);
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(hdr(r, "connection"), "close");
    cr_expect(closed_within(c->fd, 3000));
    resp_free(r);
    conn_free(c);
}

Test(server, pipelined_requests_answer_in_order)
{
    conn_t *c = conn_new();
    /* The slow worker request comes first: the fast ones must wait for it. */
    send_str(c->fd, "GET /t/slow HTTP/1.1\r\nHost: t\r\n\r\n"
                    "GET /t/loop HTTP/1.1\r\nHost: t\r\n\r\n"
                    "POST /t/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nthird");
    const char *want[] = {"slow", "loop", "third"};
    for (int i = 0; i < 3; i++) {
        resp_t *r = read_resp(c, false);
        cr_assert_not_null(r, "response %d missing", i);
        cr_expect_eq(r->status, 200);
        cr_expect_str_eq(r->body, want[i]);
        resp_free(r);
    }
    conn_free(c);
}

Test(server, deep_pipeline_pauses_and_resumes)
{
    conn_t *c = conn_new();
    char *big = malloc(100 * 64);
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(big + n, "GET /t/%s HTTP/1.1\r\nHost: t\r\n\r\n",
                             i % 3 ? "loop" : "hello");
    send_all(c->fd, big, n);
    free(big);
    for (int i = 0; i < 100; i++) {
        resp_t *r = read_resp(c, false);
        cr_assert_not_null(r, "response %d missing", i);
        cr_expect_str_eq(r->body, i % 3 ? "loop" : "hello");
        resp_free(r);
    }
    conn_free(c);
}

Test(server, huge_headers_get_431)
{
    conn_t *c = conn_new();
    char *req = malloc(40000);
    int n = sprintf(req, "GET /t/hello HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(req + n, 'a', 30000);
    strcpy(req + n + 30000, "\r\n\r\n");
    send_str(c->fd, req);
    free(req);
    resp_t *r = read_resp(c, false);
    cr_assert_not_null(r);
    cr_expect_eq(r->status, 431);
    cr_expect(strstr(r->body, "\"headers_too_large\"") != NULL, "%s", r->body);
    cr_expect_str_eq(hdr(r, "connection"), "close");
    cr_expect(closed_within(c->fd, 3000));
    resp_free(r);
    conn_free(c);
}

Test(server, many_small_headers_count_toward_the_limit)
{
    conn_t *c = conn_new();
    send_str(c->fd, "GET /t/hello HTTP/1.1\r\nHost: t\r\n");
    for (int i = 0; i < 1000; i++) {
        char h[64];
        snprintf(h, sizeof h, "X-H%d: %020d\r\n", i, i);
        send_str(c->fd, h);
    }
    send_str(c->fd, "\r\n");
    resp_t *r = read_resp(c, false);
    cr_assert_not_null(r);
    cr_expect_eq(r->status, 431);
    resp_free(r);
    conn_free(c);
}

Test(server, declared_body_over_route_limit_gets_413)
{
    conn_t *c = conn_new();
    send_str(c->fd, "POST /t/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n");
    resp_t *r = read_resp(c, false);
    cr_assert_not_null(r);
    cr_expect_eq(r->status, 413);
    cr_expect(strstr(r->body, "payload_too_large") != NULL, "%s", r->body);
    resp_free(r);
    conn_free(c);
}

Test(server, chunked_body_over_limit_gets_413)
{
    conn_t *c = conn_new();
    send_str(c->fd, "POST /t/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[600];
    memset(chunk, 'z', sizeof chunk);
    for (int i = 0; i < 3; i++) {
        send_str(c->fd, "258\r\n"); /* 600 */
        send_all(c->fd, chunk, sizeof chunk);
        send_str(c->fd, "\r\n");
    }
    resp_t *r = read_resp(c, false);
    cr_assert_not_null(r);
    cr_expect_eq(r->status, 413);
    cr_expect(closed_within(c->fd, 3000));
    resp_free(r);
    conn_free(c);
}

Test(server, chunked_request_body_is_reassembled)
{
    conn_t *c = conn_new();
    send_str(c->fd, "POST /t/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n");
    usleep(50 * 1000);
    send_str(c->fd, "6\r\n world\r\n0\r\n\r\n");
    resp_t *r = read_resp(c, false);
    cr_assert_not_null(r);
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(r->body, "hello world");
    resp_free(r);
    /* and the connection is still usable */
    r = get(c, "/t/loop");
    cr_assert_not_null(r);
    cr_expect_str_eq(r->body, "loop");
    resp_free(r);
    conn_free(c);
}

Test(server, garbage_gets_400_and_close)
{
    conn_t *c = conn_new();
    send_str(c->fd, "THIS IS NOT HTTP\r\n\r\n");
    resp_t *r = read_resp(c, false);
    cr_assert_not_null(r);
    cr_expect_eq(r->status, 400);
    cr_expect(strstr(r->body, "\"bad_request\"") != NULL, "%s", r->body);
    cr_expect(strstr(r->body, "\"requestId\"") != NULL, "%s", r->body);
    cr_expect(closed_within(c->fd, 3000));
    resp_free(r);
    conn_free(c);
}

Test(server, bad_percent_encoding_gets_400)
{
    conn_t *c = conn_new();
    send_str(c->fd, "GET /t/%zz HTTP/1.1\r\nHost: t\r\n\r\n");
    resp_t *r = read_resp(c, false);
    cr_assert_not_null(r);
    cr_expect_eq(r->status, 400);
    resp_free(r);
    conn_free(c);
}

Test(server, percent_decoded_path_reaches_the_router)
{
    conn_t *c = conn_new();
    resp_t *r = get(c, "/t/%68ello?x=1");
    cr_assert_not_null(r);
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(r->body, "hello");
    resp_free(r);
    conn_free(c);
}

Test(server, handler_without_response_gets_500_json)
{
    conn_t *c = conn_new();
    resp_t *r = get(c, "/t/none");
    cr_assert_not_null(r);
    cr_expect_eq(r->status, 500);
    cr_expect(strstr(r->body, "\"error\"") != NULL);
    resp_free(r);
    conn_free(c);
}

Test(server, streamed_response_is_chunked)
{
    conn_t *c = conn_new();
    resp_t *r = get(c, "/t/stream");
    cr_assert_not_null(r);
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(hdr(r, "transfer-encoding"), "chunked");
    cr_assert_eq(r->body_len, 100 * 1024);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(r->body[i * 1024 + 7], 'a' + i % 26, "chunk %d", i);
    resp_free(r);
    r = get(c, "/t/hello"); /* keep-alive after a stream */
    cr_assert_not_null(r);
    cr_expect_str_eq(r->body, "hello");
    resp_free(r);
    conn_free(c);
}

Test(server, file_response_get_head_and_missing)
{
    conn_t *c = conn_new();
    resp_t *r = get(c, "/t/file");
    cr_assert_not_null(r);
    cr_expect_eq(r->status, 200);
    cr_expect_eq(r->body_len, 3000 * 28);
    cr_expect(strncmp(r->body + 2999 * 28, "line 02999 of the test file\n", 28) == 0);
    cr_expect_str_eq(hdr(r, "cache-control"), "max-age=60");
    cr_expect_str_eq(hdr(r, "content-type"), "text/plain; charset=utf-8");
    resp_free(r);

    send_str(c->fd, "HEAD /t/file HTTP/1.1\r\nHost: t\r\n\r\n");
    r = read_resp(c, true);
    cr_assert_not_null(r);
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(hdr(r, "content-length"), "84000");
    resp_free(r);

    r = get(c, "/t/nofile");
    cr_assert_not_null(r);
    cr_expect_eq(r->status, 404);
    cr_expect(strstr(r->body, "\"not_found\"") != NULL);
    resp_free(r);
    conn_free(c);
}

Test(server, sse_receives_published_events)
{
    conn_t *c = conn_new();
    send_str(c->fd, "GET /t/sse HTTP/1.1\r\nHost: t\r\n\r\n");
    while (!strstr(c->buf, ": connected\n\n"))
        cr_assert(fill(c), "no SSE preamble");
    cr_expect(strstr(c->buf, "Content-Type: text/event-stream") != NULL, "%s", c->buf);
    for (int i = 0; i < 100 && dtm_sse_clients() < 1; i++)
        usleep(10 * 1000);
    cr_assert_eq(dtm_sse_clients(), 1);
    dtm_sse_publish("other", "x", "not for us");
    dtm_sse_publish("news", "update", "line1\nline2");
    while (!strstr(c->buf, "data: line2\n\n"))
        cr_assert(fill(c), "event not received: %s", c->buf);
    cr_expect(strstr(c->buf, "event: update\ndata: line1\ndata: line2\n\n") != NULL, "%s", c->buf);
    cr_expect(strstr(c->buf, "not for us") == NULL);
    conn_free(c);
    for (int i = 0; i < 100 && dtm_sse_clients() > 0; i++)
        usleep(10 * 1000);
    cr_expect_eq(dtm_sse_clients(), 0);
}

Test(server, sse_resume_sends_backlog_then_held_then_live_each_once)
{
    conn_t *c = conn_new();
    send_str(c->fd, "GET /t/resume HTTP/1.1\r\nHost: t\r\n\r\n");
    while (!strstr(c->buf, "data: five\n\n"))
        cr_assert(fill(c), "held events not received: %s", c->buf);
    for (int i = 0; i < 100 && dtm_sse_clients() < 1; i++)
        usleep(10 * 1000);
    dtm_sse_publish_id("inbox", 3, "n", "three-late"); /* in the backlog already: skipped */
    dtm_sse_publish_id("inbox", 6, "n", "six");
    while (!strstr(c->buf, "data: six\n\n"))
        cr_assert(fill(c), "live event not received: %s", c->buf);
    const char *body = strstr(c->buf, ": connected\n\n");
    cr_assert_not_null(body);
    const char *want[] = {"id: 2\nevent: n\ndata: two\n\n", "id: 3\nevent: n\ndata: three\n\n",
                          "id: 4\nevent: n\ndata: four\n\n", "id: 5\nevent: n\ndata: five\n\n",
                          "id: 6\nevent: n\ndata: six\n\n"};
    const char *at = body;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *p = strstr(at, want[i]);
        cr_assert_not_null(p, "missing or out of order: %s in %s", want[i], body);
        cr_assert_null(strstr(p + 1, want[i]), "sent twice: %s", want[i]);
        at = p + strlen(want[i]);
    }
    cr_expect_null(strstr(body, "two-live"), "an id the backlog covers is not sent again");
    cr_expect_null(strstr(body, "three-late"));
    cr_expect_null(strstr(body, "not ours"));
    conn_free(c);
    for (int i = 0; i < 100 && dtm_sse_clients() > 0; i++)
        usleep(10 * 1000);
    cr_expect_eq(dtm_sse_clients(), 0);
}

Test(server, drain_finishes_the_in_flight_request_and_exits_0)
{
    conn_t *c = conn_new();
    conn_t *idle = conn_new();
    send_str(c->fd, "GET /t/slow HTTP/1.1\r\nHost: t\r\n\r\n");
    usleep(100 * 1000);
    cr_expect_eq(dtm_server_inflight(), 1);
    dtm_server_stop();
    cr_expect(closed_within(idle->fd, 1000), "idle keep-alive connection not closed");
    resp_t *r = read_resp(c, false);
    cr_assert_not_null(r, "in-flight request was dropped");
    cr_expect_eq(r->status, 200);
    cr_expect_str_eq(r->body, "slow");
    cr_expect_str_eq(hdr(r, "connection"), "close");
    resp_free(r);
    pthread_join(g_thread, NULL);
    cr_expect_eq(g_rc, 0);
    cr_expect_eq(dtm_server_connections(), 0);
    /* nothing listens any more */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_expect_neq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    close(fd);
    conn_free(c);
    conn_free(idle);
}

Test(server, metrics_gauges_count_connections)
{
    conn_t *a = conn_new(), *b = conn_new();
    resp_t *r = get(a, "/t/hello");
    resp_free(r);
    r = get(b, "/t/hello");
    resp_free(r);
    cr_expect_eq(dtm_server_connections(), 2);
    cr_expect_eq(dtm_server_inflight(), 0);
    conn_free(a);
    conn_free(b);
}

/* Timeouts need their own short settings. */
TestSuite(server_timeouts, .fini = teardown, .timeout = 30);

Test(server_timeouts, slowloris_is_cut_off)
{
    start_with(300, 5000);
    conn_t *c = conn_new();
    send_str(c->fd, "GET /t/hello HTTP/1.1\r\n");
    /* keep trickling header bytes: activity must not extend the deadline */
    bool cut = false;
    for (int i = 0; i < 30 && !cut; i++) {
        char h[32];
        snprintf(h, sizeof h, "X-%d: y\r\n", i);
        if (send(c->fd, h, strlen(h), MSG_NOSIGNAL) < 0) {
            cut = true;
            break;
        }
        cut = closed_within(c->fd, 50);
    }
    cr_expect(cut, "slow client was not cut off within 1.5 s");
    conn_free(c);
    cr_expect_eq(stop(), 0);
}

Test(server_timeouts, idle_keep_alive_is_closed)
{
    start_with(2000, 300);
    conn_t *c = conn_new();
    resp_t *r = get(c, "/t/hello");
    cr_assert_not_null(r);
    resp_free(r);
    cr_expect(closed_within(c->fd, 1500), "idle connection not closed");
    conn_free(c);
    cr_expect_eq(stop(), 0);
}
