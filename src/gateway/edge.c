/* SPDX-License-Identifier: MIT */
/* Edge protection (see edge.h). Everything on the request path is memory only: a bucket
 * lookup is a hash, a mutex and a few arithmetic operations. Sharing across gateway replicas
 * happens off the loops: a thread pushes each bucket's local consumption to a per-minute
 * Redis counter every 250 ms and charges the bucket for what the other replicas consumed
 * meanwhile. When Redis is down the push fails fast and each replica limits on its own. */
#include "gateway/edge.h"

#include "core/config.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/ticker.h"
#include "core/timeutil.h"
#include "db/redis.h"
#include "http/internal.h"
#include "http/realip.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- origins ---- */

static char *g_origins[32];
static int g_norigins;
static bool g_any_origin;
static bool g_enabled;

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

/* ---- token buckets ---- */

#define BUCKETS 4096 /* open addressing; a full probe run evicts its stalest entry */
#define PROBE   8

typedef struct {
    char key[72];
    double tokens, last;
    long pending;     /* consumed here, not yet pushed to Redis */
    long seen;        /* global count of the current window at the last push */
    long long window; /* minute of `seen` */
} bucket_t;

typedef struct {
    const char *scope;
    pthread_mutex_t mu;
    bucket_t *b;
    double rate, burst; /* tokens per second, capacity */
    dtm_metric_t *m_rejected;
} limiter_t;

static limiter_t g_ip = {.scope = "ip"}, g_user = {.scope = "user"};

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
    if (l->rate <= 0 || !l->b)
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
        memset(slot, 0, sizeof *slot);
        snprintf(slot->key, sizeof slot->key, "%s", key);
        slot->tokens = l->burst;
        slot->last = now;
    }
    slot->tokens += (now - slot->last) * l->rate;
    if (slot->tokens > l->burst)
        slot->tokens = l->burst;
    slot->last = now;
    int wait = 0;
    if (slot->tokens >= 1.0) {
        slot->tokens -= 1.0;
        slot->pending++;
    } else {
        wait = (int)ceil((1.0 - slot->tokens) / l->rate);
    }
    pthread_mutex_unlock(&l->mu);
    if (wait)
        dtm_metric_inc(l->m_rejected);
    return wait;
}

static void limiter_init(limiter_t *l, int per_minute)
{
    pthread_mutex_init(&l->mu, NULL);
    free(l->b);
    l->b = dtm_calloc(BUCKETS, sizeof *l->b);
    int pct = dtm_cfg.rate_limit_burst_pct > 0 ? dtm_cfg.rate_limit_burst_pct : 25;
    l->rate = per_minute / 60.0;
    l->burst = (double)per_minute * pct / 100.0; /* in int, 1e9 a minute overflowed */
    if (l->burst < 1)
        l->burst = 1;
    char labels[64];
    snprintf(labels, sizeof labels, "scope=\"%s\"", l->scope);
    l->m_rejected = dtm_counter("gateway_rate_limited_total", "Requests answered 429", labels);
}

/* One push of a limiter's local consumption; charges buckets for the other replicas'. */
static void sync_limiter(limiter_t *l, dtm_arena_t *a)
{
    long long minute = dtm_now_ms() / 60000;
    for (int i = 0; i < BUCKETS; i++) {
        char key[72];
        long pending;
        long long window;
        pthread_mutex_lock(&l->mu);
        bucket_t *b = &l->b[i];
        pending = b->pending;
        window = b->window;
        memcpy(key, b->key, sizeof key);
        b->pending = 0;
        pthread_mutex_unlock(&l->mu);
        if (!pending || !key[0])
            continue;
        redisReply *r =
            dtm_redis_cmd(a, "INCRBY rl:%s:%s:%lld %ld", l->scope, key, minute, pending);
        if (!r || r->type != REDIS_REPLY_INTEGER)
            continue; /* Redis down: local limits only */
        if (r->integer == pending)
            dtm_redis_cmd(a, "EXPIRE rl:%s:%s:%lld 120", l->scope, key, minute);
        long seen = window == minute ? 0 : 0;
        pthread_mutex_lock(&l->mu);
        if (strcmp(b->key, key) == 0) {
            seen = b->window == minute ? b->seen : 0;
            long others = (long)r->integer - seen - pending;
            if (others > 0)
                b->tokens -= (double)others;
            b->seen = (long)r->integer;
            b->window = minute;
        }
        pthread_mutex_unlock(&l->mu);
    }
}

static dtm_ticker_t *g_sync;

/* Every 250 ms: exchange consumption with the other gateway replicas (Redis I/O happens only
 * here, never on a loop). */
static void sync_tick(void *ud)
{
    (void)ud;
    if (!dtm_redis_up())
        return;
    dtm_arena_t *a = dtm_arena_new(0);
    sync_limiter(&g_ip, a);
    sync_limiter(&g_user, a);
    dtm_arena_free(a);
}

/* ---- life cycle ---- */

int dtm_edge_init(void)
{
    int problems = dtm_realip_init() != 0;
    for (int i = 0; i < g_norigins; i++)
        free(g_origins[i]);
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
    if (problems)
        return -1;
    limiter_init(&g_ip, dtm_cfg.rate_limit_per_ip);
    limiter_init(&g_user, dtm_cfg.rate_limit_per_user);
    g_sync = dtm_ticker_start(250, sync_tick, NULL);
    g_enabled = true;
    return 0;
}

void dtm_edge_shutdown(void)
{
    dtm_ticker_stop(g_sync);
    g_sync = NULL;
    g_enabled = false;
}

bool dtm_edge_enabled(void)
{
    return g_enabled;
}

/* ---- request path ---- */

static bool is_preflight(const dtm_req_t *req)
{
    return strcmp(req->method, "OPTIONS") == 0 && dtm_req_header(req, "origin") &&
           dtm_req_header(req, "access-control-request-method");
}

bool dtm_edge_filter(dtm_req_t *req)
{
    const char *path = req->path;
    if (strcmp(path, "/health") == 0 || strcmp(path, "/metrics") == 0 ||
        strcmp(path, "/livez") == 0 || strcmp(path, "/readyz") == 0)
        return false;
    if (is_preflight(req)) {
        if (origin_allowed(dtm_req_header(req, "origin")))
            dtm_resp_json(req, 204, NULL);
        else
            dtm_resp_error(req, 403, "forbidden", "Origin not allowed", NULL);
        return true;
    }
    int wait = take(&g_ip, req->client_ip ? req->client_ip : "-");
    const char *h = dtm_req_header(req, "authorization");
    if (!wait && h && strncasecmp(h, "Bearer ", 7) == 0 && strncmp(path, "/api/", 5) == 0) {
        dtm_claims_t c;
        if (dtm_jwt_verify_cached(h + 7, dtm_now_ms() / 1000, &c) == DTM_OK)
            wait = take(&g_user, c.sub);
    }
    if (!wait)
        return false;
    char ra[16];
    snprintf(ra, sizeof ra, "%d", wait);
    dtm_resp_header(req, "Retry-After", ra);
    dtm_resp_error(req, 429, "rate_limited", "Too many requests; retry later", NULL);
    return true;
}

/* API JSON carries tokens and personal data: no cache (browser or shared) keeps it unless its
 * handler (or the upstream that answered) chose a policy of its own. */
static bool json_without_cache_policy(const dtm_req_t *req)
{
    const dtm_resp_t *r = dtm_req_resp((dtm_req_t *)req);
    if (!r->content_type || strncasecmp(r->content_type, "application/json", 16) != 0 ||
        r->cache_control)
        return false;
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, "cache-control") == 0)
            return false;
    return true;
}

void dtm_edge_headers(const dtm_req_t *req, dtm_buf_t *out)
{
    const char *origin = dtm_req_header(req, "origin");
    if (origin && origin_allowed(origin)) {
        /* The API authenticates with a bearer header, never cookies: no credentials mode, and
         * "*" in DTM_CORS_ORIGINS means any origin, anonymously (never a reflected origin). */
        dtm_buf_printf(out, "Access-Control-Allow-Origin: %s\r\n", g_any_origin ? "*" : origin);
        dtm_buf_puts(out, "Access-Control-Expose-Headers: X-Request-Id, Retry-After\r\n"
                          "Vary: Origin\r\n");
        if (is_preflight(req)) {
            const char *rh = dtm_req_header(req, "access-control-request-headers");
            dtm_buf_printf(out,
                           "Access-Control-Allow-Methods: GET, POST, PUT, PATCH, DELETE, "
                           "OPTIONS\r\nAccess-Control-Allow-Headers: %s\r\n"
                           "Access-Control-Max-Age: 600\r\n",
                           rh ? rh : "Authorization, Content-Type, X-Request-Id");
        }
    }
    dtm_buf_puts(out, "Referrer-Policy: strict-origin-when-cross-origin\r\n"
                      "X-Frame-Options: DENY\r\n"
                      "Content-Security-Policy: frame-ancestors 'none'\r\n");
    if (req->via_tls)
        dtm_buf_puts(out, "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n");
    if (json_without_cache_policy(req))
        dtm_buf_puts(out, "Cache-Control: no-store\r\n");
}
