/* SPDX-License-Identifier: MIT */
/* `dtm health`: the comprehensive check operators and cron run (the guide's health:check).
 * Gateway, every service (through the gateway's aggregate, and each configured replica
 * directly), PostgreSQL, Redis, disk space of the data directory and the age of the last good
 * backup. Exit 0 healthy, 1 degraded, 2 down. `--local` checks only this machine's dtm process
 * (for container HEALTHCHECKs and probes). */
#include "cli/backup.h"
#include "cli/cli.h"
#include "core/config.h"
#include "core/str.h"
#include "core/timeutil.h"
#include "db/redis.h"
#include "services/service.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

typedef enum { H_OK = 0, H_DEGRADED = 1, H_DOWN = 2 } level_t;

static const char *level_name(level_t l)
{
    return l == H_OK ? "ok" : l == H_DEGRADED ? "degraded" : "down";
}

typedef struct {
    json_t *checks; /* array of {name, status, detail, latencyMs} */
    level_t worst;
} report_t;

static void add(report_t *r, const char *name, level_t l, double ms, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void add(report_t *r, const char *name, level_t l, double ms, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_t *c = json_pack("{s:s,s:s,s:s}", "name", name, "status", level_name(l), "detail", detail);
    if (ms >= 0)
        json_object_set_new(c, "latencyMs", json_real((double)(long)(ms * 10) / 10.0));
    json_array_append_new(r->checks, c);
    if (l > r->worst)
        r->worst = l;
}

static size_t collect(char *p, size_t s, size_t n, void *ud)
{
    dtm_buf_append(ud, p, s * n);
    return s * n;
}

/* GET url; returns the HTTP status (0 when unreachable) and the parsed JSON body. */
static long http_get_json(const char *url, int timeout_ms, json_t **out, char *err, size_t errlen)
{
    CURL *h = curl_easy_init();
    dtm_buf_t b;
    dtm_buf_init(&b);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    *out = NULL;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        if (b.len)
            *out = json_loadb(b.data, b.len, 0, NULL);
    } else {
        snprintf(err, errlen, "%s", curl_easy_strerror(rc));
    }
    curl_easy_cleanup(h);
    dtm_buf_free(&b);
    return code;
}

static level_t level_of(const char *s)
{
    if (!s)
        return H_DOWN;
    if (strcmp(s, "ok") == 0)
        return H_OK;
    if (strcmp(s, "degraded") == 0)
        return H_DEGRADED;
    return H_DOWN;
}

static void check_http(report_t *r, const char *name, const char *base, int timeout_ms,
                       bool list_services)
{
    char url[512], err[256] = "";
    snprintf(url, sizeof url, "%s/health", base);
    json_t *doc = NULL;
    double t0 = dtm_mono_s();
    long code = http_get_json(url, timeout_ms, &doc, err, sizeof err);
    double ms = (dtm_mono_s() - t0) * 1000.0;
    if (code == 0) {
        add(r, name, H_DOWN, ms, "%s unreachable: %s", url, err);
    } else if (!json_is_object(doc)) {
        add(r, name, H_DOWN, ms, "%s answered %ld without a health document", url, code);
    } else {
        const char *st = json_string_value(json_object_get(doc, "status"));
        add(r, name, level_of(st), ms, "%s -> %ld %s (version %s)", url, code, st ? st : "?",
            json_string_value(json_object_get(doc, "version")) ?: "?");
        json_t *svcs = json_object_get(doc, "services");
        const char *k;
        json_t *v;
        if (list_services && json_is_object(svcs)) {
            json_object_foreach(svcs, k, v)
            {
                const char *ss = json_string_value(json_object_get(v, "status"));
                char nm[96];
                snprintf(nm, sizeof nm, "service %s", k);
                add(r, nm, level_of(ss), -1, "reported by %s", name);
            }
        }
    }
    json_decref(doc);
}

static void check_postgres(report_t *r, const char *label, const char *url)
{
    double t0 = dtm_mono_s();
    char conninfo[1024];
    /* A short connect timeout: a health check must answer even when the database does not. */
    snprintf(conninfo, sizeof conninfo, "%s%sconnect_timeout=3", url, strchr(url, '?') ? "&" : "?");
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
        msg[strcspn(msg, "\n")] = '\0';
        add(r, label, H_DOWN, (dtm_mono_s() - t0) * 1000, "cannot connect: %s", msg);
    } else {
        PGresult *res = PQexec(c, "SELECT 1");
        bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
        add(r, label, ok ? H_OK : H_DOWN, (dtm_mono_s() - t0) * 1000, "%s (server %d)",
            ok ? "SELECT 1 answered" : "SELECT 1 failed", PQserverVersion(c));
    }
    PQfinish(c);
}

static void check_redis(report_t *r)
{
    /* The server's own parser: the same user, password decoding and defaults as dtm serve. */
    char host[256] = "127.0.0.1", user[128] = "", pass[256] = "";
    int port = 6379, db = 0;
    if (dtm_redis_parse_url_user(dtm_cfg.redis_url, host, sizeof host, &port, user, sizeof user,
                                 pass, sizeof pass, &db) != 0) {
        add(r, "redis", H_DEGRADED, 0, "REDIS_URL is not a valid redis:// URL");
        return;
    }
    double t0 = dtm_mono_s();
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        add(r, "redis", H_DEGRADED, (dtm_mono_s() - t0) * 1000,
            "cannot connect to %s:%d (%s); dtm keeps serving from PostgreSQL", host, port,
            c ? c->errstr : "out of memory");
    } else {
        redisSetTimeout(c, tv);
        if (*pass) {
            redisReply *a = *user ? redisCommand(c, "AUTH %s %s", user, pass)
                                  : redisCommand(c, "AUTH %s", pass);
            if (a)
                freeReplyObject(a);
        }
        redisReply *rep = redisCommand(c, "PING");
        bool ok = rep && rep->type == REDIS_REPLY_STATUS;
        add(r, "redis", ok ? H_OK : H_DEGRADED, (dtm_mono_s() - t0) * 1000, "%s",
            ok ? "PING answered" : "PING failed");
        if (rep)
            freeReplyObject(rep);
    }
    if (c)
        redisFree(c);
}

static void check_disk(report_t *r, const char *dir)
{
    struct statvfs st;
    if (statvfs(dir, &st) != 0) {
        add(r, "disk", H_DEGRADED, -1, "%s: cannot stat (not created yet?)", dir);
        return;
    }
    double total = (double)st.f_blocks * st.f_frsize;
    double avail = (double)st.f_bavail * st.f_frsize;
    double pct = total > 0 ? 100.0 * avail / total : 0;
    level_t l = pct < 3 ? H_DOWN : pct < 10 ? H_DEGRADED : H_OK;
    add(r, "disk", l, -1, "%s: %.1f GiB free (%.1f%%)", dir, avail / (1 << 30), pct);
}

static void check_backup(report_t *r, double max_age_h)
{
    double age = -1;
    char id[128] = "";
    if (dtm_backup_latest_complete(dtm_cfg.backup_dir, id, sizeof id, &age) != 0) {
        add(r, "backup", H_DEGRADED, -1, "no complete backup in %s", dtm_cfg.backup_dir);
        return;
    }
    double hours = age / 3600.0;
    add(r, "backup", hours > max_age_h ? H_DEGRADED : H_OK, -1, "last good backup %s, %.1f h ago",
        id, hours);
}

static void print_table(const report_t *r, FILE *out)
{
    fprintf(out, "%-22s %-9s %9s  %s\n", "CHECK", "STATUS", "LATENCY", "DETAIL");
    size_t i;
    json_t *c;
    json_array_foreach(r->checks, i, c)
    {
        json_t *lat = json_object_get(c, "latencyMs");
        char ms[32] = "-";
        if (lat)
            snprintf(ms, sizeof ms, "%.1f ms", json_real_value(lat));
        fprintf(out, "%-22s %-9s %9s  %s\n", json_string_value(json_object_get(c, "name")),
                json_string_value(json_object_get(c, "status")), ms,
                json_string_value(json_object_get(c, "detail")));
    }
    fprintf(out, "\noverall: %s\n", level_name(r->worst));
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: dtm health [--json] [--local] [--url BASE] [--max-backup-age HOURS]\n\n"
            "Checks the gateway and every service (and each replica named in\n"
            "DTM_UPSTREAM_<SERVICE>), PostgreSQL, Redis, the data directory's disk space and the\n"
            "age of the last complete backup. Exit 0 healthy, 1 degraded, 2 down.\n\n"
            "  --json               machine-readable output\n"
            "  --local              only this machine's dtm process (container HEALTHCHECK)\n"
            "  --url BASE           gateway base URL (default http://127.0.0.1:$DTM_PORT or 3000)\n"
            "  --max-backup-age H   backup older than H hours is degraded (default 26)\n");
}

int dtm_cli_health(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},      {"local", no_argument, NULL, 'l'},
        {"url", required_argument, NULL, 'u'}, {"max-backup-age", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},      {0, 0, 0, 0},
    };
    bool json_out = false, local = false;
    const char *url = NULL;
    double max_age = 26;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jlu:a:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json_out = true;
            break;
        case 'l':
            local = true;
            break;
        case 'u':
            url = optarg;
            break;
        case 'a': {
            /* atof took "abc" as 0 hours: every backup "too old", a false alarm from cron. */
            char *end;
            errno = 0;
            max_age = strtod(optarg, &end);
            if (end == optarg || *end || errno || !(max_age > 0)) {
                fprintf(stderr, "dtm health: --max-backup-age needs a positive number of hours\n");
                return 2;
            }
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (dtm_env_file_load() != 0 || dtm_config_load(0, stderr) != 0)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char base[256];
    if (!url) {
        snprintf(base, sizeof base, "http://127.0.0.1:%d", dtm_cfg.port > 0 ? dtm_cfg.port : 3000);
        url = base;
    }
    report_t r = {json_array(), H_OK};
    if (local) {
        check_http(&r, "process", url, 5000, false);
    } else {
        check_http(&r, "gateway", url, 5000, true);
        for (int i = 0; dtm_services[i]; i++) {
            char env[64] = "DTM_UPSTREAM_";
            size_t n = strlen(env);
            for (const char *p = dtm_services[i]->name; *p && n < sizeof env - 1; p++)
                env[n++] = (char)toupper((unsigned char)*p);
            env[n] = '\0';
            const char *list = getenv(env);
            if (!list)
                continue; /* all-in-one: the gateway's aggregate covers it */
            char *copy = strdup(list), *save = NULL;
            for (char *u = strtok_r(copy, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
                char nm[128];
                snprintf(nm, sizeof nm, "%s replica", dtm_services[i]->name);
                check_http(&r, nm, u, 3000, false);
            }
            free(copy);
        }
        if (dtm_cfg.database_url)
            check_postgres(&r, "postgres", dtm_cfg.database_url);
        else
            add(&r, "postgres", H_DOWN, -1, "DATABASE_URL is not set");
        for (int i = 0; dtm_services[i]; i++) {
            const char *su = dtm_config_db_url(dtm_services[i]->name);
            if (su && dtm_cfg.database_url && strcmp(su, dtm_cfg.database_url) != 0) {
                char nm[96];
                snprintf(nm, sizeof nm, "postgres (%s)", dtm_services[i]->name);
                check_postgres(&r, nm, su);
            }
        }
        check_redis(&r);
        check_disk(&r, dtm_cfg.data_dir);
        check_backup(&r, max_age);
    }
    if (json_out) {
        json_t *doc = json_pack("{s:s,s:s,s:O}", "status", level_name(r.worst), "checkedAt", "",
                                "checks", r.checks);
        char ts[32];
        dtm_iso8601(dtm_now_ms(), ts);
        json_object_set_new(doc, "checkedAt", json_string(ts));
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(doc);
    } else {
        print_table(&r, stdout);
    }
    int code = (int)r.worst;
    json_decref(r.checks);
    curl_global_cleanup();
    return code;
}
