/* SPDX-License-Identifier: MIT */
/* The revocation cache of a process (see revoke.h for the design). Two open-addressing tables
 * (jti -> exp, user id -> valid-after) under one read-write lock: the authenticate hook takes
 * the read lock for two probes; writers are the subscriber, the poller and local revocations.
 * Entries that can no longer refuse a live token are dropped when the poller rebuilds. */
#include "services/auth/revoke.h"

#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/ticker.h"
#include "core/timeutil.h"
#include "db/redis.h"
#include "services/auth/auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX   63
#define MAP_LIMIT (1u << 22) /* 4M live revocations: beyond that, refuse to grow (logged) */

typedef struct {
    char key[KEY_MAX + 1]; /* "" = empty slot */
    int64_t val;
} slot_t;

typedef struct {
    slot_t *slots;
    size_t cap, n; /* cap: power of two */
} map_t;

static unsigned char g_hash_key[crypto_shorthash_KEYBYTES];

static uint64_t key_hash(const char *k, size_t n)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)k, n, g_hash_key);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h;
}

static slot_t *map_find(const map_t *m, const char *k, size_t n)
{
    if (!m->cap)
        return NULL;
    for (size_t i = key_hash(k, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        slot_t *s = &m->slots[i];
        if (!s->key[0])
            return NULL;
        if (strncmp(s->key, k, n) == 0 && s->key[n] == '\0')
            return s;
    }
}

static void map_put_nogrow(map_t *m, const char *k, size_t n, int64_t val, bool keep_max)
{
    for (size_t i = key_hash(k, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        slot_t *s = &m->slots[i];
        if (!s->key[0]) {
            memcpy(s->key, k, n);
            s->key[n] = '\0';
            s->val = val;
            m->n++;
            return;
        }
        if (strncmp(s->key, k, n) == 0 && s->key[n] == '\0') {
            if (!keep_max || val > s->val)
                s->val = val;
            return;
        }
    }
}

/* Rebuild into `cap` slots keeping entries with val > floor. */
static void map_rebuild(map_t *m, size_t cap, int64_t floor)
{
    map_t nm = {dtm_calloc(cap, sizeof(slot_t)), cap, 0};
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key[0] && m->slots[i].val > floor)
            map_put_nogrow(&nm, m->slots[i].key, strlen(m->slots[i].key), m->slots[i].val, true);
    free(m->slots);
    *m = nm;
}

static bool map_put(map_t *m, const char *k, int64_t val)
{
    size_t n = strlen(k);
    if (n == 0 || n > KEY_MAX)
        return false;
    if ((m->n + 1) * 2 > m->cap) {
        if (m->cap >= MAP_LIMIT)
            return false;
        map_rebuild(m, m->cap ? m->cap * 2 : 256, INT64_MIN);
    }
    map_put_nogrow(m, k, n, val, true);
    return true;
}

static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
static map_t g_jtis, g_users;
static char g_since[64]; /* the database clock of the last successful look; "" before */
static int64_t g_last_poll_ms, g_last_prune_ms;
static bool g_redis_was_up;
static int64_t g_fast_until_ms;
static dtm_ticker_t *g_ticker;
static atomic_bool g_started;
static dtm_metric_t *m_polls, *m_poll_errors, *m_refused, *m_full;

static void put_jti(const char *jti, int64_t exp)
{
    pthread_rwlock_wrlock(&g_lock);
    bool ok = map_put(&g_jtis, jti, exp);
    pthread_rwlock_unlock(&g_lock);
    if (!ok)
        dtm_metric_inc(m_full);
}

static void put_user(const char *user_id, int64_t valid_after)
{
    pthread_rwlock_wrlock(&g_lock);
    bool ok = map_put(&g_users, user_id, valid_after);
    pthread_rwlock_unlock(&g_lock);
    if (!ok)
        dtm_metric_inc(m_full);
}

bool dtm_auth_token_revoked(const char *jti, const char *sub, int64_t iat)
{
    pthread_rwlock_rdlock(&g_lock);
    bool revoked = map_find(&g_jtis, jti, strlen(jti)) != NULL;
    if (!revoked) {
        const slot_t *u = map_find(&g_users, sub, strlen(sub));
        revoked = u && iat <= u->val;
    }
    pthread_rwlock_unlock(&g_lock);
    return revoked;
}

int64_t dtm_auth_valid_after(const char *user_id)
{
    pthread_rwlock_rdlock(&g_lock);
    const slot_t *u = map_find(&g_users, user_id, strlen(user_id));
    int64_t v = u ? u->val : 0;
    pthread_rwlock_unlock(&g_lock);
    return v;
}

/* ---- writers ---- */

dtm_err_t dtm_auth_revoke_user(dtm_db_t *db, const char *user_id, int64_t *valid_after)
{
    return auth_store_epoch_bump(db, user_id, valid_after);
}

static void publish(const char *kind, const char *id, int64_t v)
{
    char msg[128];
    int n = snprintf(msg, sizeof msg, "%s %s %lld", kind, id, (long long)v);
    if (n <= 0 || (size_t)n >= sizeof msg)
        return;
    /* A failure is only slower: the other processes find the row by polling. */
    redisReply *r = dtm_redis_cmd(NULL, "PUBLISH %s %b", DTM_AUTH_REVOKE_CHANNEL, msg, (size_t)n);
    if (r)
        freeReplyObject(r);
}

void dtm_auth_revoke_user_published(const char *user_id, int64_t valid_after)
{
    put_user(user_id, valid_after);
    publish("u", user_id, valid_after);
}

void dtm_auth_deny_published(const char *jti, int64_t exp_s)
{
    put_jti(jti, exp_s);
    publish("j", jti, exp_s);
}

/* "u <id> <n>" / "j <id> <n>"; anything else is ignored. */
static void on_message(const char *msg, size_t len, void *ud)
{
    (void)ud;
    char kind[2], id[KEY_MAX + 1];
    long long v;
    char buf[160];
    if (len >= sizeof buf)
        return;
    memcpy(buf, msg, len);
    buf[len] = '\0';
    if (sscanf(buf, "%1s %63s %lld", kind, id, &v) != 3)
        return;
    if (kind[0] == 'u')
        put_user(id, v);
    else if (kind[0] == 'j')
        put_jti(id, v);
}

/* ---- the poller ---- */

static bool poll_once(void)
{
    dtm_pg_pool_t *pool = dtm_pg_pool_for("auth");
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = pool ? dtm_db_open(pool, a) : NULL;
    auth_revocations_t rv;
    const char *since = g_since[0] ? g_since : NULL;
    dtm_err_t err =
        db ? auth_store_revocations_since(db, a, since, dtm_cfg.access_ttl_s, &rv) : DTM_EDB;
    if (err) {
        dtm_metric_inc(m_poll_errors);
        dtm_arena_free(a);
        return false;
    }
    for (int i = 0; i < rv.ndenied; i++)
        put_jti(rv.denied[i].jti, rv.denied[i].exp_s);
    for (int i = 0; i < rv.nepochs; i++)
        put_user(rv.epochs[i].user_id, rv.epochs[i].valid_after);
    if (!since)
        dtm_log_info("auth: revocation cache loaded (%d denied tokens, %d user epochs)", rv.ndenied,
                     rv.nepochs);
    snprintf(g_since, sizeof g_since, "%s", rv.now);
    dtm_metric_inc(m_polls);
    dtm_arena_free(a);
    return true;
}

/* Entries that cannot refuse a live token any more: an expired jti; an epoch older than the
 * longest-lived access token (plus the 60 s iat skew that verification allows). */
static void prune(int64_t now_s)
{
    pthread_rwlock_wrlock(&g_lock);
    size_t cap = g_jtis.cap;
    while (cap > 256 && g_jtis.n * 8 < cap)
        cap /= 2;
    map_rebuild(&g_jtis, cap ? cap : 256, now_s);
    cap = g_users.cap;
    while (cap > 256 && g_users.n * 8 < cap)
        cap /= 2;
    map_rebuild(&g_users, cap ? cap : 256, now_s - dtm_cfg.access_ttl_s - 60);
    pthread_rwlock_unlock(&g_lock);
}

/* Every DTM_AUTH_POLL_DOWN_MS: look at PostgreSQL when Redis is down, has just come back (the
 * subscriber may have missed messages while reconnecting), when the last look failed, or when
 * DTM_AUTH_POLL_UP_MS have passed. */
static void tick(void *ud)
{
    (void)ud;
    int64_t now = dtm_now_ms();
    bool up = dtm_redis_up();
    if (up && !g_redis_was_up)
        g_fast_until_ms = now + 3 * DTM_AUTH_POLL_DOWN_MS;
    g_redis_was_up = up;
    bool due =
        !up || now < g_fast_until_ms || !g_since[0] || now - g_last_poll_ms >= DTM_AUTH_POLL_UP_MS;
    if (due && poll_once())
        g_last_poll_ms = now;
    if (now - g_last_prune_ms >= 30000) {
        prune(now / 1000);
        g_last_prune_ms = now;
    }
}

int dtm_auth_revocation_start(void)
{
    if (atomic_exchange(&g_started, true))
        return 0;
    if (sodium_init() < 0)
        return -1;
    randombytes_buf(g_hash_key, sizeof g_hash_key);
    m_polls = dtm_counter("dtm_auth_revocation_polls_total",
                          "Looks at PostgreSQL for new revocations", NULL);
    m_poll_errors = dtm_counter("dtm_auth_revocation_poll_errors_total",
                                "Failed looks at PostgreSQL for new revocations", NULL);
    m_refused = dtm_counter("dtm_auth_revoked_tokens_refused_total",
                            "Requests refused with a revoked access token", NULL);
    m_full = dtm_counter("dtm_auth_revocation_cache_full_total",
                         "Revocations not cached because the table is full", NULL);
    g_since[0] = '\0';
    g_last_poll_ms = g_last_prune_ms = dtm_now_ms();
    g_redis_was_up = true;
    g_fast_until_ms = 0;
    /* Subscribe first: a revocation published during the first load is not lost. */
    if (dtm_redis_subscribe(DTM_AUTH_REVOKE_CHANNEL, on_message, NULL) != 0)
        dtm_log_warn("auth: cannot subscribe to %s; polling only", DTM_AUTH_REVOKE_CHANNEL);
    if (!poll_once())
        dtm_log_warn("auth: revocation cache not loaded (database unavailable); retrying");
    g_ticker = dtm_ticker_start(DTM_AUTH_POLL_DOWN_MS, tick, NULL);
    return g_ticker ? 0 : -1;
}

void dtm_auth_revocation_stop(void)
{
    if (!atomic_exchange(&g_started, false))
        return;
    dtm_ticker_stop(g_ticker);
    g_ticker = NULL;
    pthread_rwlock_wrlock(&g_lock);
    free(g_jtis.slots);
    free(g_users.slots);
    g_jtis = g_users = (map_t){0};
    pthread_rwlock_unlock(&g_lock);
}

bool dtm_auth_authenticate(dtm_req_t *req)
{
    if (req->auth.role == DTM_ROLE_SERVICE)
        return true;
    if (!dtm_auth_token_revoked(req->auth.jti, req->auth.sub, req->auth.iat))
        return true;
    dtm_metric_inc(m_refused);
    dtm_resp_header(req, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
    dtm_resp_error(req, 401, "invalid_token", "The access token has been revoked", NULL);
    return false;
}
