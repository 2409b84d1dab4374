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
#include <stdint.h>

typedef struct dtm_pg_pool dtm_pg_pool_t;
typedef struct dtm_db dtm_db_t;
typedef struct dtm_pg_replica dtm_pg_replica_t;

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

/** The read replica of a service: DATABASE_URL_<SERVICE>_REPLICA or DATABASE_URL_REPLICA (see
 *  dtm_config_db_replica_url), one per distinct URL, created on first use with its own pool and
 *  a checker thread (every DTM_REPLICA_MAX_LAG_MS / 4, at most 1 s) that asks the standby for
 *  pg_is_in_recovery() and pg_last_wal_replay_lsn() and the primary for pg_current_wal_lsn().
 *  The lag in time is measured against the primary's LSN history (when did the primary last
 *  stand where the replica now stands), never pg_last_xact_replay_timestamp(), which goes stale
 *  when the primary is idle. A replica that is down, not in recovery, or more than
 *  DTM_REPLICA_MAX_LAG_MS behind is skipped. NULL when no replica URL is configured. */
dtm_pg_replica_t *dtm_pg_replica_for(const char *service);

/** "default" (DATABASE_URL_REPLICA) or the service of a DATABASE_URL_<SERVICE>_REPLICA. */
const char *dtm_pg_replica_name(const dtm_pg_replica_t *r);

/** Replica state for /health and /metrics. */
typedef struct {
    bool up;            /* answers and is a standby */
    bool usable;        /* up and within DTM_REPLICA_MAX_LAG_MS */
    uint64_t lag_bytes; /* primary's LSN - replica's replay LSN at the last check */
    long long lag_ms;   /* -1 when unknown */
    uint64_t replay_lsn;
    const char *name; /* "default" or the service */
} dtm_pg_replica_state_t;
void dtm_pg_replica_state(dtm_pg_replica_t *r, dtm_pg_replica_state_t *out);
/** Every replica made so far (for /health): calls fn for each. */
void dtm_pg_replicas_each(void (*fn)(dtm_pg_replica_t *r, void *ud), void *ud);

/** A handle for a read-only request (no writes, no transaction needed for consistency across
 *  services): a replica connection when `r` is usable and has replayed at least `min_lsn` (the
 *  caller's last write, 0 when none: read-your-writes), else a primary connection. A statement
 *  that fails on the replica with a lost connection or a recovery conflict outside a
 *  transaction is re-run on the primary, so a standby going away costs no request. NULL (answer
 *  503) only when the primary cannot be reached either. */
dtm_db_t *dtm_db_open_read(dtm_pg_pool_t *primary, dtm_pg_replica_t *r, uint64_t min_lsn,
                           dtm_arena_t *a);
/** True when the handle is (still) on a replica. */
bool dtm_db_on_replica(const dtm_db_t *db);

/** Write tracking for read-your-writes: after a statement that may have written (tagged INSERT,
 *  UPDATE, DELETE, MERGE or COPY, or whose SQL names one of those: CTE writes are tagged SELECT)
 *  commits on this handle (autocommit, or the COMMIT of its transaction), fn(ud, lsn) gets the
 *  primary's pg_current_wal_insert_lsn(), which is at or past the commit record (UINT64_MAX when
 *  it cannot be read: no replica is then good enough). A function with side effects called from
 *  a plain SELECT is not seen. Costs one round trip per committed write. */
typedef void (*dtm_db_write_fn)(void *ud, uint64_t lsn);
void dtm_db_track_writes(dtm_db_t *db, dtm_db_write_fn fn, void *ud);

/** "16/B374D848" -> 64-bit LSN; 0 for NULL or garbage. */
uint64_t dtm_pg_lsn_parse(const char *s);

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
