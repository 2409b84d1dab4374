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
    {"POST", "/api/auth/forgot-password", auth_forgot_password, DTM_PUBLIC, 0, 16 * 1024},
    {"POST", "/api/auth/reset-password", auth_reset_password, DTM_PUBLIC, 0, 16 * 1024},
    {"GET", "/api/auth/sessions", auth_sessions_list, DTM_ROLES_ANY, 0, 0},
    {"DELETE", "/api/auth/sessions/:id", auth_session_revoke, DTM_ROLES_ANY, 0, 0},
    {"GET", "/api/auth/mfa", auth_mfa_status, DTM_ROLES_ANY, 0, 0},
    {"POST", "/api/auth/mfa/totp/setup", auth_mfa_setup, DTM_ROLES_ANY, 0, 16 * 1024},
    {"POST", "/api/auth/mfa/totp/confirm", auth_mfa_confirm, DTM_ROLES_ANY, 0, 16 * 1024},
    {"DELETE", "/api/auth/mfa/totp", auth_mfa_disable, DTM_ROLES_ANY, 0, 16 * 1024},
    {"POST", "/api/auth/mfa/verify", auth_mfa_verify, DTM_PUBLIC, 0, 16 * 1024},
    {"POST", "/api/auth/mfa/enroll", auth_mfa_enroll, DTM_PUBLIC, 0, 16 * 1024},
    {"POST", "/api/auth/mfa/enroll/confirm", auth_mfa_enroll_confirm, DTM_PUBLIC, 0, 16 * 1024},
    {"DELETE", "/api/users/:id/mfa", auth_mfa_admin_reset, DTM_ROLE_ADMIN, 0, 0},
    {"GET", "/api/audit-log", auth_audit_log, DTM_ROLE_ADMIN, 0, 0},
    {0},
};

const dtm_service_t dtm_svc_auth = {
    .name = "auth",
    .prefix = "/api/auth",
    .default_port = 3001,
    .routes = routes,
    .init = auth_init,
    .shutdown = auth_shutdown,
    .outbox = true, /* auth.password_reset_requested, auth.password_changed */
};
