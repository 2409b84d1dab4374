/* SPDX-License-Identifier: MIT */
/* The gateway: every service that is not in this process is reached through its upstream
 * list (DTM_UPSTREAM_<SERVICE>). This file owns that table, the balancing policy, passive
 * ejection and the active health checker (a thread doing GET /health on every replica each
 * DTM_HEALTH_INTERVAL_MS, so nothing on the loops ever waits for it). */
#include "gateway/gateway.h"

#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/timeutil.h"
#include "core/ticker.h"
#include "gateway/gw.h"
#include "http/health.h"
#include "http/internal.h"
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

gw_service_t gw_services[GW_MAX_SERVICES];
int gw_nservices;
gw_upstream_t *gw_upstreams[GW_MAX_UPSTREAMS];
int gw_nupstreams;
bool gw_least_outstanding;

static dtm_ticker_t *g_health; /* active upstream health checks */

gw_service_t *gw_service_find(const char *name)
{
    if (!name)
        return NULL;
    for (int i = 0; i < gw_nservices; i++)
        if (strcmp(gw_services[i].svc->name, name) == 0)
            return &gw_services[i];
    return NULL;
}

static bool tried_has(gw_upstream_t *const *tried, int n, const gw_upstream_t *u)
{
    for (int i = 0; i < n; i++)
        if (tried[i] == u)
            return true;
    return false;
}

/* Usable now: admitted, not tried, and not suspended (unless `panic`). */
static bool usable(gw_upstream_t *u, gw_upstream_t *const *tried, int ntried, bool panic,
                   long long now)
{
    return atomic_load(&u->up) && !tried_has(tried, ntried, u) &&
           (panic || atomic_load(&u->suspended_until) <= now);
}

static gw_upstream_t *pick(gw_service_t *s, gw_upstream_t *const *tried, int ntried, bool panic)
{
    long long now = dtm_mono_s() * 1000;
    if (gw_least_outstanding) {
        gw_upstream_t *best = NULL;
        int best_n = 0;
        unsigned start = atomic_fetch_add(&s->rr, 1); /* ties rotate */
        for (int k = 0; k < s->nups; k++) {
            gw_upstream_t *u = s->ups[(start + (unsigned)k) % (unsigned)s->nups];
            if (!usable(u, tried, ntried, panic, now))
                continue;
            int n = atomic_load(&u->outstanding);
            if (!best || n < best_n) {
                best = u;
                best_n = n;
            }
        }
        return best;
    }
    unsigned start = atomic_fetch_add(&s->rr, 1);
    for (int k = 0; k < s->nups; k++) {
        gw_upstream_t *u = s->ups[(start + (unsigned)k) % (unsigned)s->nups];
        if (usable(u, tried, ntried, panic, now))
            return u;
    }
    return NULL;
}

/* Suspended replicas are skipped while others remain; when every admitted replica is
 * suspended they are used anyway (Envoy's panic threshold): a suspension means slow or
 * failing under load, and turning all of that into 503s would only make it worse. */
gw_upstream_t *gw_pick(gw_service_t *s, gw_upstream_t *const *tried, int ntried)
{
    if (!s->nups)
        return NULL;
    gw_upstream_t *u = pick(s, tried, ntried, false);
    return u ? u : pick(s, tried, ntried, true);
}

void gw_eject(gw_upstream_t *u, const char *why)
{
    if (atomic_exchange(&u->up, 0)) {
        dtm_metric_inc(u->m_eject);
        dtm_metric_set(u->m_up, 0);
        dtm_log_warn("upstream %s (%s) ejected: %s", u->url, u->service, why);
    }
}

void gw_note(gw_upstream_t *u, bool failed)
{
    if (!failed) {
        atomic_store(&u->fails, 0);
        return;
    }
    if (atomic_fetch_add(&u->fails, 1) + 1 >= GW_EJECT_AFTER) {
        atomic_store(&u->fails, 0);
        long long now = (long long)(dtm_mono_s() * 1000);
        if (atomic_exchange(&u->suspended_until, now + GW_SUSPEND_MS) > now)
            return; /* already suspended: extended, said once */
        dtm_metric_inc(u->m_eject);
        dtm_log_warn("upstream %s (%s) suspended for %d ms: repeated failures", u->url, u->service,
                     GW_SUSPEND_MS);
    }
}

/* "http://host:port" -> address. Names are resolved once, at start. */
static int parse_upstream(gw_upstream_t *u, const char *url)
{
    snprintf(u->url, sizeof u->url, "%s", url);
    const char *p = url;
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    else if (strstr(p, "://"))
        return -1; /* https to upstreams is not supported: they sit on a private network */
    char host[96];
    int port = 80;
    size_t hl = strcspn(p, ":/");
    if (hl == 0 || hl >= sizeof host)
        return -1;
    memcpy(host, p, hl);
    host[hl] = '\0';
    if (p[hl] == ':')
        port = atoi(p + hl + 1);
    if (port <= 0 || port > 65535)
        return -1;
    snprintf(u->hostport, sizeof u->hostport, "%s:%d", host, port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    char ps[8];
    snprintf(ps, sizeof ps, "%d", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0)
        return -1;
    memcpy(&u->addr, res->ai_addr, res->ai_addrlen);
    u->alen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static bool is_local(const dtm_service_t *s)
{
    const dtm_router_conf_t *rc = dtm_router_conf();
    for (int i = 0; rc->local && rc->local[i]; i++)
        if (rc->local[i] == s)
            return true;
    return false;
}

/* ---- active health checks ---- */

/* Blocking GET /health with a deadline; returns the HTTP status, 0 when no answer came in
 * time, -1 when the connection was refused (nothing listens: certainly down), and the
 * reported "status" field. */
static int probe(const gw_upstream_t *u, int timeout_ms, dtm_health_t *reported)
{
    *reported = DTM_HEALTH_DOWN;
    int fd = socket(u->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int status = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (connect(fd, (const struct sockaddr *)&u->addr, u->alen) < 0 && errno != EINPROGRESS) {
        status = errno == ECONNREFUSED ? -1 : 0;
        goto out;
    }
    struct pollfd pf = {.fd = fd, .events = POLLOUT};
    if (poll(&pf, 1, timeout_ms) != 1)
        goto out;
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        status = err == ECONNREFUSED ? -1 : 0;
        goto out;
    }
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET /health HTTP/1.1\r\nHost: %s\r\nUser-Agent: dtm-gateway\r\n"
                     "Connection: close\r\n\r\n",
                     u->hostport);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        goto out;
    char buf[8192];
    size_t len = 0;
    for (;;) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        int left = timeout_ms -
                   (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0)
            break;
        pf.events = POLLIN;
        if (poll(&pf, 1, left) != 1)
            break;
        ssize_t r = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len == sizeof buf - 1)
            break;
    }
    buf[len] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    const char *body = strstr(buf, "\r\n\r\n");
    if (status && body) {
        json_t *j = json_loads(body + 4, JSON_DISABLE_EOF_CHECK, NULL);
        const char *s = json_string_value(json_object_get(j, "status"));
        *reported = s && strcmp(s, "ok") == 0         ? DTM_HEALTH_OK
                    : s && strcmp(s, "degraded") == 0 ? DTM_HEALTH_DEGRADED
                    : status < 500                    ? DTM_HEALTH_OK
                                                      : DTM_HEALTH_DOWN;
        json_decref(j);
    }
out:
    close(fd);
    return status;
}

#define HEALTH_FAILS 2 /* unanswered probes in a row before ejection */

static void check_all(void)
{
    int interval = dtm_cfg.health_interval_ms > 0 ? dtm_cfg.health_interval_ms : 2000;
    int timeout = interval < 1000 ? interval : 1000;
    for (int i = 0; i < gw_nupstreams; i++) {
        gw_upstream_t *u = gw_upstreams[i];
        dtm_health_t rep;
        int st = probe(u, timeout, &rep);
        atomic_store(&u->health, (int)rep);
        /* A replica that answers is routable even when its database is down: its own
         * errors (503 JSON) are more useful to the client than ours. */
        if (st > 0) {
            atomic_store(&u->fails, 0);
            if (!atomic_exchange(&u->up, 1)) {
                /* Back from down (a restarted replica): a suspension earned before it went
                 * down says nothing about it now, and would keep it idle for up to
                 * GW_SUSPEND_MS after the checker let it in. */
                atomic_store(&u->suspended_until, 0);
                dtm_metric_set(u->m_up, 1);
                dtm_log_info("upstream %s (%s) admitted", u->url, u->service);
            }
            u->probe_fails = 0;
        } else if (st < 0 || ++u->probe_fails >= HEALTH_FAILS) {
            /* refused: down for sure; no answer: perhaps only busy, so once is not enough */
            gw_eject(u, st < 0 ? "connection refused" : "health check failed");
        }
    }
}

static void health_tick(void *ud)
{
    (void)ud;
    check_all();
}

/* /health of the gateway: one entry per remote service. */
static json_t *remote_health(dtm_health_t *worst)
{
    json_t *out = json_object();
    dtm_health_t w = DTM_HEALTH_OK;
    for (int i = 0; i < gw_nservices; i++) {
        gw_service_t *s = &gw_services[i];
        json_t *reps = json_array();
        int up = 0;
        dtm_health_t sw = DTM_HEALTH_OK;
        for (int k = 0; k < s->nups; k++) {
            gw_upstream_t *u = s->ups[k];
            bool is_up = atomic_load(&u->up);
            dtm_health_t h = is_up ? (dtm_health_t)atomic_load(&u->health) : DTM_HEALTH_DOWN;
            up += is_up;
            if (is_up && h > sw)
                sw = h;
            json_array_append_new(
                reps, json_pack("{s:s,s:s}", "url", u->url, "status", dtm_health_name(h)));
        }
        dtm_health_t st = up == 0 ? DTM_HEALTH_DOWN : up < s->nups ? DTM_HEALTH_DEGRADED : sw;
        if (st == DTM_HEALTH_DOWN && sw == DTM_HEALTH_OK && up == 0)
            st = DTM_HEALTH_DOWN;
        if (st > w)
            w = st;
        json_object_set_new(
            out, s->svc->name,
            json_pack("{s:s,s:o}", "status", dtm_health_name(st), "replicas", reps));
    }
    *worst = w;
    return out;
}

/* ---- life cycle ---- */

static void upstream_metrics(gw_upstream_t *u)
{
    char labels[256];
    snprintf(labels, sizeof labels, "service=\"%s\",upstream=\"%s\"", u->service, u->url);
    u->m_req =
        dtm_counter("gateway_upstream_requests_total", "Requests sent to an upstream", labels);
    u->m_fail =
        dtm_counter("gateway_upstream_failures_total",
                    "Upstream exchanges that failed (connect, timeout, malformed, 5xx)", labels);
    u->m_lat = dtm_histogram("gateway_upstream_duration_seconds",
                             "Time from sending to an upstream to its complete response", labels);
    u->m_eject = dtm_counter("gateway_upstream_ejections_total",
                             "Passive or health-check ejections of an upstream", labels);
    u->m_up = dtm_gauge("gateway_upstream_up_state", "1 when the upstream is admitted", labels);
    dtm_metric_set(u->m_up, 1);
}

dtm_err_t dtm_gateway_init(void)
{
    int problems = 0;
    gw_least_outstanding = dtm_cfg.balance && strcmp(dtm_cfg.balance, "least_outstanding") == 0;
    const dtm_service_t *const *registry = dtm_router_conf()->registry; /* passed in by serve */
    for (int i = 0; registry && registry[i]; i++) {
        const dtm_service_t *svc = registry[i];
        if (is_local(svc) || gw_nservices >= GW_MAX_SERVICES)
            continue;
        gw_service_t *s = &gw_services[gw_nservices++];
        s->svc = svc;
        char labels[96];
        snprintf(labels, sizeof labels, "service=\"%s\"", svc->name);
        s->m_retry =
            dtm_counter("gateway_retries_total", "Requests retried on another replica", labels);
        const char *list = dtm_config_upstreams(svc->name, svc->default_port);
        char *copy = dtm_strdup(list), *save = NULL;
        for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
            if (gw_nupstreams >= GW_MAX_UPSTREAMS || s->nups >= 16)
                break;
            gw_upstream_t *u = dtm_calloc(1, sizeof *u);
            u->service = svc->name;
            if (parse_upstream(u, t) < 0) {
                dtm_log_error("DTM_UPSTREAM_%s: cannot use \"%s\" (http://host:port)", svc->name,
                              t);
                free(u);
                problems++;
                continue;
            }
            u->index = gw_nupstreams;
            atomic_init(&u->up, 1); /* optimistic until the first check says otherwise */
            upstream_metrics(u);
            gw_upstreams[gw_nupstreams++] = u;
            s->ups[s->nups++] = u;
        }
        free(copy);
        dtm_log_info("gateway: %s -> %s", svc->prefix, list);
    }
    if (problems)
        return DTM_EINVAL;
    dtm_server_set_proxy(gw_proxy);
    dtm_server_set_loop_stop(gw_loop_stop);
    dtm_health_set_remote(remote_health);
    /* The first round runs at once on the checker thread, not here: an upstream that does
     * not answer (a host that is down, DNS not ready) must not delay the start. Until then
     * replicas count as admitted; a refused connection ejects one on first use anyway. */
    if (gw_nupstreams)
        g_health = dtm_ticker_start(
            dtm_cfg.health_interval_ms > 0 ? dtm_cfg.health_interval_ms : 2000, health_tick, NULL);
    return DTM_OK;
}

void dtm_gateway_shutdown(void)
{
    dtm_ticker_stop(g_health);
    g_health = NULL;
    dtm_server_set_proxy(NULL);
    dtm_server_set_loop_stop(NULL);
    dtm_health_set_remote(NULL);
    for (int i = 0; i < gw_nupstreams; i++)
        free(gw_upstreams[i]);
    gw_nupstreams = 0;
    gw_nservices = 0;
}
