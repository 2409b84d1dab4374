/* SPDX-License-Identifier: MIT */
/* /health and /metrics. Dependency status is measured by probes that the layers above register
 * at start (cli/serve.c: one per local service's database pool, one for Redis); a background
 * thread runs them every DTM_HEALTH_INTERVAL_MS (at most 1 s) and caches the results, so the
 * handlers run on the event loop without blocking. The HTTP layer knows no dependency itself. */
#ifndef DTM_HEALTH_H
#define DTM_HEALTH_H

#include "http/http.h"
#include <jansson.h>

typedef enum { DTM_HEALTH_OK = 0, DTM_HEALTH_DEGRADED = 1, DTM_HEALTH_DOWN = 2 } dtm_health_t;

const char *dtm_health_name(dtm_health_t h);

/** A health probe: runs on the health thread once a round (it may block, bounded by its own
 *  timeouts) and returns the dependency's state: DTM_HEALTH_DOWN for what the service cannot
 *  work without (its database), DTM_HEALTH_DEGRADED for what it can (the Redis cache). */
typedef dtm_health_t (*dtm_health_probe_fn)(void *ud);

/** Register a probe, before dtm_health_start. `dependency` names it under "dependencies" of
 *  /health ("ok" or "down"; several probes of one name: the worst) and in the gauge
 *  dtm_dependency_up{dependency=...}; `service`, when not NULL, is a local service whose status
 *  under "services" is the worst of its probes. Probes with the same fn and ud run once per
 *  round (services sharing a pool ping it once). The overall status is the worst probe result
 *  (and remote services). Strings are borrowed for the process's life. 0, or -1 when the table
 *  (16) is full. */
int dtm_health_add_probe(const char *dependency, const char *service, dtm_health_probe_fn fn,
                         void *ud);
/** Forget every probe (tests; before dtm_health_start). */
void dtm_health_clear_probes(void);
/** Run every probe once now (dtm_health_start does it first; tests). */
void dtm_health_probe_now(void);
/** Cached worst state of the probes of `dependency` (OK when there are none). */
dtm_health_t dtm_health_dependency(const char *dependency);

/** Start / stop the probe thread (after the probes were added). */
void dtm_health_start(void);
void dtm_health_stop(void);

/** The gateway registers this to report remote services: it returns a new JSON object
 *  {"<service>": {"status": "...", "replicas": [...]}, ...} and the worst status seen. Called on
 *  the loop thread; must not block. */
typedef json_t *(*dtm_health_remote_fn)(dtm_health_t *worst);
void dtm_health_set_remote(dtm_health_remote_fn fn);

/** The whole /health document and its overall status (new reference). */
json_t *dtm_health_document(dtm_health_t *overall);

/** GET /health: the whole document, 503 when a probe is down. */
void dtm_health_handler(dtm_req_t *req);
/** GET /livez: the process answers (200), whatever its dependencies: a liveness probe that
 *  restarts only a process that no longer serves, never one whose database is away. */
void dtm_livez_handler(dtm_req_t *req);
/** GET /readyz: 200 when none of this process's own probes is down (its databases; a cache
 *  costs nothing), else 503: a readiness probe that takes the process out of rotation. */
void dtm_readyz_handler(dtm_req_t *req);
void dtm_metrics_handler(dtm_req_t *req);

#endif
