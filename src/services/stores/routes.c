/* SPDX-License-Identifier: MIT */
/* Route table of the stores service (placeholder until its handlers land). */
#include "services/service.h"

static const dtm_route_t routes[] = {
    {0},
};

const dtm_service_t dtm_svc_stores = {
    .name = "stores",
    .prefix = "/api/stores",
    .default_port = 3004,
    .routes = routes,
};
