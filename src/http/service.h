/* SPDX-License-Identifier: MIT */
/* A mounted route table: a name, a route prefix, a route table and life-cycle hooks. The HTTP
 * layer mounts the tables it is given (dtm_router_conf_t.registry / .local); it never knows
 * which services exist. The registry of this binary's services is services/service.h. */
#ifndef DTM_HTTP_SERVICE_H
#define DTM_HTTP_SERVICE_H

#include "core/err.h"
#include "http/http.h"
#include <stdbool.h>

/** An outbox topic a service consumes and the internal route (POST, role SERVICE) that takes
 *  one event: body {eventId, topic, createdAt, payload}; any 2xx means handled (db/outbox.h). */
typedef struct {
    const char *topic, *path;
} dtm_subscription_t;

typedef struct dtm_service {
    const char *name;   /* "auth": also the schema name and DATABASE_URL_<NAME> suffix */
    const char *prefix; /* "/api/auth" */
    int default_port;   /* 3001 */
    const dtm_route_t *routes;
    /** Called once per process before serving (pools, metrics, subscriptions). May be NULL. */
    dtm_err_t (*init)(void);
    /** Called once at shutdown after the loops stopped. May be NULL. */
    void (*shutdown)(void);
    /** Publishes through <name>.outbox (db/outbox.h): a relay runs where the service does. */
    bool outbox;
    /** Topics consumed, {0}-terminated; NULL when none. */
    const dtm_subscription_t *subscriptions;
} dtm_service_t;

#endif
