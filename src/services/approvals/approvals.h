/* SPDX-License-Identifier: MIT */
/* Approvals service: requests (leave, attendance correction, overtime, geofence exception) that
 * go through their type's workflow of ordered role steps. A request copies the workflow's steps
 * when it is created; each decision is one conditional UPDATE of the step it decides, so of two
 * concurrent decisions of a step exactly one wins. Decisions publish approval.requested (to
 * whoever may decide the next step) and approval.decided (the attendance service applies the
 * effect of an approved correction, overtime or geofence exception) through the outbox
 * (db/outbox.h), in the decision's own transaction. handlers.c validates and answers, store.c
 * holds every SQL statement of the `approvals` schema. */
#ifndef DTM_SERVICES_APPROVALS_H
#define DTM_SERVICES_APPROVALS_H

#include "core/metrics.h"
#include "db/pg.h"
#include "http/http.h"
#include <jansson.h>
#include <stdbool.h>

#define APPROVALS_MAX_STEPS 5
/* Outbox topics. approval.requested {requestId, type, requesterId, requesterName,
 * deciderUserIds, step, role}; approval.decided {requestId, type, requesterId, decision
 * ("approved" | "rejected"), decidedBy, comment, decidedAt, payload}. */
#define APPROVALS_TOPIC_REQUESTED "approval.requested"
#define APPROVALS_TOPIC_DECIDED   "approval.decided"

/* ---- store.c: data access ---- */

/** Workflow of `type`: columns type, version, roles (JSON array text), updated_at. DTM_ENOTFOUND
 *  for an unknown type. */
dtm_err_t approvals_db_workflow_get(dtm_db_t *db, const char *type, PGresult **row);
/** Every workflow, by type. */
dtm_err_t approvals_db_workflow_list(dtm_db_t *db, PGresult **rows);
/** Replace the steps of `type` (roles as a PostgreSQL text[] literal) and bump its version. */
dtm_err_t approvals_db_workflow_put(dtm_db_t *db, const char *type, const char *roles,
                                    const char *by, PGresult **row);

typedef struct {
    const char *type, *requester_id, *requester_name;
    const char *payload; /* JSON text */
    const char *reason;
    const char *roles;   /* the workflow's steps, text[] literal */
    const char *version; /* the workflow's version */
} approvals_input_t;

/** Insert a pending request with its steps (the first one pending); its new id in id[37]. */
dtm_err_t approvals_db_insert(dtm_db_t *db, const approvals_input_t *in, char id[37]);
/** The full row of request `id` (see approvals_row_json); DTM_ENOTFOUND. */
dtm_err_t approvals_db_get(dtm_db_t *db, const char *id, PGresult **row);

typedef struct {
    const char *requester_id;  /* scope=mine */
    const char *inbox_role;    /* scope=inbox: pending, waiting for this role, */
    const char *not_requester; /*   not the caller's own */
    const char *status, *type;
    int page, limit;
} approvals_filter_t;

/** One page, newest first, and the total. */
dtm_err_t approvals_db_list(dtm_db_t *db, const approvals_filter_t *f, PGresult **rows,
                            long long *total);

/** Decide step `step` (decimal text) of request `id`: decision "approved" or "rejected", by
 *  `actor` with `comment` (may be NULL). The conditional UPDATE matches only while that step is
 *  still the pending one: DTM_ECONFLICT when another decision (or a cancel) came first. On
 *  success *final says whether the request is now decided (rejected, or its last step
 *  approved). Inside the caller's transaction. */
dtm_err_t approvals_db_decide(dtm_db_t *db, const char *id, const char *step, const char *decision,
                              const char *actor, const char *comment, bool *final);
/** pending -> cancelled when `requester` made it; DTM_ECONFLICT when not pending any more.
 *  Inside the caller's transaction. */
dtm_err_t approvals_db_cancel(dtm_db_t *db, const char *id, const char *requester);

/** API objects (new references). */
json_t *approvals_row_json(const PGresult *r, int i);
json_t *approvals_workflow_json(const PGresult *r, int i);

/* ---- routes.c: business metrics ---- */
typedef struct {
    dtm_metric_t *requested, *approved, *rejected, *cancelled, *conflicts;
} approvals_metrics_t;
extern approvals_metrics_t approvals_metrics;

/* ---- handlers.c ---- */
void approvals_create(dtm_req_t *req);
void approvals_list(dtm_req_t *req);
void approvals_get(dtm_req_t *req);
void approvals_approve(dtm_req_t *req);
void approvals_reject(dtm_req_t *req);
void approvals_cancel(dtm_req_t *req);
void approvals_workflow_list(dtm_req_t *req);
void approvals_workflow_get(dtm_req_t *req);
void approvals_workflow_put(dtm_req_t *req);

#endif
