/* SPDX-License-Identifier: MIT */
/* Route table of the reports service (placeholder until its handlers land). */
#include "services/service.h"

static const dtm_route_t routes[] = {
    {0},
};

const dtm_service_t dtm_svc_reports = {
    .name = "reports",
    .prefix = "/api/reports",
    .default_port = 3006,
    .routes = routes,
};
