/* SPDX-License-Identifier: MIT */
/* PostgreSQL: a bounded, checked pool of blocking libpq connections for the worker threads,
 * and per-request handles whose connection goes back to the pool when the request's arena is
 * freed. The pool recovers by itself after PostgreSQL restarts: a broken connection is
 * dropped and a new one is made on the next acquire. */
#ifndef DTM_PG_H
#define DTM_PG_H

#include "core/arena.h"
#include "core/err.h"
#include <libpq-fe.h>
#include <stdbool.h>

typedef struct dtm_pg_pool dtm_pg_pool_t;
typedef struct dtm_db dtm_db_t;

/** New pool for `url` holding at most `size` connections (made lazily). Caller frees, after
 *  every handle from it has been released (their arenas freed). */
dtm_pg_pool_t *dtm_pg_pool_new(const char *url, int size, int timeout_ms);
void dtm_pg_pool_free(dtm_pg_pool_t *p);
/** statement_timeout (ms) set on every connection the pool makes from now on; 0 = none (the
 *  server's default). A statement running longer is cancelled and dtm_db_query returns
 *  DTM_ETIMEOUT, so a hung query cannot hold a worker thread forever. dtm_pg_pool_for sets
 *  DTM_PG_STATEMENT_TIMEOUT_MS. Call before the pool is shared between threads. */
void dtm_pg_pool_set_statement_timeout(dtm_pg_pool_t *p, int ms);
/** The pool's connections go through a transaction-mode pooler (PgBouncer pool_mode =
 *  transaction; DTM_PG_POOLER=transaction for dtm_pg_pool_for): statements are sent unnamed,
 *  nothing is SET per session, and the statement timeout is enforced by the client with a
 *  cancel request. Call before the pool is shared between threads. */
void dtm_pg_pool_set_transaction_pooler(dtm_pg_pool_t *p, bool on);

/** The shared pool for a service: DATABASE_URL_<SERVICE> or DATABASE_URL, one pool per distinct
 *  URL in the process, created on first use (thread-safe). NULL when no URL is configured. */
dtm_pg_pool_t *dtm_pg_pool_for(const char *service);
/** Free every pool made by dtm_pg_pool_for (shutdown). */
void dtm_pg_pools_shutdown(void);

/** Gauges: connections in use / idle / max, waits, errors (exported to /metrics). */
typedef struct {
    int in_use, idle, max;
    unsigned long long acquires, timeouts, errors;
} dtm_pg_stats_t;
void dtm_pg_pool_stats(dtm_pg_pool_t *p, dtm_pg_stats_t *out);

/** Check out a connection for the lifetime of arena `a` (released, with ROLLBACK if a
 *  transaction is still open, when the arena is freed). NULL when PostgreSQL is unreachable
 *  or the pool stays exhausted past the timeout: answer 503 (DTM_EDB). */
dtm_db_t *dtm_db_open(dtm_pg_pool_t *p, dtm_arena_t *a);

/** Run one parameterised statement (prepared and cached per connection by SQL text).
 *  params may hold NULLs (SQL NULL). On success *out (may be NULL if unwanted) is attached to
 *  the arena. Errors: DTM_EDB (connection lost: the connection is discarded), DTM_ECONFLICT
 *  (23505 unique violation; constraint name in dtm_db_constraint), DTM_EINVAL (22xxx data
 *  errors, 23502/23503/23514), DTM_ETIMEOUT (57014: cancelled by statement_timeout),
 *  DTM_EINTERNAL (anything else, logged without parameters). */
dtm_err_t dtm_db_query(dtm_db_t *db, PGresult **out, const char *sql, int nparams,
                       const char *const *params);

/** BEGIN / COMMIT / ROLLBACK. Commit failing with 40001/40P01 returns DTM_ECONFLICT. */
dtm_err_t dtm_db_begin(dtm_db_t *db);
dtm_err_t dtm_db_commit(dtm_db_t *db);
void dtm_db_rollback(dtm_db_t *db);

/** SQLSTATE and constraint name of the last error ("" when none). */
const char *dtm_db_sqlstate(const dtm_db_t *db);
const char *dtm_db_constraint(const dtm_db_t *db);
/** The raw connection (for COPY or pipeline work). Owned by the handle. */
PGconn *dtm_db_conn(dtm_db_t *db);

/** Column value by name; NULL for SQL NULL or an unknown column. */
const char *dtm_pg_get(const PGresult *r, int row, const char *col);
/** Column value as bool ('t'), int64, double; default when NULL. */
bool dtm_pg_bool(const PGresult *r, int row, const char *col);
long long dtm_pg_int(const PGresult *r, int row, const char *col, long long dflt);
double dtm_pg_double(const PGresult *r, int row, const char *col, double dflt);

/** One ping (SELECT 1) with a short timeout: true when PostgreSQL answers. Blocking (up to about
 *  1 s, plus a connect): call it from a worker or probe thread, never an event loop. When every
 *  connection is busy and one came back healthy within 5 s it answers true without waiting. */
bool dtm_pg_ping(dtm_pg_pool_t *p);

#endif
