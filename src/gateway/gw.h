/* SPDX-License-Identifier: MIT */
/* Gateway internals shared by gateway.c (upstream table, balancing, health), proxy.c (the
 * client side on the loops). */
#ifndef DTM_GW_H
#define DTM_GW_H

#include "core/metrics.h"
#include "http/http.h"
#include "http/service.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>

struct uv_loop_s;

#define GW_MAX_SERVICES  16
#define GW_MAX_UPSTREAMS 64
#define GW_EJECT_AFTER   5    /* consecutive 5xx/timeouts before a passive suspension */
#define GW_SUSPEND_MS    5000 /* how long a suspended replica is skipped (when others remain) */

typedef struct gw_upstream {
    const char *service;
    int index;          /* in gw_upstreams[]: slot of the per-loop idle pools */
    char url[160];      /* "http://127.0.0.1:3001" */
    char hostport[128]; /* Host header towards it */
    struct sockaddr_storage addr;
    socklen_t alen;
    atomic_int up;                /* 1 = admitted */
    atomic_int outstanding;       /* requests in flight, all loops */
    atomic_int fails;             /* consecutive failures */
    atomic_int health;            /* dtm_health_t of its last /health answer */
    int probe_fails;              /* unanswered health probes in a row (checker thread only) */
    atomic_llong suspended_until; /* monotonic ms: passive suspension (failures, timeouts) */
    dtm_metric_t *m_req, *m_fail, *m_lat, *m_eject, *m_up;
} gw_upstream_t;

typedef struct gw_service {
    const dtm_service_t *svc;
    gw_upstream_t *ups[16];
    int nups;
    atomic_uint rr;
    dtm_metric_t *m_retry;
} gw_service_t;

extern gw_service_t gw_services[];
extern int gw_nservices;
extern gw_upstream_t *gw_upstreams[];
extern int gw_nupstreams;
extern bool gw_least_outstanding;

gw_service_t *gw_service_find(const char *name);
/** An admitted upstream of s not in tried[], by the configured policy; NULL when none. */
gw_upstream_t *gw_pick(gw_service_t *s, gw_upstream_t *const *tried, int ntried);
/** Down: connection refused or failed health checks; the health checker re-admits. */
void gw_eject(gw_upstream_t *u, const char *why);
/** Outcome of one upstream exchange (true = 5xx, timeout, error): GW_EJECT_AFTER in a row
 *  suspend the replica for GW_SUSPEND_MS. */
void gw_note(gw_upstream_t *u, bool failed);

void gw_proxy(dtm_req_t *req);
/** The loop is stopping (drain): close the upstream connections it holds. */
void gw_loop_stop(struct uv_loop_s *loop);

#endif
