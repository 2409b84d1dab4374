/* SPDX-License-Identifier: MIT */
/* Runs the embedded migrations against a fresh database made from DATABASE_URL (skipped with a
 * message when unset); the database is dropped afterwards. */
#include "core/config.h"
#include "db/migrate.h"
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char admin_url[512], test_url[600], dbname[64];

static PGconn *connect_url(const char *url)
{
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    return c;
}

static void admin_exec(const char *sql)
{
    PGconn *c = connect_url(admin_url);
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

/* Replace the database name (path) of a postgres URL. */
static void with_db(char *out, size_t cap, const char *url, const char *db)
{
    const char *scheme = strstr(url, "://");
    const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
    const char *query = strchr(url, '?');
    int base = slash ? (int)(slash - url) : (int)(query ? query - url : (long)strlen(url));
    snprintf(out, cap, "%.*s/%s%s", base, url, db, query ? query : "");
}

static void setup(void)
{
    const char *url = getenv("DATABASE_URL");
    if (!url || !*url)
        cr_skip_test("DATABASE_URL is not set: migration tests skipped");
    snprintf(admin_url, sizeof admin_url, "%s", url);
    snprintf(dbname, sizeof dbname, "dtm_migrate_test_%d", (int)getpid());
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
    admin_exec(sql);
    with_db(test_url, sizeof test_url, url, dbname);
    setenv("DATABASE_URL", test_url, 1);
    dtm_config_load(0, NULL);
}

static void teardown(void)
{
    if (!dbname[0])
        return;
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
    admin_exec(sql);
}

static long long scalar(const char *sql)
{
    PGconn *c = connect_url(test_url);
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
    long long v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return v;
}

/* Expected "service:latest,..." from the embedded table. */
static void expected_status(char *out, size_t cap)
{
    out[0] = '\0';
    for (const dtm_migration_t *m = dtm_migrations; m->sql; m++) {
        if (m[1].sql && strcmp(m[1].service, m->service) == 0)
            continue; /* not the last of its service */
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s:%d", n ? "," : "", m->service, m->version);
    }
}

static int embedded_count(const char *service)
{
    int n = 0;
    for (const dtm_migration_t *m = dtm_migrations; m->sql; m++)
        n += service == NULL || strcmp(m->service, service) == 0;
    return n;
}

static long long recorded_total(void)
{
    long long total = 0;
    const char *prev = NULL;
    for (const dtm_migration_t *m = dtm_migrations; m->sql; m++) {
        if (prev && strcmp(prev, m->service) == 0)
            continue;
        prev = m->service;
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.schema_migrations", m->service);
        total += scalar(sql);
    }
    return total;
}

Test(migrate, embedded_table_is_sorted_and_named)
{
    cr_assert_not_null(dtm_migrations[0].sql, "no migrations embedded");
    for (const dtm_migration_t *m = dtm_migrations; m->sql && m[1].sql; m++) {
        int c = strcmp(m->service, m[1].service);
        cr_assert(c < 0 || (c == 0 && m->version < m[1].version), "%s/%s before %s/%s", m->service,
                  m->name, m[1].service, m[1].name);
    }
}

Test(migrate, fresh_database_then_idempotent, .init = setup, .fini = teardown, .timeout = 60)
{
    cr_assert_eq(dtm_migrate_run(NULL, NULL), 0);
    cr_assert_eq(recorded_total(), embedded_count(NULL));
    char want[512];
    expected_status(want, sizeof want);
    char *got = dtm_migrate_status();
    cr_assert_not_null(got);
    cr_assert_str_eq(got, want);
    free(got);
    /* second run: nothing new, nothing fails */
    cr_assert_eq(dtm_migrate_run(NULL, NULL), 0);
    cr_assert_eq(recorded_total(), embedded_count(NULL));
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cr_assert_eq(dtm_migrate_print_status(NULL, out), 0);
    fclose(out);
    cr_assert(strstr(text, "pending"), "%s", text);
    free(text);
}

Test(migrate, one_service_only, .init = setup, .fini = teardown, .timeout = 60)
{
    const char *svc = dtm_migrations[0].service;
    cr_assert_eq(dtm_migrate_run(svc, NULL), 0);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.schema_migrations", svc);
    cr_assert_eq(scalar(sql), embedded_count(svc));
    cr_assert_eq(scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'users'"),
                 strcmp(svc, "users") == 0 ? 1 : 0);
    FILE *devnull = fopen("/dev/null", "w");
    cr_assert_gt(dtm_migrate_print_status(NULL, devnull), 0, "other services are pending");
    fclose(devnull);
    cr_assert_eq(dtm_migrate_run("no_such_service", NULL), 0);
}

Test(migrate, concurrent_runners_apply_each_file_once, .init = setup, .fini = teardown,
     .timeout = 120)
{
    pid_t kids[4];
    for (int i = 0; i < 4; i++) {
        kids[i] = fork();
        if (kids[i] == 0)
            _exit(dtm_migrate_run(NULL, NULL) == 0 ? 0 : 1);
    }
    for (int i = 0; i < 4; i++) {
        int st;
        waitpid(kids[i], &st, 0);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "runner %d failed", i);
    }
    cr_assert_eq(recorded_total(), embedded_count(NULL));
}

Test(migrate, a_failing_migration_leaves_nothing_behind, .init = setup, .fini = teardown,
     .timeout = 60)
{
    /* An event trigger makes the first CREATE TABLE of the users schema fail (other than our
     * bookkeeping table), in the middle of users/0001. */
    PGconn *c = connect_url(test_url);
    PGresult *r = PQexec(
        c, "CREATE FUNCTION block_users() RETURNS event_trigger LANGUAGE plpgsql AS $$ "
           "DECLARE r record; BEGIN FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP "
           "IF r.schema_name = 'users' AND r.command_tag = 'CREATE TABLE' AND "
           "r.object_identity <> 'users.schema_migrations' THEN "
           "RAISE EXCEPTION 'blocked by test'; END IF; END LOOP; END $$;"
           "CREATE EVENT TRIGGER block_users ON ddl_command_end EXECUTE FUNCTION block_users()");
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
    PQclear(r);
    char *log = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&log, &len);
    cr_assert_eq(dtm_migrate_run("users", out), -1);
    fclose(out);
    cr_assert(strstr(log, "users/0001"), "the failing file is named: %s", log);
    cr_assert(strstr(log, "blocked by test"), "%s", log);
    free(log);
    cr_assert_eq(scalar("SELECT count(*) FROM users.schema_migrations"), 0);
    cr_assert_eq(scalar("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                        "c.relnamespace WHERE n.nspname = 'users' AND c.relname NOT LIKE "
                        "'schema_migrations%'"),
                 0, "partial migration was not rolled back");
    r = PQexec(c, "DROP EVENT TRIGGER block_users");
    PQclear(r);
    PQfinish(c);
    cr_assert_eq(dtm_migrate_run("users", NULL), 0);
    cr_assert_eq(scalar("SELECT count(*) FROM users.schema_migrations"), embedded_count("users"));
}
