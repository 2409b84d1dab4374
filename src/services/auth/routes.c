/* SPDX-License-Identifier: MIT */
/* Route table of the auth service (placeholder until its handlers land). */
#include "services/service.h"

static const dtm_route_t routes[] = {
    {0},
};

const dtm_service_t dtm_svc_auth = {
    .name = "auth",
    .prefix = "/api/auth",
    .default_port = 3001,
    .routes = routes,
};
