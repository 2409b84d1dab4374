/* SPDX-License-Identifier: MIT */
/* Attendance service: GPS-verified punch-in/out at stores, breaks, history, the manager's team
 * view and live events. handlers.c validates and answers, store.c holds every SQL statement of
 * the `attendance` schema, geo.c and photo.c are dependency-free helpers, events.c fans live
 * events out through Redis pub/sub to the SSE subscribers of every process. */
#ifndef DTM_SERVICES_ATTENDANCE_H
#define DTM_SERVICES_ATTENDANCE_H

#include "core/metrics.h"
#include "db/pg.h"
#include "http/http.h"
#include <jansson.h>
#include <stdbool.h>

#define ATT_SSE_TOPIC      "attendance"
#define ATT_REDIS_CHANNEL  "dtm:attendance"
#define ATT_MAX_ACCURACY_M 200.0
/* Outbox topics (db/outbox.h): payload {attendanceId, userId, storeId, storeTimezone | null,
 * punchInAt, punchOutAt | null} */
#define ATT_TOPIC_PUNCHED_IN   "attendance.punched_in"
#define ATT_TOPIC_PUNCHED_OUT  "attendance.punched_out"
#define ATT_OVERTIME_AFTER_MIN 480 /* net minutes beyond 8 h are overtime */

/* ---- store.c: data access ---- */

/** The columns a punch-in inserts; text parameters (numbers as decimal text). */
typedef struct {
    const char *user_id, *store_id;
    const char *latitude, *longitude, *accuracy_m, *distance_m;
    const char *note;                                    /* NULL when none */
    const char *photo_sha256, *photo_type, *photo_bytes; /* NULL when no photo */
    const char *captured_at; /* ISO-8601 capture time, NULL = now (the server's clock) */
} attendance_punch_in_t;

/** Insert an open record with a new id (written to id[37]). DTM_ECONFLICT when the user already
 *  has an open record (the partial unique index records_one_open_per_user). */
dtm_err_t attendance_db_insert(dtm_db_t *db, const attendance_punch_in_t *in, char id[37]);

/** Inside the caller's transaction: emit outbox event `topic` about record `id` (its payload
 *  read in the same transaction). store_tz may be NULL when unknown. */
dtm_err_t attendance_db_emit(dtm_db_t *db, const char *topic, const char *id, const char *store_tz);

/** The user's record that is not closed, locked FOR UPDATE when `lock` (inside a transaction).
 *  *row has 0 rows when there is none. Columns: id, store_id, status, floor_ms (the latest
 *  instant recorded so far: punch-in or last break boundary, ms since the epoch). */
dtm_err_t attendance_db_open_record(dtm_db_t *db, const char *user_id, bool lock, PGresult **row);

/** Start a break of `type` on record `id` and mark it on_break. captured_at: ISO-8601 time the
 *  break began (an offline capture), NULL = now. */
dtm_err_t attendance_db_break_start(dtm_db_t *db, const char *id, const char *type,
                                    const char *captured_at);
/** End the open break of record `id` (if any) at captured_at (NULL = now), mark it open. */
dtm_err_t attendance_db_break_end(dtm_db_t *db, const char *id, const char *captured_at);

/** Close record `id`: ends an open break, stores the punch-out position (any of the text
 *  parameters may be NULL) and the worked/break/net/overtime minutes, all as of captured_at
 *  (ISO-8601, NULL = now). */
dtm_err_t attendance_db_punch_out(dtm_db_t *db, const char *id, const char *latitude,
                                  const char *longitude, const char *accuracy_m,
                                  const char *distance_m, const char *captured_at);

/** Full API rows (see attendance_row_json) of record `id`; DTM_ENOTFOUND when absent. */
dtm_err_t attendance_db_get(dtm_db_t *db, const char *id, PGresult **row);

typedef struct {
    const char *user_id, *store_id; /* UUIDs or NULL */
    const char *from, *to;          /* ISO-8601 text or NULL; punch_in_at in [from, to) */
    int page, limit;
} attendance_filter_t;

/** One page of full rows, newest punch-in first, and the total count. */
dtm_err_t attendance_db_list(dtm_db_t *db, const attendance_filter_t *f, PGresult **rows,
                             long long *total);

/** Day window of `date` (YYYY-MM-DD, or NULL = today) in time zone `tz`: start/end as ISO
 *  text in the arena, the date itself too. DTM_EINVAL when PostgreSQL rejects the zone. */
dtm_err_t attendance_db_day(dtm_db_t *db, const char *date, const char *tz, const char **day,
                            const char **start, const char **end);

/** For each of `user_ids` (a PostgreSQL uuid[] literal) the record that best describes them in
 *  [start, end): the one still open if any, else the latest punch-in of the day; optionally only
 *  at `store_id`. Full rows. */
dtm_err_t attendance_db_team(dtm_db_t *db, const char *user_ids, const char *start, const char *end,
                             const char *store_id, PGresult **rows);

/** Content type of photo `sha256` if a record references it, and, when `owner` is non-NULL,
 *  only when one of that user's records does. *type NULL when none. */
dtm_err_t attendance_db_photo(dtm_db_t *db, const char *sha256, const char *owner,
                              const char **type);

/** The API object of full row `i` (new reference). */
json_t *attendance_row_json(const PGresult *r, int i);

/* ---- approval effects (effects.c): approval.decided from the approvals service ---- */

#define ATT_TOPIC_APPROVAL_DECIDED "approval.decided"

/** Inside the caller's transaction: mark request `request_id` (of `type`) applied. *fresh =
 *  false when it was applied before (do nothing more): each request's effect happens once,
 *  whatever events carry it. */
dtm_err_t attendance_db_approval_claim(dtm_db_t *db, const char *request_id, const char *type,
                                       bool *fresh);
/** Record which attendance record request `request_id` touched. */
dtm_err_t attendance_db_approval_record(dtm_db_t *db, const char *request_id, const char *att);
/** An approved correction: record `id` of `user_id` gets the punch times in/out (ISO), its open
 *  break ends, its minute totals are recomputed over the new window (breaks clipped to it),
 *  and it is closed. *was_open says whether it was open before. DTM_ENOTFOUND when the user
 *  has no such record. */
dtm_err_t attendance_db_apply_correction(dtm_db_t *db, const char *id, const char *user_id,
                                         const char *in, const char *out, bool *was_open);
/** An approved overtime: approved_overtime_minutes of record `id` of `user_id`; DTM_ENOTFOUND. */
dtm_err_t attendance_db_apply_overtime(dtm_db_t *db, const char *id, const char *user_id,
                                       const char *minutes);
/** An approved geofence exception: a record at the store marked exception, punched in at the
 *  reading's capture time; open when the user has no open record, else closed when that one
 *  began (zero minutes when it began earlier). New id in id[37], *open its state.
 *  DTM_ECONFLICT when a punch-in raced it (retry). */
dtm_err_t attendance_db_apply_exception(dtm_db_t *db, const attendance_punch_in_t *in,
                                        const char *request_id, char id[37], bool *open);

/* ---- events.c: live updates ---- */

/** Subscribe to ATT_REDIS_CHANNEL (re-published to local SSE clients). */
void attendance_events_init(void);
/** Publish event `type` ("punch_in", "punch_out", "break_start", "break_end") carrying
 *  `attendance` (borrowed) through Redis; locally when Redis cannot deliver it. */
void attendance_events_publish(dtm_arena_t *a, const char *type, json_t *attendance);

/* ---- routes.c: business metrics ---- */
typedef struct {
    dtm_metric_t *punch_ins, *photos, *photo_bytes;
    dtm_metric_t *rej_invalid, *rej_store, *rej_accuracy, *rej_geofence, *rej_conflict, *rej_media,
        *rej_too_large;
} attendance_metrics_t;
extern attendance_metrics_t attendance_metrics;

/* ---- handlers.c ---- */

typedef struct {
    double lat, lon;
    long radius_m;
    const char *timezone;
    bool active;
} attendance_store_t;

/** GET /api/stores/:id. false with the response set when `respond` (404 for an unknown store,
 *  or an inactive one when need_active; 502/503 when the stores service fails). */
bool attendance_fetch_store(dtm_req_t *req, const char *id, bool need_active, bool respond,
                            attendance_store_t *s);
void attendance_get(dtm_req_t *req);
void attendance_approval_event(dtm_req_t *req);
void attendance_punch_in(dtm_req_t *req);
void attendance_punch_out(dtm_req_t *req);
void attendance_break_start(dtm_req_t *req);
void attendance_break_end(dtm_req_t *req);
void attendance_current(dtm_req_t *req);
void attendance_list(dtm_req_t *req);
void attendance_team(dtm_req_t *req);
void attendance_photo(dtm_req_t *req);
void attendance_events(dtm_req_t *req);

#endif
