/* SPDX-License-Identifier: MIT */
/* Route table of the attendance service (placeholder until its handlers land). */
#include "services/service.h"

static const dtm_route_t routes[] = {
    {0},
};

const dtm_service_t dtm_svc_attendance = {
    .name = "attendance",
    .prefix = "/api/attendance",
    .default_port = 3005,
    .routes = routes,
};
