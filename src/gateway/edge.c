/* SPDX-License-Identifier: MIT */
/* Edge protection, in nginx's phase order: client address (X-Forwarded-For only from trusted
 * proxies), CORS preflight, rate limits (token buckets per client IP and per user), then for
 * proxied routes the JWT pre-check (401 without a hop) and the route's body limit; on the way
 * out, security and CORS headers on every response.
 *
 * Buckets are local to the process (one table shared by the loops under a mutex; a lookup is
 * a hash and a few arithmetic operations). Sharing them across gateway replicas through Redis
 * would need an asynchronous Redis client on the loops; until then each replica enforces its
 * own share. */
#include "core/config.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "gateway/gw.h"
#include "http/internal.h"
#include "http/server.h"

#include <arpa/inet.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- trusted proxies ---- */

typedef struct {
    int family;
    unsigned char addr[16];
    int bits;
} cidr_t;

static cidr_t g_trusted[32];
static int g_ntrusted;
static char *g_origins[32];
static int g_norigins;
static bool g_any_origin;

static bool parse_ip(const char *s, int *family, unsigned char out[16])
{
    if (inet_pton(AF_INET, s, out) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

static bool ip_trusted(const char *ip)
{
    int fam;
    unsigned char a[16];
    if (!g_ntrusted || !ip || !parse_ip(ip, &fam, a))
        return false;
    for (int i = 0; i < g_ntrusted; i++) {
        const cidr_t *c = &g_trusted[i];
        if (c->family != fam)
            continue;
        int bits = c->bits, k = 0;
        for (; bits >= 8; bits -= 8, k++)
            if (a[k] != c->addr[k])
                break;
        if (bits >= 8)
            continue;
        if (bits == 0 || ((a[k] ^ c->addr[k]) & (0xff << (8 - bits))) == 0)
            return true;
    }
    return false;
}

/* ---- token buckets ---- */

#define BUCKETS 4096 /* open addressing; full tables evict the stalest entry of a probe run */
#define PROBE   8

typedef struct {
    char key[72];
    double tokens, last;
} bucket_t;

typedef struct {
    pthread_mutex_t mu;
    bucket_t b[BUCKETS];
    double rate, burst; /* tokens per second, capacity */
    dtm_metric_t *m_rejected;
} limiter_t;

static limiter_t g_ip, g_user;

static unsigned long hash(const char *s)
{
    unsigned long h = 1469598103934665603UL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211UL;
    return h;
}

/* 0 when allowed, else seconds to wait. */
static int take(limiter_t *l, const char *key)
{
    if (l->rate <= 0)
        return 0;
    double now = dtm_mono_s();
    unsigned long h = hash(key);
    pthread_mutex_lock(&l->mu);
    bucket_t *slot = NULL, *stalest = NULL;
    for (int i = 0; i < PROBE; i++) {
        bucket_t *b = &l->b[(h + (unsigned long)i) % BUCKETS];
        if (strcmp(b->key, key) == 0) {
            slot = b;
            break;
        }
        if (!stalest || b->last < stalest->last)
            stalest = b;
    }
    if (!slot) {
        slot = stalest;
        snprintf(slot->key, sizeof slot->key, "%s", key);
        slot->tokens = l->burst;
        slot->last = now;
    }
    slot->tokens += (now - slot->last) * l->rate;
    if (slot->tokens > l->burst)
        slot->tokens = l->burst;
    slot->last = now;
    int wait = 0;
    if (slot->tokens >= 1.0)
        slot->tokens -= 1.0;
    else
        wait = (int)ceil((1.0 - slot->tokens) / l->rate);
    pthread_mutex_unlock(&l->mu);
    if (wait)
        dtm_metric_inc(l->m_rejected);
    return wait;
}

static void limiter_init(limiter_t *l, int per_minute, const char *scope)
{
    pthread_mutex_init(&l->mu, NULL);
    memset(l->b, 0, sizeof l->b);
    l->rate = per_minute / 60.0;
    l->burst = per_minute / 4.0 > 10 ? per_minute / 4.0 : 10; /* a quarter minute's worth */
    char labels[64];
    snprintf(labels, sizeof labels, "scope=\"%s\"", scope);
    l->m_rejected = dtm_counter("gateway_rate_limited_total", "Requests answered 429", labels);
}

/* ---- init ---- */

void gw_edge_init(void)
{
    g_ntrusted = 0;
    if (dtm_cfg.trusted_proxies) {
        char *copy = dtm_strdup(dtm_cfg.trusted_proxies), *save = NULL;
        for (char *t = strtok_r(copy, ", ", &save); t && g_ntrusted < 32;
             t = strtok_r(NULL, ", ", &save)) {
            cidr_t *c = &g_trusted[g_ntrusted];
            char *slash = strchr(t, '/');
            if (slash)
                *slash = '\0';
            if (!parse_ip(t, &c->family, c->addr)) {
                dtm_log_warn("DTM_TRUSTED_PROXIES: ignoring \"%s\"", t);
                continue;
            }
            int max = c->family == AF_INET ? 32 : 128;
            c->bits = slash ? atoi(slash + 1) : max;
            if (c->bits < 0 || c->bits > max)
                c->bits = max;
            g_ntrusted++;
        }
        free(copy);
    }
    g_norigins = 0;
    g_any_origin = false;
    if (dtm_cfg.cors_origins) {
        char *copy = dtm_strdup(dtm_cfg.cors_origins), *save = NULL;
        for (char *t = strtok_r(copy, ", ", &save); t && g_norigins < 32;
             t = strtok_r(NULL, ", ", &save)) {
            if (strcmp(t, "*") == 0)
                g_any_origin = true;
            else
                g_origins[g_norigins++] = dtm_strdup(t);
        }
        free(copy);
    }
    limiter_init(&g_ip, dtm_cfg.rate_limit_per_ip, "ip");
    limiter_init(&g_user, dtm_cfg.rate_limit_per_user, "user");
}

/* ---- helpers ---- */

static bool origin_allowed(const char *origin)
{
    if (!origin)
        return false;
    if (g_any_origin)
        return true;
    for (int i = 0; i < g_norigins; i++)
        if (strcmp(g_origins[i], origin) == 0)
            return true;
    return false;
}

static void add_header(dtm_req_t *req, const char *name, const char *value)
{
    dtm_resp_t *r = dtm_req_resp(req);
    for (int i = 0; i < r->nheaders; i++)
        if (dtm_streq_ci(r->headers[i].name, name))
            return; /* the handler or upstream decided */
    if (r->nheaders < (int)(sizeof r->headers / sizeof r->headers[0]))
        dtm_resp_header(req, name, value);
}

/* The client's address: the peer, or when the peer is a trusted proxy the right-most
 * X-Forwarded-For entry that is not itself a trusted proxy. */
static void client_address(dtm_req_t *req)
{
    const char *peer = dtm_server_req_peer(req);
    const char *xff = dtm_req_header(req, "x-forwarded-for");
    if (!xff || !ip_trusted(peer))
        return;
    char *copy = dtm_arena_strdup(req->arena, xff);
    for (;;) {
        char *comma = strrchr(copy, ',');
        char *ip = comma ? comma + 1 : copy;
        while (*ip == ' ')
            ip++;
        char *end = ip + strlen(ip);
        while (end > ip && end[-1] == ' ')
            *--end = '\0';
        if (!*ip)
            return;
        if (!ip_trusted(ip) || !comma) {
            int fam;
            unsigned char a[16];
            if (parse_ip(ip, &fam, a))
                req->client_ip = ip;
            return;
        }
        *comma = '\0';
    }
}

static bool bearer_claims(const dtm_req_t *req, dtm_claims_t *c)
{
    const char *h = dtm_req_header(req, "authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7])
        return false;
    return dtm_jwt_verify(h + 7, dtm_jwt_keys(), dtm_now_ms() / 1000, c) == DTM_OK;
}

static void reset_resp(dtm_req_t *req)
{
    memset(dtm_req_resp(req), 0, sizeof(dtm_resp_t));
}

/* ---- hooks ---- */

bool gw_edge(dtm_req_t *req)
{
    client_address(req);
    const char *path = req->path;
    if (strcmp(path, "/health") == 0 || strcmp(path, "/metrics") == 0)
        return false;

    const char *origin = dtm_req_header(req, "origin");
    if (strcmp(req->method, "OPTIONS") == 0 && origin &&
        dtm_req_header(req, "access-control-request-method")) {
        reset_resp(req);
        if (origin_allowed(origin)) {
            const char *rh = dtm_req_header(req, "access-control-request-headers");
            dtm_resp_header(req, "Access-Control-Allow-Origin", origin);
            dtm_resp_header(req, "Access-Control-Allow-Methods",
                            "GET, POST, PUT, PATCH, DELETE, OPTIONS");
            dtm_resp_header(req, "Access-Control-Allow-Headers",
                            rh ? rh : "Authorization, Content-Type, X-Request-Id");
            dtm_resp_header(req, "Access-Control-Allow-Credentials", "true");
            dtm_resp_header(req, "Access-Control-Max-Age", "600");
        }
        dtm_resp_header(req, "Vary", "Origin");
        dtm_resp_json(req, 204, NULL);
        return true;
    }

    int wait = take(&g_ip, req->client_ip ? req->client_ip : "-");
    if (!wait && strncmp(path, "/api/", 5) == 0) {
        dtm_claims_t c;
        if (bearer_claims(req, &c)) {
            char key[80];
            snprintf(key, sizeof key, "u:%s", c.sub);
            wait = take(&g_user, key);
        }
    }
    if (wait) {
        reset_resp(req);
        char ra[16];
        snprintf(ra, sizeof ra, "%d", wait);
        dtm_resp_header(req, "Retry-After", ra);
        dtm_resp_error(req, 429, "rate_limited", "Too many requests; retry later", NULL);
        return true;
    }
    return false;
}

/* "/api/users/:id" against "/api/users/42" */
static bool path_matches(const char *pat, const char *path)
{
    while (*pat && *path) {
        if (*pat == ':') {
            if (*path == '/')
                return false;
            while (*pat && *pat != '/')
                pat++;
            while (*path && *path != '/')
                path++;
            continue;
        }
        if (*pat != *path)
            return false;
        pat++;
        path++;
    }
    if (*path == '/' && path[1] == '\0')
        path++; /* a trailing slash */
    return !*pat && !*path;
}

static const dtm_route_t *remote_route(const dtm_req_t *req)
{
    gw_service_t *gs = gw_service_find(req->service);
    if (!gs || !gs->svc->routes)
        return NULL;
    const dtm_route_t *best = NULL;
    for (const dtm_route_t *r = gs->svc->routes; r->method; r++) {
        if (strcmp(r->method, req->method) != 0 &&
            !(strcmp(req->method, "HEAD") == 0 && strcmp(r->method, "GET") == 0))
            continue;
        if (!path_matches(r->path, req->path))
            continue;
        /* the most literal pattern wins, like the router */
        if (!best || strchr(best->path, ':') > strchr(r->path, ':') ||
            (strchr(r->path, ':') == NULL && strchr(best->path, ':') != NULL))
            best = r;
    }
    return best;
}

bool gw_proxy_check(dtm_req_t *req, long *max_body)
{
    const dtm_route_t *route = remote_route(req);
    if (route) {
        if (route->max_body > 0)
            *max_body = route->max_body;
        if (route->roles != DTM_PUBLIC) {
            dtm_claims_t c;
            bool ok = bearer_claims(req, &c);
            unsigned role = ok ? dtm_role_parse(c.role) : 0;
            /* service identities exist only between our own processes, never at the edge */
            if (!ok || !role || role == DTM_ROLE_SERVICE) {
                reset_resp(req);
                dtm_resp_header(req, "WWW-Authenticate", "Bearer");
                dtm_resp_error(req, 401, ok ? "invalid_token" : "unauthorized",
                               ok ? "The access token is invalid or expired"
                                  : "A valid bearer access token is required",
                               NULL);
                return false;
            }
        }
    }
    const char *cl = dtm_req_header(req, "content-length");
    if (cl && strtoll(cl, NULL, 10) > *max_body) {
        reset_resp(req);
        dtm_resp_error(req, 413, "payload_too_large",
                       dtm_arena_sprintf(req->arena, "Request body exceeds %ld bytes", *max_body),
                       NULL);
        return false;
    }
    return true;
}

void gw_finalize(dtm_req_t *req)
{
    const char *origin = dtm_req_header(req, "origin");
    if (origin && origin_allowed(origin)) {
        add_header(req, "Access-Control-Allow-Origin", origin);
        add_header(req, "Access-Control-Allow-Credentials", "true");
        add_header(req, "Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
        add_header(req, "Vary", "Origin");
    }
    add_header(req, "Referrer-Policy", "strict-origin-when-cross-origin");
    add_header(req, "X-Frame-Options", "DENY");
    add_header(req, "Content-Security-Policy", "frame-ancestors 'none'");
    const char *proto = dtm_req_header(req, "x-forwarded-proto");
    if (proto && strcmp(proto, "https") == 0 && ip_trusted(dtm_server_req_peer(req)))
        add_header(req, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
}
