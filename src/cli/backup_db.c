/* SPDX-License-Identifier: MIT */
/* Database side of backups: pg_dump in a snapshot shared with the checksum queries, so that
 * the recorded checksums describe exactly what the dump holds; pg_restore; scratch databases
 * for test restores; pg_basebackup and point-in-time recovery through a temporary server that
 * replays the WAL archive. The PostgreSQL client tools are the reference implementations of
 * these formats, so we run them rather than reimplementing them. */
#include "cli/backup.h"
#include "core/arena.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/str.h"
#include "core/timeutil.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *pg_bindir(void)
{
    const char *d = getenv("DTM_PG_BINDIR");
    return d && *d ? d : "/usr/lib/postgresql/15/bin";
}

static PGconn *connect_utc(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
        msg[strcspn(msg, "\n")] = '\0';
        dtm_log_error("cannot connect to PostgreSQL: %s", msg);
        PQfinish(c);
        return NULL;
    }
    /* Row text must not depend on session settings, or checksums would differ. */
    PGresult *r = PQexec(c, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; "
                            "SET extra_float_digits = 3; SET IntervalStyle = 'postgres'");
    PQclear(r);
    return c;
}

static bool exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        dtm_log_error("%s", PQresultErrorMessage(r));
    PQclear(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* `url` as a conninfo string without its password (malloc'd), the password (malloc'd, or NULL
 * when there is none) in *password. The client tools get the password through PGPASSWORD in
 * their own environment: a command line is readable by every local user (ps, /proc). */
static char *conninfo_split(const char *url, const char *dbname, char **password)
{
    char *err = NULL;
    if (password)
        *password = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &err);
    if (!opts) {
        dtm_log_error("the database URL cannot be parsed: %s", err ? err : "?");
        PQfreemem(err);
        return NULL;
    }
    dtm_buf_t b;
    dtm_buf_init(&b);
    dtm_buf_puts(&b, "");
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        const char *v = dbname && strcmp(o->keyword, "dbname") == 0 ? dbname : o->val;
        if (!v)
            continue;
        if (password && strcmp(o->keyword, "password") == 0) {
            *password = dtm_strdup(v);
            continue;
        }
        dtm_buf_printf(&b, "%s='", o->keyword);
        for (const char *p = v; *p; p++) {
            if (*p == '\'' || *p == '\\')
                dtm_buf_append(&b, "\\", 1);
            dtm_buf_append(&b, p, 1);
        }
        dtm_buf_puts(&b, "' ");
    }
    PQconninfoFree(opts);
    return b.data;
}

/* Runs a PostgreSQL client tool with --dbname=<url without password> appended to argv (which
 * has room for it and its NULL) and the password in the tool's environment only. */
static int run_pg_tool(char **argv, int argc, const char *url)
{
    char *password = NULL;
    char *conninfo = conninfo_split(url, NULL, &password);
    if (!conninfo)
        return -1;
    dtm_buf_t arg;
    dtm_buf_init(&arg);
    dtm_buf_printf(&arg, "--dbname=%s", conninfo);
    argv[argc] = arg.data;
    argv[argc + 1] = NULL;
    int rc = dtm_run_with_password(argv, password);
    if (password) {
        memset(password, 0, strlen(password));
        free(password);
    }
    free(conninfo);
    dtm_buf_free(&arg);
    return rc;
}

/* Every user table; row order is made irrelevant by hashing each row and sorting the hashes. */
static json_t *checksums_on(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT table_schema, table_name FROM information_schema.tables "
                            "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN "
                            "('pg_catalog', 'information_schema') ORDER BY 1, 2");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return NULL;
    }
    json_t *out = json_object();
    for (int i = 0; i < PQntuples(r); i++) {
        const char *s = PQgetvalue(r, i, 0), *t = PQgetvalue(r, i, 1);
        char *qs = PQescapeIdentifier(c, s, strlen(s));
        char *qt = PQescapeIdentifier(c, t, strlen(t));
        dtm_buf_t sql;
        dtm_buf_init(&sql);
        dtm_buf_printf(&sql,
                       "SELECT count(*), md5(coalesce(string_agg(h, '' ORDER BY h), '')) "
                       "FROM (SELECT md5(x::text) AS h FROM %s.%s x) q",
                       qs, qt);
        PQfreemem(qs);
        PQfreemem(qt);
        PGresult *cr = PQexec(c, sql.data);
        dtm_buf_free(&sql);
        if (PQresultStatus(cr) != PGRES_TUPLES_OK) {
            dtm_log_error("checksum of %s.%s: %s", s, t, PQresultErrorMessage(cr));
            PQclear(cr);
            json_decref(out);
            PQclear(r);
            return NULL;
        }
        char key[512];
        snprintf(key, sizeof key, "%s.%s", s, t);
        json_object_set_new(out, key,
                            json_pack("{s:I,s:s}", "rows",
                                      (json_int_t)strtoll(PQgetvalue(cr, 0, 0), NULL, 10),
                                      "checksum", PQgetvalue(cr, 0, 1)));
        PQclear(cr);
    }
    PQclear(r);
    return out;
}

json_t *dtm_db_checksums(const char *url)
{
    PGconn *c = connect_utc(url);
    if (!c)
        return NULL;
    json_t *j = checksums_on(c);
    PQfinish(c);
    return j;
}

int dtm_db_dump(const char *url, const char *out, json_t **tables)
{
    *tables = NULL;
    PGconn *c = connect_utc(url);
    if (!c)
        return -1;
    int rc = -1;
    if (!exec_ok(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        goto done;
    PGresult *r = PQexec(c, "SELECT pg_export_snapshot()");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        goto done;
    }
    char snap[128];
    snprintf(snap, sizeof snap, "--snapshot=%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    char file_arg[4200];
    snprintf(file_arg, sizeof file_arg, "--file=%s", out);
    char *argv[] = {"pg_dump", "--format=custom", "--compress=6", "--no-owner",
                    snap,      file_arg,          NULL,           NULL};
    if (run_pg_tool(argv, 6, url) != 0) {
        dtm_log_error("pg_dump failed");
        goto done;
    }
    *tables = checksums_on(c);
    if (*tables)
        rc = 0;
done:
    exec_ok(c, "COMMIT");
    PQfinish(c);
    return rc;
}

int dtm_db_restore(const char *url, const char *dump, bool clean)
{
    char *argv[10];
    int n = 0;
    argv[n++] = "pg_restore";
    argv[n++] = "--no-owner";
    argv[n++] = "--exit-on-error";
    argv[n++] = "--single-transaction";
    if (clean) {
        argv[n++] = "--clean";
        argv[n++] = "--if-exists";
    }
    argv[n++] = (char *)dump; /* options may follow the file name */
    return run_pg_tool(argv, n, url) == 0 ? 0 : -1;
}

int dtm_db_has_tables(const char *url)
{
    PGconn *c = connect_utc(url);
    if (!c)
        return -1;
    PGresult *r = PQexec(c, "SELECT count(*) FROM information_schema.tables WHERE table_schema "
                            "NOT IN ('pg_catalog', 'information_schema')");
    int has = PQresultStatus(r) == PGRES_TUPLES_OK && atoi(PQgetvalue(r, 0, 0)) > 0;
    PQclear(r);
    PQfinish(c);
    return has;
}

/* A conninfo string equal to `url` but for the database name. */
static char *with_dbname(const char *url, const char *dbname)
{
    return conninfo_split(url, dbname, NULL);
}

char *dtm_db_scratch_create(const char *url)
{
    char name[64], id[DTM_UUID_LEN + 1];
    dtm_uuid_v4(id);
    snprintf(name, sizeof name, "dtm_verify_%.8s", id);
    PGconn *c = connect_utc(url);
    if (!c)
        return NULL;
    char *q = PQescapeIdentifier(c, name, strlen(name));
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", q);
    PQfreemem(q);
    bool ok = exec_ok(c, sql);
    PQfinish(c);
    return ok ? with_dbname(url, name) : NULL;
}

void dtm_db_scratch_drop(const char *url, const char *scratch_url)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(scratch_url, &err);
    PQfreemem(err);
    const char *name = NULL;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "dbname") == 0)
            name = o->val;
    PGconn *c = name ? connect_utc(url) : NULL;
    if (c) {
        char *q = PQescapeIdentifier(c, name, strlen(name));
        char sql[256];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", q);
        PQfreemem(q);
        exec_ok(c, sql);
        PQfinish(c);
    }
    PQconninfoFree(opts);
}

int dtm_db_basebackup(const char *url, const char *out_dir)
{
    char d_arg[4200];
    snprintf(d_arg, sizeof d_arg, "--pgdata=%s", out_dir);
    char *argv[] = {"pg_basebackup",
                    "--format=tar",
                    "--wal-method=fetch",
                    "--checkpoint=fast",
                    "--no-password",
                    d_arg,
                    NULL,
                    NULL};
    return run_pg_tool(argv, 6, url) == 0 ? 0 : -1;
}

static int chown_postgres(const char *path)
{
    if (geteuid() != 0)
        return 0;
    struct passwd *pw = getpwnam("postgres");
    if (!pw)
        return -1;
    char *argv[] = {"chown", "-R", "postgres:", (char *)path, NULL};
    char owner[64];
    snprintf(owner, sizeof owner, "%u:%u", pw->pw_uid, pw->pw_gid);
    argv[2] = owner;
    return dtm_run(argv, false);
}

static int free_port(void)
{
    /* The temporary server listens only on a Unix socket in its own directory; the port just
     * names the socket file. */
    return 50000 + (int)(getpid() % 10000);
}

int dtm_db_pitr_dump(const char *base_dir, const char *wal_dir, const char *target_time,
                     const char *dbname, const char *work_dir, const char *dump_out)
{
    char pgdata[4096], sock[4096], bin[512], conf[4200], sig[4200];
    snprintf(pgdata, sizeof pgdata, "%s/pgdata", work_dir);
    snprintf(sock, sizeof sock, "%s/run", work_dir);
    if (dtm_mkdirs(pgdata, 0700) != 0 || dtm_mkdirs(sock, 0700) != 0)
        return -1;
    chmod(pgdata, 0700);
    char base_tar[4200], wal_tar[4200], pgwal[4200];
    snprintf(base_tar, sizeof base_tar, "%s/base.tar", base_dir);
    snprintf(wal_tar, sizeof wal_tar, "%s/pg_wal.tar", base_dir);
    snprintf(pgwal, sizeof pgwal, "%s/pg_wal", pgdata);
    char *x1[] = {"tar", "-xf", base_tar, "-C", pgdata, NULL};
    if (dtm_run(x1, false) != 0)
        return -1;
    dtm_mkdirs(pgwal, 0700);
    struct stat st;
    if (stat(wal_tar, &st) == 0) {
        char *x2[] = {"tar", "-xf", wal_tar, "-C", pgwal, NULL};
        if (dtm_run(x2, false) != 0)
            return -1;
    }
    snprintf(conf, sizeof conf, "%s/postgresql.auto.conf", pgdata);
    FILE *f = fopen(conf, "a");
    if (!f)
        return -1;
    /* Replay the archive up to the target, then open read-write on a private socket. */
    fprintf(f,
            "\n# dtm point-in-time recovery\n"
            "restore_command = 'cp \"%s/%%f\" \"%%p\"'\n"
            "recovery_target_time = '%s'\n"
            "recovery_target_action = 'promote'\n"
            "recovery_target_inclusive = false\n"
            "archive_mode = off\n"
            "listen_addresses = ''\n"
            "unix_socket_directories = '%s'\n"
            "port = %d\n",
            wal_dir, target_time, sock, free_port());
    fclose(f);
    snprintf(sig, sizeof sig, "%s/recovery.signal", pgdata);
    f = fopen(sig, "w");
    if (f)
        fclose(f);
    if (chown_postgres(work_dir) != 0)
        return -1;
    snprintf(bin, sizeof bin, "%s/pg_ctl", pg_bindir());
    char logarg[4300];
    snprintf(logarg, sizeof logarg, "%s/server.log", work_dir);
    char *start[] = {bin, "-D", pgdata, "-l", logarg, "-w", "-t", "300", "start", NULL};
    if (dtm_run(start, true) != 0) {
        dtm_log_error("temporary PostgreSQL for recovery did not start; see %s", logarg);
        return -1;
    }
    char url[4600];
    snprintf(url, sizeof url, "host=%s port=%d dbname=postgres user=postgres", sock, free_port());
    int rc = -1;
    /* Wait until recovery has finished and the server was promoted. */
    for (int i = 0; i < 600; i++) {
        PGconn *c = PQconnectdb(url);
        if (PQstatus(c) == CONNECTION_OK) {
            PGresult *r = PQexec(c, "SELECT pg_is_in_recovery()");
            bool done = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 'f';
            PQclear(r);
            PQfinish(c);
            if (done) {
                rc = 0;
                break;
            }
        } else {
            PQfinish(c);
        }
        usleep(200000);
    }
    if (rc == 0) {
        char dburl[4700];
        snprintf(dburl, sizeof dburl, "host=%s port=%d dbname='%s' user=postgres", sock,
                 free_port(), dbname);
        json_t *tables = NULL;
        rc = dtm_db_dump(dburl, dump_out, &tables);
        json_decref(tables);
    } else {
        dtm_log_error("recovery did not finish; see %s", logarg);
    }
    char *stop[] = {bin, "-D", pgdata, "-m", "fast", "-w", "stop", NULL};
    dtm_run(stop, true);
    return rc;
}

char *dtm_db_name_of(const char *url)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &err);
    PQfreemem(err);
    char *name = NULL;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "dbname") == 0 && o->val)
            name = strdup(o->val);
    PQconninfoFree(opts);
    return name;
}
