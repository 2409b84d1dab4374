/* SPDX-License-Identifier: MIT */
#include "http/health.h"
#include "core/config.h"
#include "core/metrics.h"
#include "core/ticker.h"
#include "core/timeutil.h"
#include "db/pg.h"
#include "db/redis.h"
#include "http/internal.h"
#include "services/service.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LOCAL 16

static atomic_int g_pg = DTM_HEALTH_OK; /* worst over the local services' databases */
static atomic_int g_redis = DTM_HEALTH_OK;
static atomic_int g_svc[MAX_LOCAL]; /* per local service, by index in conf->local */
static dtm_health_remote_fn g_remote;
static double g_started;
static dtm_ticker_t *g_ticker;

const char *dtm_health_name(dtm_health_t h)
{
    return h == DTM_HEALTH_OK ? "ok" : h == DTM_HEALTH_DEGRADED ? "degraded" : "down";
}

dtm_health_t dtm_health_postgres(void)
{
    return (dtm_health_t)atomic_load(&g_pg);
}

dtm_health_t dtm_health_redis(void)
{
    return (dtm_health_t)atomic_load(&g_redis);
}

void dtm_health_set_remote(dtm_health_remote_fn fn)
{
    g_remote = fn;
}

static bool has_local_services(void)
{
    const dtm_router_conf_t *c = dtm_router_conf();
    return c->local && c->local[0];
}

/* One round: ping each distinct pool once, then Redis. */
static void probe(void)
{
    const dtm_router_conf_t *c = dtm_router_conf();
    dtm_pg_pool_t *seen[MAX_LOCAL];
    bool seen_ok[MAX_LOCAL];
    int nseen = 0;
    dtm_health_t worst = DTM_HEALTH_OK;
    for (int i = 0; c->local && c->local[i] && i < MAX_LOCAL; i++) {
        dtm_pg_pool_t *p = dtm_pg_pool_for(c->local[i]->name);
        bool ok = false;
        int j;
        for (j = 0; j < nseen && seen[j] != p; j++)
            ;
        if (j < nseen) {
            ok = seen_ok[j];
        } else {
            ok = p && dtm_pg_ping(p);
            seen[nseen] = p;
            seen_ok[nseen++] = ok;
        }
        atomic_store(&g_svc[i], ok ? DTM_HEALTH_OK : DTM_HEALTH_DOWN);
        if (!ok)
            worst = DTM_HEALTH_DOWN;
    }
    atomic_store(&g_pg, worst);
    atomic_store(&g_redis, dtm_redis_up() ? DTM_HEALTH_OK : DTM_HEALTH_DEGRADED);
    dtm_metrics_sample_process(); /* /proc reads off the loops (see metrics.h) */
}

static void probe_tick(void *ud)
{
    (void)ud;
    probe();
}

static double gauge_pg(void *ud)
{
    (void)ud;
    return has_local_services() && dtm_health_postgres() == DTM_HEALTH_OK ? 1 : 0;
}

static double gauge_redis(void *ud)
{
    (void)ud;
    return dtm_health_redis() == DTM_HEALTH_OK ? 1 : 0;
}

void dtm_health_start(void)
{
    g_started = dtm_mono_s();
    if (has_local_services()) /* a gateway alone has no database: no false "down" series */
        dtm_gauge_fn("dtm_dependency_up", "1 when the dependency answers its health probe",
                     "dependency=\"postgres\"", gauge_pg, NULL);
    dtm_gauge_fn("dtm_dependency_up", "1 when the dependency answers its health probe",
                 "dependency=\"redis\"", gauge_redis, NULL);
    probe(); /* so the first /health is already right */
    int interval = dtm_cfg.health_interval_ms > 0 ? dtm_cfg.health_interval_ms : 2000;
    if (interval > 1000)
        interval = 1000; /* own dependencies: notice recovery within a second */
    g_ticker = dtm_ticker_start(interval, probe_tick, NULL);
}

void dtm_health_stop(void)
{
    dtm_ticker_stop(g_ticker);
    g_ticker = NULL;
}

json_t *dtm_health_document(dtm_health_t *overall)
{
    const dtm_router_conf_t *c = dtm_router_conf();
    dtm_health_t worst = DTM_HEALTH_OK;
    json_t *services = json_object();
    for (int i = 0; c->local && c->local[i] && i < MAX_LOCAL; i++) {
        dtm_health_t h = (dtm_health_t)atomic_load(&g_svc[i]);
        json_object_set_new(services, c->local[i]->name,
                            json_pack("{s:s}", "status", dtm_health_name(h)));
        if (h > worst)
            worst = h;
    }
    if (g_remote) {
        dtm_health_t rw = DTM_HEALTH_OK;
        json_t *remote = g_remote(&rw);
        if (remote)
            json_object_update(services, remote);
        json_decref(remote);
        if (rw > worst)
            worst = rw;
    }
    json_t *deps = json_object();
    if (has_local_services())
        json_object_set_new(deps, "postgres",
                            json_pack("{s:s}", "status", dtm_health_name(dtm_health_postgres())));
    dtm_health_t rh = dtm_health_redis();
    json_object_set_new(deps, "redis",
                        json_pack("{s:s}", "status", rh == DTM_HEALTH_OK ? "ok" : "down"));
    if (rh != DTM_HEALTH_OK && worst == DTM_HEALTH_OK)
        worst = DTM_HEALTH_DEGRADED;
    *overall = worst;
    return json_pack("{s:s,s:s,s:s,s:I,s:o,s:o}", "status", dtm_health_name(worst), "service",
                     c->process_service ? c->process_service : "dtm", "version", DTM_VERSION,
                     "uptimeSeconds", (json_int_t)(dtm_mono_s() - g_started), "services", services,
                     "dependencies", deps);
}

/* The rendered document, per thread (each loop thread renders its own: no lock on the hot
 * path). It depends only on the probed states and the uptime in whole seconds, so it is
 * rebuilt when one of those changed, at most about once a second per thread. */
typedef struct {
    long long uptime;
    int pg, redis, svc[MAX_LOCAL];
    dtm_health_t overall;
    size_t len;      /* 0: nothing cached */
    char text[2048]; /* thread-local, not heap: nothing to free when a loop thread ends */
} health_cache_t;

static _Thread_local health_cache_t t_cache;

static void cache_key(health_cache_t *k)
{
    const dtm_router_conf_t *c = dtm_router_conf();
    k->uptime = (long long)(dtm_mono_s() - g_started);
    k->pg = atomic_load(&g_pg);
    k->redis = atomic_load(&g_redis);
    memset(k->svc, 0, sizeof k->svc);
    for (int i = 0; c->local && c->local[i] && i < MAX_LOCAL; i++)
        k->svc[i] = atomic_load(&g_svc[i]);
}

/* Remote services (the gateway's replicas) change at their own pace: the document is cached
 * only while there are none to report. */
static bool remote_empty(void)
{
    if (!g_remote)
        return true;
    dtm_health_t rw = DTM_HEALTH_OK;
    json_t *remote = g_remote(&rw);
    bool empty = rw == DTM_HEALTH_OK && (!remote || json_object_size(remote) == 0);
    json_decref(remote);
    return empty;
}

void dtm_health_handler(dtm_req_t *req)
{
    dtm_resp_header(req, "Cache-Control", "no-store");
    health_cache_t k;
    cache_key(&k);
    health_cache_t *t = &t_cache;
    bool fresh = t->len && k.uptime == t->uptime && k.pg == t->pg && k.redis == t->redis &&
                 memcmp(k.svc, t->svc, sizeof k.svc) == 0;
    if (!fresh || !remote_empty()) {
        dtm_health_t overall;
        json_t *doc = dtm_health_document(&overall);
        char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(doc);
        if (!text) {
            dtm_resp_error(req, 500, "internal", "Could not render the health document", NULL);
            return;
        }
        size_t len = strlen(text);
        dtm_resp_body(req, overall == DTM_HEALTH_DOWN ? 503 : 200,
                      "application/json; charset=utf-8", text, len);
        /* The key was read before the document: a state change in between only makes the
         * next request rebuild. */
        t->len = 0;
        if (len < sizeof t->text && remote_empty()) {
            memcpy(t->text, text, len + 1);
            t->len = len;
            t->overall = overall;
            t->uptime = k.uptime;
            t->pg = k.pg;
            t->redis = k.redis;
            memcpy(t->svc, k.svc, sizeof k.svc);
        }
        free(text);
        return;
    }
    dtm_resp_body(req, t->overall == DTM_HEALTH_DOWN ? 503 : 200, "application/json; charset=utf-8",
                  t->text, t->len);
}

void dtm_metrics_handler(dtm_req_t *req)
{
    size_t len = 0;
    char *text = dtm_metrics_render(&len);
    dtm_resp_body(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}
