/* SPDX-License-Identifier: MIT */
/* A mounted route table: a name, a route prefix, a route table and life-cycle hooks. The HTTP
 * layer mounts the tables it is given (dtm_router_conf_t.registry / .local); it never knows
 * which services exist. The registry of this binary's services is services/service.h. */
#ifndef DTM_HTTP_SERVICE_H
#define DTM_HTTP_SERVICE_H

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

#endif
