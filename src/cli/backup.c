/* SPDX-License-Identifier: MIT */
/* `dtm backup run|list|show|verify|restore|prune`: the catalogue and the orchestration.
 * A backup is built in DIR/.<id>.partial and renamed to DIR/<id> only after its manifest (with
 * the SHA-256 of every artefact) is written: a failed or interrupted run never leaves anything
 * that looks complete. */
#include "cli/backup.h"
#include "cli/cli.h"
#include "core/config.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/str.h"
#include "core/ticker.h"
#include "core/timeutil.h"
#include "db/migrate.h"
#include "db/redis.h"
#include "services/service.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_DBS 8

typedef struct {
    char name[32];
    const char *url;
} dbref_t;

/* Distinct databases: "main" (DATABASE_URL) and any per-service override that differs. */
static int databases(dbref_t out[MAX_DBS])
{
    int n = 0;
    if (dtm_cfg.database_url) {
        snprintf(out[n].name, sizeof out[n].name, "main");
        out[n++].url = dtm_cfg.database_url;
    }
    for (int i = 0; dtm_services[i] && n < MAX_DBS; i++) {
        const char *u = dtm_config_db_url(dtm_services[i]->name);
        bool seen = false;
        for (int j = 0; j < n; j++)
            seen = seen || (u && strcmp(out[j].url, u) == 0);
        if (u && !seen) {
            snprintf(out[n].name, sizeof out[n].name, "%s", dtm_services[i]->name);
            out[n++].url = u;
        }
    }
    return n;
}

static const char *uploads_dir(void)
{
    static char p[4096];
    snprintf(p, sizeof p, "%s/uploads", dtm_cfg.data_dir);
    return p;
}

static json_t *load_json(const char *path)
{
    return json_load_file(path, 0, NULL);
}

static json_t *load_manifest(const char *id)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s/manifest.json", dtm_cfg.backup_dir, id);
    return load_json(p);
}

static int write_json(const char *path, json_t *j)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (json_dump_file(j, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        return -1;
    int fd = open(tmp, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return rename(tmp, path);
}

/* Every complete backup's manifest, newest first (new reference). */
static int cmp_started(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(y, "startedAt")) ?: "",
                  json_string_value(json_object_get(x, "startedAt")) ?: "");
}

static json_t *catalogue(const char *dir)
{
    json_t *arr = json_array();
    DIR *d = opendir(dir);
    if (!d)
        return arr;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s/manifest.json", dir, e->d_name);
        json_t *m = load_json(p);
        if (m && strcmp(json_string_value(json_object_get(m, "status")) ?: "", "complete") == 0)
            json_array_append_new(arr, m);
        else
            json_decref(m);
    }
    closedir(d);
    size_t n = json_array_size(arr);
    json_t **v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof *v, cmp_started);
    json_t *sorted = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(sorted, v[i]);
    free(v);
    json_decref(arr);
    return sorted;
}

int dtm_backup_latest_complete(const char *dir, char *id, size_t idlen, double *age_s)
{
    json_t *cat = catalogue(dir);
    json_t *m = json_array_get(cat, 0);
    int rc = -1;
    int64_t fin;
    if (m &&
        dtm_parse_iso8601(json_string_value(json_object_get(m, "finishedAt")) ?: "", &fin) == 0) {
        snprintf(id, idlen, "%s", json_string_value(json_object_get(m, "id")));
        *age_s = (double)(dtm_now_ms() - fin) / 1000.0;
        rc = 0;
    }
    json_decref(cat);
    return rc;
}

/* ---- backup metrics (the backup itself runs from cron, not in the server) ----
 * /metrics is answered on an event loop, which must never touch the disk: reading the catalogue
 * (a directory scan and every manifest, maybe on a network mount) happens on a thread of its
 * own every 10 s, and the gauges only read the last values. */

#define BACKUP_METRICS_INTERVAL_S 10

static pthread_mutex_t bm_mu = PTHREAD_MUTEX_INITIALIZER;
static double g_last_ts, g_last_dur; /* under bm_mu */
static dtm_ticker_t *bm_ticker;

static void refresh_backup_metrics(void *ud)
{
    (void)ud;
    json_t *cat = catalogue(dtm_cfg.backup_dir);
    json_t *m = json_array_get(cat, 0);
    int64_t fin, st;
    if (m &&
        dtm_parse_iso8601(json_string_value(json_object_get(m, "finishedAt")) ?: "", &fin) == 0 &&
        dtm_parse_iso8601(json_string_value(json_object_get(m, "startedAt")) ?: "", &st) == 0) {
        pthread_mutex_lock(&bm_mu);
        g_last_ts = (double)fin / 1000.0;
        g_last_dur = (double)(fin - st) / 1000.0;
        pthread_mutex_unlock(&bm_mu);
    }
    json_decref(cat);
}

static double gauge_last(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&bm_mu);
    double v = g_last_ts;
    pthread_mutex_unlock(&bm_mu);
    return v;
}

static double gauge_dur(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&bm_mu);
    double v = g_last_dur;
    pthread_mutex_unlock(&bm_mu);
    return v;
}

void dtm_backup_metrics_register(void)
{
    dtm_gauge_fn("dtm_backup_last_success_timestamp_seconds",
                 "Finish time of the newest complete backup (0 when none)", NULL, gauge_last, NULL);
    dtm_gauge_fn("dtm_backup_duration_seconds", "Duration of the newest complete backup", NULL,
                 gauge_dur, NULL);
    if (!bm_ticker)
        bm_ticker =
            dtm_ticker_start(BACKUP_METRICS_INTERVAL_S * 1000, refresh_backup_metrics, NULL);
}

void dtm_backup_metrics_stop(void)
{
    dtm_ticker_stop(bm_ticker);
    bm_ticker = NULL;
}

/* ---- run ---- */

static json_t *artefact(const char *dir, const char *name)
{
    char p[4200], hex[65];
    uint64_t size = 0;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (dtm_sha256_file(p, hex, &size) != 0)
        return NULL;
    return json_pack("{s:s,s:I,s:s}", "name", name, "bytes", (json_int_t)size, "sha256", hex);
}

static json_t *config_snapshot(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    dtm_config_print(f);
    fclose(f);
    char *mig = dtm_migrate_status();
    json_t *j = json_pack("{s:s,s:s,s:s}", "version", DTM_VERSION, "effectiveConfig", text,
                          "migrations", mig ? mig : "");
    free(text);
    free(mig);
    return j;
}

/* The newest complete full/archive backup: the base of a daily incremental. */
static json_t *latest_full(json_t *cat)
{
    size_t i;
    json_t *m;
    json_array_foreach(cat, i, m)
    {
        const char *t = json_string_value(json_object_get(m, "type"));
        if (t && (strcmp(t, "full") == 0 || strcmp(t, "archive") == 0))
            return m;
    }
    return NULL;
}

static json_t *load_files_manifest(const char *id)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s/files-manifest.json", dtm_cfg.backup_dir, id);
    return load_json(p);
}

static int lock_dir(void)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/.lock", dtm_cfg.backup_dir);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "dtm backup: another backup operation holds %s\n", p);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int backup_run(const char *type, bool pitr)
{
    if (dtm_mkdirs(dtm_cfg.backup_dir, 0700) != 0) {
        fprintf(stderr, "dtm backup: cannot create %s: %s\n", dtm_cfg.backup_dir, strerror(errno));
        return 1;
    }
    int lock = lock_dir();
    if (lock < 0)
        return 1;
    char started[32], id[96], partial[4096], final[4096];
    int64_t t0 = dtm_now_ms();
    dtm_iso8601(t0, started);
    time_t now = (time_t)(t0 / 1000);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    for (int n = 1;; n++) {
        if (n == 1)
            snprintf(id, sizeof id, "%s-%s", stamp, type);
        else
            snprintf(id, sizeof id, "%s-%s-%d", stamp, type, n);
        snprintf(final, sizeof final, "%s/%s", dtm_cfg.backup_dir, id);
        struct stat st;
        if (stat(final, &st) != 0)
            break;
    }
    snprintf(partial, sizeof partial, "%s/.%s.partial", dtm_cfg.backup_dir, id);
    dtm_rmtree(partial);
    if (dtm_mkdirs(partial, 0700) != 0) {
        close(lock);
        return 1;
    }
    dtm_log_info("backup %s started", id);
    json_t *cat = catalogue(dtm_cfg.backup_dir);
    json_t *artefacts = json_array();
    json_t *dbs = json_object();
    json_t *files_m = NULL, *base_files = NULL, *prev_files = NULL;
    const char *parent = NULL;
    int rc = 1;

    dbref_t refs[MAX_DBS];
    int ndb = databases(refs);
    if (ndb == 0) {
        dtm_log_error("DATABASE_URL is not set");
        goto out;
    }
    for (int i = 0; i < ndb; i++) {
        char name[64], path[4200];
        if (snprintf(name, sizeof name, "db-%s.dump", refs[i].name) >= (int)sizeof name ||
            snprintf(path, sizeof path, "%s/%s", partial, name) >= (int)sizeof path) {
            dtm_log_error("database name %s is too long for a dump file name", refs[i].name);
            goto out;
        }
        json_t *tables = NULL;
        dtm_log_info("dumping database %s", refs[i].name);
        if (dtm_db_dump(refs[i].url, path, &tables) != 0) {
            dtm_log_error("database dump of %s failed", refs[i].name);
            goto out;
        }
        json_object_set_new(dbs, refs[i].name, json_pack("{s:o}", "tables", tables));
        json_array_append_new(artefacts, artefact(partial, name));
    }

    /* Files: incremental (daily) against the newest full, when there is one. */
    json_t *base = strcmp(type, "daily") == 0 ? latest_full(cat) : NULL;
    if (base) {
        parent = json_string_value(json_object_get(base, "id"));
        base_files = load_files_manifest(parent);
        if (!base_files) {
            dtm_log_error("base backup %s has no readable files manifest", parent);
            goto out;
        }
    }
    json_t *newest = json_array_get(cat, 0);
    if (newest)
        prev_files = load_files_manifest(json_string_value(json_object_get(newest, "id")));
    files_m = dtm_files_scan(uploads_dir(), prev_files);
    long count;
    uint64_t bytes;
    char fpath[4200];
    snprintf(fpath, sizeof fpath, "%s/files.tar.zst", partial);
    if (dtm_files_archive(uploads_dir(), files_m, base_files, fpath, &count, &bytes) != 0) {
        dtm_log_error("file archive failed");
        goto out;
    }
    json_array_append_new(artefacts, artefact(partial, "files.tar.zst"));
    snprintf(fpath, sizeof fpath, "%s/files-manifest.json", partial);
    if (write_json(fpath, files_m) != 0)
        goto out;
    json_array_append_new(artefacts, artefact(partial, "files-manifest.json"));

    json_t *cfg = config_snapshot();
    snprintf(fpath, sizeof fpath, "%s/config.json", partial);
    int wrc = write_json(fpath, cfg);
    json_decref(cfg);
    if (wrc != 0)
        goto out;
    json_array_append_new(artefacts, artefact(partial, "config.json"));

    bool has_pitr = false;
    const char *wal = getenv("DTM_WAL_ARCHIVE_DIR");
    if (pitr && strcmp(type, "daily") != 0) {
        if (!wal || !*wal) {
            dtm_log_warn("DTM_WAL_ARCHIVE_DIR is not set: no base backup for point-in-time "
                         "recovery (managed PostgreSQL provides its own PITR)");
        } else {
            char pdir[4200];
            snprintf(pdir, sizeof pdir, "%s/pitr", partial);
            dtm_log_info("taking a base backup for point-in-time recovery");
            if (dtm_db_basebackup(refs[0].url, pdir) != 0) {
                dtm_log_error("pg_basebackup failed");
                goto out;
            }
            json_array_append_new(artefacts, artefact(partial, "pitr/base.tar"));
            json_t *w = artefact(partial, "pitr/pg_wal.tar");
            if (w)
                json_array_append_new(artefacts, w);
            has_pitr = true;
        }
    }

    char finished[32];
    int64_t t1 = dtm_now_ms();
    dtm_iso8601(t1, finished);
    uint64_t total = 0;
    size_t i;
    json_t *a;
    json_array_foreach(artefacts, i, a)
    {
        if (!a) {
            dtm_log_error("could not checksum an artefact");
            goto out;
        }
        total += (uint64_t)json_integer_value(json_object_get(a, "bytes"));
    }
    json_t *manifest = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:f,s:I,s:O,s:O,s:{s:I,s:I,s:I,s:b},s:b}", "id", id, "type",
        type, "status", "complete", "startedAt", started, "finishedAt", finished, "parent",
        parent ? json_string(parent) : json_null(), "version", DTM_VERSION, "durationSeconds",
        (double)(t1 - t0) / 1000.0, "bytes", (json_int_t)total, "artefacts", artefacts, "databases",
        dbs, "files", "count", (json_int_t)json_object_size(files_m), "archived", (json_int_t)count,
        "archivedBytes", (json_int_t)bytes, "incremental", parent != NULL, "pitrBase", has_pitr);
    snprintf(fpath, sizeof fpath, "%s/manifest.json", partial);
    wrc = write_json(fpath, manifest);
    if (wrc == 0 && rename(partial, final) != 0)
        wrc = -1;
    if (wrc != 0) {
        json_decref(manifest);
        goto out;
    }
    rc = 0;
    dtm_log_with(DTM_LOG_INFO,
                 json_pack("{s:s,s:s,s:I,s:f}", "backupId", id, "type", type, "bytes",
                           (json_int_t)total, "durationSeconds", (double)(t1 - t0) / 1000.0),
                 "backup %s complete", id);
    if (dtm_s3_configured()) {
        json_array_foreach(artefacts, i, a)
        {
            char key[512], path[4300];
            const char *nm = json_string_value(json_object_get(a, "name"));
            snprintf(key, sizeof key, "%s/%s", id, nm);
            snprintf(path, sizeof path, "%s/%s", final, nm);
            if (dtm_s3_put(key, path) != 0)
                rc = 1;
        }
        char key[512], path[4300];
        snprintf(key, sizeof key, "%s/manifest.json", id);
        snprintf(path, sizeof path, "%s/manifest.json", final);
        if (rc != 0 || dtm_s3_put(key, path) != 0) {
            dtm_log_error("backup %s is complete locally but the S3 upload failed", id);
            rc = 1;
        }
    }
    printf("%s\n", id);
    json_decref(manifest);
out:
    if (rc != 0 && access(final, F_OK) != 0) {
        dtm_rmtree(partial);
        dtm_log_error("backup %s failed; nothing was kept", id);
    }
    json_decref(artefacts);
    json_decref(dbs);
    json_decref(files_m);
    json_decref(base_files);
    json_decref(prev_files);
    json_decref(cat);
    close(lock);
    return rc;
}

/* ---- list / show ---- */

static int backup_list(bool as_json)
{
    json_t *cat = catalogue(dtm_cfg.backup_dir);
    if (as_json) {
        json_dumpf(cat, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    } else {
        printf("%-34s %-8s %-25s %9s %12s  %s\n", "ID", "TYPE", "STARTED", "SECONDS", "BYTES",
               "PARENT");
        size_t i;
        json_t *m;
        json_array_foreach(cat, i, m)
        {
            printf("%-34s %-8s %-25s %9.1f %12lld  %s\n",
                   json_string_value(json_object_get(m, "id")),
                   json_string_value(json_object_get(m, "type")),
                   json_string_value(json_object_get(m, "startedAt")),
                   json_real_value(json_object_get(m, "durationSeconds")),
                   (long long)json_integer_value(json_object_get(m, "bytes")),
                   json_string_value(json_object_get(m, "parent")) ?: "-");
        }
    }
    json_decref(cat);
    return 0;
}

static int backup_show(const char *id)
{
    json_t *m = load_manifest(id);
    if (!m) {
        fprintf(stderr, "dtm backup: no complete backup %s in %s\n", id, dtm_cfg.backup_dir);
        return 1;
    }
    json_dumpf(m, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(m);
    return 0;
}

/* ---- verify ---- */

/* Recompute every artefact's SHA-256 of backup `id` and its parent. */
static int check_artefacts(const char *id, bool quiet)
{
    json_t *m = load_manifest(id);
    if (!m) {
        fprintf(stderr, "backup %s: manifest missing or unreadable\n", id);
        return -1;
    }
    int bad = 0;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(m, "artefacts"), i, a)
    {
        const char *name = json_string_value(json_object_get(a, "name"));
        char p[4300], hex[65];
        snprintf(p, sizeof p, "%s/%s/%s", dtm_cfg.backup_dir, id, name);
        if (dtm_sha256_file(p, hex, NULL) != 0 ||
            strcmp(hex, json_string_value(json_object_get(a, "sha256"))) != 0) {
            fprintf(stderr, "backup %s: artefact %s is missing or corrupt (SHA-256 mismatch)\n", id,
                    name);
            bad++;
        } else if (!quiet) {
            printf("  ok  %s/%s sha256 %.16s...\n", id, name, hex);
        }
    }
    const char *parent = json_string_value(json_object_get(m, "parent"));
    if (parent && check_artefacts(parent, quiet) != 0)
        bad++;
    json_decref(m);
    return bad ? -1 : 0;
}

/* Extract the file chain of backup `m` into dest and check it against the files manifest. */
static int restore_files_into(json_t *m, const char *dest)
{
    const char *id = json_string_value(json_object_get(m, "id"));
    const char *parent = json_string_value(json_object_get(m, "parent"));
    char p[4300];
    if (parent) {
        snprintf(p, sizeof p, "%s/%s/files.tar.zst", dtm_cfg.backup_dir, parent);
        if (dtm_files_extract(p, dest) != 0)
            return -1;
    }
    snprintf(p, sizeof p, "%s/%s/files.tar.zst", dtm_cfg.backup_dir, id);
    if (dtm_files_extract(p, dest) != 0)
        return -1;
    json_t *want = load_files_manifest(id);
    json_t *have = dtm_files_scan(dest, NULL);
    int bad = 0;
    const char *k;
    json_t *v;
    /* Files deleted after the base full backup are removed again (they were in its tar). */
    json_object_foreach(have, k, v)
    {
        if (!json_object_get(want, k)) {
            snprintf(p, sizeof p, "%s/%s", dest, k);
            unlink(p);
        }
    }
    json_object_foreach(want, k, v)
    {
        json_t *h = json_object_get(have, k);
        if (!h || strcmp(json_string_value(json_object_get(h, "sha256")),
                         json_string_value(json_object_get(v, "sha256"))) != 0) {
            fprintf(stderr, "file %s missing or different after extraction\n", k);
            bad++;
        }
    }
    json_decref(want);
    json_decref(have);
    return bad ? -1 : 0;
}

static int compare_tables(const char *what, json_t *want, json_t *have)
{
    int bad = 0;
    const char *k;
    json_t *v;
    json_object_foreach(want, k, v)
    {
        json_t *h = json_object_get(have, k);
        if (!h || !json_equal(h, v)) {
            fprintf(stderr, "%s: table %s differs (rows %lld vs %lld)\n", what, k,
                    (long long)json_integer_value(json_object_get(v, "rows")),
                    h ? (long long)json_integer_value(json_object_get(h, "rows")) : -1LL);
            bad++;
        }
    }
    return bad;
}

static int backup_verify(const char *id)
{
    json_t *m = load_manifest(id);
    if (!m) {
        fprintf(stderr, "dtm backup: no complete backup %s\n", id);
        return 1;
    }
    int bad = check_artefacts(id, false) != 0;
    dbref_t refs[MAX_DBS];
    int ndb = databases(refs);
    json_t *dbs = json_object_get(m, "databases");
    for (int i = 0; !bad && i < ndb; i++) {
        json_t *want = json_object_get(json_object_get(dbs, refs[i].name), "tables");
        if (!want)
            continue;
        char *scratch = dtm_db_scratch_create(refs[i].url);
        if (!scratch) {
            bad++;
            break;
        }
        char dump[4300];
        snprintf(dump, sizeof dump, "%s/%s/db-%s.dump", dtm_cfg.backup_dir, id, refs[i].name);
        if (dtm_db_restore(scratch, dump, false) != 0) {
            fprintf(stderr, "test restore of %s failed\n", dump);
            bad++;
        } else {
            json_t *have = dtm_db_checksums(scratch);
            int d = have ? compare_tables("test restore", want, have) : 1;
            if (!d)
                printf("  ok  database %s: %zu tables restored into a scratch database, row "
                       "counts and checksums equal\n",
                       refs[i].name, json_object_size(want));
            bad += d;
            json_decref(have);
        }
        dtm_db_scratch_drop(refs[i].url, scratch);
        free(scratch);
    }
    if (!bad) {
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s/.verify-%d", dtm_cfg.backup_dir, (int)getpid());
        dtm_rmtree(tmp);
        if (restore_files_into(m, tmp) != 0)
            bad++;
        else
            printf("  ok  files: %lld files extracted and identical to the manifest\n",
                   (long long)json_integer_value(
                       json_object_get(json_object_get(m, "files"), "count")));
        dtm_rmtree(tmp);
    }
    printf("backup %s: %s\n", id, bad ? "VERIFY FAILED" : "verified");
    json_decref(m);
    return bad ? 1 : 0;
}

/* ---- restore ---- */

static void flush_caches(void)
{
    /* Cached reads (user:{id}) would otherwise serve data newer than the restored database. */
    dtm_redis_init();
    long n = 0;
    char cursor[32] = "0";
    do {
        redisReply *r = dtm_redis_cmd(NULL, "SCAN %s MATCH user:* COUNT 1000", cursor);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r)
                freeReplyObject(r);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            redisReply *d = dtm_redis_cmd(NULL, "DEL %s", r->element[1]->element[i]->str);
            if (d)
                freeReplyObject(d);
            n++;
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    dtm_redis_shutdown();
    dtm_log_info("flushed %ld cached entries", n);
}

/* The newest backup with a PITR base that started before `t`. */
static json_t *pitr_base_before(int64_t t)
{
    json_t *cat = catalogue(dtm_cfg.backup_dir);
    json_t *found = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(cat, i, m)
    {
        int64_t fin;
        if (json_is_true(json_object_get(m, "pitrBase")) &&
            dtm_parse_iso8601(json_string_value(json_object_get(m, "finishedAt")), &fin) == 0 &&
            fin <= t) {
            found = json_incref(m);
            break;
        }
    }
    json_decref(cat);
    return found;
}

static int backup_restore(const char *id, const char *db_url, const char *files_dir, bool force,
                          const char *to_time)
{
    json_t *m = NULL;
    int64_t target_ms = 0;
    char work[4200] = "";
    if (to_time) {
        if (dtm_parse_iso8601(to_time, &target_ms) != 0) {
            fprintf(stderr, "dtm backup restore: --to-time must be ISO-8601\n");
            return 2;
        }
        m = id ? load_manifest(id) : pitr_base_before(target_ms);
        if (!m || !json_is_true(json_object_get(m, "pitrBase"))) {
            fprintf(stderr, "dtm backup restore: no backup with a point-in-time base before %s\n",
                    to_time);
            json_decref(m);
            return 1;
        }
        id = json_string_value(json_object_get(m, "id"));
    } else {
        if (!id) {
            fprintf(stderr, "dtm backup restore: give a backup ID or --to-time\n");
            return 2;
        }
        m = load_manifest(id);
    }
    if (!m) {
        fprintf(stderr, "dtm backup: no complete backup %s\n", id);
        return 1;
    }
    char idbuf[128];
    snprintf(idbuf, sizeof idbuf, "%s", id);
    id = idbuf;
    int rc = 1;
    if (check_artefacts(id, true) != 0) {
        fprintf(stderr, "dtm backup restore: refusing to restore a corrupt backup\n");
        goto out;
    }
    if (!db_url)
        db_url = dtm_cfg.database_url;
    if (!files_dir)
        files_dir = uploads_dir();
    int has = dtm_db_has_tables(db_url);
    if (has < 0)
        goto out;
    if (has && !force) {
        fprintf(stderr, "dtm backup restore: the target database is not empty; use --force to "
                        "replace its contents\n");
        goto out;
    }
    if (!dtm_dir_empty(files_dir) && !force) {
        fprintf(stderr, "dtm backup restore: %s is not empty; use --force to replace it\n",
                files_dir);
        goto out;
    }
    char dump[4300];
    snprintf(dump, sizeof dump, "%s/%s/db-main.dump", dtm_cfg.backup_dir, id);
    /* The recovery server runs as the postgres user when we are root, so its work directory
     * must be reachable by that user: a fresh directory under DTM_PITR_WORK_DIR or /tmp. */
    const char *wbase = getenv("DTM_PITR_WORK_DIR");
    snprintf(work, sizeof work, "%s/dtm-pitr-XXXXXX", wbase && *wbase ? wbase : "/tmp");
    if (to_time) {
        const char *wal = getenv("DTM_WAL_ARCHIVE_DIR");
        if (!wal || !*wal) {
            fprintf(stderr, "dtm backup restore --to-time needs DTM_WAL_ARCHIVE_DIR\n");
            goto out;
        }
        char base[4300], pgtime[64];
        snprintf(base, sizeof base, "%s/%s/pitr", dtm_cfg.backup_dir, id);
        char iso[32];
        dtm_iso8601(target_ms, iso);
        snprintf(pgtime, sizeof pgtime, "%.10s %.12s+00", iso, iso + 11);
        if (!mkdtemp(work)) {
            fprintf(stderr, "dtm backup restore: cannot create a work directory: %s\n",
                    strerror(errno));
            work[0] = '\0';
            goto out;
        }
        snprintf(dump, sizeof dump, "%s/recovered.dump", work);
        char *dbname = dtm_db_name_of(dtm_cfg.database_url);
        dtm_log_info("recovering to %s from base backup %s and the WAL archive", pgtime, id);
        int prc = dtm_db_pitr_dump(base, wal, pgtime, dbname ? dbname : "dtm", work, dump);
        free(dbname);
        if (prc != 0)
            goto out;
    }
    dtm_log_info("restoring database from %s", dump);
    if (dtm_db_restore(db_url, dump, has > 0) != 0) {
        fprintf(stderr, "dtm backup restore: database restore failed (nothing was changed: it "
                        "runs in one transaction)\n");
        goto out;
    }
    if (!to_time) {
        json_t *want =
            json_object_get(json_object_get(json_object_get(m, "databases"), "main"), "tables");
        json_t *have = dtm_db_checksums(db_url);
        int d = want && have ? compare_tables("restore", want, have) : 0;
        json_decref(have);
        if (d) {
            fprintf(stderr, "dtm backup restore: restored tables differ from the backup\n");
            goto out;
        }
    }
    /* Files go to a staging folder first and replace the target only when complete. */
    char staging[4300];
    snprintf(staging, sizeof staging, "%s.restore-staging", files_dir);
    dtm_rmtree(staging);
    if (restore_files_into(m, staging) != 0) {
        dtm_rmtree(staging);
        fprintf(stderr, "dtm backup restore: file restore failed; %s unchanged\n", files_dir);
        goto out;
    }
    dtm_rmtree(files_dir);
    char parent_dir[4300];
    snprintf(parent_dir, sizeof parent_dir, "%s", files_dir);
    char *slash = strrchr(parent_dir, '/');
    if (slash && slash != parent_dir) {
        *slash = '\0';
        dtm_mkdirs(parent_dir, 0755);
    }
    if (rename(staging, files_dir) != 0) {
        fprintf(stderr, "dtm backup restore: cannot move files into %s: %s\n", files_dir,
                strerror(errno));
        goto out;
    }
    flush_caches();
    printf("restored backup %s%s%s\n", id, to_time ? " to " : "", to_time ? to_time : "");
    rc = 0;
out:
    if (work[0] && !strstr(work, "XXXXXX"))
        dtm_rmtree(work);
    json_decref(m);
    return rc;
}

/* ---- prune ---- */

static int backup_prune(int keep_daily, int keep_weekly, int keep_monthly, bool dry_run)
{
    int lock = lock_dir();
    if (lock < 0)
        return 1;
    json_t *cat = catalogue(dtm_cfg.backup_dir);
    json_t *keep = json_object();
    int nd = 0, nw = 0, nm = 0;
    size_t i;
    json_t *m;
    json_array_foreach(cat, i, m)
    {
        const char *t = json_string_value(json_object_get(m, "type"));
        const char *id = json_string_value(json_object_get(m, "id"));
        bool k = (strcmp(t, "daily") == 0 && nd++ < keep_daily) ||
                 (strcmp(t, "full") == 0 && nw++ < keep_weekly) ||
                 (strcmp(t, "archive") == 0 && nm++ < keep_monthly);
        if (k) {
            json_object_set_new(keep, id, json_true());
            const char *parent = json_string_value(json_object_get(m, "parent"));
            if (parent) /* never delete the base of a kept incremental */
                json_object_set_new(keep, parent, json_true());
        }
    }
    int removed = 0;
    json_array_foreach(cat, i, m)
    {
        const char *id = json_string_value(json_object_get(m, "id"));
        if (json_object_get(keep, id))
            continue;
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dtm_cfg.backup_dir, id);
        printf("%s %s\n", dry_run ? "would remove" : "removing", id);
        if (!dry_run)
            dtm_rmtree(p);
        removed++;
    }
    printf("kept %zu, %s %d\n", json_object_size(keep), dry_run ? "would remove" : "removed",
           removed);
    json_decref(keep);
    json_decref(cat);
    close(lock);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: dtm backup <command> [options]\n\n"
            "  run [--full|--archive] [--no-pitr]   daily (files incremental against the last\n"
            "                                       full), weekly full, or monthly archive\n"
            "  list [--json]                        complete backups, newest first\n"
            "  show ID                              the manifest of one backup\n"
            "  verify ID                            checksums, a real test restore into a\n"
            "                                       scratch database, and the files\n"
            "  restore [ID] [--db-url URL] [--files-dir DIR] [--force] [--to-time T]\n"
            "                                       restore (refuses non-empty targets without\n"
            "                                       --force); --to-time recovers to a moment\n"
            "  prune [--keep-daily 7] [--keep-weekly 4] [--keep-monthly 12] [--dry-run]\n\n"
            "Destination: DTM_BACKUP_DIR (default ./var/backups), plus S3 when\n"
            "DTM_BACKUP_S3_URL is set. WAL archive for point-in-time recovery:\n"
            "DTM_WAL_ARCHIVE_DIR.\n");
}

int dtm_cli_backup(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    static const struct option opts[] = {
        {"full", no_argument, NULL, 'F'},
        {"archive", no_argument, NULL, 'A'},
        {"no-pitr", no_argument, NULL, 'N'},
        {"json", no_argument, NULL, 'j'},
        {"db-url", required_argument, NULL, 'd'},
        {"files-dir", required_argument, NULL, 'f'},
        {"force", no_argument, NULL, 'o'},
        {"to-time", required_argument, NULL, 't'},
        {"keep-daily", required_argument, NULL, '1'},
        {"keep-weekly", required_argument, NULL, '2'},
        {"keep-monthly", required_argument, NULL, '3'},
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *type = "daily", *db_url = NULL, *files_dir = NULL, *to_time = NULL;
    bool pitr = true, as_json = false, force = false, dry = false;
    int kd = 7, kw = 4, km = 12, c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'F':
            type = "full";
            break;
        case 'A':
            type = "archive";
            break;
        case 'N':
            pitr = false;
            break;
        case 'j':
            as_json = true;
            break;
        case 'd':
            db_url = optarg;
            break;
        case 'f':
            files_dir = optarg;
            break;
        case 'o':
            force = true;
            break;
        case 't':
            to_time = optarg;
            break;
        case '1':
            kd = atoi(optarg);
            break;
        case '2':
            kw = atoi(optarg);
            break;
        case '3':
            km = atoi(optarg);
            break;
        case 'n':
            dry = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    const char *id = optind < argc ? argv[optind] : NULL;
    if (dtm_env_file_load() != 0)
        return 2;
    bool needs_db =
        strcmp(cmd, "run") == 0 || strcmp(cmd, "verify") == 0 || strcmp(cmd, "restore") == 0;
    if (dtm_config_load(needs_db ? DTM_NEED_DB : 0u, stderr) != 0)
        return 2;
    dtm_log_init("backup", (dtm_log_level_t)dtm_log_level_parse(dtm_cfg.log_level));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc;
    if (strcmp(cmd, "run") == 0)
        rc = backup_run(type, pitr);
    else if (strcmp(cmd, "list") == 0)
        rc = backup_list(as_json);
    else if (strcmp(cmd, "show") == 0 && id)
        rc = backup_show(id);
    else if (strcmp(cmd, "verify") == 0 && id)
        rc = backup_verify(id);
    else if (strcmp(cmd, "restore") == 0)
        rc = backup_restore(id, db_url, files_dir, force, to_time);
    else if (strcmp(cmd, "prune") == 0)
        rc = backup_prune(kd, kw, km, dry);
    else {
        usage(stderr);
        rc = 2;
    }
    curl_global_cleanup();
    return rc;
}
