/* SPDX-License-Identifier: MIT */
/* Every SQL statement of the attendance service. Only parameters ($n) carry caller input; the
 * variable parts of the list query are chosen from fixed fragments. */
#include "core/ids.h"
#include "core/json.h"
#include "core/str.h"
#include "db/outbox.h"
#include "services/attendance/attendance.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ISO(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* The API object's columns, from attendance.records_live aliased r. Breaks come along as one
 * JSON array so a page of records is one round trip. */
/* clang-format off */
#define BREAK_JSON                                                                              \
    "json_build_object('id', b.id, 'type', b.type,"                                             \
    " 'startedAt', " ISO("b.started_at") ", 'endedAt', " ISO("b.ended_at") ","                  \
    " 'startedReceivedAt', " ISO("b.started_received_at") ","                                    \
    " 'endedReceivedAt', " ISO("b.ended_received_at") ")"
#define FULL_COLS                                                                               \
    "r.id, r.user_id, r.store_id, r.status,"                                                    \
    " " ISO("r.punch_in_at") " AS punch_in_at, " ISO("r.punch_out_at") " AS punch_out_at,"      \
    " " ISO("r.punch_in_received_at") " AS punch_in_received_at,"                               \
    " " ISO("r.punch_out_received_at") " AS punch_out_received_at,"                             \
    " r.punch_in_latitude, r.punch_in_longitude, r.punch_in_accuracy_m, r.punch_in_distance_m," \
    " r.punch_out_latitude, r.punch_out_longitude, r.punch_out_accuracy_m,"                     \
    " r.punch_out_distance_m, r.note, r.photo_sha256, r.exception, r.exception_request_id,"     \
    " r.approved_overtime_minutes,"                                                             \
    " r.live_worked_minutes AS worked_minutes, r.live_break_minutes AS break_minutes,"          \
    " r.live_net_minutes AS net_minutes, r.live_overtime_minutes AS overtime_minutes,"          \
    " " ISO("r.created_at") " AS created_at, " ISO("r.updated_at") " AS updated_at,"            \
    " (SELECT coalesce(json_agg(" BREAK_JSON " ORDER BY b.started_at), '[]')"                   \
    "  FROM attendance.breaks b WHERE b.attendance_id = r.id) AS breaks"
/* clang-format on */

dtm_err_t attendance_db_insert(dtm_db_t *db, const attendance_punch_in_t *in, char id[37])
{
    dtm_uuid_v4(id);
    const char *p[] = {id,
                       in->user_id,
                       in->store_id,
                       in->latitude,
                       in->longitude,
                       in->accuracy_m,
                       in->distance_m,
                       in->note,
                       in->photo_sha256,
                       in->photo_type,
                       in->photo_bytes,
                       in->captured_at};
    return dtm_db_query(db, NULL,
                        "INSERT INTO attendance.records (id, user_id, store_id, punch_in_latitude,"
                        " punch_in_longitude, punch_in_accuracy_m, punch_in_distance_m, note,"
                        " photo_sha256, photo_type, photo_bytes, punch_in_at)"
                        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
                        " coalesce($12::timestamptz, now()))",
                        12, p);
}

dtm_err_t attendance_db_emit(dtm_db_t *db, const char *topic, const char *id, const char *store_tz)
{
    const char *p[] = {id, store_tz};
    PGresult *r;
    dtm_err_t err = dtm_db_query(
        db, &r,
        "SELECT json_build_object('attendanceId', id, 'userId', user_id, 'storeId', store_id,"
        " 'storeTimezone', $2::text, 'punchInAt', " ISO("punch_in_at") ", 'punchOutAt', " ISO(
            "punch_out_at") ")::text AS payload FROM attendance.records WHERE id = $1",
        2, p);
    if (err)
        return err;
    if (PQntuples(r) != 1)
        return DTM_ENOTFOUND;
    json_t *payload = json_loads(dtm_pg_get(r, 0, "payload"), 0, NULL);
    if (!payload)
        return DTM_EINTERNAL;
    err = dtm_outbox_emit(db, "attendance", topic, payload, NULL);
    json_decref(payload);
    return err;
}

dtm_err_t attendance_db_open_record(dtm_db_t *db, const char *user_id, bool lock, PGresult **row)
{
    const char *p[] = {user_id};
    /* Matches the partial unique index's predicate, so the lookup uses it. floor_ms: the latest
     * instant of the record so far (its punch-in or its last break boundary), which a capture
     * closing or extending it must not precede. */
#define OPEN_RECORD_SQL                                                                            \
    "SELECT r.id, r.store_id, r.status,"                                                           \
    " (extract(epoch FROM greatest(r.punch_in_at, (SELECT max(coalesce(b.ended_at, b.started_at))" \
    "   FROM attendance.breaks b WHERE b.attendance_id = r.id))) * 1000)::bigint AS floor_ms"      \
    " FROM attendance.records r WHERE r.user_id = $1 AND r.status <> 'closed'"
    return dtm_db_query(db, row, lock ? OPEN_RECORD_SQL " FOR UPDATE OF r" : OPEN_RECORD_SQL, 1, p);
#undef OPEN_RECORD_SQL
}

dtm_err_t attendance_db_break_start(dtm_db_t *db, const char *id, const char *type,
                                    const char *captured_at)
{
    char bid[DTM_UUID_LEN + 1];
    dtm_uuid_v4(bid);
    const char *p[] = {bid, id, type, captured_at};
    dtm_err_t err =
        dtm_db_query(db, NULL,
                     "INSERT INTO attendance.breaks (id, attendance_id, type, started_at)"
                     " VALUES ($1, $2, $3, coalesce($4::timestamptz, now()))",
                     4, p);
    if (err != DTM_OK)
        return err;
    return dtm_db_query(db, NULL,
                        "UPDATE attendance.records SET status = 'on_break', updated_at = now()"
                        " WHERE id = $1",
                        1, p + 1);
}

dtm_err_t attendance_db_break_end(dtm_db_t *db, const char *id, const char *captured_at)
{
    const char *p[] = {id, captured_at};
    dtm_err_t err = dtm_db_query(db, NULL,
                                 "UPDATE attendance.breaks SET ended_at = greatest(started_at,"
                                 " coalesce($2::timestamptz, now())), ended_received_at = now()"
                                 " WHERE attendance_id = $1 AND ended_at IS NULL",
                                 2, p);
    if (err != DTM_OK)
        return err;
    return dtm_db_query(db, NULL,
                        "UPDATE attendance.records SET status = 'open', updated_at = now()"
                        " WHERE id = $1",
                        1, p);
}

dtm_err_t attendance_db_punch_out(dtm_db_t *db, const char *id, const char *latitude,
                                  const char *longitude, const char *accuracy_m,
                                  const char *distance_m, const char *captured_at)
{
    const char *p[] = {id, latitude, longitude, accuracy_m, distance_m, captured_at};
    const char *bp[] = {id, captured_at};
    dtm_err_t err = dtm_db_query(db, NULL,
                                 "UPDATE attendance.breaks SET ended_at = greatest(started_at,"
                                 " coalesce($2::timestamptz, now())), ended_received_at = now()"
                                 " WHERE attendance_id = $1 AND ended_at IS NULL",
                                 2, bp);
    if (err != DTM_OK)
        return err;
    /* Whole minutes, each total floored on its own; the same rule as attendance.records_live
     * uses for open visits, so the numbers do not jump at punch-out. */
    return dtm_db_query(
        db, NULL,
        "WITH t AS ("
        "  SELECT greatest(floor(extract(epoch FROM coalesce($6::timestamptz, now())"
        "                                           - r.punch_in_at) / 60), 0)::integer"
        "         AS worked,"
        "         (SELECT floor(coalesce(sum(extract(epoch FROM b.ended_at - b.started_at)), 0)"
        "                 / 60)::integer FROM attendance.breaks b WHERE b.attendance_id = r.id)"
        "         AS brk"
        "  FROM attendance.records r WHERE r.id = $1)"
        " UPDATE attendance.records SET status = 'closed',"
        " punch_out_at = greatest(punch_in_at, coalesce($6::timestamptz, now())),"
        " punch_out_received_at = now(),"
        " punch_out_latitude = $2::float8, punch_out_longitude = $3::float8,"
        " punch_out_accuracy_m = $4::integer, punch_out_distance_m = $5::integer,"
        " worked_minutes = t.worked, break_minutes = t.brk,"
        " net_minutes = greatest(t.worked - t.brk, 0),"
        " overtime_minutes = greatest(t.worked - t.brk - 480, 0), updated_at = now()"
        " FROM t WHERE id = $1",
        6, p);
}

dtm_err_t attendance_db_approval_claim(dtm_db_t *db, const char *request_id, const char *type,
                                       bool *fresh)
{
    const char *p[] = {request_id, type};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "INSERT INTO attendance.applied_approvals (request_id, type)"
                                 " VALUES ($1, $2) ON CONFLICT (request_id) DO NOTHING"
                                 " RETURNING request_id",
                                 2, p);
    if (err == DTM_OK)
        *fresh = PQntuples(r) == 1;
    return err;
}

dtm_err_t attendance_db_approval_record(dtm_db_t *db, const char *request_id, const char *att)
{
    const char *p[] = {request_id, att};
    return dtm_db_query(db, NULL,
                        "UPDATE attendance.applied_approvals SET attendance_id = $2"
                        " WHERE request_id = $1",
                        2, p);
}

dtm_err_t attendance_db_apply_correction(dtm_db_t *db, const char *id, const char *user_id,
                                         const char *in, const char *out, bool *was_open)
{
    const char *p[] = {id, user_id, in, out};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "SELECT status FROM attendance.records"
                                 " WHERE id = $1 AND user_id = $2 FOR UPDATE",
                                 2, p);
    if (err)
        return err;
    if (PQntuples(r) != 1)
        return DTM_ENOTFOUND;
    *was_open = strcmp(dtm_pg_get(r, 0, "status"), "closed") != 0;
    const char *bp[] = {id, out};
    err = dtm_db_query(
        db, NULL,
        "UPDATE attendance.breaks SET ended_at = greatest(started_at, $2::timestamptz),"
        " ended_received_at = now() WHERE attendance_id = $1 AND ended_at IS NULL",
        2, bp);
    if (err)
        return err;
    /* Minutes as at punch-out: whole minutes, breaks counted only inside the new window. */
    return dtm_db_query(
        db, NULL,
        "WITH t AS (SELECT greatest(floor(extract(epoch FROM $4::timestamptz - $3::timestamptz)"
        "   / 60), 0)::integer AS worked,"
        "  (SELECT floor(coalesce(sum(greatest(extract(epoch FROM least(b.ended_at, "
        "$4::timestamptz)"
        "     - greatest(b.started_at, $3::timestamptz)), 0)), 0) / 60)::integer"
        "   FROM attendance.breaks b WHERE b.attendance_id = $1) AS brk)"
        " UPDATE attendance.records SET status = 'closed', punch_in_at = $3::timestamptz,"
        " punch_out_at = $4::timestamptz, punch_out_received_at = coalesce(punch_out_received_at,"
        " now()), worked_minutes = t.worked, break_minutes = least(t.brk, t.worked),"
        " net_minutes = greatest(t.worked - t.brk, 0),"
        " overtime_minutes = greatest(t.worked - t.brk - 480, 0), updated_at = now()"
        " FROM t WHERE id = $1 AND user_id = $2",
        4, p);
}

dtm_err_t attendance_db_apply_overtime(dtm_db_t *db, const char *id, const char *user_id,
                                       const char *minutes)
{
    const char *p[] = {id, user_id, minutes};
    PGresult *r;
    dtm_err_t err =
        dtm_db_query(db, &r,
                     "UPDATE attendance.records SET approved_overtime_minutes = $3::int,"
                     " updated_at = now() WHERE id = $1 AND user_id = $2 RETURNING id",
                     3, p);
    if (err)
        return err;
    return PQntuples(r) == 1 ? DTM_OK : DTM_ENOTFOUND;
}

dtm_err_t attendance_db_apply_exception(dtm_db_t *db, const attendance_punch_in_t *in,
                                        const char *request_id, char id[37], bool *open)
{
    dtm_uuid_v4(id);
    const char *p[] = {id,
                       in->user_id,
                       in->store_id,
                       in->latitude,
                       in->longitude,
                       in->accuracy_m,
                       in->distance_m,
                       in->captured_at,
                       request_id,
                       in->note};
    PGresult *r;
    /* Open unless the user is punched in meanwhile; then it ended when that visit began. */
    dtm_err_t err = dtm_db_query(
        db, &r,
        "WITH o AS (SELECT CASE WHEN count(*) > 0"
        "   THEN greatest($8::timestamptz, min(punch_in_at)) END AS t_out"
        "   FROM attendance.records WHERE user_id = $2 AND status <> 'closed'),"
        " m AS (SELECT t_out, floor(extract(epoch FROM t_out - $8::timestamptz) / 60)::integer AS w"
        "   FROM o)"
        " INSERT INTO attendance.records (id, user_id, store_id, status, punch_in_at,"
        " punch_in_latitude, punch_in_longitude, punch_in_accuracy_m, punch_in_distance_m, note,"
        " exception, exception_request_id, punch_out_at, punch_out_received_at, worked_minutes,"
        " break_minutes, net_minutes, overtime_minutes)"
        " SELECT $1, $2, $3, CASE WHEN m.t_out IS NULL THEN 'open' ELSE 'closed' END,"
        " $8::timestamptz, $4, $5, $6, $7, $10, true, $9, m.t_out,"
        " CASE WHEN m.t_out IS NULL THEN NULL ELSE now() END, m.w,"
        " CASE WHEN m.t_out IS NULL THEN NULL ELSE 0 END, m.w,"
        " CASE WHEN m.t_out IS NULL THEN NULL ELSE greatest(m.w - 480, 0) END FROM m"
        " RETURNING status",
        10, p);
    if (err)
        return err;
    *open = PQntuples(r) == 1 && strcmp(dtm_pg_get(r, 0, "status"), "open") == 0;
    return DTM_OK;
}

dtm_err_t attendance_db_get(dtm_db_t *db, const char *id, PGresult **row)
{
    const char *p[] = {id};
    dtm_err_t err = dtm_db_query(
        db, row, "SELECT " FULL_COLS " FROM attendance.records_live r WHERE r.id = $1", 1, p);
    if (err == DTM_OK && PQntuples(*row) == 0)
        return DTM_ENOTFOUND;
    return err;
}

dtm_err_t attendance_db_list(dtm_db_t *db, const attendance_filter_t *f, PGresult **rows,
                             long long *total)
{
    /* WHERE built from fixed fragments with numbered parameters: each of the 16 shapes is its
     * own prepared statement and gets a plan using the matching index (user, store or time). */
    char where[256] = "";
    const char *p[6];
    int n = 0;
    struct {
        const char *value, *lhs, *cast;
    } conds[] = {
        {f->user_id, "r.user_id = ", ""},
        {f->store_id, "r.store_id = ", ""},
        {f->from, "r.punch_in_at >= ", "::timestamptz"},
        {f->to, "r.punch_in_at < ", "::timestamptz"},
    };
    for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++) {
        if (!conds[i].value)
            continue;
        size_t len = strlen(where);
        snprintf(where + len, sizeof where - len, "%s%s$%d%s", n ? " AND " : " WHERE ",
                 conds[i].lhs, n + 1, conds[i].cast);
        p[n++] = conds[i].value;
    }

    char sql[4096];
    PGresult *c;
    snprintf(sql, sizeof sql, "SELECT count(*) AS n FROM attendance.records r%s", where);
    dtm_err_t err = dtm_db_query(db, &c, sql, n, p);
    if (err != DTM_OK)
        return err;
    *total = dtm_pg_int(c, 0, "n", 0);

    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%d", f->limit);
    snprintf(off, sizeof off, "%lld", (long long)(f->page - 1) * f->limit);
    p[n] = lim;
    p[n + 1] = off;
    snprintf(sql, sizeof sql,
             "SELECT " FULL_COLS " FROM attendance.records_live r%s"
             " ORDER BY r.punch_in_at DESC, r.id DESC LIMIT $%d OFFSET $%d",
             where, n + 1, n + 2);
    return dtm_db_query(db, rows, sql, n + 2, p);
}

dtm_err_t attendance_db_day(dtm_db_t *db, const char *date, const char *tz, const char **day,
                            const char **start, const char **end)
{
    const char *p[] = {date, tz};
    PGresult *r;
    /* Local midnight to local midnight: 23 or 25 hours on DST change days. */
    dtm_err_t err = dtm_db_query(
        db, &r,
        "WITH d AS (SELECT coalesce($1::date, (now() AT TIME ZONE $2)::date) AS day)"
        " SELECT to_char(day, 'YYYY-MM-DD') AS day,"
        " " ISO("(day::timestamp AT TIME ZONE $2)") " AS start,"
                                                    " " ISO("((day + 1)::timestamp AT TIME ZONE "
                                                            "$2)") " AS end FROM d",
        2, p);
    if (err != DTM_OK)
        return err;
    *day = dtm_pg_get(r, 0, "day");
    *start = dtm_pg_get(r, 0, "start");
    *end = dtm_pg_get(r, 0, "end");
    return *day && *start && *end ? DTM_OK : DTM_EINTERNAL;
}

dtm_err_t attendance_db_team(dtm_db_t *db, const char *user_ids, const char *start, const char *end,
                             const char *store_id, PGresult **rows)
{
    const char *p[] = {user_ids, start, end, store_id};
    /* A visit counts for the day when it began that day, or is still open now and began before
     * the day ended (someone who punched in before midnight and is still working). The open
     * one wins, then the latest. Both arms are index scans (time index, partial open index). */
    return dtm_db_query(
        db, rows,
        "SELECT DISTINCT ON (r.user_id) " FULL_COLS " FROM attendance.records_live r"
        " WHERE r.user_id = ANY($1::uuid[])"
        " AND ($4::uuid IS NULL OR r.store_id = $4::uuid)"
        " AND ((r.punch_in_at >= $2::timestamptz AND r.punch_in_at < $3::timestamptz)"
        "   OR (r.status <> 'closed' AND r.punch_in_at < $3::timestamptz"
        "       AND $2::timestamptz <= now()))"
        " ORDER BY r.user_id, (r.status <> 'closed') DESC, r.punch_in_at DESC",
        4, p);
}

dtm_err_t attendance_db_photo(dtm_db_t *db, const char *sha256, const char *owner,
                              const char **type)
{
    const char *p[] = {sha256, owner};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 owner ? "SELECT photo_type FROM attendance.records"
                                         " WHERE photo_sha256 = $1 AND user_id = $2 LIMIT 1"
                                       : "SELECT photo_type FROM attendance.records"
                                         " WHERE photo_sha256 = $1 LIMIT 1",
                                 owner ? 2 : 1, p);
    if (err != DTM_OK)
        return err;
    *type = PQntuples(r) ? dtm_pg_get(r, 0, "photo_type") : NULL;
    return DTM_OK;
}

/* Numbers straight from their text form: jansson keeps integers exact. */
static json_t *num_or_null(const PGresult *r, int i, const char *col)
{
    const char *v = dtm_pg_get(r, i, col);
    return v ? json_real(strtod(v, NULL)) : json_null();
}

static json_t *int_or_null(const PGresult *r, int i, const char *col)
{
    const char *v = dtm_pg_get(r, i, col);
    return v ? json_integer(strtoll(v, NULL, 10)) : json_null();
}

/* A punch's position and its two times: capturedAt (when the person punched, the record's
 * punchInAt/punchOutAt) and receivedAt (when the server got it; later for offline captures). */
static json_t *position(const PGresult *r, int i, const char *prefix)
{
    char lat[48], lon[48], acc[48], dist[48], at[48], recv[48];
    snprintf(lat, sizeof lat, "%s_latitude", prefix);
    snprintf(lon, sizeof lon, "%s_longitude", prefix);
    snprintf(acc, sizeof acc, "%s_accuracy_m", prefix);
    snprintf(dist, sizeof dist, "%s_distance_m", prefix);
    snprintf(at, sizeof at, "%s_at", prefix);
    snprintf(recv, sizeof recv, "%s_received_at", prefix);
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "latitude", num_or_null(r, i, lat),
                     "longitude", num_or_null(r, i, lon), "accuracyM", int_or_null(r, i, acc),
                     "distanceM", int_or_null(r, i, dist), "capturedAt",
                     dtm_json_str_or_null(dtm_pg_get(r, i, at)), "receivedAt",
                     dtm_json_str_or_null(dtm_pg_get(r, i, recv)));
}

json_t *attendance_row_json(const PGresult *r, int i)
{
    const char *sha = dtm_pg_get(r, i, "photo_sha256");
    const char *out_at = dtm_pg_get(r, i, "punch_out_at");
    const char *breaks_text = dtm_pg_get(r, i, "breaks");
    json_t *breaks = breaks_text ? json_loads(breaks_text, 0, NULL) : NULL;
    if (!breaks)
        breaks = json_array();
    char url[128];
    if (sha)
        snprintf(url, sizeof url, "/api/attendance/photos/%s", sha);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:s}",
        "id", dtm_pg_get(r, i, "id"), "userId", dtm_pg_get(r, i, "user_id"), "storeId",
        dtm_pg_get(r, i, "store_id"), "status", dtm_pg_get(r, i, "status"), "punchInAt",
        dtm_pg_get(r, i, "punch_in_at"), "punchOutAt", dtm_json_str_or_null(out_at), "punchIn",
        position(r, i, "punch_in"), "punchOut", out_at ? position(r, i, "punch_out") : json_null(),
        "photoUrl", dtm_json_str_or_null(sha ? url : NULL), "note",
        dtm_json_str_or_null(dtm_pg_get(r, i, "note")), "breaks", breaks, "workedMinutes",
        int_or_null(r, i, "worked_minutes"), "breakMinutes", int_or_null(r, i, "break_minutes"),
        "netMinutes", int_or_null(r, i, "net_minutes"), "overtimeMinutes",
        int_or_null(r, i, "overtime_minutes"), "createdAt", dtm_pg_get(r, i, "created_at"),
        "updatedAt", dtm_pg_get(r, i, "updated_at"));
    json_object_set_new(o, "exception", json_boolean(dtm_pg_bool(r, i, "exception")));
    json_object_set_new(o, "exceptionRequestId",
                        dtm_json_str_or_null(dtm_pg_get(r, i, "exception_request_id")));
    json_object_set_new(o, "approvedOvertimeMinutes",
                        int_or_null(r, i, "approved_overtime_minutes"));
    return o;
}
