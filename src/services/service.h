/* SPDX-License-Identifier: MIT */
/* A service: a route prefix, a route table and life-cycle hooks. The registry (registry.c)
 * lists every service; targets pick which ones a process serves. */
#ifndef DTM_SERVICE_H
#define DTM_SERVICE_H

#include "core/err.h"
#include "http/http.h"

typedef struct dtm_service {
    const char *name;   /* "auth": also the schema name and DATABASE_URL_<NAME> suffix */
    const char *prefix; /* "/api/auth" */
    int default_port;   /* 3001 */
    const dtm_route_t *routes;
    /** Called once per process before serving (pools, metrics, subscriptions). May be NULL. */
    dtm_err_t (*init)(void);
    /** Called once at shutdown after the loops stopped. May be NULL. */
    void (*shutdown)(void);
} dtm_service_t;

/** Every service, NULL-terminated, in port order. */
extern const dtm_service_t *const dtm_services[];
const dtm_service_t *dtm_service_find(const char *name);

/* Each service folder defines one of these in its routes.c. */
extern const dtm_service_t dtm_svc_auth, dtm_svc_users, dtm_svc_todos, dtm_svc_stores,
    dtm_svc_attendance, dtm_svc_reports, dtm_svc_audits;

#endif
