/* SPDX-License-Identifier: MIT */
/* The gateway over real sockets: the server in gateway mode in a thread, proxying /api/auth to
 * two small HTTP upstreams (threads in this process, ports 41000-41999) that can be slowed,
 * broken, stopped and restarted. */
#include "core/config.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "gateway/gateway.h"
#include "http/internal.h"
#include "http/server.h"
#include "services/service.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- fake upstreams ---- */

typedef struct {
    int port;
    int lfd;
    pthread_t thread;
    atomic_int accepted, requests;
    atomic_bool stop;
    int fds[256];
    int nfds;
    pthread_mutex_t mu;
} upstream_t;

static upstream_t g_up[2];

typedef struct {
    upstream_t *u;
    int fd;
} uconn_t;

static void up_send(int fd, int status, const char *extra, const char *body)
{
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\n"
                     "X-Up: yes\r\n%s\r\n",
                     status, strlen(body), extra ? extra : "");
    send(fd, head, (size_t)n, MSG_NOSIGNAL);
    send(fd, body, strlen(body), MSG_NOSIGNAL);
}

static void *up_conn_main(void *arg)
{
    uconn_t *uc = arg;
    upstream_t *u = uc->u;
    int fd = uc->fd;
    free(uc);
    char *buf = malloc(1 << 20);
    size_t len = 0;
    for (;;) {
        char *end;
        while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
            ssize_t n = recv(fd, buf + len, (1 << 20) - len - 1, 0);
            if (n <= 0)
                goto out;
            len += (size_t)n;
        }
        size_t hl = (size_t)(end + 4 - buf);
        buf[hl - 1] = '\0';
        size_t cl = 0;
        char *p = strcasestr(buf, "\r\ncontent-length:");
        if (p)
            cl = strtoul(p + 17, NULL, 10);
        while (len < hl + cl) {
            ssize_t n = recv(fd, buf + len, (1 << 20) - len - 1, 0);
            if (n <= 0)
                goto out;
            len += (size_t)n;
        }
        atomic_fetch_add(&u->requests, 1);
        char method[16] = "", target[512] = "";
        sscanf(buf, "%15s %511s", method, target);
        const char *mode = strcasestr(buf, "\r\nx-mode: ");
        mode = mode ? mode + 10 : "";
        if (strcmp(target, "/health") == 0) {
            up_send(fd, 200, NULL, "{\"status\":\"ok\"}");
        } else if (strncmp(mode, "slow", 4) == 0) {
            usleep(1500 * 1000);
            up_send(fd, 200, NULL, "{}");
        } else if (strncmp(mode, "bad", 3) == 0) {
            send(fd, "HTTP/1.1 abc\r\n\r\n", 16, MSG_NOSIGNAL);
            goto out;
        } else if (strncmp(mode, "events", 6) == 0) {
            const char *h = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n9\r\ndata: a\n\n\r\n";
            send(fd, h, strlen(h), MSG_NOSIGNAL);
            usleep(600 * 1000);
            const char *t = "9\r\ndata: b\n\n\r\n0\r\n\r\n";
            send(fd, t, strlen(t), MSG_NOSIGNAL);
        } else if (strncmp(mode, "big", 3) == 0) {
            size_t n = 3 << 20;
            char *big = malloc(n);
            for (size_t i = 0; i < n; i++)
                big[i] = (char)('a' + i % 23);
            char h[160];
            int hn = snprintf(h, sizeof h,
                              "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                              "Content-Length: %zu\r\n\r\n",
                              n);
            send(fd, h, (size_t)hn, MSG_NOSIGNAL);
            for (size_t off = 0; off < n;) {
                ssize_t w = send(fd, big + off, n - off, MSG_NOSIGNAL);
                if (w <= 0)
                    break;
                off += (size_t)w;
            }
            free(big);
        } else if (strncmp(mode, "boom", 4) == 0) {
            up_send(fd, 500, NULL, "{\"error\":\"boom\"}");
        } else {
            /* echo what arrived: port, request line, headers, body length */
            char *body = malloc(hl * 2 + 256);
            char *q = body + sprintf(body,
                                     "{\"port\":%d,\"method\":\"%s\",\"target\":\"%s\","
                                     "\"bodyLen\":%zu,\"head\":\"",
                                     u->port, method, target, cl);
            for (size_t i = 0; i < hl - 1; i++) {
                char ch = buf[i];
                if (ch == '\r' || ch == '\n') {
                    *q++ = '|';
                } else if (ch == '"' || ch == '\\') {
                    *q++ = '\'';
                } else {
                    *q++ = ch;
                }
            }
            strcpy(q, "\"}");
            up_send(fd, 200, NULL, body);
            free(body);
        }
        memmove(buf, buf + hl + cl, len - hl - cl);
        len -= hl + cl;
    }
out:
    free(buf);
    /* forget the fd before closing it: its number is reused at once, and up_kill must never
     * shut down a socket that is not this upstream's */
    pthread_mutex_lock(&u->mu);
    for (int i = 0; i < u->nfds; i++)
        if (u->fds[i] == fd)
            u->fds[i] = u->fds[--u->nfds];
    close(fd);
    pthread_mutex_unlock(&u->mu);
    return NULL;
}

static void *up_main(void *arg)
{
    upstream_t *u = arg;
    for (;;) {
        int fd = accept(u->lfd, NULL, NULL);
        if (fd < 0) {
            if (atomic_load(&u->stop))
                return NULL;
            continue;
        }
        atomic_fetch_add(&u->accepted, 1);
        pthread_mutex_lock(&u->mu);
        if (u->nfds < 256) {
            u->fds[u->nfds++] = fd;
        } else {
            close(fd);
            fd = -1;
        }
        pthread_mutex_unlock(&u->mu);
        if (fd < 0)
            continue;
        uconn_t *uc = malloc(sizeof *uc);
        uc->u = u;
        uc->fd = fd;
        pthread_t t;
        pthread_create(&t, NULL, up_conn_main, uc);
        pthread_detach(t);
    }
}

static bool up_listen(upstream_t *u)
{
    u->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(u->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)u->port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (bind(u->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(u->lfd, 128) < 0) {
        close(u->lfd);
        return false;
    }
    return true;
}

static void up_start(upstream_t *u)
{
    atomic_store(&u->stop, false);
    u->nfds = 0;
    cr_assert(up_listen(u), "upstream port %d: %s", u->port, strerror(errno));
    pthread_create(&u->thread, NULL, up_main, u);
}

/* A replica dies: its listener and every connection go away at once. */
static void up_kill(upstream_t *u)
{
    atomic_store(&u->stop, true);
    shutdown(u->lfd, SHUT_RDWR);
    close(u->lfd);
    pthread_join(u->thread, NULL);
    pthread_mutex_lock(&u->mu);
    for (int i = 0; i < u->nfds; i++)
        shutdown(u->fds[i], SHUT_RDWR);
    u->nfds = 0;
    pthread_mutex_unlock(&u->mu);
}

/* ---- the gateway ---- */

static pthread_t g_thread;
static sem_t g_ready;
static int g_port, g_rc = -12345;
static char g_token[1024];

static void on_ready(void *ud, int port)
{
    (void)ud;
    g_port = port;
    sem_post(&g_ready);
}

static void *server_main(void *arg)
{
    dtm_server_opts_t *o = arg;
    g_rc = dtm_server_run(o);
    sem_post(&g_ready);
    return NULL;
}

static int free_port(int salt)
{
    for (int i = 0; i < 300; i++) {
        int port = 41000 + (int)((getpid() * 11 + salt * 97 + i * 7) % 1000);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return port;
    }
    cr_assert_fail("no free port");
    return 0;
}

static dtm_server_opts_t g_opts;
static const dtm_service_t *g_local[] = {NULL};

static void start(void)
{
    for (int i = 0; i < 2; i++) {
        memset(&g_up[i], 0, sizeof g_up[i]);
        pthread_mutex_init(&g_up[i].mu, NULL);
        g_up[i].port = free_port(i + 1);
        up_start(&g_up[i]);
    }
    char ups[128];
    snprintf(ups, sizeof ups, "http://127.0.0.1:%d,http://127.0.0.1:%d", g_up[0].port,
             g_up[1].port);
    setenv("DTM_UPSTREAM_AUTH", ups, 1);
    setenv("DTM_JWT_SECRET", "0123456789abcdef0123456789abcdef0123456789", 1);
    setenv("DTM_UPSTREAM_TIMEOUT_MS", "700", 1);
    setenv("DTM_UPSTREAM_CONNECT_TIMEOUT_MS", "300", 1);
    setenv("DTM_HEALTH_INTERVAL_MS", "200", 1);
    setenv("REDIS_URL", "redis://127.0.0.1:1/0", 1);
    setenv("DTM_LOG_LEVEL", "error", 1);
    cr_assert_eq(dtm_config_load(DTM_NEED_JWT, stderr), 0);
    dtm_log_init("test", DTM_LOG_ERROR);
    dtm_router_conf_t rc = {.process_service = "api-gateway",
                            .gateway = true,
                            .registry = dtm_services,
                            .local = g_local};
    dtm_router_configure(&rc);
    cr_assert_eq(dtm_gateway_init(), DTM_OK);

    dtm_claims_t c = {
        .sub = "11111111-1111-4111-8111-111111111111", .role = "admin", .jti = "t1", .iss = "dtm"};
    c.iat = dtm_now_ms() / 1000;
    c.exp = c.iat + 600;
    char *tok = dtm_jwt_sign(&c, dtm_jwt_keys());
    snprintf(g_token, sizeof g_token, "%s", tok);
    free(tok);

    g_opts = (dtm_server_opts_t){.host = "127.0.0.1",
                                 .port = free_port(7),
                                 .loops = 2,
                                 .threads = 4,
                                 .drain_timeout_ms = 3000,
                                 .on_ready = on_ready};
    sem_init(&g_ready, 0, 0);
    pthread_create(&g_thread, NULL, server_main, &g_opts);
    sem_wait(&g_ready);
    cr_assert_gt(g_port, 0);
}

static void stop(void)
{
    dtm_server_stop();
    pthread_join(g_thread, NULL);
    dtm_gateway_shutdown();
}

/* ---- a small client ---- */

typedef struct {
    int fd;
    char buf[1 << 18];
    size_t len;
} client_t;

static client_t *client(void)
{
    client_t *c = calloc(1, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_eq(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return c;
}

static void client_free(client_t *c)
{
    close(c->fd);
    free(c);
}

typedef struct {
    int status;
    char head[4096];
    char body[1 << 16];
} resp_t;

/* Sends raw, reads one Content-Length response into r. */
static char g_prev[4096]; /* the previous response head, for failure messages */

static void roundtrip(client_t *c, const char *raw, resp_t *r)
{
    cr_assert_eq(send(c->fd, raw, strlen(raw), MSG_NOSIGNAL), (ssize_t)strlen(raw),
                 "send: %s; previous response: %s", strerror(errno), g_prev);
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len - 1, 0);
        cr_assert_gt(n, 0, "no response head");
        c->len += (size_t)n;
    }
    size_t hl = (size_t)(end + 4 - c->buf);
    snprintf(r->head, sizeof r->head, "%.*s", (int)hl, c->buf);
    r->status = atoi(r->head + 9);
    const char *p = strcasestr(r->head, "\r\ncontent-length:");
    size_t cl = p ? strtoul(p + 17, NULL, 10) : 0;
    while (c->len < hl + cl) {
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len - 1, 0);
        cr_assert_gt(n, 0, "short body");
        c->len += (size_t)n;
    }
    snprintf(r->body, sizeof r->body, "%.*s", (int)cl, c->buf + hl);
    snprintf(g_prev, sizeof g_prev, "%.2000s%.1000s", r->head, r->body);
    memmove(c->buf, c->buf + hl + cl, c->len - hl - cl);
    c->len -= hl + cl;
}

static void get_me(client_t *c, const char *extra, resp_t *r)
{
    char raw[2048];
    snprintf(raw, sizeof raw,
             "GET /api/auth/me?x=%%20y HTTP/1.1\r\nHost: gw.example\r\nAuthorization: Bearer "
             "%s\r\n%s\r\n",
             g_token, extra ? extra : "");
    roundtrip(c, raw, r);
}

static int port_of(const resp_t *r)
{
    const char *p = strstr(r->body, "\"port\":");
    return p ? atoi(p + 7) : 0;
}

/* Reads a chunked body (after roundtrip-style head parsing) until the terminator; returns
 * the seconds until the first data chunk arrived. */
static double read_chunked(client_t *c, double t0, char *out, size_t cap)
{
    size_t olen = 0;
    double first = -1;
    for (;;) {
        char *nl;
        while (!(nl = memmem(c->buf, c->len, "\r\n", 2))) {
            ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len - 1, 0);
            cr_assert_gt(n, 0, "eof in chunked body");
            c->len += (size_t)n;
        }
        size_t sz = strtoul(c->buf, NULL, 16);
        size_t need = (size_t)(nl + 2 - c->buf) + sz + 2;
        while (c->len < need) {
            ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len - 1, 0);
            cr_assert_gt(n, 0, "eof in chunk");
            c->len += (size_t)n;
        }
        if (sz && first < 0)
            first = dtm_mono_s() - t0;
        if (sz && olen + sz < cap) {
            memcpy(out + olen, nl + 2, sz);
            olen += sz;
            out[olen] = '\0';
        }
        memmove(c->buf, c->buf + need, c->len - need);
        c->len -= need;
        if (sz == 0)
            return first;
    }
}

TestSuite(gateway, .init = start, .fini = stop, .timeout = 60);

Test(gateway, proxies_with_forwarding_headers_and_strips_hop_by_hop)
{
    client_t *c = client();
    resp_t *r = calloc(1, sizeof *r);
    get_me(c,
           "X-Request-Id: test-req-1\r\nConnection: keep-alive, X-Private\r\nX-Private: no\r\n"
           "Keep-Alive: timeout=9\r\nX-Forwarded-For: 6.6.6.6\r\n",
           r);
    cr_assert_eq(r->status, 200, "%s%s", r->head, r->body);
    cr_expect(strstr(r->body, "\"target\":\"/api/auth/me?x=%20y\"") != NULL, "%s", r->body);
    cr_expect(strstr(r->body, "X-Request-Id: test-req-1") != NULL, "%s", r->body);
    cr_expect(strstr(r->body, "X-Forwarded-For: 127.0.0.1|") != NULL, "untrusted XFF kept: %s",
              r->body);
    cr_expect(strstr(r->body, "X-Forwarded-Proto: http") != NULL);
    cr_expect(strstr(r->body, "X-Forwarded-Host: gw.example") != NULL);
    cr_expect(strstr(r->body, "X-Private") == NULL, "Connection-listed header forwarded");
    cr_expect(strstr(r->body, "Keep-Alive") == NULL);
    cr_expect(strcasestr(r->body, "authorization: Bearer") != NULL, "token not passed on");
    /* and on the way back */
    cr_expect(strstr(r->head, "X-Up: yes") != NULL, "%s", r->head);
    cr_expect(strstr(r->head, "X-Hop") == NULL, "%s", r->head);
    cr_expect(strstr(r->head, "Keep-Alive") == NULL, "%s", r->head);
    cr_expect(strstr(r->head, "X-Request-Id: test-req-1") != NULL, "%s", r->head);
    free(r);
    client_free(c);
}

Test(gateway, round_robin_over_reused_connections)
{
    client_t *c = client();
    resp_t *r = calloc(1, sizeof *r);
    int hits[2] = {0, 0};
    for (int i = 0; i < 40; i++) {
        get_me(c, NULL, r);
        cr_assert_eq(r->status, 200);
        hits[port_of(r) == g_up[1].port]++;
    }
    cr_expect_eq(hits[0], 20);
    cr_expect_eq(hits[1], 20);
    /* keep-alive pools: far fewer connections than requests (a few per loop and upstream, plus
     * one per health check) */
    int conns = atomic_load(&g_up[0].accepted) + atomic_load(&g_up[1].accepted);
    cr_expect_lt(conns, 25, "upstream connections %d for 40 requests", conns);
    free(r);
    client_free(c);
}

Test(gateway, post_body_passes_through)
{
    client_t *c = client();
    resp_t *r = calloc(1, sizeof *r);
    char raw[16384];
    char body[8000];
    memset(body, 'b', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    snprintf(raw, sizeof raw,
             "POST /api/auth/login HTTP/1.1\r\nHost: g\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    roundtrip(c, raw, r);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_expect(strstr(r->body, "\"bodyLen\":7999") != NULL, "%s", r->body);
    free(r);
    client_free(c);
}

Test(gateway, slow_upstream_gives_504)
{
    client_t *c = client();
    resp_t *r = calloc(1, sizeof *r);
    double t0 = dtm_mono_s();
    get_me(c, "X-Mode: slow\r\n", r);
    double dt = dtm_mono_s() - t0;
    cr_expect_eq(r->status, 504, "%s", r->body);
    cr_expect(strstr(r->body, "gateway_timeout") != NULL, "%s", r->body);
    cr_expect(dt > 0.6 && dt < 1.4, "took %.2f s", dt);
    /* the client connection survives */
    get_me(c, NULL, r);
    cr_expect_eq(r->status, 200);
    free(r);
    client_free(c);
}

Test(gateway, malformed_upstream_response_gives_502)
{
    client_t *c = client();
    resp_t *r = calloc(1, sizeof *r);
    get_me(c, "X-Mode: bad\r\n", r);
    cr_expect_eq(r->status, 502, "%s", r->body);
    cr_expect(strstr(r->body, "bad_gateway") != NULL, "%s", r->body);
    free(r);
    client_free(c);
}

Test(gateway, upstream_5xx_passes_through)
{
    client_t *c = client();
    resp_t *r = calloc(1, sizeof *r);
    get_me(c, "X-Mode: boom\r\n", r);
    cr_expect_eq(r->status, 500);
    cr_expect(strstr(r->body, "boom") != NULL);
    free(r);
    client_free(c);
}

Test(gateway, killing_a_replica_loses_no_request_and_it_is_readmitted)
{
    client_t *c = client();
    resp_t *r = calloc(1, sizeof *r);
    for (int i = 0; i < 120; i++) {
        if (i == 30)
            up_kill(&g_up[1]);
        get_me(c, NULL, r);
        cr_assert_eq(r->status, 200, "request %d: %d %s", i, r->status, r->body);
        if (i > 35)
            cr_assert_eq(port_of(r), g_up[0].port, "request %d went to the dead replica", i);
    }
    up_start(&g_up[1]); /* back: the health checker re-admits it */
    int second = 0;
    for (int i = 0; i < 100 && !second; i++) {
        usleep(50 * 1000);
        get_me(c, NULL, r);
        cr_assert_eq(r->status, 200);
        second = port_of(r) == g_up[1].port;
    }
    cr_expect(second, "the restarted replica was not re-admitted");
    free(r);
    client_free(c);
}

Test(gateway, every_replica_down_gives_503_at_once)
{
    up_kill(&g_up[0]);
    up_kill(&g_up[1]);
    client_t *c = client();
    resp_t *r = calloc(1, sizeof *r);
    for (int i = 0; i < 5; i++) {
        double t0 = dtm_mono_s();
        get_me(c, NULL, r);
        double dt = dtm_mono_s() - t0;
        cr_expect_eq(r->status, 503, "%s", r->body);
        cr_expect(strstr(r->body, "service_unavailable") != NULL, "%s", r->body);
        cr_expect_lt(dt, 0.35, "took %.3f s", dt);
    }
    /* other prefixes keep answering at the edge (404 for a route nobody has) */
    roundtrip(c, "GET /api/nothing HTTP/1.1\r\nHost: g\r\n\r\n", r);
    cr_expect_eq(r->status, 404);
    free(r);
    client_free(c);
}

Test(gateway, unauthenticated_requests_never_reach_the_upstream)
{
    int before = atomic_load(&g_up[0].requests) + atomic_load(&g_up[1].requests);
    client_t *c = client();
    resp_t *r = calloc(1, sizeof *r);
    roundtrip(c, "GET /api/auth/me HTTP/1.1\r\nHost: g\r\n\r\n", r);
    cr_expect_eq(r->status, 401);
    usleep(50 * 1000);
    int after = atomic_load(&g_up[0].requests) + atomic_load(&g_up[1].requests);
    /* only health checks may have arrived meanwhile: none of them is /api */
    cr_expect_leq(after - before, 4);
    free(r);
    client_free(c);
}

Test(gateway, event_stream_is_relayed_as_it_arrives)
{
    client_t *c = client();
    char raw[2048];
    snprintf(raw, sizeof raw,
             "GET /api/auth/me HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer %s\r\n"
             "X-Mode: events\r\n\r\n",
             g_token);
    double t0 = dtm_mono_s();
    cr_assert_eq(send(c->fd, raw, strlen(raw), MSG_NOSIGNAL), (ssize_t)strlen(raw));
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len - 1, 0);
        cr_assert_gt(n, 0);
        c->len += (size_t)n;
    }
    *end = '\0';
    cr_expect(strstr(c->buf, "200") != NULL, "%s", c->buf);
    cr_expect(strstr(c->buf, "Content-Type: text/event-stream") != NULL, "%s", c->buf);
    cr_expect(strstr(c->buf, "Transfer-Encoding: chunked") != NULL, "%s", c->buf);
    size_t hl = (size_t)(end + 4 - c->buf);
    memmove(c->buf, c->buf + hl, c->len - hl);
    c->len -= hl;
    char body[256];
    double first = read_chunked(c, t0, body, sizeof body);
    cr_expect_str_eq(body, "data: a\n\ndata: b\n\n");
    cr_expect_lt(first, 0.45, "first event after %.2f s: buffered, not streamed", first);
    /* the connection stays usable */
    resp_t *r = calloc(1, sizeof *r);
    get_me(c, NULL, r);
    cr_expect_eq(r->status, 200);
    free(r);
    client_free(c);
}

Test(gateway, large_response_streams_with_its_length)
{
    client_t *c = client();
    char raw[2048];
    snprintf(raw, sizeof raw,
             "GET /api/auth/me HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer %s\r\n"
             "X-Mode: big\r\n\r\n",
             g_token);
    cr_assert_eq(send(c->fd, raw, strlen(raw), MSG_NOSIGNAL), (ssize_t)strlen(raw));
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len - 1, 0);
        cr_assert_gt(n, 0);
        c->len += (size_t)n;
    }
    *end = '\0';
    cr_expect(strstr(c->buf, "Content-Length: 3145728") != NULL, "%s", c->buf);
    size_t hl = (size_t)(end + 4 - c->buf);
    size_t got = c->len - hl, bad = 0, pos = 0;
    for (size_t i = hl; i < c->len; i++, pos++)
        bad += c->buf[i] != (char)('a' + pos % 23);
    while (got < (3u << 20)) {
        usleep(200); /* a slow reader: the gateway must pause the upstream, not buffer */
        ssize_t n = recv(c->fd, c->buf, sizeof c->buf, 0);
        cr_assert_gt(n, 0, "eof after %zu bytes", got);
        for (ssize_t i = 0; i < n; i++, pos++)
            bad += c->buf[i] != (char)('a' + pos % 23);
        got += (size_t)n;
    }
    c->len = 0;
    cr_expect_eq(got, 3u << 20);
    cr_expect_eq(bad, 0);
    resp_t *r = calloc(1, sizeof *r);
    get_me(c, NULL, r);
    cr_expect_eq(r->status, 200);
    free(r);
    client_free(c);
}
