/* SPDX-License-Identifier: MIT */
/* `dtm serve`: resolve the target set, bring up what it needs in dependency order (config,
 * log, Redis, router, services, gateway, health probes), serve until SIGTERM drains, then take
 * everything down in reverse order. */
#include "cli/backup.h"
#include "cli/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "cli/target.h"
#include "db/pg.h"
#include "db/redis.h"
#include "gateway/edge.h"
#include "gateway/gateway.h"
#include "http/health.h"
#include "http/internal.h"
#include "http/realip.h"
#include "http/server.h"
#include "services/auth/revoke.h"
#include "services/idempotency.h"
#include "services/service.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "Usage: dtm serve [--target T[,T...]] [--port N] [--host ADDR]\n\n"
                 "Serve HTTP. Default target: all (gateway + every service on port 3000).\n"
                 "Port: --port, else DTM_PORT, else the target's default port.\n\n");
    dtm_target_print(out);
}

/* Health probes: the HTTP layer knows no storage; what a process depends on is said here. */
static dtm_health_t probe_pg(void *pool)
{
    return pool && dtm_pg_ping(pool) ? DTM_HEALTH_OK : DTM_HEALTH_DOWN;
}

static dtm_health_t probe_redis(void *ud)
{
    (void)ud;
    return dtm_redis_up() ? DTM_HEALTH_OK : DTM_HEALTH_DEGRADED; /* Redis down: slower only */
}

/* A read replica down or lagging costs speed, not service: reads go to the primary. */
static dtm_health_t probe_replica(void *r)
{
    dtm_pg_replica_state_t st;
    dtm_pg_replica_state(r, &st);
    return st.usable ? DTM_HEALTH_OK : DTM_HEALTH_DEGRADED;
}

static void replica_doc(dtm_pg_replica_t *r, void *ud)
{
    dtm_pg_replica_state_t st;
    dtm_pg_replica_state(r, &st);
    json_t *o = json_pack("{s:s,s:I}", "status",
                          st.usable ? "ok"
                          : st.up   ? "lagging"
                                    : "down",
                          "lagBytes", (json_int_t)st.lag_bytes);
    json_object_set_new(o, "lagMs", st.lag_ms >= 0 ? json_integer(st.lag_ms) : json_null());
    json_object_set_new(ud, st.name, o);
}

static json_t *replicas_section(void)
{
    json_t *o = json_object();
    dtm_pg_replicas_each(replica_doc, o);
    if (json_object_size(o) == 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static void add_probes(const dtm_target_set_t *t)
{
    dtm_health_clear_probes();
    for (int i = 0; i < t->nservices; i++)
        dtm_health_add_probe("postgres", t->services[i]->name, probe_pg,
                             dtm_pg_pool_for(t->services[i]->name));
    dtm_health_add_probe("redis", NULL, probe_redis, NULL);
    /* One probe per distinct replica (the probe table is small). */
    dtm_pg_replica_t *seen[16];
    int nseen = 0;
    for (int i = 0; i < t->nservices; i++) {
        dtm_pg_replica_t *r = dtm_pg_replica_for(t->services[i]->name);
        bool dup = !r;
        for (int j = 0; j < nseen && !dup; j++)
            dup = seen[j] == r;
        if (dup || nseen >= 16)
            continue;
        seen[nseen++] = r;
        dtm_health_add_probe("postgres_replica", NULL, probe_replica, r);
    }
    if (nseen)
        dtm_health_add_section("replicas", replicas_section);
}

static double log_dropped(void *ud)
{
    (void)ud;
    return (double)dtm_log_dropped();
}

static double log_buffered(void *ud)
{
    (void)ud;
    return (double)dtm_log_buffered();
}

static void on_ready(void *ud, int port)
{
    const dtm_target_set_t *t = ud;
    dtm_log_info("%s listening on http://%s:%d", t->process_name, dtm_cfg.host, port);
}

int dtm_cli_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"target", required_argument, NULL, 't'},
        {"port", required_argument, NULL, 'p'},
        {"host", required_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *target = getenv("DTM_TARGET");
    const char *port_arg = NULL, *host_arg = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:p:H:h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            target = optarg;
            break;
        case 'p':
            port_arg = optarg;
            break;
        case 'H':
            host_arg = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    dtm_target_set_t t;
    if (dtm_target_parse(target, &t, stderr) != 0)
        return 2;
    if (port_arg)
        setenv("DTM_PORT", port_arg, 1);
    if (host_arg)
        setenv("DTM_HOST", host_arg, 1);
    if (dtm_env_file_load() != 0)
        return 2;
    unsigned need = DTM_NEED_JWT | (t.nservices > 0 ? DTM_NEED_DB : 0u);
    if (dtm_config_load(need, stderr) != 0) {
        fprintf(stderr, "dtm serve: invalid configuration (see above)\n");
        return 2;
    }
    dtm_log_init(t.process_name, (dtm_log_level_t)dtm_log_level_parse(dtm_cfg.log_level));
    /* A stalled stdout (full pipe, slow collector) must cost requests nothing: lines go through
     * a bounded ring and are dropped, counted, when it is full (docs/logging.md). */
    if (dtm_log_async_start((size_t)dtm_cfg.log_buffer_bytes) != 0)
        dtm_log_warn("log ring of %ld bytes refused; logging synchronously",
                     dtm_cfg.log_buffer_bytes);
    dtm_counter_fn("dtm_log_dropped_lines_total",
                   "Log lines dropped because stdout was stalled and the ring was full", NULL,
                   log_dropped, NULL);
    dtm_gauge_fn("dtm_log_buffered_bytes", "Bytes of log lines waiting for stdout", NULL,
                 log_buffered, NULL);
    /* dtm_server_run sizes libuv's pool with setenv(UV_THREADPOOL_SIZE). By then the health,
     * edge and gateway threads already call getenv (dtm_config_db_url), and a setenv that adds
     * a variable can reallocate environ under them. Adding it here, while this is the only
     * thread, leaves that later setenv (no overwrite) nothing to change. */
    char nthreads[16];
    snprintf(nthreads, sizeof nthreads, "%d", dtm_cfg.threads > 0 ? dtm_cfg.threads : 16);
    setenv("UV_THREADPOOL_SIZE", nthreads, 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    dtm_redis_init();

    /* The phases (http/internal.h): client-IP trust everywhere (a service believes the
     * gateway's X-Forwarded-For), CORS / rate limits / security headers at the edge only, the
     * auth service's revocation check and the Idempotency-Key policy wherever authenticated
     * routes are served. */
    dtm_router_conf_t rc = {
        .process_service = t.process_name,
        .gateway = t.gateway,
        .registry = dtm_services,
        .local = t.services,
        .realip = dtm_realip,
        .preaccess = t.gateway ? dtm_edge_filter : NULL,
        .authenticate = t.nservices > 0 ? dtm_auth_authenticate : NULL,
        .content_before = t.nservices > 0 ? dtm_idempotency_before : NULL,
        .content_after = t.nservices > 0 ? dtm_idempotency_after : NULL,
        .resp_headers = t.gateway ? dtm_edge_headers : NULL,
        .metrics_private = dtm_cfg.metrics_addr != NULL,
    };
    dtm_router_configure(&rc);
    int rcode = 1;
    int inited = 0;
    for (; inited < t.nservices; inited++) {
        const dtm_service_t *s = t.services[inited];
        if (s->init && s->init() != DTM_OK) {
            dtm_log_error("service %s failed to initialise", s->name);
            goto out;
        }
    }
    if (t.nservices > 0) {
        dtm_idempotency_start();
        if (dtm_auth_revocation_start() != 0) {
            dtm_log_error("the revocation cache failed to start");
            goto out;
        }
    }
    if (dtm_services_events_start(t.services, t.nservices) != 0)
        goto out;
    if (t.gateway)
        dtm_backup_metrics_register(); /* backups run from cron; the edge reports their age */
    if (t.gateway ? dtm_edge_init() != 0 : dtm_realip_init() != 0) {
        dtm_log_error("edge configuration is invalid");
        goto out;
    }
    if (t.gateway && dtm_gateway_init() != DTM_OK) {
        dtm_log_error("gateway failed to initialise");
        goto out;
    }
    add_probes(&t);
    dtm_health_start();

    dtm_server_opts_t so = {
        .port = dtm_cfg.port > 0 ? dtm_cfg.port : t.default_port,
        .signals = true,
        .on_ready = on_ready,
        .ud = &t,
    };
    char mhost[64];
    if (dtm_cfg.metrics_addr) { /* validated by dtm_config_load */
        dtm_config_split_addr(dtm_cfg.metrics_addr, mhost, sizeof mhost, &so.metrics_port);
        so.metrics_host = mhost;
    }
    rcode = dtm_server_run(&so) == 0 ? 0 : 1;
    dtm_log_info("%s stopped", t.process_name);
    dtm_health_stop();
    if (t.gateway)
        dtm_gateway_shutdown();
out:
    dtm_backup_metrics_stop();
    dtm_idempotency_stop();
    dtm_edge_shutdown();
    dtm_services_events_stop();
    while (inited-- > 0)
        if (t.services[inited]->shutdown)
            t.services[inited]->shutdown();
    dtm_pg_pools_shutdown();
    dtm_redis_shutdown(); /* joins the subscribers before the revocation cache goes */
    dtm_auth_revocation_stop();
    curl_global_cleanup();
    dtm_log_async_stop(2000); /* bounded: a stalled stdout must not hold the exit */
    return rcode;
}
