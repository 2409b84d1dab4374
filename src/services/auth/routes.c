/* SPDX-License-Identifier: MIT */
/* Route table of the auth service. */
#include "services/auth/auth.h"
#include "services/service.h"

static const dtm_route_t routes[] = {
    {"POST", "/api/auth/login", auth_login, DTM_PUBLIC, 0, 16 * 1024},
    {"POST", "/api/auth/refresh", auth_refresh, DTM_PUBLIC, 0, 16 * 1024},
    {"POST", "/api/auth/logout", auth_logout, DTM_ROLES_ANY, 0, 16 * 1024},
    {"GET", "/api/auth/me", auth_me, DTM_ROLES_ANY, 0, 0},
    {"POST", "/api/auth/change-password", auth_change_password, DTM_ROLES_ANY, 0, 16 * 1024},
    {"GET", "/api/auth/sessions", auth_sessions_list, DTM_ROLES_ANY, 0, 0},
    {"DELETE", "/api/auth/sessions/:id", auth_session_revoke, DTM_ROLES_ANY, 0, 0},
    {0},
};

const dtm_service_t dtm_svc_auth = {
    .name = "auth",
    .prefix = "/api/auth",
    .default_port = 3001,
    .routes = routes,
    .init = auth_init,
    .shutdown = auth_shutdown,
};
