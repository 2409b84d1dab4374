/* SPDX-License-Identifier: MIT */
/* Route table, metrics and life cycle of the approvals service. Anyone files and reads their
 * own requests; a decision is for the current step's role (checked per request, in the
 * handler); workflows are the admins'. */
#include "services/approvals/approvals.h"
#include "services/service.h"
#include <stdio.h>

approvals_metrics_t approvals_metrics;

static const dtm_route_t routes[] = {
    {.method = "GET", .path = "/api/approvals", .handler = approvals_list, .roles = DTM_ROLES_ANY},
    {.method = "POST",
     .path = "/api/approvals",
     .handler = approvals_create,
     .roles = DTM_ROLES_ANY},
    {.method = "GET",
     .path = "/api/approvals/workflows",
     .handler = approvals_workflow_list,
     .roles = DTM_ROLE_ADMIN},
    {.method = "GET",
     .path = "/api/approvals/workflows/:type",
     .handler = approvals_workflow_get,
     .roles = DTM_ROLE_ADMIN},
    {.method = "PUT",
     .path = "/api/approvals/workflows/:type",
     .handler = approvals_workflow_put,
     .roles = DTM_ROLE_ADMIN},
    {.method = "GET",
     .path = "/api/approvals/:id",
     .handler = approvals_get,
     .roles = DTM_ROLES_ANY},
    {.method = "POST",
     .path = "/api/approvals/:id/approve",
     .handler = approvals_approve,
     .roles = DTM_ROLES_ANY},
    {.method = "POST",
     .path = "/api/approvals/:id/reject",
     .handler = approvals_reject,
     .roles = DTM_ROLES_ANY},
    {.method = "POST",
     .path = "/api/approvals/:id/cancel",
     .handler = approvals_cancel,
     .roles = DTM_ROLES_ANY},
    {0},
};

static dtm_metric_t *decision(const char *d)
{
    char labels[48];
    snprintf(labels, sizeof labels, "decision=\"%s\"", d);
    return dtm_counter("dtm_approvals_decisions_total", "Requests decided, by outcome", labels);
}

static dtm_err_t approvals_init(void)
{
    approvals_metrics_t *m = &approvals_metrics;
    m->requested = dtm_counter("dtm_approvals_requests_total", "Approval requests filed", NULL);
    m->approved = decision("approved");
    m->rejected = decision("rejected");
    m->cancelled = decision("cancelled");
    m->conflicts = dtm_counter("dtm_approvals_decision_conflicts_total",
                               "Decisions that lost the race for their step (409)", NULL);
    return DTM_OK;
}

const dtm_service_t dtm_svc_approvals = {
    .name = "approvals",
    .prefix = "/api/approvals",
    .default_port = 3010,
    .routes = routes,
    .init = approvals_init,
    .outbox = true,
};
