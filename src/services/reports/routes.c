/* SPDX-License-Identifier: MIT */
/* Route table of the reports service: admins and managers only (403 for merchandisers). */
#include "services/reports/reports.h"
#include "services/service.h"

static const dtm_route_t routes[] = {
    {.method = "GET",
     .path = "/api/reports/summary",
     .handler = reports_summary,
     .roles = DTM_ROLES_STAFF},
    {.method = "GET",
     .path = "/api/reports/todos",
     .handler = reports_todos,
     .roles = DTM_ROLES_STAFF},
    {.method = "GET",
     .path = "/api/reports/attendance",
     .handler = reports_attendance,
     .roles = DTM_ROLES_STAFF},
    {.method = "GET",
     .path = "/api/reports/visits",
     .handler = reports_visits,
     .roles = DTM_ROLES_STAFF},
    {0},
};

const dtm_service_t dtm_svc_reports = {
    .name = "reports",
    .prefix = "/api/reports",
    .default_port = 3006,
    .routes = routes,
};
