/* SPDX-License-Identifier: MIT */
/* `dtm outbox status | requeue SERVICE [--topic T]`: the operator's view of the transactional
 * outbox (src/db/outbox.h). status lists, per publishing service, the events waiting, the age
 * of the oldest, and the dead letters; requeue gives the dead letters of one service a fresh
 * start once their consumer is fixed. */
#include "cli/cli.h"
#include "core/config.h"
#include "db/outbox.h"
#include "services/service.h"
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs("Usage: dtm outbox status\n"
          "       dtm outbox requeue SERVICE [--topic TOPIC]\n"
          "\n"
          "status   per publishing service: events pending, age of the oldest, dead letters\n"
          "         (refused by their consumer, or out of DTM_OUTBOX_MAX_ATTEMPTS)\n"
          "requeue  make the dead letters of SERVICE (of TOPIC only, with --topic) due now with\n"
          "         a fresh attempt count\n"
          "\n"
          "Database: DATABASE_URL_<SERVICE>, else DATABASE_URL.\n"
          "Exit status: 0 success (status: no dead letter), 1 failure or dead letters, 2 usage.\n",
          out);
}

static const dtm_service_t *publisher(const char *name)
{
    const dtm_service_t *s = dtm_service_find(name);
    return s && s->outbox ? s : NULL;
}

static int status(void)
{
    int rc = 0;
    printf("%-14s %8s %12s %6s\n", "service", "pending", "oldest (s)", "dead");
    for (int i = 0; dtm_services[i]; i++) {
        const dtm_service_t *s = dtm_services[i];
        if (!s->outbox)
            continue;
        dtm_arena_t *a = dtm_arena_new(0);
        dtm_db_t *db = dtm_db_open(dtm_pg_pool_for(s->name), a);
        char sql[320];
        snprintf(
            sql, sizeof sql,
            "SELECT count(*) FILTER (WHERE delivered_at IS NULL AND dead_at IS NULL) AS pending,"
            " coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE delivered_at"
            " IS NULL AND dead_at IS NULL))::bigint, 0) AS oldest,"
            " count(*) FILTER (WHERE dead_at IS NOT NULL) AS dead FROM %s.outbox",
            s->name);
        PGresult *r;
        if (!db || dtm_db_query(db, &r, sql, 0, NULL) != DTM_OK) {
            fprintf(stderr, "dtm outbox: %s: cannot read its outbox\n", s->name);
            rc = 1;
        } else {
            long long dead = dtm_pg_int(r, 0, "dead", 0);
            printf("%-14s %8lld %12lld %6lld\n", s->name, dtm_pg_int(r, 0, "pending", 0),
                   dtm_pg_int(r, 0, "oldest", 0), dead);
            if (dead > 0)
                rc = 1;
        }
        dtm_arena_free(a);
    }
    return rc;
}

static int requeue(const char *name, const char *topic)
{
    if (!publisher(name)) {
        fprintf(stderr, "dtm outbox: '%s' is not a service with an outbox\n", name);
        return 2;
    }
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(dtm_pg_pool_for(name), a);
    long long n = 0;
    int rc = db && dtm_outbox_requeue(db, name, topic, &n) == DTM_OK ? 0 : 1;
    if (rc == 0)
        printf("%lld dead letter%s of %s requeued\n", n, n == 1 ? "" : "s", name);
    else
        fprintf(stderr, "dtm outbox: %s: requeue failed\n", name);
    dtm_arena_free(a);
    return rc;
}

int dtm_cli_outbox(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *service = NULL, *topic = NULL;
    bool is_status = strcmp(argv[1], "status") == 0;
    if (!is_status && strcmp(argv[1], "requeue") != 0) {
        fprintf(stderr, "dtm outbox: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc && !is_status)
            topic = argv[++i];
        else if (!service && !is_status && argv[i][0] != '-')
            service = argv[i];
        else {
            fprintf(stderr, "dtm outbox: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!is_status && !service) {
        usage(stderr);
        return 2;
    }
    if (dtm_env_file_load() != 0 || dtm_config_load(DTM_NEED_DB, stderr) != 0)
        return 2;
    int rc = is_status ? status() : requeue(service, topic);
    dtm_pg_pools_shutdown();
    return rc;
}
