/* SPDX-License-Identifier: MIT */
/* Route table of the todos service (placeholder until its handlers land). */
#include "services/service.h"

static const dtm_route_t routes[] = {
    {0},
};

const dtm_service_t dtm_svc_todos = {
    .name = "todos",
    .prefix = "/api/todos",
    .default_port = 3003,
    .routes = routes,
};
