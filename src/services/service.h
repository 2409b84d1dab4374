/* SPDX-License-Identifier: MIT */
/* A service: a route prefix, a route table and life-cycle hooks. The registry (registry.c)
 * lists every service; targets pick which ones a process serves. */
#ifndef DTM_SERVICE_H
#define DTM_SERVICE_H

#include "core/err.h"
#include "http/http.h"
#include <stdbool.h>

/** An outbox topic this service consumes and the internal route (POST, role SERVICE) that
 *  takes one event: body {eventId, topic, createdAt, payload}; any 2xx means handled. */
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

/** Every service, NULL-terminated, in port order. */
extern const dtm_service_t *const dtm_services[];
const dtm_service_t *dtm_service_find(const char *name);

/** Declare every subscription of every service (publishers must know consumers they do not
 *  serve) and start the outbox relays of the `local` services that publish. 0 or -1. */
int dtm_services_events_start(const dtm_service_t *const *local, int nlocal);
/** Stop the relays (before the pools close). */
void dtm_services_events_stop(void);

/* Each service folder defines one of these in its routes.c. */
extern const dtm_service_t dtm_svc_auth, dtm_svc_users, dtm_svc_todos, dtm_svc_stores,
    dtm_svc_attendance, dtm_svc_reports, dtm_svc_visits;

#endif
