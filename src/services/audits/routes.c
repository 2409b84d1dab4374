/* SPDX-License-Identifier: MIT */
/* Route table, metrics and life cycle of the audits service. Fixed paths come before "/:id" so
 * they win the match. Per-audit rules beyond the role (author, own audits) are checked in
 * handlers.c. */
#include "services/audits/audits.h"
#include "services/common/photo.h"
#include "services/service.h"

audits_metrics_t audits_metrics;

/* A 5 MiB photo plus the form fields and multipart framing. */
#define PHOTO_MAX_BODY (DTM_PHOTO_MAX_BYTES + 256 * 1024)

static const dtm_route_t routes[] = {
    {.method = "GET",
     .path = "/api/audits/templates",
     .handler = audits_templates_list,
     .roles = DTM_ROLES_ANY},
    {.method = "POST",
     .path = "/api/audits/templates",
     .handler = audits_templates_create,
     .roles = DTM_ROLES_STAFF},
    {.method = "GET",
     .path = "/api/audits/templates/:id",
     .handler = audits_templates_get,
     .roles = DTM_ROLES_ANY},
    {.method = "PATCH",
     .path = "/api/audits/templates/:id",
     .handler = audits_templates_update,
     .roles = DTM_ROLES_STAFF},
    {.method = "DELETE",
     .path = "/api/audits/templates/:id",
     .handler = audits_templates_delete,
     .roles = DTM_ROLES_STAFF},
    {.method = "GET",
     .path = "/api/audits/scores",
     .handler = audits_scores,
     .roles = DTM_ROLES_STAFF},
    {.method = "GET",
     .path = "/api/audits/photos/:sha256",
     .handler = audits_photo,
     .roles = DTM_ROLES_ANY},
    {.method = "GET", .path = "/api/audits", .handler = audits_list, .roles = DTM_ROLES_ANY},
    {.method = "POST", .path = "/api/audits", .handler = audits_create, .roles = DTM_ROLES_ANY},
    {.method = "GET", .path = "/api/audits/:id", .handler = audits_get, .roles = DTM_ROLES_ANY},
    {.method = "PATCH",
     .path = "/api/audits/:id",
     .handler = audits_update,
     .roles = DTM_ROLES_ANY},
    {.method = "POST",
     .path = "/api/audits/:id/photos",
     .handler = audits_upload_photo,
     .roles = DTM_ROLES_ANY,
     .flags = DTM_ROUTE_RAW_BODY,
     .max_body = PHOTO_MAX_BODY},
    {.method = "POST",
     .path = "/api/audits/:id/submit",
     .handler = audits_submit,
     .roles = DTM_ROLES_ANY,
     .flags = DTM_ROUTE_RAW_BODY}, /* no body needed */
    {0},
};

static dtm_err_t audits_init(void)
{
    audits_metrics_t *m = &audits_metrics;
    m->templates =
        dtm_counter("dtm_audit_templates_created_total", "Audit templates created", NULL);
    m->started = dtm_counter("dtm_audits_started_total", "Audits started (drafts created)", NULL);
    m->submitted = dtm_counter("dtm_audits_submitted_total", "Audits submitted and scored", NULL);
    m->failed =
        dtm_counter("dtm_audits_failed_total", "Submitted audits below their pass threshold", NULL);
    m->photos = dtm_counter("dtm_audit_photos_stored_total", "Audit answer photos accepted", NULL);
    m->photo_bytes =
        dtm_counter("dtm_audit_photos_stored_bytes_total", "Bytes of audit photos accepted", NULL);
    m->todos = dtm_counter("dtm_audit_corrective_todos_total",
                           "Corrective todos created for failed audit questions", NULL);
    return DTM_OK;
}

const dtm_service_t dtm_svc_audits = {
    .name = "audits",
    .prefix = "/api/audits",
    .default_port = 3009,
    .routes = routes,
    .init = audits_init,
    .outbox = true, /* audit.failed (docs/events.md) */
};
