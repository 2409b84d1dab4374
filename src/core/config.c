/* SPDX-License-Identifier: MIT */
/* Configuration: one typed table drives loading, validation and printing (Redis's config.c
 * idea). Every problem is collected and reported together (Loki's habit), so an operator fixes
 * a broken deployment in one round. */
#include "core/config.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/str.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

dtm_config_t dtm_cfg;

typedef enum { CONF_STR, CONF_INT, CONF_LONG } conf_type_t;

enum {
    CONF_SECRET = 1u, /* printed as *** */
    CONF_URL = 2u,    /* printed with its password masked */
};

typedef struct {
    const char *env;
    conf_type_t type;
    void *field;
    const char *dflt; /* NULL: no default (string stays NULL) */
    long long min, max;
    unsigned flags;
    /* Extra check for strings: returns a problem description or NULL. */
    const char *(*check)(const char *value);
} conf_row_t;

static const char *check_log_level(const char *v);
static const char *check_balance(const char *v);
static const char *check_pooler(const char *v);
static const char *check_sentinels(const char *v);
static const char *check_pg_url(const char *v);
static const char *check_redis_url(const char *v);
static const char *check_not_empty(const char *v);
static const char *check_smtp_url(const char *v);

#define STR(env, f, d, fl, chk)                                                                    \
    {                                                                                              \
        env, CONF_STR, &dtm_cfg.f, d, 0, 0, fl, chk                                                \
    }
#define INT(env, f, d, lo, hi)                                                                     \
    {                                                                                              \
        env, CONF_INT, &dtm_cfg.f, #d, lo, hi, 0, NULL                                             \
    }
#define LONG(env, f, d, lo, hi)                                                                    \
    {                                                                                              \
        env, CONF_LONG, &dtm_cfg.f, #d, lo, hi, 0, NULL                                            \
    }

static const conf_row_t conf_table[] = {
    STR("DATABASE_URL", database_url, NULL, CONF_URL, check_pg_url),
    STR("REDIS_URL", redis_url, "redis://127.0.0.1:6379/0", CONF_URL, check_redis_url),
    STR("REDIS_SENTINELS", redis_sentinels, NULL, 0, check_sentinels),
    STR("REDIS_MASTER_NAME", redis_master_name, "dtm", 0, check_not_empty),
    STR("REDIS_SENTINEL_PASSWORD", redis_sentinel_password, NULL, CONF_SECRET, NULL),
    INT("DTM_PG_POOL_SIZE", pg_pool_size, 32, 1, 1024),
    INT("DTM_PG_TIMEOUT_MS", pg_timeout_ms, 2000, 1, 600000),
    INT("DTM_PG_STATEMENT_TIMEOUT_MS", pg_statement_timeout_ms, 30000, 0, 3600000),
    STR("DTM_PG_POOLER", pg_pooler, "none", 0, check_pooler),
    INT("DTM_REDIS_TIMEOUT_MS", redis_timeout_ms, 500, 1, 60000),
    STR("DTM_JWT_SECRET", jwt_secret, NULL, CONF_SECRET, NULL),
    STR("DTM_JWT_PREVIOUS_SECRETS", jwt_previous_secrets, NULL, CONF_SECRET, NULL),
    INT("DTM_ACCESS_TTL", access_ttl_s, 900, 10, 86400),
    INT("DTM_REFRESH_TTL", refresh_ttl_s, 2592000, 60, 31622400),
    INT("DTM_LOGIN_LIMIT_PER_EMAIL", login_limit_per_email, 10, 1, 1000000),
    INT("DTM_LOGIN_LIMIT_PER_IP", login_limit_per_ip, 100, 1, 1000000),
    STR("DTM_HOST", host, "127.0.0.1", 0, check_not_empty),
    INT("DTM_PORT", port, 0, 0, 65535),
    INT("DTM_LOOPS", loops, 0, 0, 256),
    INT("DTM_THREADS", threads, 16, 1, 1024),
    LONG("DTM_MAX_BODY", max_body_bytes, 1048576, 1, 1073741824),
    INT("DTM_MAX_HEADER", max_header_bytes, 16384, 1024, 1048576),
    INT("DTM_READ_TIMEOUT_MS", read_timeout_ms, 15000, 1, 3600000),
    INT("DTM_IDLE_TIMEOUT_MS", idle_timeout_ms, 60000, 1, 3600000),
    INT("DTM_WRITE_TIMEOUT_MS", write_timeout_ms, 30000, 1, 3600000),
    INT("DTM_DRAIN_TIMEOUT_MS", drain_timeout_ms, 10000, 0, 3600000),
    /* API.md: keys are kept at least 24 h. */
    INT("DTM_IDEMPOTENCY_TTL_S", idempotency_ttl_s, 86400, 86400, 31 * 86400),
    INT("DTM_IDEMPOTENCY_LEASE_MS", idempotency_lease_ms, 60000, 1000, 3600000),
    STR("DTM_WEB_DIR", web_dir, "./web/dist", 0, check_not_empty),
    INT("DTM_RATE_LIMIT_PER_IP", rate_limit_per_ip, 1200, 0, 1000000000),
    INT("DTM_RATE_LIMIT_PER_USER", rate_limit_per_user, 600, 0, 1000000000),
    INT("DTM_RATE_LIMIT_BURST_PCT", rate_limit_burst_pct, 25, 1, 100),
    STR("DTM_TRUSTED_PROXIES", trusted_proxies, NULL, 0, NULL),
    STR("DTM_CORS_ORIGINS", cors_origins, NULL, 0, NULL),
    STR("DTM_BALANCE", balance, "round_robin", 0, check_balance),
    INT("DTM_UPSTREAM_CONNECT_TIMEOUT_MS", upstream_connect_timeout_ms, 2000, 1, 600000),
    INT("DTM_UPSTREAM_TIMEOUT_MS", upstream_timeout_ms, 30000, 1, 3600000),
    INT("DTM_HEALTH_INTERVAL_MS", health_interval_ms, 2000, 50, 3600000),
    INT("DTM_OUTBOX_POLL_MS", outbox_poll_ms, 1000, 10, 3600000),
    INT("DTM_OUTBOX_RETRY_MAX_MS", outbox_retry_max_ms, 30000, 10, 86400000),
    INT("DTM_OUTBOX_MAX_ATTEMPTS", outbox_max_attempts, 100, 1, 1000000),
    INT("DTM_VISITS_JOB_INTERVAL_MS", visits_job_ms, 60000, 100, 86400000),
    STR("DTM_SMTP_URL", smtp_url, NULL, CONF_URL, check_smtp_url),
    STR("DTM_MAIL_FROM", mail_from, "dtm <no-reply@dtm.local>", 0, check_not_empty),
    STR("DTM_PUBLIC_URL", public_url, "http://localhost:3000", 0, check_not_empty),
    INT("DTM_SMTP_TIMEOUT_MS", smtp_timeout_ms, 10000, 100, 600000),
    INT("DTM_MAIL_POLL_MS", mail_poll_ms, 1000, 10, 3600000),
    INT("DTM_MAIL_RETRY_BASE_MS", mail_retry_base_ms, 2000, 10, 3600000),
    INT("DTM_MAIL_RETRY_MAX_MS", mail_retry_max_ms, 3600000, 10, 86400000),
    INT("DTM_SSE_MAX_CLIENTS", sse_max_clients, 10000, 1, 1000000),
    STR("DTM_DATA_DIR", data_dir, "./var/data", 0, check_not_empty),
    STR("DTM_BACKUP_DIR", backup_dir, "./var/backups", 0, check_not_empty),
    STR("DTM_ADMIN_EMAIL", admin_email, "admin@example.com", 0, check_not_empty),
    STR("DTM_ADMIN_PASSWORD", admin_password, NULL, CONF_SECRET, NULL),
    STR("DTM_LOG_LEVEL", log_level, "info", 0, check_log_level),
    LONG("DTM_LOG_BUFFER_BYTES", log_buffer_bytes, 4194304, 0, 1073741824),
};

#define CONF_ROWS (sizeof conf_table / sizeof conf_table[0])

/* Copies of every string in dtm_cfg, so later setenv calls cannot pull them away. */
static char *owned[CONF_ROWS + 1];
static char *loaded_env_file;

/* ---- validators ---- */

static const char *check_smtp_url(const char *v)
{
    return strncmp(v, "smtp://", 7) == 0 || strncmp(v, "smtps://", 8) == 0
               ? NULL
               : "must be an smtp:// or smtps:// URL";
}

static const char *check_log_level(const char *v)
{
    return dtm_log_level_parse(v) < 0 ? "must be one of debug, info, warn, error" : NULL;
}

static const char *check_balance(const char *v)
{
    if (strcmp(v, "round_robin") == 0 || strcmp(v, "least_outstanding") == 0)
        return NULL;
    return "must be round_robin or least_outstanding";
}

/* host:port[,host:port...] */
static const char *check_sentinels(const char *v)
{
    const char *p = v;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        if (!colon || colon == p || colon + 1 >= p + n || n > 255)
            return "must be host:port[,host:port...]";
        for (const char *d = colon + 1; d < p + n; d++)
            if (*d < '0' || *d > '9')
                return "must be host:port[,host:port...]";
        p += n + (end ? 1 : 0);
        if (end && !*p)
            return "must be host:port[,host:port...]";
    }
    return NULL;
}

static const char *check_pooler(const char *v)
{
    if (strcmp(v, "none") == 0 || strcmp(v, "session") == 0 || strcmp(v, "transaction") == 0)
        return NULL;
    return "must be none, session or transaction";
}

static const char *check_pg_url(const char *v)
{
    if (dtm_str_startswith(v, "postgres://") || dtm_str_startswith(v, "postgresql://"))
        return NULL;
    if (!strstr(v, "://") && strchr(v, '='))
        return NULL; /* libpq key=value connection string */
    return "must be a postgres:// or postgresql:// URL";
}

static const char *check_redis_url(const char *v)
{
    return dtm_str_startswith(v, "redis://") ? NULL : "must be a redis:// URL";
}

static const char *check_not_empty(const char *v)
{
    return *v ? NULL : "must not be empty";
}

/* ---- env file ---- */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Unquote a value in place: "..." with \n \" \\ escapes, '...' literal, or bare text where
 * " #" starts a comment. Returns NULL for an unterminated quote. */
static char *unquote(char *v)
{
    if (*v == '"' || *v == '\'') {
        char q = *v++, *o = v;
        for (char *p = v; *p; p++) {
            if (*p == q) {
                *o = '\0';
                return *trim(p + 1) == '\0' || *trim(p + 1) == '#' ? v : NULL;
            }
            if (q == '"' && *p == '\\' && p[1]) {
                p++;
                *o++ = (char)(*p == 'n' ? '\n' : *p == 't' ? '\t' : *p);
            } else {
                *o++ = *p;
            }
        }
        return NULL;
    }
    for (char *p = v; *p; p++)
        if (*p == '#' && (p == v || isspace((unsigned char)p[-1]))) {
            *p = '\0';
            break;
        }
    return trim(v);
}

static bool valid_name(const char *k)
{
    if (!*k || isdigit((unsigned char)*k))
        return false;
    for (; *k; k++)
        if (!isalnum((unsigned char)*k) && *k != '_')
            return false;
    return true;
}

static int env_file_parse(FILE *f, const char *path)
{
    char line[8192];
    int lineno = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        if (strncmp(s, "export ", 7) == 0)
            s = trim(s + 7);
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "dtm: %s:%d: expected KEY=VALUE\n", path, lineno);
            bad++;
            continue;
        }
        *eq = '\0';
        char *key = trim(s), *val = unquote(trim(eq + 1));
        if (!valid_name(key) || !val) {
            fprintf(stderr, "dtm: %s:%d: malformed line\n", path, lineno);
            bad++;
            continue;
        }
        setenv(key, val, 0); /* the real environment wins */
    }
    return bad;
}

int dtm_env_file_load(void)
{
    const char *named = getenv("DTM_ENV_FILE");
    const char *path = named && *named ? named : "./var/dtm.env";
    FILE *f = fopen(path, "r");
    if (!f) {
        if (named && *named) {
            fprintf(stderr, "dtm: cannot read DTM_ENV_FILE %s: %s\n", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    env_file_parse(f, path);
    fclose(f);
    free(loaded_env_file);
    loaded_env_file = dtm_strdup(path);
    return 0;
}

/* ---- load ---- */

/* One problem line "NAME: what is wrong"; returns 1 so callers can count. */
static int problem(FILE *errs, const char *env, const char *what)
{
    if (errs)
        fprintf(errs, "%s: %s\n", env, what);
    return 1;
}

static int parse_int_row(const conf_row_t *r, const char *v, FILE *errs)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno == ERANGE || isspace((unsigned char)*v)) {
        if (errs)
            fprintf(errs, "%s: \"%s\" is not an integer\n", r->env, v);
        return 1;
    }
    if (n < r->min || n > r->max) {
        if (errs)
            fprintf(errs, "%s: %lld is out of range (%lld..%lld)\n", r->env, n, r->min, r->max);
        return 1;
    }
    if (r->type == CONF_INT)
        *(int *)r->field = (int)n;
    else
        *(long *)r->field = (long)n;
    return 0;
}

static int load_row(size_t i, FILE *errs)
{
    const conf_row_t *r = &conf_table[i];
    const char *env = getenv(r->env);
    if (env && !*env)
        env = NULL; /* FOO= (compose's ${FOO:-}) means "not set": take the default */
    const char *v = env ? env : r->dflt;
    if (r->type != CONF_STR) {
        if (env && parse_int_row(r, env, errs) == 0)
            return 0;
        parse_int_row(r, r->dflt, NULL); /* keep a sane value even when invalid */
        return env ? 1 : 0;
    }
    free(owned[i]);
    owned[i] = v ? dtm_strdup(v) : NULL;
    *(const char **)r->field = owned[i];
    if (env && r->check) {
        const char *why = r->check(env);
        if (why) {
            /* Never echo a secret or a URL (it may carry a password) back. */
            if (r->flags & (CONF_SECRET | CONF_URL))
                return problem(errs, r->env, why);
            if (errs)
                fprintf(errs, "%s: \"%s\" %s\n", r->env, env, why);
            return 1;
        }
    }
    return 0;
}

static int check_jwt(FILE *errs)
{
    int bad = 0;
    const char *s = dtm_cfg.jwt_secret;
    if (!s || !*s)
        bad += problem(errs, "DTM_JWT_SECRET", "is required (at least 32 bytes)");
    else if (strlen(s) < 32)
        bad += problem(errs, "DTM_JWT_SECRET", "must be at least 32 bytes");
    const char *prev = dtm_cfg.jwt_previous_secrets;
    for (const char *p = prev; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n > 0 && n < 32)
            bad +=
                problem(errs, "DTM_JWT_PREVIOUS_SECRETS", "every secret must be at least 32 bytes");
        p += n + (p[n] == ',');
    }
    return bad;
}

int dtm_config_load(unsigned need, FILE *errs)
{
    int bad = 0;
    for (size_t i = 0; i < CONF_ROWS; i++)
        bad += load_row(i, errs);
    if (dtm_cfg.loops == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        dtm_cfg.loops = n > 0 ? (int)n : 1;
    }
    dtm_cfg.env_file = loaded_env_file;
    if ((need & DTM_NEED_JWT))
        bad += check_jwt(errs);
    if ((need & DTM_NEED_DB) && (!dtm_cfg.database_url || !*dtm_cfg.database_url))
        bad += problem(errs, "DATABASE_URL", "is required");
    return bad;
}

/* ---- lookups ---- */

static void upper_name(char *out, size_t cap, const char *prefix, const char *service)
{
    size_t n = (size_t)snprintf(out, cap, "%s", prefix);
    for (const char *s = service; *s && n + 1 < cap; s++)
        out[n++] = (char)(isalnum((unsigned char)*s) ? toupper((unsigned char)*s) : '_');
    out[n] = '\0';
}

const char *dtm_config_db_url(const char *service)
{
    if (service) {
        char name[96];
        upper_name(name, sizeof name, "DATABASE_URL_", service);
        const char *v = getenv(name);
        if (v && *v)
            return v;
    }
    if (dtm_cfg.database_url && *dtm_cfg.database_url)
        return dtm_cfg.database_url;
    const char *v = getenv("DATABASE_URL");
    return v && *v ? v : NULL;
}

/* Default upstream strings are interned for the life of the process. */
static pthread_mutex_t upstream_mu = PTHREAD_MUTEX_INITIALIZER;
static char *upstream_defaults[64];

const char *dtm_config_upstreams(const char *service, int default_port)
{
    char name[96];
    upper_name(name, sizeof name, "DTM_UPSTREAM_", service ? service : "");
    const char *v = getenv(name);
    if (v && *v)
        return v;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", default_port);
    const char *found = NULL;
    pthread_mutex_lock(&upstream_mu);
    for (int i = 0; i < 64 && !found; i++) {
        if (!upstream_defaults[i])
            upstream_defaults[i] = dtm_strdup(url);
        if (strcmp(upstream_defaults[i], url) == 0)
            found = upstream_defaults[i];
    }
    pthread_mutex_unlock(&upstream_mu);
    return found ? found : "http://127.0.0.1:3000";
}

/* ---- printing ---- */

char *dtm_config_redact_url(const char *url)
{
    dtm_buf_t b;
    dtm_buf_init(&b);
    const char *scheme = strstr(url, "://");
    if (scheme) {
        const char *auth = scheme + 3;
        const char *end = auth + strcspn(auth, "/?#");
        const char *at = NULL;
        for (const char *p = auth; p < end; p++)
            if (*p == '@')
                at = p; /* the last @ ends the userinfo */
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon) {
            dtm_buf_append(&b, url, (size_t)(colon + 1 - url));
            dtm_buf_puts(&b, "***");
            url = at;
        }
    }
    /* key=value forms (libpq conninfo or ?password= in a URL). libpq allows spaces around '='
     * and single-quoted values with backslash escapes ("password='a b\\'c'"): the whole
     * value goes, not only up to its first space. */
    const char *p;
    while ((p = strstr(url, "password")) != NULL) {
        const char *v = p + 8;
        while (*v == ' ')
            v++;
        if (*v != '=') {
            dtm_buf_append(&b, url, (size_t)(p - url) + 8);
            url = p + 8;
            continue;
        }
        v++;
        while (*v == ' ')
            v++;
        dtm_buf_append(&b, url, (size_t)(p - url));
        dtm_buf_puts(&b, "password=***");
        if (*v == '\'') {
            for (v++; *v && *v != '\''; v++)
                if (*v == '\\' && v[1])
                    v++;
            if (*v)
                v++;
        } else {
            v += strcspn(v, " &");
        }
        url = v;
    }
    dtm_buf_puts(&b, url);
    return b.data;
}

static void print_value(FILE *out, const char *name, const char *v, unsigned flags)
{
    if (!v) {
        fprintf(out, "%s=\n", name);
    } else if (flags & CONF_SECRET) {
        fprintf(out, "%s=%s\n", name, *v ? "***" : "");
    } else if (flags & CONF_URL) {
        char *r = dtm_config_redact_url(v);
        fprintf(out, "%s=%s\n", name, r);
        free(r);
    } else {
        fprintf(out, "%s=%s\n", name, v);
    }
}

void dtm_config_print(FILE *out)
{
    for (size_t i = 0; i < CONF_ROWS; i++) {
        const conf_row_t *r = &conf_table[i];
        if (r->type == CONF_INT)
            fprintf(out, "%s=%d\n", r->env, *(int *)r->field);
        else if (r->type == CONF_LONG)
            fprintf(out, "%s=%ld\n", r->env, *(long *)r->field);
        else
            print_value(out, r->env, *(const char **)r->field, r->flags);
    }
    /* Per-service overrides are not in the table: list whichever are set. */
    extern char **environ;
    for (char **e = environ; *e; e++) {
        bool db = dtm_str_startswith(*e, "DATABASE_URL_");
        if (!db && !dtm_str_startswith(*e, "DTM_UPSTREAM_"))
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(eq - *e), *e);
        print_value(out, name, eq + 1, CONF_URL);
    }
    fprintf(out, "# env file: %s\n", dtm_cfg.env_file ? dtm_cfg.env_file : "(none)");
}
