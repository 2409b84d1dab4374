/* SPDX-License-Identifier: MIT */
/* Bounded pool of blocking libpq connections.
 *
 * Slots are counted, connections made lazily: `total` counts connections that exist or are
 * being made, so the bound holds while a connect is in flight outside the lock. A connection is
 * checked when it leaves the pool (a pending EOF/FATAL from a restarted server is noticed
 * without a round trip; long-idle or previously failing ones get a SELECT 1) and dropped when
 * broken, so the pool heals itself after PostgreSQL restarts. */
#include "db/pg.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/ticker.h"
#include "core/timeutil.h"
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IDLE_CHECK_S    5.0 /* idle longer than this: SELECT 1 before reuse */
#define STMT_BUCKETS    64
#define PING_TIMEOUT_MS 1000
#define BUSY_HEALTHY_S  5.0

typedef struct stmt {
    struct stmt *next;
    char name[24];
    char sql[]; /* the cache key */
} stmt_t;

typedef struct conn {
    PGconn *pg;
    struct conn *next; /* idle list */
    double last_used;
    bool suspect; /* the last use saw an error: check before reuse */
    unsigned nstmts;
    stmt_t *stmts[STMT_BUCKETS];
} conn_t;

struct dtm_pg_pool {
    char *url;
    int size, timeout_ms;
    int statement_timeout_ms; /* 0: the server's default */
    bool txn_pooler;          /* behind a transaction-mode pooler: no session state */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    conn_t *idle;
    int nidle, total;
    unsigned long long acquires, timeouts, errors;
    double last_healthy;             /* a connection came back in good shape (mono seconds) */
    struct dtm_pg_pool *next_shared; /* dtm_pg_pool_for registry */
};

struct dtm_db {
    dtm_pg_pool_t *pool;
    dtm_arena_t *arena; /* owns results returned by dtm_db_query */
    conn_t *c;
    bool broken;
    dtm_pg_replica_t *replica; /* a read on a replica: re-run on the primary if it fails */
    dtm_db_write_fn on_write;  /* write tracking (dtm_db_track_writes) */
    void *on_write_ud;
    bool dirty; /* the open transaction wrote */
    char sqlstate[6];
    char constraint[64];
};

/* ---- connections ---- */

static void conn_free(conn_t *c)
{
    if (!c)
        return;
    for (int i = 0; i < STMT_BUCKETS; i++)
        for (stmt_t *s = c->stmts[i], *next; s; s = next) {
            next = s->next;
            free(s);
        }
    PQfinish(c->pg);
    free(c);
}

/* Server notices ("schema already exists, skipping") go to the debug log, not raw stderr. */
static void notice_log(void *arg, const char *msg)
{
    (void)arg;
    dtm_log_debug("postgres: %.*s", (int)strcspn(msg, "\n"), msg);
}

static conn_t *conn_open(const dtm_pg_pool_t *p)
{
    char timeout[16];
    int secs = (p->timeout_ms + 999) / 1000;
    snprintf(timeout, sizeof timeout, "%d", secs < 1 ? 1 : secs);
    /* Our settings come first so anything in the URL overrides them (expand_dbname). Keepalives
     * make a vanished server show up as an error instead of a hang. */
    const char *keys[] = {
        "connect_timeout",     "application_name", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "dbname",     NULL};
    const char *vals[] = {timeout, "dtm", "1", "10", "5", "3", p->url, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", pg ? PQerrorMessage(pg) : "out of memory");
        msg[strcspn(msg, "\n")] = '\0';
        dtm_log_warn("postgres connect failed: %s", msg);
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, notice_log, NULL);
    /* Set per session rather than in the startup options, which an `options` parameter of
     * the URL would silently replace. */
    if (p->statement_timeout_ms > 0 && !p->txn_pooler) {
        char set[64];
        snprintf(set, sizeof set, "SET statement_timeout = %d", p->statement_timeout_ms);
        PGresult *r = PQexec(pg, set);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s", PQerrorMessage(pg));
            msg[strcspn(msg, "\n")] = '\0';
            dtm_log_warn("postgres: cannot set statement_timeout: %s", msg);
            PQfinish(pg);
            return NULL;
        }
    }
    conn_t *c = dtm_calloc(1, sizeof *c);
    c->pg = pg;
    c->last_used = dtm_mono_s();
    return c;
}

/* Cheap check first: an idle socket that is readable has either a notice or the server's
 * goodbye; consume it and look at the status. Then a real round trip when warranted. */
static bool conn_healthy(conn_t *c)
{
    if (PQstatus(c->pg) != CONNECTION_OK)
        return false;
    struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
    if (pfd.fd < 0)
        return false;
    if (poll(&pfd, 1, 0) > 0) {
        /* Nothing is expected on an idle connection: usually a FATAL before EOF. */
        if (!PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK)
            return false;
        c->suspect = true;
        PGnotify *n;
        while ((n = PQnotifies(c->pg)) != NULL)
            PQfreemem(n);
    }
    if (!c->suspect && dtm_mono_s() - c->last_used < IDLE_CHECK_S)
        return true;
    PGresult *r = PQexec(c->pg, "SELECT 1");
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    c->suspect = !ok;
    return ok && PQstatus(c->pg) == CONNECTION_OK;
}

/* ---- pool ---- */

dtm_pg_pool_t *dtm_pg_pool_new(const char *url, int size, int timeout_ms)
{
    dtm_pg_pool_t *p = dtm_calloc(1, sizeof *p);
    p->url = dtm_strdup(url);
    p->size = size > 0 ? size : 16;
    p->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &attr);
    pthread_condattr_destroy(&attr);
    return p;
}

void dtm_pg_pool_set_statement_timeout(dtm_pg_pool_t *p, int ms)
{
    pthread_mutex_lock(&p->mu);
    p->statement_timeout_ms = ms > 0 ? ms : 0;
    pthread_mutex_unlock(&p->mu);
}

void dtm_pg_pool_set_transaction_pooler(dtm_pg_pool_t *p, bool on)
{
    pthread_mutex_lock(&p->mu);
    p->txn_pooler = on;
    pthread_mutex_unlock(&p->mu);
}

void dtm_pg_pool_free(dtm_pg_pool_t *p)
{
    if (!p)
        return;
    dtm_gauge_fn_remove(p);
    while (p->idle) {
        conn_t *c = p->idle;
        p->idle = c->next;
        conn_free(c);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->url);
    free(p);
}

/* Give a slot back (connection dropped or never made) and wake a waiter. */
static void slot_release(dtm_pg_pool_t *p, bool error)
{
    pthread_mutex_lock(&p->mu);
    p->total--;
    if (error)
        p->errors++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* A checked, healthy connection, or NULL (unreachable or exhausted past timeout_ms). */
static conn_t *pool_acquire(dtm_pg_pool_t *p, int timeout_ms)
{
    struct timespec deadline;
    dtm_deadline_after(&deadline, CLOCK_MONOTONIC, timeout_ms);
    pthread_mutex_lock(&p->mu);
    p->acquires++;
    for (;;) {
        if (p->idle) {
            conn_t *c = p->idle;
            p->idle = c->next;
            p->nidle--;
            pthread_mutex_unlock(&p->mu);
            if (conn_healthy(c))
                return c;
            conn_free(c); /* e.g. PostgreSQL restarted: make a fresh one */
            slot_release(p, true);
            pthread_mutex_lock(&p->mu);
            continue;
        }
        if (p->total < p->size) {
            p->total++;
            pthread_mutex_unlock(&p->mu);
            conn_t *c = conn_open(p);
            if (!c)
                slot_release(p, true); /* unreachable: fail now, do not queue behind it */
            return c;
        }
        if (pthread_cond_timedwait(&p->cv, &p->mu, &deadline) == ETIMEDOUT && !p->idle &&
            p->total >= p->size) {
            p->timeouts++;
            pthread_mutex_unlock(&p->mu);
            dtm_log_warn("postgres pool exhausted for %d ms", timeout_ms);
            return NULL;
        }
    }
}

static void pool_release(dtm_pg_pool_t *p, conn_t *c, bool broken)
{
    if (!broken && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        /* The request ended inside a transaction (an error path): undo it. */
        PGresult *r = PQexec(c->pg, "ROLLBACK");
        broken = PQresultStatus(r) != PGRES_COMMAND_OK;
        PQclear(r);
    }
    if (broken || PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        conn_free(c);
        slot_release(p, false);
        return;
    }
    c->last_used = dtm_mono_s();
    pthread_mutex_lock(&p->mu);
    p->last_healthy = c->last_used;
    c->next = p->idle;
    p->idle = c;
    p->nidle++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void dtm_pg_pool_stats(dtm_pg_pool_t *p, dtm_pg_stats_t *out)
{
    pthread_mutex_lock(&p->mu);
    out->in_use = p->total - p->nidle;
    out->idle = p->nidle;
    out->max = p->size;
    out->acquires = p->acquires;
    out->timeouts = p->timeouts;
    out->errors = p->errors;
    pthread_mutex_unlock(&p->mu);
}

/* ---- shared pools by URL ---- */

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static dtm_pg_pool_t *shared;

static double g_in_use(void *ud)
{
    dtm_pg_stats_t s;
    dtm_pg_pool_stats(ud, &s);
    return s.in_use;
}

static double g_idle(void *ud)
{
    dtm_pg_stats_t s;
    dtm_pg_pool_stats(ud, &s);
    return s.idle;
}

static double g_max(void *ud)
{
    dtm_pg_stats_t s;
    dtm_pg_pool_stats(ud, &s);
    return s.max;
}

static double g_acquires(void *ud)
{
    dtm_pg_stats_t s;
    dtm_pg_pool_stats(ud, &s);
    return (double)s.acquires;
}

static double g_timeouts(void *ud)
{
    dtm_pg_stats_t s;
    dtm_pg_pool_stats(ud, &s);
    return (double)s.timeouts;
}

static double g_errors(void *ud)
{
    dtm_pg_stats_t s;
    dtm_pg_pool_stats(ud, &s);
    return (double)s.errors;
}

static void register_metrics(dtm_pg_pool_t *p, const char *name)
{
    static const struct {
        const char *metric, *help, *state;
        double (*fn)(void *);
        bool counter;
    } rows[] = {
        {"dtm_db_pool_connections", "PostgreSQL pool connections by state", "in_use", g_in_use,
         false},
        {"dtm_db_pool_connections", "PostgreSQL pool connections by state", "idle", g_idle, false},
        {"dtm_db_pool_connections", "PostgreSQL pool connections by state", "max", g_max, false},
        {"dtm_db_pool_acquires_total", "Connections checked out of the pool", NULL, g_acquires,
         true},
        {"dtm_db_pool_timeouts_total", "Checkouts that timed out on an exhausted pool", NULL,
         g_timeouts, true},
        {"dtm_db_pool_errors_total", "Failed connects and connections dropped as broken", NULL,
         g_errors, true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char labels[160];
        if (rows[i].state)
            snprintf(labels, sizeof labels, "pool=\"%s\",state=\"%s\"", name, rows[i].state);
        else
            snprintf(labels, sizeof labels, "pool=\"%s\"", name);
        if (rows[i].counter)
            dtm_counter_fn(rows[i].metric, rows[i].help, labels, rows[i].fn, p);
        else
            dtm_gauge_fn(rows[i].metric, rows[i].help, labels, rows[i].fn, p);
    }
}

/* Service name -> pool, filled once per name: the request path (dtm_svc_db on every request)
 * reads it without a lock, a getenv or a string build. Entries are published by the release
 * store of by_name_n and never change until dtm_pg_pools_shutdown. */
#define BY_NAME_MAX 32
static struct {
    char name[48];
    dtm_pg_pool_t *pool;
} by_name[BY_NAME_MAX];
static _Atomic int by_name_n;

static dtm_pg_pool_t *pool_for_url(const char *service);

dtm_pg_pool_t *dtm_pg_pool_for(const char *service)
{
    const char *key = service ? service : "";
    int n = atomic_load_explicit(&by_name_n, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (strcmp(by_name[i].name, key) == 0)
            return by_name[i].pool;
    dtm_pg_pool_t *p = pool_for_url(service);
    if (!p || strlen(key) >= sizeof by_name[0].name)
        return p;
    pthread_mutex_lock(&shared_mu);
    n = atomic_load_explicit(&by_name_n, memory_order_relaxed);
    bool known = false;
    for (int i = 0; i < n && !known; i++)
        known = strcmp(by_name[i].name, key) == 0;
    if (!known && n < BY_NAME_MAX) {
        snprintf(by_name[n].name, sizeof by_name[n].name, "%s", key);
        by_name[n].pool = p;
        atomic_store_explicit(&by_name_n, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&shared_mu);
    return p;
}

static dtm_pg_pool_t *pool_for_url(const char *service)
{
    const char *url = dtm_config_db_url(service);
    if (!url)
        return NULL;
    pthread_mutex_lock(&shared_mu);
    dtm_pg_pool_t *p = shared;
    while (p && strcmp(p->url, url) != 0)
        p = p->next_shared;
    if (!p) {
        p = dtm_pg_pool_new(url, dtm_cfg.pg_pool_size, dtm_cfg.pg_timeout_ms);
        dtm_pg_pool_set_statement_timeout(p, dtm_cfg.pg_statement_timeout_ms);
        dtm_pg_pool_set_transaction_pooler(p, dtm_cfg.pg_pooler &&
                                                  strcmp(dtm_cfg.pg_pooler, "transaction") == 0);
        p->next_shared = shared;
        shared = p;
        /* One DATABASE_URL for all services (the usual case) is the "default" pool. */
        const char *main_url = getenv("DATABASE_URL");
        bool is_default = !service || (main_url && strcmp(main_url, url) == 0);
        char name[64];
        snprintf(name, sizeof name, "%s", is_default ? "default" : service);
        for (char *c = name; *c; c++)
            if (*c == '"' || *c == '\\')
                *c = '_';
        register_metrics(p, name);
    }
    pthread_mutex_unlock(&shared_mu);
    return p;
}

/* ---- read replicas ---- */

#define LSN_HISTORY     128 /* primary LSN samples kept to turn a byte lag into time */
#define REPLICA_WAIT_MS 100 /* a busy replica pool: the read goes to the primary instead */

typedef struct {
    double t;
    uint64_t lsn;
} lsn_sample_t;

struct dtm_pg_replica {
    dtm_pg_pool_t *pool, *primary;
    char *url;
    char name[64];
    int max_lag_ms;
    dtm_ticker_t *ticker;
    atomic_bool up, usable;
    atomic_uint_fast64_t replay_lsn, lag_bytes;
    atomic_llong lag_ms;
    lsn_sample_t hist[LSN_HISTORY]; /* checker thread only */
    int nhist, hist_head;
    dtm_metric_t *m_replica, *m_unusable, *m_behind, *m_retried;
    struct dtm_pg_replica *next;
};

static dtm_pg_replica_t *replicas;

uint64_t dtm_pg_lsn_parse(const char *s)
{
    if (!s)
        return 0;
    char *end;
    unsigned long long hi = strtoull(s, &end, 16);
    if (*end != '/')
        return 0;
    unsigned long long lo = strtoull(end + 1, &end, 16);
    if (*end || hi > UINT32_MAX || lo > UINT32_MAX)
        return 0;
    return (uint64_t)hi << 32 | (uint64_t)lo;
}

/* One text value of a one-row query on a pooled connection; false when it failed. */
static bool conn_value(conn_t *c, const char *sql, char *out, size_t cap, int ncols, bool *b0)
{
    PGresult *r = PQexec(c->pg, sql);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == ncols;
    if (ok) {
        int col = ncols - 1;
        snprintf(out, cap, "%s", PQgetisnull(r, 0, col) ? "" : PQgetvalue(r, 0, col));
        if (b0)
            *b0 = ncols > 1 && PQgetvalue(r, 0, 0)[0] == 't';
    }
    PQclear(r);
    return ok;
}

/* From a request that found the replica gone: the checker looks again at once (it may have been
 * one broken connection), instead of at the end of its interval. */
static void replica_mark_down(dtm_pg_replica_t *r, bool kick)
{
    if (atomic_exchange(&r->up, false))
        dtm_log_warn("postgres replica %s: down, reads go to the primary", r->name);
    atomic_store(&r->usable, false);
    if (kick)
        dtm_ticker_kick(r->ticker);
}

/* How long ago (s) the primary last stood at or before `replay`: the replica is at most that
 * far behind. Samples are in time order; the newest one at or below replay wins. */
static double lag_seconds(const dtm_pg_replica_t *r, uint64_t replay, double now)
{
    double oldest = now;
    for (int i = 0; i < r->nhist; i++) {
        const lsn_sample_t *s = &r->hist[(r->hist_head - 1 - i + LSN_HISTORY) % LSN_HISTORY];
        if (s->lsn <= replay)
            return i == 0 ? 0.0 : now - r->hist[(r->hist_head - i + LSN_HISTORY) % LSN_HISTORY].t;
        oldest = s->t;
    }
    return now - oldest; /* behind every sample we kept: at least this much */
}

static void replica_check(void *ud)
{
    dtm_pg_replica_t *r = ud;
    double now = dtm_mono_s();
    char v[64];
    /* The primary first: a replica at or past this LSN afterwards is caught up to "now". */
    uint64_t primary_lsn = 0;
    conn_t *pc = r->primary ? pool_acquire(r->primary, PING_TIMEOUT_MS) : NULL;
    if (pc) {
        bool ok = conn_value(pc, "SELECT pg_current_wal_lsn()::text", v, sizeof v, 1, NULL);
        pool_release(r->primary, pc, !ok);
        if (ok)
            primary_lsn = dtm_pg_lsn_parse(v);
    }
    if (primary_lsn) {
        r->hist[r->hist_head] = (lsn_sample_t){now, primary_lsn};
        r->hist_head = (r->hist_head + 1) % LSN_HISTORY;
        if (r->nhist < LSN_HISTORY)
            r->nhist++;
    }
    conn_t *c = pool_acquire(r->pool, PING_TIMEOUT_MS);
    bool in_recovery = false, ok = false;
    if (c) {
        ok = conn_value(c, "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text", v,
                        sizeof v, 2, &in_recovery);
        pool_release(r->pool, c, !ok);
    }
    if (!ok || !in_recovery) {
        if (ok && atomic_load(&r->up))
            dtm_log_warn("postgres replica %s: not in recovery (promoted?), not used", r->name);
        if (!ok)
            replica_mark_down(r, false); /* a kick from here would spin while it is down */
        atomic_store(&r->up, false);
        atomic_store(&r->usable, false);
        atomic_store(&r->lag_ms, -1);
        return;
    }
    uint64_t replay = dtm_pg_lsn_parse(v);
    uint64_t prev = atomic_load(&r->replay_lsn);
    if (replay > prev)
        atomic_store(&r->replay_lsn, replay);
    uint64_t lag_bytes = primary_lsn > replay ? primary_lsn - replay : 0;
    long long lag_ms = primary_lsn ? (long long)(lag_seconds(r, replay, now) * 1000.0) : -1;
    atomic_store(&r->lag_bytes, lag_bytes);
    atomic_store(&r->lag_ms, lag_ms);
    /* The primary unreachable: no lag to measure, and reads go nowhere else anyway. */
    bool usable = lag_ms >= 0 && lag_ms <= r->max_lag_ms;
    if (!atomic_exchange(&r->up, true))
        dtm_log_info("postgres replica %s: up", r->name);
    bool was = atomic_exchange(&r->usable, usable);
    if (was && !usable)
        dtm_log_warn("postgres replica %s: %lld ms behind (limit %d), reads go to the primary",
                     r->name, lag_ms, r->max_lag_ms);
    else if (!was && usable)
        dtm_log_info("postgres replica %s: caught up, serving reads", r->name);
}

static double g_replica_up(void *ud)
{
    return atomic_load(&((dtm_pg_replica_t *)ud)->up) ? 1 : 0;
}

static double g_replica_usable(void *ud)
{
    return atomic_load(&((dtm_pg_replica_t *)ud)->usable) ? 1 : 0;
}

static double g_replica_lag_bytes(void *ud)
{
    return (double)atomic_load(&((dtm_pg_replica_t *)ud)->lag_bytes);
}

static double g_replica_lag_s(void *ud)
{
    long long ms = atomic_load(&((dtm_pg_replica_t *)ud)->lag_ms);
    return ms < 0 ? -1 : ms / 1000.0;
}

static void replica_metrics(dtm_pg_replica_t *r)
{
    char l[160];
    snprintf(l, sizeof l, "pool=\"%s\"", r->name);
    dtm_gauge_fn("dtm_pg_replica_up", "The read replica answers and is a standby", l, g_replica_up,
                 r);
    dtm_gauge_fn("dtm_pg_replica_usable", "The read replica is up and within the lag limit", l,
                 g_replica_usable, r);
    dtm_gauge_fn("dtm_pg_replica_lag_bytes", "WAL bytes the replica has not replayed yet", l,
                 g_replica_lag_bytes, r);
    dtm_gauge_fn("dtm_pg_replica_lag_seconds", "How far behind the primary the replica is", l,
                 g_replica_lag_s, r);
    static const char help[] = "Reads asking for a replica, by where they ran";
    snprintf(l, sizeof l, "pool=\"%s\",target=\"replica\",reason=\"ok\"", r->name);
    r->m_replica = dtm_counter("dtm_db_reads_total", help, l);
    snprintf(l, sizeof l, "pool=\"%s\",target=\"primary\",reason=\"replica_unusable\"", r->name);
    r->m_unusable = dtm_counter("dtm_db_reads_total", help, l);
    snprintf(l, sizeof l, "pool=\"%s\",target=\"primary\",reason=\"read_your_writes\"", r->name);
    r->m_behind = dtm_counter("dtm_db_reads_total", help, l);
    snprintf(l, sizeof l, "pool=\"%s\",target=\"primary\",reason=\"replica_failed\"", r->name);
    r->m_retried = dtm_counter("dtm_db_reads_total", help, l);
}

dtm_pg_replica_t *dtm_pg_replica_for(const char *service)
{
    const char *url = dtm_config_db_replica_url(service);
    if (!url)
        return NULL;
    dtm_pg_pool_t *primary = dtm_pg_pool_for(service);
    pthread_mutex_lock(&shared_mu);
    dtm_pg_replica_t *r = replicas;
    while (r && strcmp(r->url, url) != 0)
        r = r->next;
    if (!r) {
        r = dtm_calloc(1, sizeof *r);
        r->url = dtm_strdup(url);
        r->primary = primary;
        r->max_lag_ms = dtm_cfg.replica_max_lag_ms > 0 ? dtm_cfg.replica_max_lag_ms : 5000;
        r->pool = dtm_pg_pool_new(url, dtm_cfg.pg_pool_size, dtm_cfg.pg_timeout_ms);
        dtm_pg_pool_set_statement_timeout(r->pool, dtm_cfg.pg_statement_timeout_ms);
        dtm_pg_pool_set_transaction_pooler(
            r->pool, dtm_cfg.pg_pooler && strcmp(dtm_cfg.pg_pooler, "transaction") == 0);
        atomic_init(&r->lag_ms, -1);
        const char *main_url = getenv("DATABASE_URL_REPLICA");
        bool is_default = !service || (main_url && strcmp(main_url, url) == 0);
        snprintf(r->name, sizeof r->name, "%s", is_default ? "default" : service);
        for (char *c = r->name; *c; c++)
            if (*c == '"' || *c == '\\')
                *c = '_';
        char pool_name[80];
        snprintf(pool_name, sizeof pool_name, "%s_replica", r->name);
        register_metrics(r->pool, pool_name);
        replica_metrics(r);
        r->next = replicas;
        replicas = r;
        int every = r->max_lag_ms / 4;
        r->ticker = dtm_ticker_start(every < 50     ? 50
                                     : every > 1000 ? 1000
                                                    : every,
                                     replica_check, r);
    }
    pthread_mutex_unlock(&shared_mu);
    return r;
}

const char *dtm_pg_replica_name(const dtm_pg_replica_t *r)
{
    return r->name;
}

void dtm_pg_replica_state(dtm_pg_replica_t *r, dtm_pg_replica_state_t *out)
{
    out->up = atomic_load(&r->up);
    out->usable = atomic_load(&r->usable);
    out->lag_bytes = atomic_load(&r->lag_bytes);
    out->lag_ms = atomic_load(&r->lag_ms);
    out->replay_lsn = atomic_load(&r->replay_lsn);
    out->name = r->name;
}

void dtm_pg_replicas_each(void (*fn)(dtm_pg_replica_t *r, void *ud), void *ud)
{
    pthread_mutex_lock(&shared_mu);
    dtm_pg_replica_t *r = replicas;
    pthread_mutex_unlock(&shared_mu);
    for (; r; r = r->next) /* the list only grows at the head: the tail is stable */
        fn(r, ud);
}

static void replicas_shutdown(void)
{
    pthread_mutex_lock(&shared_mu);
    dtm_pg_replica_t *r = replicas;
    replicas = NULL;
    pthread_mutex_unlock(&shared_mu);
    while (r) {
        dtm_pg_replica_t *next = r->next;
        dtm_ticker_stop(r->ticker);
        dtm_gauge_fn_remove(r);
        dtm_pg_pool_free(r->pool);
        free(r->url);
        free(r);
        r = next;
    }
}

void dtm_pg_pools_shutdown(void)
{
    replicas_shutdown();
    pthread_mutex_lock(&shared_mu);
    dtm_pg_pool_t *p = shared;
    shared = NULL;
    atomic_store(&by_name_n, 0);
    pthread_mutex_unlock(&shared_mu);
    while (p) {
        dtm_pg_pool_t *next = p->next_shared;
        dtm_pg_pool_free(p);
        p = next;
    }
}

/* ---- per-request handles ---- */

static void db_release(void *arg)
{
    dtm_db_t *db = arg;
    pool_release(db->pool, db->c, db->broken);
}

static dtm_db_t *db_handle(dtm_pg_pool_t *p, conn_t *c, dtm_arena_t *a)
{
    dtm_db_t *db = dtm_arena_calloc(a, sizeof *db);
    db->pool = p;
    db->arena = a;
    db->c = c;
    dtm_arena_defer(a, db_release, db);
    return db;
}

dtm_db_t *dtm_db_open(dtm_pg_pool_t *p, dtm_arena_t *a)
{
    if (!p)
        return NULL;
    conn_t *c = pool_acquire(p, p->timeout_ms);
    return c ? db_handle(p, c, a) : NULL;
}

dtm_db_t *dtm_db_open_read(dtm_pg_pool_t *primary, dtm_pg_replica_t *r, uint64_t min_lsn,
                           dtm_arena_t *a)
{
    if (!r || !atomic_load(&r->usable)) {
        if (r)
            dtm_metric_inc(r->m_unusable);
        return dtm_db_open(primary, a);
    }
    conn_t *c = pool_acquire(r->pool, REPLICA_WAIT_MS);
    if (!c) {
        /* Refused or exhausted: a refused connect means it went away since the last check. */
        pthread_mutex_lock(&r->pool->mu);
        bool exhausted = r->pool->total >= r->pool->size;
        pthread_mutex_unlock(&r->pool->mu);
        if (!exhausted)
            replica_mark_down(r, true);
        dtm_metric_inc(r->m_unusable);
        return dtm_db_open(primary, a);
    }
    if (min_lsn > atomic_load(&r->replay_lsn)) {
        /* The caller wrote after our last check: ask the replica where it is now. */
        char v[64];
        bool ok = conn_value(c, "SELECT pg_last_wal_replay_lsn()::text", v, sizeof v, 1, NULL);
        uint64_t now_at = ok ? dtm_pg_lsn_parse(v) : 0;
        uint64_t prev = atomic_load(&r->replay_lsn);
        while (now_at > prev && !atomic_compare_exchange_weak(&r->replay_lsn, &prev, now_at)) {
        }
        if (!ok || now_at < min_lsn) {
            pool_release(r->pool, c, !ok);
            if (!ok)
                replica_mark_down(r, true);
            dtm_metric_inc(ok ? r->m_behind : r->m_retried);
            return dtm_db_open(primary, a);
        }
    }
    dtm_db_t *db = db_handle(r->pool, c, a);
    db->replica = r;
    dtm_metric_inc(r->m_replica);
    return db;
}

bool dtm_db_on_replica(const dtm_db_t *db)
{
    return db && db->replica;
}

void dtm_db_track_writes(dtm_db_t *db, dtm_db_write_fn fn, void *ud)
{
    db->on_write = fn;
    db->on_write_ud = ud;
}

/* A write committed on a tracked handle: tell the tracker where the primary's WAL is now. */
static void note_write(dtm_db_t *db)
{
    db->dirty = false;
    char v[64];
    uint64_t lsn = 0;
    if (!db->broken &&
        conn_value(db->c, "SELECT pg_current_wal_insert_lsn()::text", v, sizeof v, 1, NULL))
        lsn = dtm_pg_lsn_parse(v);
    if (!lsn) {
        /* Committed, but where is unknown: no replica is known to have it (primary until the
         * mark expires). */
        dtm_log_warn("postgres: cannot read the commit LSN; the caller reads from the primary");
        lsn = UINT64_MAX;
    }
    db->on_write(db->on_write_ud, lsn);
}

/* Did this statement (maybe) write? The tag says so for plain writes; a CTE that writes
 * (WITH u AS (UPDATE ...) SELECT ...) is tagged SELECT, so our SQL text is looked at too. Erring
 * towards "wrote" costs one LSN round trip, never a stale read. */
static bool changes_rows(const PGresult *r, const char *sql)
{
    const char *tag = PQcmdStatus((PGresult *)r);
    if (strncmp(tag, "INSERT", 6) == 0 || strncmp(tag, "UPDATE", 6) == 0 ||
        strncmp(tag, "DELETE", 6) == 0 || strncmp(tag, "MERGE", 5) == 0 ||
        strncmp(tag, "COPY", 4) == 0)
        return true;
    static const char *const verbs[] = {"insert", "update", "delete", "merge", "nextval("};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcasestr(sql, verbs[i]))
            return true;
    return false;
}

/* The replica failed under a read (it stopped, or a recovery conflict cancelled the statement):
 * move the handle to a primary connection. False when the primary cannot be had either. */
static bool move_to_primary(dtm_db_t *db)
{
    dtm_pg_replica_t *r = db->replica;
    conn_t *pc = pool_acquire(r->primary, r->primary->timeout_ms);
    if (!pc)
        return false;
    bool lost = db->broken;
    pool_release(db->pool, db->c, db->broken);
    if (lost)
        replica_mark_down(r, true);
    db->pool = r->primary;
    db->c = pc;
    db->broken = false;
    db->replica = NULL;
    dtm_metric_inc(r->m_retried);
    return true;
}

PGconn *dtm_db_conn(dtm_db_t *db)
{
    return db->c->pg;
}

const char *dtm_db_sqlstate(const dtm_db_t *db)
{
    return db->sqlstate;
}

const char *dtm_db_constraint(const dtm_db_t *db)
{
    return db->constraint;
}

static bool connection_lost(const dtm_db_t *db, const char *state)
{
    /* 08P01 (protocol violation, e.g. a wrong parameter count) is a bug of ours, not an
     * outage: the connection stays usable and the error is logged as internal. */
    bool conn_class = strncmp(state, "08", 2) == 0 && strcmp(state, "08P01") != 0;
    return PQstatus(db->c->pg) != CONNECTION_OK || conn_class || strcmp(state, "57P01") == 0 ||
           strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0;
}

/* Record SQLSTATE/constraint of a failed result and map it (see pg.h). */
static dtm_err_t db_error(dtm_db_t *db, const PGresult *r, const char *sql)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *cons = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
    snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state ? state : "");
    snprintf(db->constraint, sizeof db->constraint, "%s", cons ? cons : "");
    db->c->suspect = true;
    if (connection_lost(db, db->sqlstate)) {
        db->broken = true;
        dtm_log_warn("postgres connection lost (sqlstate %s)",
                     db->sqlstate[0] ? db->sqlstate : "none");
        return DTM_EDB;
    }
    if (strcmp(db->sqlstate, "57014") == 0) {
        /* statement_timeout (or an operator's pg_cancel_backend): the connection is fine. */
        dtm_log_with(DTM_LOG_WARN,
                     json_pack("{s:s, s:s%}", "sqlstate", db->sqlstate, "sql", sql ? sql : "",
                               sql ? strnlen(sql, 300) : 0),
                     "postgres statement cancelled (statement_timeout)");
        return DTM_ETIMEOUT;
    }
    if (strcmp(db->sqlstate, "23505") == 0 || strcmp(db->sqlstate, "40001") == 0 ||
        strcmp(db->sqlstate, "40P01") == 0)
        return DTM_ECONFLICT;
    if (strncmp(db->sqlstate, "22", 2) == 0 || strcmp(db->sqlstate, "23502") == 0 ||
        strcmp(db->sqlstate, "23503") == 0 || strcmp(db->sqlstate, "23514") == 0)
        return DTM_EINVAL;
    /* Unexpected: log the statement and the server's message, never the parameters. */
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[256];
    snprintf(msg, sizeof msg, "%s", primary ? primary : PQerrorMessage(db->c->pg));
    msg[strcspn(msg, "\n")] = '\0';
    dtm_log_with(DTM_LOG_ERROR,
                 json_pack("{s:s, s:s%}", "sqlstate", db->sqlstate, "sql", sql ? sql : "",
                           sql ? strnlen(sql, 300) : 0),
                 "postgres error: %s", msg);
    return DTM_EINTERNAL;
}

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The prepared statement for sql on this connection, preparing it on first use. */
static dtm_err_t prepared(dtm_db_t *db, const char *sql, int nparams, const char **name)
{
    conn_t *c = db->c;
    stmt_t **bucket = &c->stmts[hash(sql) % STMT_BUCKETS];
    for (stmt_t *s = *bucket; s; s = s->next)
        if (strcmp(s->sql, sql) == 0) {
            *name = s->name;
            return DTM_OK;
        }
    size_t len = strlen(sql);
    stmt_t *s = dtm_alloc(sizeof *s + len + 1);
    snprintf(s->name, sizeof s->name, "dtm_%u", c->nstmts++);
    memcpy(s->sql, sql, len + 1);
    PGresult *r = PQprepare(c->pg, s->name, sql, nparams, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        dtm_err_t err = db_error(db, r, sql);
        PQclear(r);
        free(s);
        return err;
    }
    PQclear(r);
    s->next = *bucket;
    *bucket = s;
    *name = s->name;
    return DTM_OK;
}

static void clear_result(void *r)
{
    PQclear(r);
}

/* Behind a transaction-mode pooler the next statement may run on another server connection, so
 * nothing may outlive a statement: one unnamed Parse/Bind/Execute/Sync, and statement_timeout
 * enforced here. Past the timeout a cancel request goes out (the pooler forwards it to the
 * server running the statement), which then fails with 57014 like a server-side timeout. */
static PGresult *exec_unnamed(PGconn *pg, const char *sql, int nparams, const char *const *params,
                              int timeout_ms)
{
    if (!PQsendQueryParams(pg, sql, nparams, NULL, params, NULL, NULL, 0))
        return NULL;
    if (timeout_ms > 0) {
        double deadline = dtm_mono_s() + timeout_ms / 1000.0;
        bool cancelled = false;
        while (PQisBusy(pg)) {
            int wait = cancelled ? -1 : (int)((deadline - dtm_mono_s()) * 1000.0);
            if (!cancelled && wait <= 0) {
                PGcancel *cn = PQgetCancel(pg);
                char errbuf[256];
                if (cn) {
                    PQcancel(cn, errbuf, sizeof errbuf);
                    PQfreeCancel(cn);
                }
                cancelled = true;
                continue;
            }
            struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN};
            int rc = poll(&pfd, 1, wait);
            if (rc < 0 && errno != EINTR)
                break;
            if (rc > 0 && !PQconsumeInput(pg))
                break;
        }
    }
    PGresult *last = NULL, *r;
    while ((r = PQgetResult(pg)) != NULL) {
        if (last && PQresultStatus(last) != PGRES_FATAL_ERROR) {
            PQclear(last);
            last = r;
        } else if (last) {
            PQclear(r); /* keep the first error */
        } else {
            last = r;
        }
    }
    return last;
}

static dtm_err_t db_query(dtm_db_t *db, PGresult **out, const char *sql, int nparams,
                          const char *const *params);

dtm_err_t dtm_db_query(dtm_db_t *db, PGresult **out, const char *sql, int nparams,
                       const char *const *params)
{
    bool outside_txn = db->replica && !db->broken && PQtransactionStatus(db->c->pg) == PQTRANS_IDLE;
    dtm_err_t err = db_query(db, out, sql, nparams, params);
    /* A replica read outside a transaction is safe to run again on the primary. */
    if (outside_txn && (err == DTM_EDB || strcmp(db->sqlstate, "40001") == 0)) {
        dtm_log_warn("postgres replica %s: read failed (sqlstate %s), re-run on the primary",
                     db->replica->name, db->sqlstate[0] ? db->sqlstate : "none");
        if (move_to_primary(db))
            err = db_query(db, out, sql, nparams, params);
    }
    return err;
}

static dtm_err_t db_query(dtm_db_t *db, PGresult **out, const char *sql, int nparams,
                          const char *const *params)
{
    db->sqlstate[0] = db->constraint[0] = '\0';
    if (out)
        *out = NULL;
    if (db->broken)
        return DTM_EDB;
    PGresult *r;
    dtm_err_t err;
    if (db->pool->txn_pooler) {
        r = exec_unnamed(db->c->pg, sql, nparams, params, db->pool->statement_timeout_ms);
    } else {
        const char *name = NULL;
        err = prepared(db, sql, nparams, &name);
        if (err != DTM_OK)
            return err;
        r = PQexecPrepared(db->c->pg, name, nparams, params, NULL, NULL, 0);
    }
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        err = db_error(db, r, sql);
        PQclear(r);
        return err;
    }
    if (db->on_write && !db->dirty && changes_rows(r, sql))
        db->dirty = true;
    if (out) {
        *out = r;
        dtm_arena_defer(db->arena, clear_result, r);
    } else {
        PQclear(r);
    }
    if (db->dirty && PQtransactionStatus(db->c->pg) == PQTRANS_IDLE)
        note_write(db); /* autocommit */
    return DTM_OK;
}

static dtm_err_t simple(dtm_db_t *db, const char *sql)
{
    db->sqlstate[0] = db->constraint[0] = '\0';
    if (db->broken)
        return DTM_EDB;
    PGresult *r = PQexec(db->c->pg, sql);
    dtm_err_t err = DTM_OK;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        err = db_error(db, r, sql);
    else if (strcmp(sql, "COMMIT") == 0 && strcmp(PQcmdStatus(r), "ROLLBACK") == 0)
        err = DTM_EINTERNAL; /* committing an aborted transaction rolls it back */
    PQclear(r);
    return err;
}

dtm_err_t dtm_db_begin(dtm_db_t *db)
{
    return simple(db, "BEGIN");
}

dtm_err_t dtm_db_commit(dtm_db_t *db)
{
    dtm_err_t err = simple(db, "COMMIT");
    if (err == DTM_OK && db->dirty)
        note_write(db);
    db->dirty = false;
    return err;
}

void dtm_db_rollback(dtm_db_t *db)
{
    db->dirty = false;
    if (!db->broken && PQtransactionStatus(db->c->pg) != PQTRANS_IDLE)
        simple(db, "ROLLBACK");
}

/* ---- results ---- */

const char *dtm_pg_get(const PGresult *r, int row, const char *col)
{
    if (!r || row < 0 || row >= PQntuples(r))
        return NULL;
    int f = PQfnumber(r, col);
    if (f < 0 || PQgetisnull(r, row, f))
        return NULL;
    return PQgetvalue(r, row, f);
}

bool dtm_pg_bool(const PGresult *r, int row, const char *col)
{
    const char *v = dtm_pg_get(r, row, col);
    return v && v[0] == 't';
}

long long dtm_pg_int(const PGresult *r, int row, const char *col, long long dflt)
{
    const char *v = dtm_pg_get(r, row, col);
    if (!v)
        return dflt;
    char *end;
    long long n = strtoll(v, &end, 10);
    return *end ? dflt : n;
}

double dtm_pg_double(const PGresult *r, int row, const char *col, double dflt)
{
    const char *v = dtm_pg_get(r, row, col);
    if (!v)
        return dflt;
    char *end;
    double d = strtod(v, &end);
    return *end ? dflt : d;
}

bool dtm_pg_ping(dtm_pg_pool_t *p)
{
    if (!p)
        return false;
    /* Every connection busy and one came back healthy a moment ago: PostgreSQL is answering.
     * Queueing the probe behind the load would report "down" exactly when we are busiest. */
    pthread_mutex_lock(&p->mu);
    bool busy_and_fine =
        p->nidle == 0 && p->total >= p->size && dtm_mono_s() - p->last_healthy < BUSY_HEALTHY_S;
    pthread_mutex_unlock(&p->mu);
    if (busy_and_fine)
        return true;
    conn_t *c = pool_acquire(p, PING_TIMEOUT_MS);
    if (!c)
        return false;
    PGresult *r = PQexec(c->pg, "SELECT 1");
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    pool_release(p, c, !ok);
    return ok;
}
