/* SPDX-License-Identifier: MIT */
#include "http/health.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/ticker.h"
#include "core/timeutil.h"
#include "http/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PROBES 16

typedef struct {
    const char *dependency, *service; /* service may be NULL */
    dtm_health_probe_fn fn;
    void *ud;
    atomic_int state;
} probe_t;

/* Filled before dtm_health_start (one thread), read-only afterwards but for the states. */
static probe_t g_probes[MAX_PROBES];
static int g_nprobes;
static dtm_health_remote_fn g_remote;
static double g_started;
static dtm_ticker_t *g_ticker;

const char *dtm_health_name(dtm_health_t h)
{
    return h == DTM_HEALTH_OK ? "ok" : h == DTM_HEALTH_DEGRADED ? "degraded" : "down";
}

int dtm_health_add_probe(const char *dependency, const char *service, dtm_health_probe_fn fn,
                         void *ud)
{
    if (!dependency || !fn || g_nprobes == MAX_PROBES) {
        dtm_log_error("health: cannot add probe %s (at most %d)", dependency ? dependency : "?",
                      MAX_PROBES);
        return -1;
    }
    probe_t *p = &g_probes[g_nprobes++];
    p->dependency = dependency;
    p->service = service;
    p->fn = fn;
    p->ud = ud;
    atomic_store(&p->state, DTM_HEALTH_OK);
    return 0;
}

void dtm_health_clear_probes(void)
{
    g_nprobes = 0;
}

/* The worst state of the probes whose dependency (or service) is `name`; -1 when none. */
static int worst_of(const char *name, bool by_service)
{
    int worst = -1;
    for (int i = 0; i < g_nprobes; i++) {
        const char *n = by_service ? g_probes[i].service : g_probes[i].dependency;
        if (!n || strcmp(n, name) != 0)
            continue;
        int st = atomic_load(&g_probes[i].state);
        if (st > worst)
            worst = st;
    }
    return worst;
}

/* First probe of that name (its index), to list each name once, in registration order. */
static bool first_of(int i, bool by_service)
{
    const char *n = by_service ? g_probes[i].service : g_probes[i].dependency;
    if (!n)
        return false;
    for (int j = 0; j < i; j++) {
        const char *m = by_service ? g_probes[j].service : g_probes[j].dependency;
        if (m && strcmp(m, n) == 0)
            return false;
    }
    return true;
}

dtm_health_t dtm_health_dependency(const char *name)
{
    int w = worst_of(name, false);
    return w < 0 ? DTM_HEALTH_OK : (dtm_health_t)w;
}

void dtm_health_set_remote(dtm_health_remote_fn fn)
{
    g_remote = fn;
}

/* One round: each distinct (fn, ud) runs once (several services sharing a pool ping it once). */
void dtm_health_probe_now(void)
{
    for (int i = 0; i < g_nprobes; i++) {
        probe_t *p = &g_probes[i];
        int j;
        for (j = 0; j < i && !(g_probes[j].fn == p->fn && g_probes[j].ud == p->ud); j++)
            ;
        dtm_health_t st = j < i ? (dtm_health_t)atomic_load(&g_probes[j].state) : p->fn(p->ud);
        atomic_store(&p->state, st);
    }
    dtm_metrics_sample_process(); /* /proc reads off the loops (see metrics.h) */
}

static void probe_tick(void *ud)
{
    (void)ud;
    dtm_health_probe_now();
}

static double gauge_dep(void *ud)
{
    return dtm_health_dependency(ud) == DTM_HEALTH_OK ? 1 : 0;
}

void dtm_health_start(void)
{
    g_started = dtm_mono_s();
    for (int i = 0; i < g_nprobes; i++) {
        if (!first_of(i, false))
            continue;
        char labels[96];
        snprintf(labels, sizeof labels, "dependency=\"%s\"", g_probes[i].dependency);
        dtm_gauge_fn("dtm_dependency_up", "1 when the dependency answers its health probe", labels,
                     gauge_dep, (void *)g_probes[i].dependency);
    }
    dtm_health_probe_now(); /* so the first /health is already right */
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

/* {"<dependency>": {"status": "ok" | "down"}}; *worst rises to the worst probe result. A
 * dependency is "ok" or "down" in the document; what its probe returned (down for a database,
 * degraded for a cache) is what it costs the overall status. */
static json_t *dependencies_document(int *worst)
{
    json_t *deps = json_object();
    for (int i = 0; i < g_nprobes; i++) {
        int st = atomic_load(&g_probes[i].state);
        if (st > *worst)
            *worst = st;
        if (first_of(i, false)) {
            dtm_health_t d = dtm_health_dependency(g_probes[i].dependency);
            json_object_set_new(deps, g_probes[i].dependency,
                                json_pack("{s:s}", "status", d == DTM_HEALTH_OK ? "ok" : "down"));
        }
    }
    return deps;
}

json_t *dtm_health_document(dtm_health_t *overall)
{
    const dtm_router_conf_t *c = dtm_router_conf();
    int worst = DTM_HEALTH_OK;
    json_t *services = json_object();
    for (int i = 0; i < g_nprobes; i++) {
        if (!first_of(i, true))
            continue;
        int h = worst_of(g_probes[i].service, true);
        json_object_set_new(services, g_probes[i].service,
                            json_pack("{s:s}", "status", dtm_health_name((dtm_health_t)h)));
    }
    if (g_remote) {
        dtm_health_t rw = DTM_HEALTH_OK;
        json_t *remote = g_remote(&rw);
        if (remote)
            json_object_update(services, remote);
        json_decref(remote);
        if ((int)rw > worst)
            worst = (int)rw;
    }
    json_t *deps = dependencies_document(&worst);
    *overall = (dtm_health_t)worst;
    return json_pack("{s:s,s:s,s:s,s:I,s:o,s:o}", "status", dtm_health_name(*overall), "service",
                     c->process_service ? c->process_service : "dtm", "version", DTM_VERSION,
                     "uptimeSeconds", (json_int_t)(dtm_mono_s() - g_started), "services", services,
                     "dependencies", deps);
}

/* The rendered document, per thread (each loop thread renders its own: no lock on the hot
 * path). It depends only on the probed states and the uptime in whole seconds, so it is
 * rebuilt when one of those changed, at most about once a second per thread. */
typedef struct {
    long long uptime;
    int states[MAX_PROBES];
    dtm_health_t overall;
    size_t len;      /* 0: nothing cached */
    char text[2048]; /* thread-local, not heap: nothing to free when a loop thread ends */
} health_cache_t;

static _Thread_local health_cache_t t_cache;

static void cache_key(health_cache_t *k)
{
    k->uptime = (long long)(dtm_mono_s() - g_started);
    memset(k->states, 0, sizeof k->states);
    for (int i = 0; i < g_nprobes; i++)
        k->states[i] = atomic_load(&g_probes[i].state);
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
    bool fresh =
        t->len && k.uptime == t->uptime && memcmp(k.states, t->states, sizeof k.states) == 0;
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
            memcpy(t->states, k.states, sizeof k.states);
        }
        free(text);
        return;
    }
    dtm_resp_body(req, t->overall == DTM_HEALTH_DOWN ? 503 : 200, "application/json; charset=utf-8",
                  t->text, t->len);
}

void dtm_livez_handler(dtm_req_t *req)
{
    const dtm_router_conf_t *c = dtm_router_conf();
    dtm_resp_header(req, "Cache-Control", "no-store");
    dtm_resp_json(req, 200,
                  json_pack("{s:s,s:s,s:I}", "status", "ok", "service",
                            c->process_service ? c->process_service : "dtm", "uptimeSeconds",
                            (json_int_t)(dtm_mono_s() - g_started)));
}

void dtm_readyz_handler(dtm_req_t *req)
{
    int worst = DTM_HEALTH_OK;
    json_t *deps = dependencies_document(&worst);
    bool ready = worst != DTM_HEALTH_DOWN;
    dtm_resp_header(req, "Cache-Control", "no-store");
    dtm_resp_json(
        req, ready ? 200 : 503,
        json_pack("{s:s,s:o}", "status", ready ? "ready" : "not_ready", "dependencies", deps));
}

void dtm_metrics_handler(dtm_req_t *req)
{
    size_t len = 0;
    char *text = dtm_metrics_render(&len);
    dtm_resp_body(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}
