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
#include "core/timeutil.h"
#include <errno.h>
#include <poll.h>
#include <pthread.h>
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

dtm_pg_pool_t *dtm_pg_pool_for(const char *service)
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

void dtm_pg_pools_shutdown(void)
{
    pthread_mutex_lock(&shared_mu);
    dtm_pg_pool_t *p = shared;
    shared = NULL;
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

dtm_db_t *dtm_db_open(dtm_pg_pool_t *p, dtm_arena_t *a)
{
    if (!p)
        return NULL;
    conn_t *c = pool_acquire(p, p->timeout_ms);
    if (!c)
        return NULL;
    dtm_db_t *db = dtm_arena_calloc(a, sizeof *db);
    db->pool = p;
    db->arena = a;
    db->c = c;
    dtm_arena_defer(a, db_release, db);
    return db;
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

dtm_err_t dtm_db_query(dtm_db_t *db, PGresult **out, const char *sql, int nparams,
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
    if (out) {
        *out = r;
        dtm_arena_defer(db->arena, clear_result, r);
    } else {
        PQclear(r);
    }
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
    return simple(db, "COMMIT");
}

void dtm_db_rollback(dtm_db_t *db)
{
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
