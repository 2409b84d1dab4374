/* SPDX-License-Identifier: MIT */
#include "services/service.h"
#include <string.h>

/* Adding a service is one line here plus its folder; ports follow DESIGN.md. */
const dtm_service_t *const dtm_services[] = {
    &dtm_svc_auth,
    &dtm_svc_users,
    &dtm_svc_todos,
    &dtm_svc_stores,
    &dtm_svc_attendance,
    &dtm_svc_reports,
    &dtm_svc_notifications,
    &dtm_svc_visits,
    &dtm_svc_audits,
    &dtm_svc_approvals,
    NULL,
};

const dtm_service_t *dtm_service_find(const char *name)
{
    for (int i = 0; dtm_services[i]; i++)
        if (strcmp(dtm_services[i]->name, name) == 0)
            return dtm_services[i];
    return NULL;
}
