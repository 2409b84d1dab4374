/* SPDX-License-Identifier: MIT */
/* Route table, metrics and life cycle of the attendance service. Punching and breaks are for
 * every role (managers visit stores too); the team view and the live stream are staff only. */
#include "services/attendance/attendance.h"
#include "services/common/photo.h"
#include "services/service.h"
#include <stdio.h>

attendance_metrics_t attendance_metrics;

/* A 5 MiB photo plus the form fields and multipart framing. */
#define PUNCH_IN_MAX_BODY (DTM_PHOTO_MAX_BYTES + 256 * 1024)

static const dtm_route_t routes[] = {
    {.method = "POST",
     .path = "/api/attendance/punch-in",
     .handler = attendance_punch_in,
     .roles = DTM_ROLES_ANY,
     .flags = DTM_ROUTE_RAW_BODY,
     .max_body = PUNCH_IN_MAX_BODY},
    {.method = "POST",
     .path = "/api/attendance/punch-out",
     .handler = attendance_punch_out,
     .roles = DTM_ROLES_ANY},
    {.method = "POST",
     .path = "/api/attendance/breaks/start",
     .handler = attendance_break_start,
     .roles = DTM_ROLES_ANY},
    {.method = "POST",
     .path = "/api/attendance/breaks/end",
     .handler = attendance_break_end,
     .roles = DTM_ROLES_ANY},
    {.method = "GET",
     .path = "/api/attendance/current",
     .handler = attendance_current,
     .roles = DTM_ROLES_ANY},
    {.method = "GET",
     .path = "/api/attendance",
     .handler = attendance_list,
     .roles = DTM_ROLES_ANY},
    {.method = "GET",
     .path = "/api/attendance/team",
     .handler = attendance_team,
     .roles = DTM_ROLES_STAFF},
    {.method = "GET",
     .path = "/api/attendance/photos/:sha256",
     .handler = attendance_photo,
     .roles = DTM_ROLES_ANY},
    {.method = "GET",
     .path = "/api/attendance/events",
     .handler = attendance_events,
     .roles = DTM_ROLES_STAFF},
    {.method = "GET",
     .path = "/api/attendance/:id",
     .handler = attendance_get,
     .roles = DTM_ROLES_ANY},
    {.method = "POST",
     .path = "/api/attendance/approval-events",
     .handler = attendance_approval_event,
     .roles = DTM_ROLE_SERVICE},
    {0},
};

/* The approvals service's decisions (effects.c). */
static const dtm_subscription_t subscriptions[] = {
    {.topic = ATT_TOPIC_APPROVAL_DECIDED, .path = "/api/attendance/approval-events"},
    {0},
};

static double sse_clients(void *ud)
{
    (void)ud;
    return (double)dtm_sse_clients();
}

static dtm_metric_t *rejection(const char *reason)
{
    char labels[64];
    snprintf(labels, sizeof labels, "reason=\"%s\"", reason);
    return dtm_counter("dtm_punch_in_rejections_total", "Punch-ins refused, by reason", labels);
}

static dtm_err_t attendance_init(void)
{
    attendance_metrics_t *m = &attendance_metrics;
    m->punch_ins = dtm_counter("dtm_punch_ins_total", "Successful punch-ins", NULL);
    m->photos = dtm_counter("dtm_photos_stored_total", "Punch-in photos accepted", NULL);
    m->photo_bytes =
        dtm_counter("dtm_photos_stored_bytes_total", "Bytes of punch-in photos accepted", NULL);
    m->rej_invalid = rejection("invalid_body");
    m->rej_store = rejection("store_not_found");
    m->rej_accuracy = rejection("inaccurate_location");
    m->rej_geofence = rejection("outside_geofence");
    m->rej_conflict = rejection("already_punched_in");
    m->rej_media = rejection("unsupported_media_type");
    m->rej_too_large = rejection("payload_too_large");
    dtm_gauge_fn("dtm_sse_clients", "Server-Sent Events clients connected to this process", NULL,
                 sse_clients, NULL);
    attendance_events_init();
    return DTM_OK;
}

const dtm_service_t dtm_svc_attendance = {
    .name = "attendance",
    .prefix = "/api/attendance",
    .default_port = 3005,
    .routes = routes,
    .init = attendance_init,
    .outbox = true,
    .subscriptions = subscriptions,
};
