/* SPDX-License-Identifier: MIT */
/* Visits service: journey plans (recurring routes materialised 14 days ahead) and one-off visits,
 * whose status follows attendance through the outbox (db/outbox.h): a punch-in at a planned
 * store that local day starts the visit, the punch-out completes it, a punch-in with no plan
 * makes an unplanned visit; job.c marks visits missed once their store's local day is over.
 * handlers.c validates and answers, store.c holds every SQL statement of the `visits` schema. */
#ifndef DTM_SERVICES_VISITS_H
#define DTM_SERVICES_VISITS_H

#include "db/pg.h"
#include "http/http.h"
#include <jansson.h>

#define VISITS_HORIZON_DAYS 14 /* plans materialise today .. today + 13 (store's local days) */
#define VISITS_TOPIC_MISSED "visits.visit_missed"

/* ---- store.c: data access ---- */

/** Writable visit fields as SQL text; NULL = not given (keep on update). */
typedef struct {
    const char *user_id, *store_id, *store_tz;
    const char *planned_date;  /* YYYY-MM-DD */
    const char *planned_start; /* HH:MM; "" = set to null */
    const char *sequence;      /* integer text */
    const char *notes;
    const char *created_by;
} visits_input_t;

typedef struct {
    const char *user_id, *store_id, *from, *to, *status; /* NULL = no filter */
    int page, limit;
} visits_filter_t;

/** *today = the local date now in zone `tz` (arena text). DTM_EINVAL for an unknown zone. */
dtm_err_t visits_db_local_today(dtm_db_t *db, const char *tz, const char **today);
/** Insert a one-off visit (sequence defaults to after the user's others that day);
 *  DTM_ECONFLICT when the user already has a visit at that store that day. */
dtm_err_t visits_db_insert(dtm_db_t *db, const visits_input_t *in, PGresult **row);
/** The visit (full row) locked FOR UPDATE; DTM_ENOTFOUND. */
dtm_err_t visits_db_lock(dtm_db_t *db, const char *id, PGresult **row);
/** Update the given fields (marks the visit edited; a missed visit moved to another day is
 *  planned again); DTM_ECONFLICT on a duplicate day. */
dtm_err_t visits_db_update(dtm_db_t *db, const char *id, const visits_input_t *in, PGresult **row);
/** status = cancelled. */
dtm_err_t visits_db_cancel(dtm_db_t *db, const char *id);
/** One page in (planned_date, sequence, planned_start, id) order and the total. */
dtm_err_t visits_db_list(dtm_db_t *db, const visits_filter_t *f, PGresult **rows, long long *total);
/** The user's visits of today (each in its store's local day), not cancelled, route order. */
dtm_err_t visits_db_today(dtm_db_t *db, const char *user_id, PGresult **rows);

/** Coverage counts over planned_date in [from, to] (dates), optional user/store filter. Rows:
 *  grp ('all' | 'user' | 'store'), user_id, store_id, planned, completed, missed, cancelled,
 *  unplanned, in_progress. */
dtm_err_t visits_db_coverage(dtm_db_t *db, const char *from, const char *to, const char *user_id,
                             const char *store_id, PGresult **rows);

/** Plan fields; arrays as PostgreSQL literals ("{1,2}"). NULL = not given. */
typedef struct {
    const char *user_id, *name, *weekdays, *store_ids, *store_tzs, *valid_from, *valid_to, *active,
        *created_by;
    bool valid_to_null; /* PATCH validTo: null */
} visits_plan_input_t;

dtm_err_t visits_db_plan_insert(dtm_db_t *db, const visits_plan_input_t *in, PGresult **row);
/** Update + lock; DTM_ENOTFOUND. */
dtm_err_t visits_db_plan_update(dtm_db_t *db, const char *id, const visits_plan_input_t *in,
                                PGresult **row);
dtm_err_t visits_db_plan_get(dtm_db_t *db, const char *id, PGresult **row);
/** active = false; DTM_ENOTFOUND. */
dtm_err_t visits_db_plan_deactivate(dtm_db_t *db, const char *id);
dtm_err_t visits_db_plan_list(dtm_db_t *db, const char *user_id, int active, int page, int limit,
                              PGresult **rows, long long *total);
/** Bring plan `id` (or every active plan when NULL) in line with its visits from today on:
 *  future untouched planned visits that no longer fit are deleted, the others re-sequenced,
 *  missing slots of the next VISITS_HORIZON_DAYS inserted (never a duplicate, never over a
 *  manual edit). *created (may be NULL) gets the number inserted. */
dtm_err_t visits_db_materialise(dtm_db_t *db, const char *plan_id, long long *created);

/** Outbox consumer: apply a punch-in (attendance id, user, store, store zone or NULL, time):
 *  planned/missed visit of that local day → in_progress, else a new unplanned visit. No-op
 *  when a visit already has this attendance. */
dtm_err_t visits_db_apply_punch_in(dtm_db_t *db, const char *attendance_id, const char *user_id,
                                   const char *store_id, const char *store_tz,
                                   const char *punch_in_at);
/** in_progress → completed for the visit of this attendance (unplanned ones keep their status
 *  and get completed_at). */
dtm_err_t visits_db_apply_punch_out(dtm_db_t *db, const char *attendance_id,
                                    const char *punch_out_at);
/** The job: under a transaction-level advisory lock (one process at a time; *ran = false when
 *  another holds it), mark planned visits whose local day is over missed (emitting
 *  visits.visit_missed) and materialise every active plan. */
dtm_err_t visits_db_job(dtm_db_t *db, bool *ran, long long *missed, long long *created);

/** API objects (new references). */
json_t *visits_row_json(const PGresult *r, int i);
json_t *visits_plan_json(const PGresult *r, int i);

/* ---- job.c ---- */
void visits_job_start(void);
void visits_job_stop(void);

/* ---- handlers.c ---- */
void visits_create(dtm_req_t *req);
void visits_list(dtm_req_t *req);
void visits_today(dtm_req_t *req);
void visits_update(dtm_req_t *req);
void visits_delete(dtm_req_t *req);
void visits_plan_create(dtm_req_t *req);
void visits_plan_list(dtm_req_t *req);
void visits_plan_update(dtm_req_t *req);
void visits_plan_delete(dtm_req_t *req);
void visits_coverage(dtm_req_t *req);
void visits_event(dtm_req_t *req);

#endif
