/* SPDX-License-Identifier: MIT */
/* Database backups: what the PostgreSQL client tools are given. A fake pg_restore/pg_basebackup
 * first on PATH records its arguments and environment, so no server is needed. */
#include "cli/backup.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256], saved_path[8192];

static void fake_tool(const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "#!/bin/sh\nprintf '%%s\\n' \"$@\" > '%s/argv'\n"
            "printf '%%s' \"${PGPASSWORD-unset}\" > '%s/pgpassword'\nexit 0\n",
            dir, dir);
    fclose(f);
    cr_assert_eq(chmod(p, 0755), 0);
}

static char *slurp(const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    cr_assert_not_null(f, "%s was not written: the tool did not run", p);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/dtm-unit-backupdb-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    const char *path = getenv("PATH");
    snprintf(saved_path, sizeof saved_path, "%s", path ? path : "/usr/bin:/bin");
    char np[8500];
    snprintf(np, sizeof np, "%s:%s", dir, saved_path);
    setenv("PATH", np, 1);
    unsetenv("PGPASSWORD");
}

static void teardown(void)
{
    setenv("PATH", saved_path, 1);
    dtm_rmtree(dir);
}

TestSuite(backup_db, .init = setup, .fini = teardown);

/* The command line of a process is readable by every local user (ps, /proc/PID/cmdline): the
 * database password must travel in the child's environment, never in argv. */
Test(backup_db, restore_keeps_the_password_off_the_command_line)
{
    fake_tool("pg_restore");
    cr_assert_eq(dtm_db_restore("postgresql://dtm:s3cr%2Ft@127.0.0.1:5432/dtm?sslmode=disable",
                                "/nonexistent.dump", false),
                 0);
    const char *argv = slurp("argv");
    cr_assert_null(strstr(argv, "s3cr"), "password in argv:\n%s", argv);
    cr_assert(strstr(argv, "--dbname="), "%s", argv);
    cr_assert(strstr(argv, "127.0.0.1"), "%s", argv);
    cr_assert(strstr(argv, "sslmode"), "other settings are kept: %s", argv);
    cr_assert_str_eq(slurp("pgpassword"), "s3cr/t");
    cr_assert_null(getenv("PGPASSWORD"), "only the child gets it");
}

Test(backup_db, basebackup_keeps_the_password_off_the_command_line)
{
    fake_tool("pg_basebackup");
    char out[300];
    snprintf(out, sizeof out, "%s/base", dir);
    cr_assert_eq(
        dtm_db_basebackup("host=127.0.0.1 port=5432 user=dtm password='p w' dbname=dtm", out), 0);
    const char *argv = slurp("argv");
    cr_assert_null(strstr(argv, "p w"), "password in argv:\n%s", argv);
    cr_assert_str_eq(slurp("pgpassword"), "p w");
}

Test(backup_db, no_password_no_variable)
{
    fake_tool("pg_restore");
    cr_assert_eq(dtm_db_restore("postgresql://dtm@127.0.0.1/dtm", "/nonexistent.dump", false), 0);
    cr_assert_str_eq(slurp("pgpassword"), "unset");
}
