/* SPDX-License-Identifier: MIT */
/* Runs against a real PostgreSQL: DATABASE_URL (skipped with a message when unset). */
#include "core/config.h"
#include "core/metrics.h"
#include "core/timeutil.h"
#include "db/pg.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *url;
static char table[64];

static void setup(void)
{
    url = getenv("DATABASE_URL");
    if (!url || !*url)
        cr_skip_test("DATABASE_URL is not set: PostgreSQL tests skipped");
    snprintf(table, sizeof table, "pg_test_%d", (int)getpid());
}

/* One statement on a throwaway handle; asserts success. */
static void exec_ok(dtm_pg_pool_t *p, const char *sql)
{
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(p, a);
    cr_assert_not_null(db);
    cr_assert_eq(dtm_db_query(db, NULL, sql, 0, NULL), DTM_OK, "%s: %s", sql,
                 PQerrorMessage(dtm_db_conn(db)));
    dtm_arena_free(a);
}

static void make_table(dtm_pg_pool_t *p)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "CREATE TABLE %s (id uuid PRIMARY KEY, email text NOT NULL "
             "CONSTRAINT %s_email_key UNIQUE, n int CHECK (n >= 0))",
             table, table);
    exec_ok(p, sql);
}

static void drop_table(dtm_pg_pool_t *p)
{
    char sql[128];
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", table);
    exec_ok(p, sql);
}

/* "...%s..." with the test table's name. */
#define sqlf(a, fmt) dtm_arena_sprintf(a, fmt, table)

Test(pg, query_params_and_getters, .init = setup)
{
    dtm_pg_pool_t *p = dtm_pg_pool_new(url, 2, 2000);
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(p, a);
    cr_assert_not_null(db);
    PGresult *r;
    const char *params[] = {"42", NULL, "it's \"quoted\"; DROP TABLE x; --"};
    cr_assert_eq(dtm_db_query(db, &r,
                              "SELECT $1::int + 1 AS n, $2::text AS missing, $3::text AS s, "
                              "true AS yes, 2.5::float8 AS f",
                              3, params),
                 DTM_OK);
    cr_assert_eq(PQntuples(r), 1);
    cr_assert_eq(dtm_pg_int(r, 0, "n", -1), 43);
    cr_assert_null(dtm_pg_get(r, 0, "missing"));
    cr_assert_eq(dtm_pg_int(r, 0, "missing", -7), -7);
    cr_assert_str_eq(dtm_pg_get(r, 0, "s"), params[2]);
    cr_assert(dtm_pg_bool(r, 0, "yes"));
    cr_assert_not(dtm_pg_bool(r, 0, "nope"));
    cr_assert_float_eq(dtm_pg_double(r, 0, "f", 0), 2.5, 1e-9);
    cr_assert_null(dtm_pg_get(r, 0, "no_such_column"));
    cr_assert_null(dtm_pg_get(r, 1, "n"));
    dtm_arena_free(a); /* PQclear and release via defer hooks (ASan checks the leaks) */
    dtm_pg_stats_t s;
    dtm_pg_pool_stats(p, &s);
    cr_assert_eq(s.in_use, 0);
    cr_assert_eq(s.idle, 1);
    dtm_pg_pool_free(p);
}

Test(pg, error_mapping, .init = setup)
{
    dtm_pg_pool_t *p = dtm_pg_pool_new(url, 2, 2000);
    make_table(p);
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(p, a);
    const char *ins = sqlf(a, "INSERT INTO %s (id, email, n) VALUES ($1, $2, $3)");
    const char *ok[] = {"3f2504e0-4f89-41d3-9a0c-0305e82c3301", "a@example.com", "1"};
    cr_assert_eq(dtm_db_query(db, NULL, ins, 3, ok), DTM_OK);
    const char *dup[] = {"3f2504e0-4f89-41d3-9a0c-0305e82c3302", "a@example.com", "1"};
    cr_assert_eq(dtm_db_query(db, NULL, ins, 3, dup), DTM_ECONFLICT);
    cr_assert_str_eq(dtm_db_sqlstate(db), "23505");
    cr_assert_str_eq(dtm_db_constraint(db), dtm_arena_sprintf(a, "%s_email_key", table));
    const char *baduuid[] = {"not-a-uuid", "b@example.com", "1"};
    cr_assert_eq(dtm_db_query(db, NULL, ins, 3, baduuid), DTM_EINVAL);
    cr_assert_str_eq(dtm_db_sqlstate(db), "22P02");
    const char *nul[] = {"3f2504e0-4f89-41d3-9a0c-0305e82c3303", NULL, "1"};
    cr_assert_eq(dtm_db_query(db, NULL, ins, 3, nul), DTM_EINVAL);
    cr_assert_str_eq(dtm_db_sqlstate(db), "23502");
    const char *neg[] = {"3f2504e0-4f89-41d3-9a0c-0305e82c3304", "c@example.com", "-1"};
    cr_assert_eq(dtm_db_query(db, NULL, ins, 3, neg), DTM_EINVAL);
    cr_assert_str_eq(dtm_db_sqlstate(db), "23514");
    cr_assert_eq(dtm_db_query(db, NULL, "SELEC nonsense", 0, NULL), DTM_EINTERNAL);
    cr_assert_str_eq(dtm_db_sqlstate(db), "42601");
    /* a wrong parameter count is our bug (08P01), not an outage: the handle stays usable */
    cr_assert_eq(dtm_db_query(db, NULL, "SELECT 1", 1, ok), DTM_EINTERNAL);
    /* the handle is still usable after errors */
    PGresult *r;
    cr_assert_eq(dtm_db_query(db, &r, sqlf(a, "SELECT count(*) AS c FROM %s"), 0, NULL), DTM_OK);
    cr_assert_eq(dtm_pg_int(r, 0, "c", -1), 1);
    cr_assert_str_eq(dtm_db_sqlstate(db), "");
    dtm_arena_free(a);
    drop_table(p);
    dtm_pg_pool_free(p);
}

Test(pg, transactions_roll_back_when_the_arena_is_freed, .init = setup)
{
    dtm_pg_pool_t *p = dtm_pg_pool_new(url, 1, 2000);
    make_table(p);
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(p, a);
    const char *ins = sqlf(a, "INSERT INTO %s (id, email) VALUES (gen_random_uuid(), $1)");
    const char *e1[] = {"kept@example.com"}, *e2[] = {"lost@example.com"};
    cr_assert_eq(dtm_db_begin(db), DTM_OK);
    cr_assert_eq(dtm_db_query(db, NULL, ins, 1, e1), DTM_OK);
    cr_assert_eq(dtm_db_commit(db), DTM_OK);
    cr_assert_eq(dtm_db_begin(db), DTM_OK);
    cr_assert_eq(dtm_db_query(db, NULL, ins, 1, e2), DTM_OK);
    dtm_arena_free(a); /* no commit: the release hook must roll back */

    a = dtm_arena_new(0);
    db = dtm_db_open(p, a); /* same (only) connection, must be out of the transaction */
    ins = sqlf(a, "INSERT INTO %s (id, email) VALUES (gen_random_uuid(), $1)");
    cr_assert_eq(PQtransactionStatus(dtm_db_conn(db)), PQTRANS_IDLE);
    PGresult *r;
    cr_assert_eq(dtm_db_query(db, &r, sqlf(a, "SELECT email FROM %s ORDER BY email"), 0, NULL),
                 DTM_OK);
    cr_assert_eq(PQntuples(r), 1);
    cr_assert_str_eq(dtm_pg_get(r, 0, "email"), "kept@example.com");
    /* an explicit rollback, and committing an aborted transaction is an error */
    cr_assert_eq(dtm_db_begin(db), DTM_OK);
    cr_assert_eq(dtm_db_query(db, NULL, ins, 1, e1), DTM_ECONFLICT);
    cr_assert_neq(dtm_db_commit(db), DTM_OK);
    cr_assert_eq(PQtransactionStatus(dtm_db_conn(db)), PQTRANS_IDLE);
    cr_assert_eq(dtm_db_begin(db), DTM_OK);
    dtm_db_rollback(db);
    cr_assert_eq(PQtransactionStatus(dtm_db_conn(db)), PQTRANS_IDLE);
    dtm_arena_free(a);
    drop_table(p);
    dtm_pg_pool_free(p);
}

Test(pg, statements_are_prepared_once_per_connection, .init = setup)
{
    dtm_pg_pool_t *p = dtm_pg_pool_new(url, 1, 2000);
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(p, a);
    const char *v[] = {"1"};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(dtm_db_query(db, NULL, "SELECT $1::int AS x", 1, v), DTM_OK);
    cr_assert_eq(dtm_db_query(db, NULL, "SELECT $1::int + 1 AS x", 1, v), DTM_OK);
    PGresult *r;
    cr_assert_eq(dtm_db_query(db, &r,
                              "SELECT count(*) AS n FROM pg_prepared_statements "
                              "WHERE statement LIKE 'SELECT $1::int%'",
                              0, NULL),
                 DTM_OK);
    cr_assert_eq(dtm_pg_int(r, 0, "n", -1), 2);
    dtm_arena_free(a);
    dtm_pg_pool_free(p);
}

Test(pg, pool_is_bounded_and_times_out, .init = setup)
{
    dtm_pg_pool_t *p = dtm_pg_pool_new(url, 2, 300);
    cr_assert(dtm_pg_ping(p)); /* one healthy round trip */
    dtm_arena_t *a1 = dtm_arena_new(0), *a2 = dtm_arena_new(0), *a3 = dtm_arena_new(0);
    cr_assert_not_null(dtm_db_open(p, a1));
    cr_assert_not_null(dtm_db_open(p, a2));
    double t0 = dtm_mono_s();
    cr_assert_null(dtm_db_open(p, a3));
    double waited = dtm_mono_s() - t0;
    cr_assert(waited >= 0.25 && waited < 2.0, "waited %.3f s", waited);
    dtm_pg_stats_t s;
    dtm_pg_pool_stats(p, &s);
    cr_assert_eq(s.in_use, 2);
    cr_assert_eq(s.max, 2);
    cr_assert_eq(s.timeouts, 1);
    /* exhausted but recently healthy: the health probe must not wait or say "down" */
    t0 = dtm_mono_s();
    cr_assert(dtm_pg_ping(p));
    cr_assert_lt(dtm_mono_s() - t0, 0.1);
    dtm_arena_free(a1);
    cr_assert_not_null(dtm_db_open(p, a3));
    dtm_arena_free(a2);
    dtm_arena_free(a3);
    dtm_pg_pool_stats(p, &s);
    cr_assert_eq(s.in_use, 0);
    cr_assert_eq(s.idle, 2);
    dtm_pg_pool_free(p);
}

/* A hung statement must not hold a worker (and a pool slot) forever: the per-connection
 * statement_timeout cancels it, the caller gets DTM_ETIMEOUT, and the connection stays usable. */
Test(pg, statement_timeout_cancels_a_hung_query, .init = setup)
{
    dtm_pg_pool_t *p = dtm_pg_pool_new(url, 1, 2000);
    dtm_pg_pool_set_statement_timeout(p, 300);
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(p, a);
    cr_assert_not_null(db);
    PGresult *r;
    cr_assert_eq(dtm_db_query(db, &r, "SHOW statement_timeout", 0, NULL), DTM_OK);
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "300ms");
    double t0 = dtm_mono_s();
    cr_assert_eq(dtm_db_query(db, NULL, "SELECT pg_sleep(10)", 0, NULL), DTM_ETIMEOUT);
    double took = dtm_mono_s() - t0;
    cr_assert(took >= 0.25 && took < 3.0, "took %.3f s", took);
    cr_assert_str_eq(dtm_db_sqlstate(db), "57014");
    /* not a lost connection: the same handle answers the next statement */
    cr_assert_eq(dtm_db_query(db, &r, "SELECT 1 AS n", 0, NULL), DTM_OK);
    cr_assert_eq(dtm_pg_int(r, 0, "n", 0), 1);
    dtm_arena_free(a);
    dtm_pg_stats_t s;
    dtm_pg_pool_stats(p, &s);
    cr_assert_eq(s.idle, 1, "the connection went back to the pool");
    dtm_pg_pool_free(p);
}

Test(pg, statement_timeout_comes_from_the_config, .init = setup)
{
    unsetenv("DATABASE_URL_USERS");
    setenv("DTM_PG_STATEMENT_TIMEOUT_MS", "1234", 1);
    cr_assert_eq(dtm_config_load(0, NULL), 0);
    unsetenv("DTM_PG_STATEMENT_TIMEOUT_MS");
    cr_assert_eq(dtm_cfg.pg_statement_timeout_ms, 1234);
    dtm_pg_pool_t *p = dtm_pg_pool_for("users");
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(p, a);
    cr_assert_not_null(db);
    PGresult *r;
    cr_assert_eq(dtm_db_query(db, &r, "SHOW statement_timeout", 0, NULL), DTM_OK);
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "1234ms");
    dtm_arena_free(a);
    dtm_pg_pools_shutdown();
    cr_assert_eq(dtm_config_load(0, NULL), 0);
    cr_assert_eq(dtm_cfg.pg_statement_timeout_ms, 30000, "default 30 s");
}

static int backend_pid(dtm_db_t *db)
{
    return PQbackendPID(dtm_db_conn(db));
}

static void terminate(const char *u, int pid)
{
    PGconn *c = PQconnectdb(u);
    cr_assert_eq(PQstatus(c), CONNECTION_OK);
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", pid);
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    PQfinish(c);
    usleep(100 * 1000); /* let the backend exit and its FATAL reach our socket */
}

Test(pg, recovers_when_connections_are_killed, .init = setup)
{
    dtm_pg_pool_t *p = dtm_pg_pool_new(url, 1, 2000);
    /* 1: an idle pooled connection dies (what a PostgreSQL restart does to all of them) */
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(p, a);
    int pid1 = backend_pid(db);
    dtm_arena_free(a);
    terminate(url, pid1);
    a = dtm_arena_new(0);
    db = dtm_db_open(p, a);
    cr_assert_not_null(db);
    cr_assert_neq(backend_pid(db), pid1, "the dead connection must have been replaced");
    cr_assert_eq(dtm_db_query(db, NULL, "SELECT 1", 0, NULL), DTM_OK);
    /* 2: the connection dies while checked out: that request gets DTM_EDB, the next works */
    int pid2 = backend_pid(db);
    terminate(url, pid2);
    cr_assert_eq(dtm_db_query(db, NULL, "SELECT 2", 0, NULL), DTM_EDB);
    dtm_arena_free(a);
    a = dtm_arena_new(0);
    db = dtm_db_open(p, a);
    cr_assert_not_null(db);
    cr_assert_eq(dtm_db_query(db, NULL, "SELECT 2", 0, NULL), DTM_OK);
    cr_assert_neq(backend_pid(db), pid2);
    dtm_arena_free(a);
    dtm_pg_stats_t s;
    dtm_pg_pool_stats(p, &s);
    cr_assert_geq(s.errors, 1);
    cr_assert_eq(s.in_use, 0);
    cr_assert(dtm_pg_ping(p));
    dtm_pg_pool_free(p);
}

Test(pg, unreachable_server_fails_fast, .init = setup)
{
    dtm_pg_pool_t *p = dtm_pg_pool_new("postgresql://postgres@127.0.0.1:49999/postgres", 2, 2000);
    dtm_arena_t *a = dtm_arena_new(0);
    double t0 = dtm_mono_s();
    cr_assert_null(dtm_db_open(p, a));
    cr_assert_not(dtm_pg_ping(p));
    cr_assert_lt(dtm_mono_s() - t0, 1.5);
    dtm_pg_stats_t s;
    dtm_pg_pool_stats(p, &s);
    cr_assert_eq(s.in_use, 0, "failed connects must give their slot back");
    cr_assert_eq(s.errors, 2);
    dtm_arena_free(a);
    dtm_pg_pool_free(p);
}

static void *worker(void *arg)
{
    dtm_pg_pool_t *p = arg;
    for (int i = 0; i < 40; i++) {
        dtm_arena_t *a = dtm_arena_new(0);
        dtm_db_t *db = dtm_db_open(p, a);
        if (!db || dtm_db_query(db, NULL, "SELECT pg_sleep(0.001)", 0, NULL) != DTM_OK) {
            dtm_arena_free(a);
            return (void *)1;
        }
        dtm_pg_stats_t s;
        dtm_pg_pool_stats(p, &s);
        if (s.in_use > 3) {
            dtm_arena_free(a);
            return (void *)2;
        }
        dtm_arena_free(a);
    }
    return NULL;
}

Test(pg, concurrent_use_respects_the_bound, .init = setup)
{
    dtm_pg_pool_t *p = dtm_pg_pool_new(url, 3, 5000);
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, worker, p);
    for (int i = 0; i < 8; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        cr_assert_null(ret, "worker %d failed with %p", i, ret);
    }
    dtm_pg_stats_t s;
    dtm_pg_pool_stats(p, &s);
    cr_assert_leq(s.idle, 3);
    cr_assert_eq(s.acquires, 320);
    dtm_pg_pool_free(p);
}

Test(pg, shared_pools_and_metrics, .init = setup)
{
    unsetenv("DATABASE_URL_USERS");
    dtm_config_load(0, NULL);
    dtm_pg_pool_t *p = dtm_pg_pool_for("users");
    cr_assert_not_null(p);
    cr_assert_eq(p, dtm_pg_pool_for("auth"), "one pool per distinct URL");
    cr_assert(dtm_pg_ping(p));
    char *text = dtm_metrics_render(NULL);
    cr_assert(strstr(text, "dtm_db_pool_connections{pool=\"default\",state=\"max\"} 32\n"), "%s",
              text);
    cr_assert(strstr(text, "dtm_db_pool_connections{pool=\"default\",state=\"idle\"} 1\n"));
    cr_assert(strstr(text, "# TYPE dtm_db_pool_acquires_total counter\n"));
    free(text);
    dtm_pg_pools_shutdown();
    text = dtm_metrics_render(NULL);
    cr_assert_null(strstr(text, "dtm_db_pool_connections"), "gauges must go with the pool");
    free(text);
}

/* ---- a real restart, on a private cluster (never the shared dev server) ---- */

#define PG_BINDIR "/usr/lib/postgresql/15/bin"

static char pgdir[64];
static int pgport;

/* Runs a shell command as the postgres user when we are root (initdb refuses root). */
/* A port of the corelib range (lo..hi) that nobody listens on right now, starting from a
 * pid-dependent offset so parallel test processes rarely even try the same one. */
static int free_port(int lo, int hi)
{
    for (int i = 0; i <= hi - lo; i++) {
        int port = lo + (int)((getpid() + i) % (hi - lo + 1));
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(fd);
        if (ok)
            return port;
    }
    return -1;
}

static int as_pg(const char *cmd)
{
    char buf[1024];
    if (geteuid() == 0)
        snprintf(buf, sizeof buf, "cd / && runuser -u postgres -- sh -c '%s' >>%s/log 2>&1", cmd,
                 pgdir);
    else
        snprintf(buf, sizeof buf, "sh -c '%s' >>%s/log 2>&1", cmd, pgdir);
    return system(buf);
}

static int pg_ctl(const char *action)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             PG_BINDIR "/pg_ctl %s -D %s/data -m fast -w -t 60 -l %s/server.log "
                       "-o \"-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off\"",
             action, pgdir, pgdir, pgport, pgdir);
    return as_pg(cmd);
}

static void private_cluster(void)
{
    if (access(PG_BINDIR "/initdb", X_OK) != 0)
        cr_skip_test("PostgreSQL 15 server binaries not installed: restart test skipped");
    snprintf(pgdir, sizeof pgdir, "/tmp/dtm_pg_restart_XXXXXX");
    cr_assert_not_null(mkdtemp(pgdir));
    chmod(pgdir, 0777);
    pgport = free_port(49000, 49099);
    cr_assert_gt(pgport, 0, "no free port in 49000-49099");
    char cmd[256];
    snprintf(cmd, sizeof cmd, PG_BINDIR "/initdb -D %s/data -U postgres --auth=trust -N", pgdir);
    cr_assert_eq(as_pg(cmd), 0, "initdb failed (see %s/log)", pgdir);
    cr_assert_eq(pg_ctl("start"), 0, "pg_ctl start failed (see %s/log)", pgdir);
}

static void private_cluster_stop(void)
{
    if (!pgdir[0])
        return;
    pg_ctl("stop");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", pgdir);
    cr_assert_eq(system(cmd), 0);
}

static dtm_err_t one_query(dtm_pg_pool_t *p)
{
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(p, a);
    dtm_err_t err = db ? dtm_db_query(db, NULL, "SELECT 1", 0, NULL) : DTM_EDB;
    dtm_arena_free(a);
    return err;
}

Test(pg, recovers_after_postgresql_restart, .init = private_cluster, .fini = private_cluster_stop,
     .timeout = 180)
{
    char u[128];
    snprintf(u, sizeof u, "postgresql://postgres@127.0.0.1:%d/postgres", pgport);
    dtm_pg_pool_t *p = dtm_pg_pool_new(u, 4, 2000);
    /* fill the pool with several idle connections */
    dtm_arena_t *a = dtm_arena_new(0);
    for (int i = 0; i < 3; i++)
        cr_assert_not_null(dtm_db_open(p, a));
    dtm_arena_free(a);
    cr_assert_eq(one_query(p), DTM_OK);

    cr_assert_eq(pg_ctl("stop"), 0);
    double t0 = dtm_mono_s();
    cr_assert_eq(one_query(p), DTM_EDB, "while PostgreSQL is down requests get DTM_EDB (503)");
    cr_assert_not(dtm_pg_ping(p));
    cr_assert_lt(dtm_mono_s() - t0, 2.0, "failing must be fast, not a hang");
    dtm_pg_stats_t s;
    dtm_pg_pool_stats(p, &s);
    cr_assert_eq(s.in_use, 0);

    cr_assert_eq(pg_ctl("start"), 0);
    /* The same pool, without any restart of ours, serves again at once. */
    for (int i = 0; i < 5; i++)
        cr_assert_eq(one_query(p), DTM_OK, "query %d after the restart", i);
    cr_assert(dtm_pg_ping(p));
    dtm_pg_pool_free(p);
}
