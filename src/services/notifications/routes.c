/* SPDX-License-Identifier: MIT */
/* Route table and life cycle of the notifications service. Every call is about the caller's
 * own inbox; POST /events takes outbox events (role SERVICE only: never reachable through the
 * gateway). The mail worker runs wherever the service does. */
#include "services/notifications/notifications.h"
#include "services/service.h"

static const dtm_route_t routes[] = {
    {.method = "GET", .path = "/api/notifications", .handler = notif_list, .roles = DTM_ROLES_ANY},
    {.method = "GET",
     .path = "/api/notifications/unread-count",
     .handler = notif_unread_count,
     .roles = DTM_ROLES_ANY},
    {.method = "POST",
     .path = "/api/notifications/read-all",
     .handler = notif_read_all,
     .roles = DTM_ROLES_ANY},
    {.method = "GET",
     .path = "/api/notifications/stream",
     .handler = notif_stream,
     .roles = DTM_ROLES_ANY},
    {.method = "GET",
     .path = "/api/notifications/preferences",
     .handler = notif_prefs_get,
     .roles = DTM_ROLES_ANY},
    {.method = "PUT",
     .path = "/api/notifications/preferences",
     .handler = notif_prefs_put,
     .roles = DTM_ROLES_ANY},
    {.method = "POST",
     .path = "/api/notifications/events",
     .handler = notif_event,
     .roles = DTM_ROLE_SERVICE},
    {.method = "POST",
     .path = "/api/notifications/:id/read",
     .handler = notif_read,
     .roles = DTM_ROLES_ANY},
    {0},
};

static const dtm_subscription_t subscriptions[] = {
    {.topic = "todo.assigned", .path = "/api/notifications/events"},
    {.topic = "approval.requested", .path = "/api/notifications/events"},
    {.topic = "approval.decided", .path = "/api/notifications/events"},
    {.topic = "audit.failed", .path = "/api/notifications/events"},
    {.topic = "visits.visit_missed", .path = "/api/notifications/events"},
    {.topic = "auth.password_changed", .path = "/api/notifications/events"},
    {.topic = "auth.password_reset_requested", .path = "/api/notifications/events"},
    {0},
};

static dtm_err_t notif_init(void)
{
    notif_live_init();
    notif_mail_start();
    return DTM_OK;
}

const dtm_service_t dtm_svc_notifications = {
    .name = "notifications",
    .prefix = "/api/notifications",
    .default_port = 3007,
    .routes = routes,
    .init = notif_init,
    .shutdown = notif_mail_stop,
    .subscriptions = subscriptions,
};
