/* SPDX-License-Identifier: MIT */
/* Forward-only migrations embedded in the binary. One dedicated connection per service (not
 * the request pool), an advisory lock so concurrent `dtm migrate` runs (several replicas
 * starting at once) apply each file exactly once, and one transaction per file, recorded in
 * <service>.schema_migrations in the same transaction. */
#include "db/migrate.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "core/timeutil.h"
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arbitrary constant shared by every dtm runner: "dtm-migr" in ASCII. */
#define MIGRATE_LOCK_KEY "7238634079616314226"

static void say(FILE *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(FILE *log, const char *fmt, ...)
{
    if (!log)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(log, fmt, ap);
    va_end(ap);
    fputc('\n', log);
    fflush(log);
}

static void first_line(char *out, size_t cap, const char *msg)
{
    snprintf(out, cap, "%s", msg ? msg : "");
    out[strcspn(out, "\n")] = '\0';
}

static bool has_migrations(const char *service)
{
    for (const dtm_migration_t *m = dtm_migrations; m->sql; m++)
        if (strcmp(m->service, service) == 0)
            return true;
    return false;
}

static int latest_version(const char *service)
{
    int v = 0;
    for (const dtm_migration_t *m = dtm_migrations; m->sql; m++)
        if (strcmp(m->service, service) == 0 && m->version > v)
            v = m->version;
    return v;
}

static void quiet_notices(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static PGconn *connect_for(const char *service, FILE *log)
{
    const char *url = dtm_config_db_url(service);
    if (!url) {
        say(log, "%s: no database configured (DATABASE_URL or DATABASE_URL_<SERVICE>)", service);
        return NULL;
    }
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"5", "dtm-migrate", url, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[256];
        first_line(msg, sizeof msg, PQerrorMessage(c));
        say(log, "%s: cannot connect to PostgreSQL: %s", service, msg);
        dtm_log_error("migrate %s: cannot connect: %s", service, msg);
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet_notices, NULL); /* "schema already exists, skipping" */
    return c;
}

/* Runs a command; on failure reports it and returns false. */
static bool exec_ok(PGconn *c, const char *sql, const char *what, FILE *log)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) {
        char msg[512];
        first_line(msg, sizeof msg, PQresultErrorMessage(r));
        say(log, "%s failed: %s", what, msg);
        dtm_log_error("migrate: %s failed: %s", what, msg);
    }
    PQclear(r);
    return ok;
}

/* CREATE SCHEMA + schema_migrations for `service`, quoted as identifiers. */
static bool ensure_bookkeeping(PGconn *c, const char *service, FILE *log)
{
    char *id = PQescapeIdentifier(c, service, strlen(service));
    if (!id)
        return false;
    dtm_buf_t sql;
    dtm_buf_init(&sql);
    dtm_buf_printf(&sql,
                   "CREATE SCHEMA IF NOT EXISTS %s;"
                   "CREATE TABLE IF NOT EXISTS %s.schema_migrations ("
                   " version integer PRIMARY KEY,"
                   " name text NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now())",
                   id, id);
    bool ok = exec_ok(c, sql.data, "creating schema_migrations", log);
    dtm_buf_free(&sql);
    PQfreemem(id);
    return ok;
}

/* Applied versions as a bitmap over 0..max (max = latest embedded version). */
static bool *applied_versions(PGconn *c, const char *service, int max, int *db_max)
{
    char *id = PQescapeIdentifier(c, service, strlen(service));
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT version FROM %s.schema_migrations", id);
    PQfreemem(id);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return NULL;
    }
    bool *seen = dtm_calloc((size_t)max + 1, sizeof *seen);
    *db_max = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int v = atoi(PQgetvalue(r, i, 0));
        if (v > *db_max)
            *db_max = v;
        if (v >= 0 && v <= max)
            seen[v] = true;
    }
    PQclear(r);
    return seen;
}

static bool apply_one(PGconn *c, const dtm_migration_t *m, FILE *log)
{
    double t0 = dtm_mono_s();
    char what[300];
    snprintf(what, sizeof what, "%s/%s", m->service, m->name);
    if (!exec_ok(c, "BEGIN", what, log))
        return false;
    if (!exec_ok(c, m->sql, what, log)) {
        exec_ok(c, "ROLLBACK", "rollback", NULL);
        return false;
    }
    char *id = PQescapeIdentifier(c, m->service, strlen(m->service));
    char sql[256], version[16];
    snprintf(sql, sizeof sql, "INSERT INTO %s.schema_migrations (version, name) VALUES ($1, $2)",
             id);
    PQfreemem(id);
    snprintf(version, sizeof version, "%d", m->version);
    const char *params[] = {version, m->name};
    PGresult *r = PQexecParams(c, sql, 2, NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok || !exec_ok(c, "COMMIT", what, log)) {
        exec_ok(c, "ROLLBACK", "rollback", NULL);
        return false;
    }
    say(log, "%s: applied %s (%.0f ms)", m->service, m->name, (dtm_mono_s() - t0) * 1000);
    dtm_log_info("migrate: applied %s", what);
    return true;
}

/* Everything for one service, under the advisory lock. */
static int migrate_service(const char *service, FILE *log)
{
    PGconn *c = connect_for(service, log);
    if (!c)
        return -1;
    int rc = -1;
    bool *seen = NULL;
    if (!exec_ok(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "taking the migration lock",
                 log))
        goto out;
    if (!ensure_bookkeeping(c, service, log))
        goto unlock;
    int max = latest_version(service), db_max = 0, applied = 0;
    seen = applied_versions(c, service, max, &db_max);
    if (!seen)
        goto unlock;
    if (db_max > max)
        say(log, "%s: database is at version %d, newer than this binary (%d)", service, db_max,
            max);
    for (const dtm_migration_t *m = dtm_migrations; m->sql; m++) {
        if (strcmp(m->service, service) != 0 || seen[m->version])
            continue;
        if (!apply_one(c, m, log))
            goto unlock;
        applied++;
    }
    if (applied == 0)
        say(log, "%s: up to date (version %d)", service, db_max > max ? db_max : max);
    rc = 0;
unlock:
    exec_ok(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", "releasing the lock", NULL);
out:
    free(seen);
    PQfinish(c);
    return rc;
}

int dtm_migrate_run(const char *service, FILE *log)
{
    if (service) {
        if (!has_migrations(service)) {
            say(log, "%s: no migrations for this service", service);
            return 0;
        }
        return migrate_service(service, log);
    }
    const char *prev = NULL;
    for (const dtm_migration_t *m = dtm_migrations; m->sql; m++) {
        if (prev && strcmp(prev, m->service) == 0)
            continue;
        prev = m->service;
        if (migrate_service(m->service, log) != 0)
            return -1;
    }
    return 0;
}

/* Highest applied version, 0 when none, -1 when the database cannot be asked. */
static int applied_max(const char *service)
{
    PGconn *c = connect_for(service, NULL);
    if (!c)
        return -1;
    char *id = PQescapeIdentifier(c, service, strlen(service));
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT CASE WHEN to_regclass('%s.schema_migrations') IS NULL THEN 0 ELSE "
             "(SELECT coalesce(max(version), 0) FROM %s.schema_migrations) END",
             service, id);
    PQfreemem(id);
    PGresult *r = PQexec(c, sql);
    int v = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    PQfinish(c);
    return v;
}

char *dtm_migrate_status(void)
{
    dtm_buf_t b;
    dtm_buf_init(&b);
    dtm_buf_puts(&b, "");
    const char *prev = NULL;
    for (const dtm_migration_t *m = dtm_migrations; m->sql; m++) {
        if (prev && strcmp(prev, m->service) == 0)
            continue;
        prev = m->service;
        int v = applied_max(m->service);
        if (v < 0) {
            dtm_buf_free(&b);
            return NULL;
        }
        dtm_buf_printf(&b, "%s%s:%d", b.len ? "," : "", m->service, v);
    }
    return b.data;
}

int dtm_migrate_print_status(const char *service, FILE *out)
{
    int pending_total = 0;
    const char *prev = NULL;
    fprintf(out, "%-12s %8s %8s %8s\n", "service", "applied", "latest", "pending");
    for (const dtm_migration_t *m = dtm_migrations; m->sql; m++) {
        if ((prev && strcmp(prev, m->service) == 0) ||
            (service && strcmp(service, m->service) != 0))
            continue;
        prev = m->service;
        int latest = latest_version(m->service), pending = 0;
        PGconn *c = connect_for(m->service, out);
        if (!c)
            return -1;
        int db_max = 0;
        bool *seen = NULL;
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT to_regclass('%s.schema_migrations') IS NOT NULL",
                 m->service);
        PGresult *r = PQexec(c, sql);
        bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
        if (exists)
            seen = applied_versions(c, m->service, latest, &db_max);
        for (const dtm_migration_t *x = m; x->sql && strcmp(x->service, m->service) == 0; x++)
            if (!seen || !seen[x->version])
                pending++;
        free(seen);
        PQfinish(c);
        fprintf(out, "%-12s %8d %8d %8d\n", m->service, db_max, latest, pending);
        pending_total += pending;
    }
    return pending_total;
}
