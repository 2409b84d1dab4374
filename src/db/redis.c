/* SPDX-License-Identifier: MIT */
/* Redis client: a pool of blocking hiredis contexts (one per worker thread), and a circuit
 * breaker. Redis is a cache, so when it is down a request must not wait for a connect timeout
 * per call: after a failure every call returns NULL at once for BREAKER_S, then exactly one
 * caller probes (reconnects) while the others keep getting NULL. */
#include "db/redis.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/str.h"
#include "core/timeutil.h"
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define POOL_MAX  64 /* connections per process, at most */
#define BREAKER_S 1.0
#define STALE_S   1.0
#define MAX_SUBS  8

typedef struct {
    char host[256];
    char user[128]; /* Redis 6 ACL user; "" = AUTH with the password alone */
    char password[256];
    int port, db;
} redis_url_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static redis_url_t target;
static bool have_target;
static int timeout_ms = 500;
static redisContext *idle[POOL_MAX];
static atomic_int pool_size = 4;
static int nidle, nbusy;

/* Breaker state: while down, calls fail fast until `open_until`, then one caller (`probing`)
 * reconnects. At start up is false and open_until 0, so the first caller is that probe. */
static double open_until;
static bool probing;
static double last_ok;
static atomic_bool up;
static atomic_ullong commands, errors;

/* ---- URL ---- */

/* Percent-decodes [s, s+n) into out (cap bytes with the NUL); false when malformed or too long. */
static bool userinfo_decode(const char *s, size_t n, char *out, size_t cap)
{
    if (n >= cap)
        return false;
    return dtm_url_decode(s, n, out, false) >= 0;
}

int dtm_redis_parse_url_user(const char *url, char *host, size_t host_cap, int *port, char *user,
                             size_t user_cap, char *password, size_t pw_cap, int *db)
{
    if (!url || strncmp(url, "redis://", 8) != 0)
        return -1;
    const char *p = url + 8;
    const char *end = p + strcspn(p, "/?#");
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    password[0] = '\0';
    user[0] = '\0';
    if (at) {
        /* userinfo is percent-encoded (RFC 3986); an unencoded '@' in the password still works
         * because the last '@' ends it. */
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *user_end = colon ? colon : at;
        if (!userinfo_decode(p, (size_t)(user_end - p), user, user_cap))
            return -1;
        if (colon && !userinfo_decode(colon + 1, (size_t)(at - colon - 1), password, pw_cap))
            return -1;
        p = at + 1;
    }
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *host_end = colon ? colon : end;
    if (host_end == p || (size_t)(host_end - p) >= host_cap)
        return -1;
    snprintf(host, host_cap, "%.*s", (int)(host_end - p), p);
    *port = 6379;
    if (colon) {
        char *e;
        long v = strtol(colon + 1, &e, 10);
        if (e != end || v < 1 || v > 65535)
            return -1;
        *port = (int)v;
    }
    *db = 0;
    if (*end == '/' && end[1] && end[1] != '?') {
        char *e;
        long v = strtol(end + 1, &e, 10);
        if ((*e && *e != '?') || v < 0 || v > 1000)
            return -1;
        *db = (int)v;
    }
    return 0;
}

int dtm_redis_parse_url(const char *url, char *host, size_t host_cap, int *port, char *password,
                        size_t pw_cap, int *db)
{
    char user[128];
    return dtm_redis_parse_url_user(url, host, host_cap, port, user, sizeof user, password, pw_cap,
                                    db);
}

/* Parse dtm_cfg.redis_url once; caller holds mu. */
static bool target_locked(void)
{
    if (have_target)
        return true;
    const char *url = dtm_cfg.redis_url ? dtm_cfg.redis_url : "redis://127.0.0.1:6379/0";
    if (dtm_redis_parse_url_user(url, target.host, sizeof target.host, &target.port, target.user,
                                 sizeof target.user, target.password, sizeof target.password,
                                 &target.db) < 0) {
        dtm_log_error("REDIS_URL is not a valid redis:// URL");
        return false;
    }
    timeout_ms = dtm_cfg.redis_timeout_ms > 0 ? dtm_cfg.redis_timeout_ms : 500;
    /* One connection per worker thread: a round trip is ~60 us, so a handful of shared
     * connections would queue requests behind each other under load. */
    pool_size = dtm_cfg.threads < 4 ? 4 : dtm_cfg.threads > POOL_MAX ? POOL_MAX : dtm_cfg.threads;
    have_target = true;
    return true;
}

/* ---- connections ---- */

static struct timeval tv_ms(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000L};
    return tv;
}

/* ---- Sentinel ---- */

/* The master's address as the first sentinel of REDIS_SENTINELS that answers says (asking them
 * in order). false when none knows it. */
static bool sentinel_master(int tmo_ms, char *host, size_t cap, int *port)
{
    const char *p = dtm_cfg.redis_sentinels;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char addr[256];
        snprintf(addr, sizeof addr, "%.*s", (int)n, p);
        p += n + (end ? 1 : 0);
        char *colon = strrchr(addr, ':');
        if (!colon)
            continue;
        *colon = '\0';
        redisContext *c = redisConnectWithTimeout(addr, atoi(colon + 1), tv_ms(tmo_ms));
        if (!c || c->err) {
            if (c)
                redisFree(c);
            continue;
        }
        redisSetTimeout(c, tv_ms(tmo_ms));
        bool authed = true;
        if (dtm_cfg.redis_sentinel_password && dtm_cfg.redis_sentinel_password[0]) {
            redisReply *a = redisCommand(c, "AUTH %s", dtm_cfg.redis_sentinel_password);
            authed = a && a->type != REDIS_REPLY_ERROR;
            if (a)
                freeReplyObject(a);
        }
        redisReply *r = authed ? redisCommand(c, "SENTINEL get-master-addr-by-name %s",
                                              dtm_cfg.redis_master_name)
                               : NULL;
        bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->str &&
                  r->element[1]->str;
        if (ok) {
            snprintf(host, cap, "%s", r->element[0]->str);
            *port = atoi(r->element[1]->str);
        }
        if (r)
            freeReplyObject(r);
        redisFree(c);
        if (ok)
            return true;
    }
    return false;
}

static char g_master[300]; /* "host:port" of the master last connected to, under mu */
static atomic_ullong master_changes;

/* Sentinel mode: the connection must be to a master (a demoted one answers as a replica). */
static bool is_master(redisContext *c)
{
    redisReply *r = redisCommand(c, "ROLE");
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->str &&
              strcmp(r->element[0]->str, "master") == 0;
    if (r)
        freeReplyObject(r);
    return ok;
}

static void note_master(const char *host, int port)
{
    char now[300];
    snprintf(now, sizeof now, "%s:%d", host, port);
    pthread_mutex_lock(&mu);
    bool changed = strcmp(now, g_master) != 0;
    bool first = !g_master[0];
    if (changed)
        snprintf(g_master, sizeof g_master, "%s", now);
    pthread_mutex_unlock(&mu);
    if (changed && !first) {
        atomic_fetch_add(&master_changes, 1);
        dtm_log_warn("redis master is now %s (Sentinel failover)", now);
    } else if (changed) {
        dtm_log_info("redis master %s (from Sentinel)", now);
    }
}

/* A connected, authenticated context on the right db, or NULL. With REDIS_SENTINELS the
 * address comes from Sentinel on every new connection, so a failover is followed by the next
 * connect (the breaker drops the old ones). */
static redisContext *connect_ctx(const redis_url_t *t, int tmo_ms, bool command_timeout)
{
    bool sentinel = dtm_cfg.redis_sentinels && dtm_cfg.redis_sentinels[0];
    char host[256];
    int port = t->port;
    snprintf(host, sizeof host, "%s", t->host);
    if (sentinel && !sentinel_master(tmo_ms, host, sizeof host, &port))
        return NULL;
    redisContext *c = redisConnectWithTimeout(host, port, tv_ms(tmo_ms));
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    if (command_timeout)
        redisSetTimeout(c, tv_ms(tmo_ms));
    redisEnableKeepAlive(c);
    if (t->password[0]) {
        redisReply *r = t->user[0] ? redisCommand(c, "AUTH %s %s", t->user, t->password)
                                   : redisCommand(c, "AUTH %s", t->password);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (r)
            freeReplyObject(r);
        if (!ok) {
            dtm_log_warn("redis AUTH failed");
            redisFree(c);
            return NULL;
        }
    }
    if (t->db) {
        redisReply *r = redisCommand(c, "SELECT %d", t->db);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (r)
            freeReplyObject(r);
        if (!ok) {
            redisFree(c);
            return NULL;
        }
    }
    if (sentinel) {
        if (!is_master(c)) {
            redisFree(c);
            return NULL;
        }
        note_master(host, port);
    }
    return c;
}

static void trip_breaker_locked(void)
{
    /* The other idle connections almost surely died with this one (a Redis restart): drop
     * them, or each would cost the probe after the next breaker period one more failure. */
    while (nidle > 0)
        redisFree(idle[--nidle]);
    if (atomic_exchange(&up, false))
        dtm_log_warn("redis is down; serving without cache for now");
    open_until = dtm_mono_s() + BREAKER_S;
}

/* Checks out a context. NULL when the breaker is open, Redis is unreachable, or every context
 * stays busy past the timeout. *probe tells the caller it holds the probe. */
static redisContext *acquire(bool *probe)
{
    *probe = false;
    pthread_mutex_lock(&mu);
    if (!target_locked()) {
        pthread_mutex_unlock(&mu);
        return NULL;
    }
    if (!atomic_load(&up)) {
        if (probing || dtm_mono_s() < open_until) {
            pthread_mutex_unlock(&mu);
            return NULL;
        }
        probing = true;
        *probe = true;
    }
    struct timespec deadline;
    dtm_deadline_after(&deadline, CLOCK_REALTIME, timeout_ms);
    while (nidle == 0 && nbusy >= pool_size) {
        if (pthread_cond_timedwait(&cv, &mu, &deadline) == ETIMEDOUT) {
            if (*probe)
                probing = false;
            pthread_mutex_unlock(&mu);
            return NULL;
        }
    }
    nbusy++;
    redisContext *c = nidle ? idle[--nidle] : NULL;
    redis_url_t t = target;
    int tmo = timeout_ms;
    pthread_mutex_unlock(&mu);
    if (!c) {
        c = connect_ctx(&t, tmo, true);
        if (!c) {
            pthread_mutex_lock(&mu);
            nbusy--;
            trip_breaker_locked();
            if (*probe)
                probing = false;
            pthread_cond_signal(&cv);
            pthread_mutex_unlock(&mu);
            atomic_fetch_add(&errors, 1);
        }
    }
    return c;
}

/* Returns the context (NULL or failed ones are dropped) and updates the breaker. */
static void release(redisContext *c, bool failed, bool probe)
{
    pthread_mutex_lock(&mu);
    nbusy--;
    if (failed) {
        redisFree(c);
        trip_breaker_locked();
    } else {
        if (!atomic_exchange(&up, true) && last_ok > 0)
            dtm_log_info("redis is back");
        last_ok = dtm_mono_s();
        if (nidle < pool_size)
            idle[nidle++] = c;
        else
            redisFree(c);
    }
    if (probe)
        probing = false;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

/* ---- commands ---- */

static void reply_free(void *r)
{
    freeReplyObject(r);
}

static redisReply *finish(dtm_arena_t *a, redisContext *c, redisReply *r, bool probe)
{
    atomic_fetch_add(&commands, 1);
    /* READONLY: this connection's server was demoted to a replica (a failover): drop it and
     * let the next connect find the new master. */
    bool failed = r == NULL || c->err != 0 ||
                  (r->type == REDIS_REPLY_ERROR && r->str && strncmp(r->str, "READONLY", 8) == 0);
    if (failed) {
        atomic_fetch_add(&errors, 1);
        if (r)
            freeReplyObject(r);
        r = NULL;
    }
    release(c, failed, probe);
    if (r && a)
        dtm_arena_defer(a, reply_free, r);
    return r;
}

redisReply *dtm_redis_cmd(dtm_arena_t *a, const char *fmt, ...)
{
    bool probe;
    redisContext *c = acquire(&probe);
    if (!c)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    return finish(a, c, r, probe);
}

redisReply *dtm_redis_cmdargv(dtm_arena_t *a, int argc, const char **argv, const size_t *lens)
{
    bool probe;
    redisContext *c = acquire(&probe);
    if (!c)
        return NULL;
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    return finish(a, c, r, probe);
}

bool dtm_redis_up(void)
{
    pthread_mutex_lock(&mu);
    bool stale = dtm_mono_s() - last_ok > STALE_S;
    pthread_mutex_unlock(&mu);
    if (stale) {
        redisReply *r = dtm_redis_cmd(NULL, "PING");
        if (r)
            freeReplyObject(r);
    }
    return atomic_load(&up);
}

void dtm_redis_stats(dtm_redis_stats_t *out)
{
    out->up = atomic_load(&up);
    out->commands = atomic_load(&commands);
    out->errors = atomic_load(&errors);
}

/* ---- metrics, init, shutdown ---- */

static double m_up(void *ud)
{
    (void)ud;
    return atomic_load(&up) ? 1 : 0;
}

static double m_commands(void *ud)
{
    (void)ud;
    return (double)atomic_load(&commands);
}

static double m_errors(void *ud)
{
    (void)ud;
    return (double)atomic_load(&errors);
}

static double m_pool(void *ud)
{
    (void)ud;
    return pool_size;
}

static double m_master_changes(void *ud)
{
    (void)ud;
    return (double)atomic_load(&master_changes);
}

static int subs_stop_all(void);

void dtm_redis_init(void)
{
    pthread_mutex_lock(&mu);
    have_target = false;
    target_locked();
    open_until = 0;
    last_ok = 0;
    pthread_mutex_unlock(&mu);
    dtm_gauge_fn("dtm_redis_up", "1 when the last Redis command succeeded", NULL, m_up, NULL);
    dtm_gauge_fn("dtm_redis_pool_size", "Redis connections per process", NULL, m_pool, NULL);
    dtm_counter_fn("dtm_redis_commands_total", "Redis commands sent", NULL, m_commands, NULL);
    dtm_counter_fn("dtm_redis_errors_total", "Redis commands or connects that failed", NULL,
                   m_errors, NULL);
    dtm_counter_fn("dtm_redis_master_changes_total",
                   "Times Sentinel named a new Redis master (REDIS_SENTINELS)", NULL,
                   m_master_changes, NULL);
    redisReply *r = dtm_redis_cmd(NULL, "PING");
    if (r)
        freeReplyObject(r);
    else
        dtm_log_warn("redis unreachable at start; continuing without cache");
}

void dtm_redis_shutdown(void)
{
    subs_stop_all();
    pthread_mutex_lock(&mu);
    while (nidle > 0)
        redisFree(idle[--nidle]);
    have_target = false;
    pthread_mutex_unlock(&mu);
}

/* ---- subscriptions ---- */

typedef struct {
    pthread_t thread;
    char *channel;
    void (*cb)(const char *, size_t, void *);
    void *ud;
    redisContext *ctx; /* current connection, under subs_mu (for shutdown) */
} sub_t;

static pthread_mutex_t subs_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t subs_cv = PTHREAD_COND_INITIALIZER;
static sub_t *subs[MAX_SUBS];
static int nsubs;
static bool subs_stop;

static bool sub_sleep(double s)
{
    pthread_mutex_lock(&subs_mu);
    if (!subs_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)s;
        pthread_cond_timedwait(&subs_cv, &subs_mu, &ts);
    }
    bool stop = subs_stop;
    pthread_mutex_unlock(&subs_mu);
    return !stop;
}

static void sub_listen(sub_t *s, redisContext *c)
{
    redisReply *r = redisCommand(c, "SUBSCRIBE %s", s->channel);
    if (!r)
        return;
    freeReplyObject(r);
    void *raw;
    while (redisGetReply(c, &raw) == REDIS_OK) {
        r = raw;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[0]->str &&
            strcmp(r->element[0]->str, "message") == 0 && r->element[2]->str)
            s->cb(r->element[2]->str, r->element[2]->len, s->ud);
        freeReplyObject(r);
    }
}

static void *sub_thread(void *arg)
{
    sub_t *s = arg;
    for (;;) {
        pthread_mutex_lock(&mu);
        bool ok = target_locked();
        redis_url_t t = target;
        int tmo = timeout_ms;
        pthread_mutex_unlock(&mu);
        /* No read timeout: a subscriber waits for messages; keepalive finds dead peers. */
        redisContext *c = ok ? connect_ctx(&t, tmo, false) : NULL;
        if (c) {
            pthread_mutex_lock(&subs_mu);
            bool stop = subs_stop;
            s->ctx = stop ? NULL : c;
            pthread_mutex_unlock(&subs_mu);
            if (!stop)
                sub_listen(s, c);
            pthread_mutex_lock(&subs_mu);
            s->ctx = NULL;
            pthread_mutex_unlock(&subs_mu);
            redisFree(c);
        }
        if (!sub_sleep(1.0))
            break;
    }
    return NULL;
}

int dtm_redis_subscribe(const char *channel, void (*cb)(const char *msg, size_t len, void *ud),
                        void *ud)
{
    pthread_mutex_lock(&subs_mu);
    if (nsubs >= MAX_SUBS) {
        pthread_mutex_unlock(&subs_mu);
        return -1;
    }
    subs_stop = false;
    sub_t *s = dtm_calloc(1, sizeof *s);
    s->channel = dtm_strdup(channel);
    s->cb = cb;
    s->ud = ud;
    if (pthread_create(&s->thread, NULL, sub_thread, s) != 0) {
        pthread_mutex_unlock(&subs_mu);
        free(s->channel);
        free(s);
        return -1;
    }
    subs[nsubs++] = s;
    pthread_mutex_unlock(&subs_mu);
    return 0;
}

static int subs_stop_all(void)
{
    pthread_mutex_lock(&subs_mu);
    subs_stop = true;
    for (int i = 0; i < nsubs; i++)
        if (subs[i]->ctx)
            shutdown(subs[i]->ctx->fd, SHUT_RDWR); /* unblocks the reader */
    pthread_cond_broadcast(&subs_cv);
    int n = nsubs;
    sub_t *copy[MAX_SUBS];
    memcpy(copy, subs, sizeof copy);
    nsubs = 0;
    pthread_mutex_unlock(&subs_mu);
    for (int i = 0; i < n; i++) {
        pthread_join(copy[i]->thread, NULL);
        free(copy[i]->channel);
        free(copy[i]);
    }
    return n;
}
