/* SPDX-License-Identifier: MIT */
#include "core/config.h"
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Each Criterion test runs in its own process, so environment changes do not leak. */
static const char *const managed[] = {
    "DATABASE_URL", "REDIS_URL",        "DTM_JWT_SECRET",     "DTM_JWT_PREVIOUS_SECRETS",
    "DTM_PORT",     "DTM_PG_POOL_SIZE", "DTM_LOG_LEVEL",      "DTM_ENV_FILE",
    "DTM_THREADS",  "DTM_BALANCE",      "DTM_ADMIN_PASSWORD", NULL};

static void clean_env(void)
{
    for (int i = 0; managed[i]; i++)
        unsetenv(managed[i]);
}

static char *run_load(unsigned need, int *count)
{
    char *text = NULL;
    size_t len = 0;
    FILE *errs = open_memstream(&text, &len);
    *count = dtm_config_load(need, errs);
    fclose(errs);
    return text;
}

Test(config, defaults, .init = clean_env)
{
    int n;
    char *errs = run_load(0, &n);
    cr_assert_eq(n, 0, "%s", errs);
    cr_assert_eq(dtm_cfg.pg_pool_size, 32);
    cr_assert_eq(dtm_cfg.access_ttl_s, 900);
    cr_assert_eq(dtm_cfg.max_body_bytes, 1048576);
    cr_assert_str_eq(dtm_cfg.redis_url, "redis://127.0.0.1:6379/0");
    cr_assert_str_eq(dtm_cfg.log_level, "info");
    cr_assert_str_eq(dtm_cfg.admin_email, "admin@example.com");
    cr_assert_null(dtm_cfg.database_url);
    cr_assert_gt(dtm_cfg.loops, 0);
    free(errs);
}

Test(config, empty_values_mean_unset, .init = clean_env)
{
    setenv("DTM_PORT", "", 1);
    setenv("DTM_LOG_LEVEL", "", 1);
    setenv("DATABASE_URL", "", 1);
    int n;
    char *errs = run_load(0, &n);
    cr_assert_eq(n, 0, "%s", errs);
    cr_assert_eq(dtm_cfg.port, 0);
    cr_assert_str_eq(dtm_cfg.log_level, "info");
    cr_assert_null(dtm_cfg.database_url);
    free(errs);
    errs = run_load(DTM_NEED_DB, &n);
    cr_assert_eq(n, 1, "an empty DATABASE_URL is still missing");
    free(errs);
}

Test(config, reports_all_problems_at_once, .init = clean_env)
{
    setenv("DTM_PORT", "80x", 1);
    setenv("DTM_PG_POOL_SIZE", "0", 1);
    setenv("DTM_THREADS", "99999999999999999999", 1);
    setenv("DTM_LOG_LEVEL", "verbose", 1);
    setenv("DTM_JWT_SECRET", "short", 1);
    setenv("REDIS_URL", "http://x:secretpw@host", 1);
    int n;
    char *errs = run_load(DTM_NEED_DB | DTM_NEED_JWT, &n);
    cr_assert_eq(n, 7, "got %d problems:\n%s", n, errs);
    cr_assert(strstr(errs, "DTM_PORT: \"80x\" is not an integer"), "%s", errs);
    cr_assert(strstr(errs, "DTM_PG_POOL_SIZE: 0 is out of range (1..1024)"), "%s", errs);
    cr_assert(strstr(errs, "DTM_THREADS: "), "%s", errs);
    cr_assert(strstr(errs, "DTM_LOG_LEVEL: \"verbose\" must be one of"), "%s", errs);
    cr_assert(strstr(errs, "DTM_JWT_SECRET: must be at least 32 bytes"), "%s", errs);
    cr_assert(strstr(errs, "DATABASE_URL: is required"), "%s", errs);
    cr_assert(strstr(errs, "REDIS_URL: must be a redis:// URL"), "%s", errs);
    cr_assert_null(strstr(errs, "secretpw"), "a URL password leaked: %s", errs);
    cr_assert_null(strstr(errs, "short"), "a secret leaked: %s", errs);
    /* invalid values fall back to defaults rather than garbage */
    cr_assert_eq(dtm_cfg.port, 0);
    cr_assert_eq(dtm_cfg.pg_pool_size, 32);
    free(errs);
}

Test(config, jwt_requirements, .init = clean_env)
{
    int n;
    char *errs = run_load(DTM_NEED_JWT, &n);
    cr_assert_eq(n, 1);
    cr_assert(strstr(errs, "DTM_JWT_SECRET: is required"));
    free(errs);
    setenv("DTM_JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
    setenv("DTM_JWT_PREVIOUS_SECRETS", "0123456789abcdef0123456789abcdeX,tooshort", 1);
    errs = run_load(DTM_NEED_JWT, &n);
    cr_assert_eq(n, 1, "%s", errs);
    cr_assert(strstr(errs, "DTM_JWT_PREVIOUS_SECRETS"));
    free(errs);
    unsetenv("DTM_JWT_PREVIOUS_SECRETS");
    errs = run_load(DTM_NEED_JWT, &n);
    cr_assert_eq(n, 0, "%s", errs);
    free(errs);
}

Test(config, env_file_is_merged_under_environment, .init = clean_env)
{
    char path[] = "/tmp/dtm_config_test_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("# local stack\n"
          "\n"
          "DATABASE_URL=postgres://dtm:pw@127.0.0.1:5432/dtm\n"
          "export DTM_PORT=4000\n"
          "DTM_JWT_SECRET=\"quoted # not a comment \\\"x\\\" 0123456789abcdef\"\n"
          "DTM_ADMIN_PASSWORD='single $quoted'\n"
          "DTM_LOG_LEVEL=debug # trailing comment\n"
          "DTM_BALANCE=least_outstanding\n",
          f);
    fclose(f);
    setenv("DTM_ENV_FILE", path, 1);
    setenv("DTM_BALANCE", "round_robin", 1); /* the real environment wins */
    cr_assert_eq(dtm_env_file_load(), 0);
    int n;
    char *errs = run_load(DTM_NEED_DB | DTM_NEED_JWT, &n);
    cr_assert_eq(n, 0, "%s", errs);
    cr_assert_str_eq(dtm_cfg.database_url, "postgres://dtm:pw@127.0.0.1:5432/dtm");
    cr_assert_eq(dtm_cfg.port, 4000);
    cr_assert_str_eq(dtm_cfg.jwt_secret, "quoted # not a comment \"x\" 0123456789abcdef");
    cr_assert_str_eq(dtm_cfg.admin_password, "single $quoted");
    cr_assert_str_eq(dtm_cfg.log_level, "debug");
    cr_assert_str_eq(dtm_cfg.balance, "round_robin");
    cr_assert_str_eq(dtm_cfg.env_file, path);
    free(errs);
    unlink(path);
}

Test(config, missing_named_env_file_fails, .init = clean_env)
{
    setenv("DTM_ENV_FILE", "/nonexistent/dtm.env", 1);
    cr_assert_eq(dtm_env_file_load(), -1);
}

Test(config, print_redacts_secrets, .init = clean_env)
{
    setenv("DATABASE_URL", "postgres://dtm:topsecretpw@db:5432/dtm", 1);
    setenv("DATABASE_URL_AUTH", "postgresql://a:authpw@db/auth?sslmode=disable", 1);
    setenv("DTM_JWT_SECRET", "0123456789abcdef0123456789abcdefQQQ", 1);
    setenv("DTM_ADMIN_PASSWORD", "adminpw123", 1);
    setenv("REDIS_URL", "redis://:redispw@cache:6379/2", 1);
    int n;
    char *errs = run_load(DTM_NEED_DB | DTM_NEED_JWT, &n);
    cr_assert_eq(n, 0, "%s", errs);
    free(errs);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    dtm_config_print(out);
    fclose(out);
    cr_assert(strstr(text, "DATABASE_URL=postgres://dtm:***@db:5432/dtm\n"), "%s", text);
    cr_assert(strstr(text, "DATABASE_URL_AUTH=postgresql://a:***@db/auth?sslmode=disable\n"));
    cr_assert(strstr(text, "REDIS_URL=redis://:***@cache:6379/2\n"), "%s", text);
    cr_assert(strstr(text, "DTM_JWT_SECRET=***\n"));
    cr_assert(strstr(text, "DTM_PG_POOL_SIZE=32\n"));
    const char *leaks[] = {"topsecretpw", "authpw", "redispw", "QQQ", "adminpw123"};
    for (size_t i = 0; i < 5; i++)
        cr_assert_null(strstr(text, leaks[i]), "leaked %s:\n%s", leaks[i], text);
    free(text);
}

Test(config, redact_conninfo)
{
    char *r = dtm_config_redact_url("host=db user=x password=s3cret dbname=y");
    cr_assert_str_eq(r, "host=db user=x password=*** dbname=y");
    free(r);
    r = dtm_config_redact_url("postgres://u@h/db");
    cr_assert_str_eq(r, "postgres://u@h/db");
    free(r);
    /* libpq quotes values with spaces; an escaped quote does not end the value */
    r = dtm_config_redact_url("host=db password='correct horse \\'battery' dbname=y");
    cr_assert_str_eq(r, "host=db password=*** dbname=y");
    free(r);
    r = dtm_config_redact_url("host=db password = 'a b' user=x");
    cr_assert_null(strstr(r, "a b"), "%s", r);
    cr_assert(strstr(r, "user=x"), "%s", r);
    free(r);
    r = dtm_config_redact_url("postgres://h/db?sslmode=require&password=p%20w&user=x");
    cr_assert_str_eq(r, "postgres://h/db?sslmode=require&password=***&user=x");
    free(r);
}

Test(config, per_service_lookups, .init = clean_env)
{
    setenv("DATABASE_URL", "postgres://h/main", 1);
    setenv("DATABASE_URL_TODOS", "postgres://h/todos", 1);
    setenv("DTM_UPSTREAM_AUTH", "http://a1:3001,http://a2:3001", 1);
    int n;
    free(run_load(0, &n));
    cr_assert_str_eq(dtm_config_db_url("todos"), "postgres://h/todos");
    cr_assert_str_eq(dtm_config_db_url("users"), "postgres://h/main");
    cr_assert_str_eq(dtm_config_upstreams("auth", 3001), "http://a1:3001,http://a2:3001");
    cr_assert_str_eq(dtm_config_upstreams("users", 3002), "http://127.0.0.1:3002");
    cr_assert_eq(dtm_config_upstreams("users", 3002), dtm_config_upstreams("users", 3002));
}

Test(config, metrics_addr_split)
{
    char host[64];
    int port = 0;
    cr_assert_eq(dtm_config_split_addr("127.0.0.1:9464", host, sizeof host, &port), 0);
    cr_assert_str_eq(host, "127.0.0.1");
    cr_assert_eq(port, 9464);
    cr_assert_eq(dtm_config_split_addr("[::1]:1", host, sizeof host, &port), 0);
    cr_assert_str_eq(host, "::1");
    cr_assert_eq(port, 1);
    cr_assert_eq(dtm_config_split_addr("0.0.0.0:65535", host, sizeof host, &port), 0);
    const char *bad[] = {"9464",           ":9464",           "127.0.0.1:",
                         "127.0.0.1:0",    "127.0.0.1:65536", "127.0.0.1:123456",
                         "localhost:9464", "::1:9464",        "[]:9464",
                         "[::1]9464",      "1.2.3.4:94a4",    "1.2.3.4:-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(dtm_config_split_addr(bad[i], host, sizeof host, &port), -1, "%s", bad[i]);
    char tiny[4];
    cr_assert_eq(dtm_config_split_addr("127.0.0.1:80", tiny, sizeof tiny, &port), -1);
}
