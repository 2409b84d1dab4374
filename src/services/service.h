/* SPDX-License-Identifier: MIT */
/* The registry (registry.c) lists every service of this binary (each a dtm_service_t, see
 * http/service.h); targets (cli/target.h) pick which ones a process serves. */
#ifndef DTM_SERVICE_H
#define DTM_SERVICE_H

#include "http/service.h" /* dtm_service_t: a mounted route table */

/** Every service, NULL-terminated, in port order. */
extern const dtm_service_t *const dtm_services[];
const dtm_service_t *dtm_service_find(const char *name);

/** Declare every subscription of every service (publishers must know consumers they do not
 *  serve) and start the outbox relays of the `local` services that publish. 0 or -1. */
int dtm_services_events_start(const dtm_service_t *const *local, int nlocal);
/** Stop the relays (before the pools close). */
void dtm_services_events_stop(void);

/* Each service folder defines one of these in its routes.c. */
extern const dtm_service_t dtm_svc_auth, dtm_svc_users, dtm_svc_todos, dtm_svc_stores,
    dtm_svc_attendance, dtm_svc_reports, dtm_svc_notifications, dtm_svc_visits, dtm_svc_audits,
    dtm_svc_approvals;

#endif
