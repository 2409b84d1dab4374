/* SPDX-License-Identifier: MIT */
/* Route table of the stores service. Reads are open to every role (merchandisers pick the
 * store they punch in at; attendance and todos call GET /:id as SERVICE); writes are staff only. */
#include "services/service.h"
#include "services/stores/stores.h"

static const dtm_route_t routes[] = {
    {.method = "GET", .path = "/api/stores", .handler = stores_list, .roles = DTM_ROLES_ANY},
    {.method = "POST", .path = "/api/stores", .handler = stores_create, .roles = DTM_ROLES_STAFF},
    {.method = "GET", .path = "/api/stores/:id", .handler = stores_get, .roles = DTM_ROLES_ANY},
    {.method = "PATCH",
     .path = "/api/stores/:id",
     .handler = stores_update,
     .roles = DTM_ROLES_STAFF},
    {.method = "DELETE",
     .path = "/api/stores/:id",
     .handler = stores_delete,
     .roles = DTM_ROLES_STAFF},
    {0},
};

const dtm_service_t dtm_svc_stores = {
    .name = "stores",
    .prefix = "/api/stores",
    .default_port = 3004,
    .routes = routes,
};
