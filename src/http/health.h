/* SPDX-License-Identifier: MIT */
/* /health and /metrics. Dependency status is measured by a background thread every
 * DTM_HEALTH_INTERVAL_MS and cached, so the handlers run on the event loop without blocking. */
#ifndef DTM_HEALTH_H
#define DTM_HEALTH_H

#include "http/http.h"
#include <jansson.h>

typedef enum { DTM_HEALTH_OK = 0, DTM_HEALTH_DEGRADED = 1, DTM_HEALTH_DOWN = 2 } dtm_health_t;

const char *dtm_health_name(dtm_health_t h);

/** Start / stop the probe thread for the local services (after dtm_router_configure). */
void dtm_health_start(void);
void dtm_health_stop(void);

/** Current cached status of PostgreSQL and Redis for this process. */
dtm_health_t dtm_health_postgres(void);
dtm_health_t dtm_health_redis(void);

/** The gateway registers this to report remote services: it returns a new JSON object
 *  {"<service>": {"status": "...", "replicas": [...]}, ...} and the worst status seen. Called on
 *  the loop thread; must not block. */
typedef json_t *(*dtm_health_remote_fn)(dtm_health_t *worst);
void dtm_health_set_remote(dtm_health_remote_fn fn);

/** The whole /health document and its overall status (new reference). */
json_t *dtm_health_document(dtm_health_t *overall);

void dtm_health_handler(dtm_req_t *req);
void dtm_metrics_handler(dtm_req_t *req);

#endif
