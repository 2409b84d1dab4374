/* SPDX-License-Identifier: MIT */
/* Route table of the users service (placeholder until its handlers land). */
#include "services/service.h"

static const dtm_route_t routes[] = {
    {0},
};

const dtm_service_t dtm_svc_users = {
    .name = "users",
    .prefix = "/api/users",
    .default_port = 3002,
    .routes = routes,
};
