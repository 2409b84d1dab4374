/* SPDX-License-Identifier: MIT */
/* Reports service: today's KPIs and the attendance and todo reports (JSON pages or streamed
 * CSV). It reads only the read-only views other services publish in the `reporting` schema
 * (reporting.stores, reporting.todos, reporting.users, reporting.attendance), never their tables;
 * store.c holds every SQL statement. */
#ifndef DTM_SERVICES_REPORTS_H
#define DTM_SERVICES_REPORTS_H

#include "db/pg.h"
#include "http/http.h"

/* Which optional views exist: reporting.users is published by the users service and may land
 * later than this one (names are left empty until it does). stores, todos and attendance views
 * are required. */
typedef struct {
    bool users;
} reports_views_t;

/* Report filters as SQL text parameters (NULL = no filter). */
typedef struct {
    const char *from, *to; /* ISO-8601: from inclusive, to exclusive */
    const char *store_id, *user_id;
} reports_filter_t;

/** Which of the optional views exist. */
dtm_err_t reports_db_views(dtm_db_t *db, reports_views_t *out);

/** Per-store KPIs for the local day `date` (YYYY-MM-DD, NULL = today in each store's timezone),
 *  one row per active store (or only `store_id`), plus a final row with store_id NULL for todos
 *  that have no store (counted on the UTC day). Columns: store_id, code, name, timezone,
 *  local_date, tasks_due, tasks_overdue, tasks_completed, present, on_break, working_now. */
dtm_err_t reports_db_summary_stores(dtm_db_t *db, const reports_views_t *v, const char *date,
                                    const char *store_id, PGresult **rows);
/** Totals over the same stores: present, on_break, working_now (distinct users), and absent
 *  (active merchandisers without a punch-in that day; NULL without reporting.users). */
dtm_err_t reports_db_summary_people(dtm_db_t *db, const reports_views_t *v, const char *date,
                                    const char *store_id, PGresult **row);

/** One page (JSON reports) or one keyset batch (CSV: after_ts/after_id from the previous
 *  batch's last row columns k_ts/k_id, NULL for the first) of the todo report, in
 *  (created_at, id) order. Pages (total != NULL: *total gets the count) are arena-owned;
 *  batches (total == NULL) are owned by the caller, who PQclears each one so a stream never
 *  holds more than one batch in memory. */
dtm_err_t reports_db_todos(dtm_db_t *db, const reports_views_t *v, const reports_filter_t *f,
                           const char *after_ts, const char *after_id, int limit, long long offset,
                           PGresult **rows, long long *total);
/** Same for the attendance report, in (punch_in_at, id) order. */
dtm_err_t reports_db_attendance(dtm_db_t *db, const reports_views_t *v, const reports_filter_t *f,
                                const char *after_ts, const char *after_id, int limit,
                                long long offset, PGresult **rows, long long *total);

/** Same for the visits report (reporting.visits, published by the visits service), in
 *  (planned_at, id) order: planned_at is the start of the visit's local day. */
dtm_err_t reports_db_visits(dtm_db_t *db, const reports_views_t *v, const reports_filter_t *f,
                            const char *after_ts, const char *after_id, int limit, long long offset,
                            PGresult **rows, long long *total);

/* ---- handlers.c ---- */
void reports_summary(dtm_req_t *req);
void reports_todos(dtm_req_t *req);
void reports_attendance(dtm_req_t *req);
void reports_visits(dtm_req_t *req);

#endif
