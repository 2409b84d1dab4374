/* SPDX-License-Identifier: MIT */
/* Route table and life cycle of the visits service. Planning is for staff; a merchandiser
 * reads their own visits and today's route. POST /events takes attendance events from the
 * outbox relay (role SERVICE only: never reachable through the gateway). */
#include "services/service.h"
#include "services/visits/visits.h"

static const dtm_route_t routes[] = {
    {.method = "GET", .path = "/api/visits", .handler = visits_list, .roles = DTM_ROLES_ANY},
    {.method = "POST", .path = "/api/visits", .handler = visits_create, .roles = DTM_ROLES_STAFF},
    {.method = "GET", .path = "/api/visits/today", .handler = visits_today, .roles = DTM_ROLES_ANY},
    {.method = "GET",
     .path = "/api/visits/coverage",
     .handler = visits_coverage,
     .roles = DTM_ROLES_STAFF},
    {.method = "GET",
     .path = "/api/visits/plans",
     .handler = visits_plan_list,
     .roles = DTM_ROLES_STAFF},
    {.method = "POST",
     .path = "/api/visits/plans",
     .handler = visits_plan_create,
     .roles = DTM_ROLES_STAFF},
    {.method = "PATCH",
     .path = "/api/visits/plans/:id",
     .handler = visits_plan_update,
     .roles = DTM_ROLES_STAFF},
    {.method = "DELETE",
     .path = "/api/visits/plans/:id",
     .handler = visits_plan_delete,
     .roles = DTM_ROLES_STAFF},
    {.method = "POST",
     .path = "/api/visits/events",
     .handler = visits_event,
     .roles = DTM_ROLE_SERVICE},
    {.method = "PATCH",
     .path = "/api/visits/:id",
     .handler = visits_update,
     .roles = DTM_ROLES_STAFF},
    {.method = "DELETE",
     .path = "/api/visits/:id",
     .handler = visits_delete,
     .roles = DTM_ROLES_STAFF},
    {0},
};

static const dtm_subscription_t subscriptions[] = {
    {.topic = "attendance.punched_in", .path = "/api/visits/events"},
    {.topic = "attendance.punched_out", .path = "/api/visits/events"},
    {0},
};

static dtm_err_t visits_init(void)
{
    visits_job_start();
    return DTM_OK;
}

const dtm_service_t dtm_svc_visits = {
    .name = "visits",
    .prefix = "/api/visits",
    .default_port = 3008,
    .routes = routes,
    .init = visits_init,
    .shutdown = visits_job_stop,
    .outbox = true,
    .subscriptions = subscriptions,
};
