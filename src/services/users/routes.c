/* SPDX-License-Identifier: MIT */
/* Route table of the users service. Routes allowed for DTM_ROLE_SERVICE only are internal:
 * the auth service reaches them through dtm_call; outside callers never hold that role. */
#include "services/service.h"
#include "services/users/users.h"

static const dtm_route_t routes[] = {
    {"GET", "/api/users", users_list, DTM_ROLES_STAFF, 0, 0},
    {"POST", "/api/users", users_create, DTM_ROLE_ADMIN, 0, 0},
    {"GET", "/api/users/:id", users_get, DTM_ROLES_ANY, 0, 0},
    {"PATCH", "/api/users/:id", users_patch, DTM_ROLES_ANY, 0, 0},
    {"DELETE", "/api/users/:id", users_delete, DTM_ROLE_ADMIN, 0, 0},
    {"POST", "/api/users/internal/verify-credentials", users_verify_credentials, DTM_ROLE_SERVICE,
     0, 0},
    {"POST", "/api/users/internal/:id/password", users_change_password, DTM_ROLE_SERVICE, 0, 0},
    {"POST", "/api/users/internal/:id/password-reset", users_reset_password, DTM_ROLE_SERVICE, 0,
     0},
    {"POST", "/api/users/internal/lookup", users_lookup, DTM_ROLE_SERVICE, 0, 0},
    {0},
};

const dtm_service_t dtm_svc_users = {
    .name = "users",
    .prefix = "/api/users",
    .default_port = 3002,
    .routes = routes,
    .init = users_init,
};
