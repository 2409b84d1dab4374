/* SPDX-License-Identifier: MIT */
/* Every SQL statement of the visits service. Only parameters ($n) carry caller input; the
 * variable parts of the list queries are chosen from fixed fragments, so each variant gets a
 * plan that uses its index (see tests/api/explain.test.js). */
#include "core/ids.h"
#include "db/filter.h"
#include "core/json.h"
#include "core/str.h"
#include "db/outbox.h"
#include "services/visits/visits.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ISO(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

#define VISIT_COLS                                                                                 \
    "v.id, v.user_id, v.store_id, v.store_timezone, v.planned_date::text AS planned_date,"         \
    " to_char(v.planned_start, 'HH24:MI') AS planned_start, v.sequence, v.status,"                 \
    " v.attendance_id, v.plan_id, v.notes, v.created_by, " ISO(                                    \
        "v.started_at") " AS started_at, " ISO("v.completed_at") " AS completed_at, " ISO("v."     \
                                                                                          "create" \
                                                                                          "d_at") " AS created_at, " ISO("v.updated_at") " AS updated_at"

#define PLAN_COLS                                                                                  \
    "p.id, p.user_id, p.name, array_to_json(p.weekdays)::text AS weekdays,"                        \
    " array_to_json(p.store_ids)::text AS store_ids, p.valid_from::text AS valid_from,"            \
    " p.valid_to::text AS valid_to, p.active, p.created_by, " ISO(                                 \
        "p.created_at") " AS created_at, " ISO("p.updated_at") " AS updated_at"

dtm_err_t visits_db_local_today(dtm_db_t *db, const char *tz, const char **today)
{
    const char *p[] = {tz};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r, "SELECT (now() AT TIME ZONE $1)::date::text AS d", 1, p);
    if (err)
        return err;
    *today = dtm_pg_get(r, 0, "d");
    return DTM_OK;
}

dtm_err_t visits_db_insert(dtm_db_t *db, const visits_input_t *in, PGresult **row)
{
    char id[DTM_UUID_LEN + 1];
    dtm_uuid_v4(id);
    const char *p[] = {id,           in->user_id,      in->store_id,
                       in->store_tz, in->planned_date, in->planned_start,
                       in->sequence, in->notes,        in->created_by};
    return dtm_db_query(
        db, row,
        "WITH v AS (INSERT INTO visits.visits (id, user_id, store_id, store_timezone,"
        " planned_date, planned_start, sequence, notes, created_by)"
        " VALUES ($1, $2, $3, $4, $5::date, nullif($6, '')::time,"
        " coalesce($7::int, (SELECT least(coalesce(max(x.sequence), 0) + 1, 1000)"
        "   FROM visits.visits x WHERE x.user_id = $2 AND x.planned_date = $5::date"
        "   AND x.status <> 'cancelled')),"
        " coalesce($8, ''), $9) RETURNING *) SELECT " VISIT_COLS " FROM v",
        9, p);
}

dtm_err_t visits_db_lock(dtm_db_t *db, const char *id, PGresult **row)
{
    const char *p[] = {id};
    dtm_err_t err = dtm_db_query(
        db, row, "SELECT " VISIT_COLS " FROM visits.visits v WHERE v.id = $1 FOR UPDATE", 1, p);
    if (err)
        return err;
    return PQntuples(*row) == 1 ? DTM_OK : DTM_ENOTFOUND;
}

dtm_err_t visits_db_update(dtm_db_t *db, const char *id, const visits_input_t *in, PGresult **row)
{
    const char *p[] = {id,           in->user_id, in->planned_date, in->planned_start,
                       in->sequence, in->notes};
    dtm_err_t err =
        dtm_db_query(db, row,
                     "WITH v AS (UPDATE visits.visits SET user_id = coalesce($2::uuid, user_id),"
                     " planned_date = coalesce($3::date, planned_date),"
                     " planned_start = CASE WHEN $4::text IS NULL THEN planned_start"
                     "   ELSE nullif($4, '')::time END,"
                     " sequence = coalesce($5::int, sequence), notes = coalesce($6, notes),"
                     " status = CASE WHEN status = 'missed' AND $3::date IS NOT NULL THEN 'planned'"
                     "   ELSE status END,"
                     " edited = true, updated_at = now() WHERE id = $1 RETURNING *)"
                     " SELECT " VISIT_COLS " FROM v",
                     6, p);
    if (err)
        return err;
    return PQntuples(*row) == 1 ? DTM_OK : DTM_ENOTFOUND;
}

dtm_err_t visits_db_cancel(dtm_db_t *db, const char *id)
{
    const char *p[] = {id};
    return dtm_db_query(db, NULL,
                        "UPDATE visits.visits SET status = 'cancelled', edited = true,"
                        " updated_at = now() WHERE id = $1",
                        1, p);
}

dtm_err_t visits_db_list(dtm_db_t *db, const visits_filter_t *f, PGresult **rows, long long *total)
{
    dtm_filter_t w;
    dtm_filter_init(&w);
    dtm_filter_add(&w, "v.user_id = $%d", f->user_id);
    dtm_filter_add(&w, "v.store_id = $%d", f->store_id);
    dtm_filter_add(&w, "v.planned_date >= $%d::date", f->from);
    dtm_filter_add(&w, "v.planned_date <= $%d::date", f->to);
    dtm_filter_add(&w, "v.status = $%d", f->status);
    dtm_err_t err = dtm_filter_page(db, &w, "SELECT count(*) AS n FROM visits.visits v",
                                    "SELECT " VISIT_COLS " FROM visits.visits v",
                                    "v.planned_date, v.sequence, v.planned_start NULLS LAST, v.id",
                                    f->limit, f->page, rows, total);
    dtm_filter_free(&w);
    return err;
}

dtm_err_t visits_db_today(dtm_db_t *db, const char *user_id, PGresult **rows)
{
    const char *p[] = {user_id};
    /* A store's local date is at most one day off the UTC date: the range lets the
     * (user_id, planned_date) index find the candidates, the zone test picks today's. */
    return dtm_db_query(db, rows,
                        "SELECT " VISIT_COLS " FROM visits.visits v WHERE v.user_id = $1"
                        " AND v.planned_date BETWEEN (now() AT TIME ZONE 'UTC')::date - 1"
                        " AND (now() AT TIME ZONE 'UTC')::date + 1"
                        " AND v.planned_date = (now() AT TIME ZONE v.store_timezone)::date"
                        " AND v.status <> 'cancelled'"
                        " ORDER BY v.sequence, v.planned_start NULLS LAST, v.id LIMIT 200",
                        1, p);
}

dtm_err_t visits_db_coverage(dtm_db_t *db, const char *from, const char *to, const char *user_id,
                             const char *store_id, PGresult **rows)
{
    const char *p[4] = {from, to};
    int n = 2;
    dtm_buf_t sql;
    dtm_buf_init(&sql);
    dtm_buf_puts(&sql, "SELECT CASE WHEN grouping(user_id) = 0 THEN 'user'"
                       " WHEN grouping(store_id) = 0 THEN 'store' ELSE 'all' END AS grp,"
                       " user_id, store_id,"
                       " count(*) FILTER (WHERE status <> 'unplanned') AS planned,"
                       " count(*) FILTER (WHERE status = 'completed') AS completed,"
                       " count(*) FILTER (WHERE status = 'missed') AS missed,"
                       " count(*) FILTER (WHERE status = 'cancelled') AS cancelled,"
                       " count(*) FILTER (WHERE status = 'unplanned') AS unplanned,"
                       " count(*) FILTER (WHERE status = 'in_progress') AS in_progress"
                       " FROM visits.visits WHERE planned_date BETWEEN $1::date AND $2::date");
    if (user_id) {
        p[n++] = user_id;
        dtm_buf_printf(&sql, " AND user_id = $%d", n);
    }
    if (store_id) {
        p[n++] = store_id;
        dtm_buf_printf(&sql, " AND store_id = $%d", n);
    }
    dtm_buf_puts(&sql, " GROUP BY GROUPING SETS ((), (user_id), (store_id))"
                       " ORDER BY grp, user_id, store_id");
    dtm_err_t err = dtm_db_query(db, rows, sql.data, n, p);
    dtm_buf_free(&sql);
    return err;
}

/* ---- plans ---- */

dtm_err_t visits_db_plan_insert(dtm_db_t *db, const visits_plan_input_t *in, PGresult **row)
{
    char id[DTM_UUID_LEN + 1];
    dtm_uuid_v4(id);
    const char *p[] = {id,
                       in->user_id,
                       in->name,
                       in->weekdays,
                       in->store_ids,
                       in->store_tzs,
                       in->valid_from,
                       in->valid_to,
                       in->active,
                       in->created_by};
    return dtm_db_query(db, row,
                        "WITH p AS (INSERT INTO visits.plans (id, user_id, name, weekdays,"
                        " store_ids, store_timezones, valid_from, valid_to, active, created_by)"
                        " VALUES ($1, $2, $3, $4::smallint[], $5::uuid[], $6::text[], $7::date,"
                        " $8::date, coalesce($9::bool, true), $10) RETURNING *)"
                        " SELECT " PLAN_COLS " FROM p",
                        10, p);
}

dtm_err_t visits_db_plan_update(dtm_db_t *db, const char *id, const visits_plan_input_t *in,
                                PGresult **row)
{
    const char *p[] = {id,
                       in->user_id,
                       in->name,
                       in->weekdays,
                       in->store_ids,
                       in->store_tzs,
                       in->valid_from,
                       in->valid_to,
                       in->valid_to_null ? "true" : "false",
                       in->active};
    dtm_err_t err = dtm_db_query(
        db, row,
        "WITH p AS (UPDATE visits.plans SET user_id = coalesce($2::uuid, user_id),"
        " name = coalesce($3, name), weekdays = coalesce($4::smallint[], weekdays),"
        " store_ids = coalesce($5::uuid[], store_ids),"
        " store_timezones = coalesce($6::text[], store_timezones),"
        " valid_from = coalesce($7::date, valid_from),"
        " valid_to = CASE WHEN $9::bool THEN NULL ELSE coalesce($8::date, valid_to) END,"
        " active = coalesce($10::bool, active), updated_at = now() WHERE id = $1 RETURNING *)"
        " SELECT " PLAN_COLS " FROM p",
        10, p);
    if (err)
        return err;
    return PQntuples(*row) == 1 ? DTM_OK : DTM_ENOTFOUND;
}

dtm_err_t visits_db_plan_get(dtm_db_t *db, const char *id, PGresult **row)
{
    const char *p[] = {id};
    dtm_err_t err =
        dtm_db_query(db, row, "SELECT " PLAN_COLS " FROM visits.plans p WHERE p.id = $1", 1, p);
    if (err)
        return err;
    return PQntuples(*row) == 1 ? DTM_OK : DTM_ENOTFOUND;
}

dtm_err_t visits_db_plan_deactivate(dtm_db_t *db, const char *id)
{
    const char *p[] = {id};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "UPDATE visits.plans SET active = false, updated_at = now()"
                                 " WHERE id = $1 RETURNING id",
                                 1, p);
    if (err)
        return err;
    return PQntuples(r) == 1 ? DTM_OK : DTM_ENOTFOUND;
}

dtm_err_t visits_db_plan_list(dtm_db_t *db, const char *user_id, int active, int page, int limit,
                              PGresult **rows, long long *total)
{
    static const char *const where[4] = {
        "",
        " WHERE p.user_id = $1",
        " WHERE p.active = $1",
        " WHERE p.user_id = $1 AND p.active = $2",
    };
    const char *p[4];
    int n = 0, w = 0;
    if (user_id) {
        p[n++] = user_id;
        w |= 1;
    }
    if (active >= 0) {
        p[n++] = active ? "true" : "false";
        w |= 2;
    }
    char count_sql[160], list_sql[1024];
    snprintf(count_sql, sizeof count_sql, "SELECT count(*) AS n FROM visits.plans p%s", where[w]);
    snprintf(list_sql, sizeof list_sql,
             "SELECT " PLAN_COLS " FROM visits.plans p%s ORDER BY p.created_at DESC, p.id DESC"
             " LIMIT $%d OFFSET $%d",
             where[w], n + 1, n + 2);
    PGresult *c;
    dtm_err_t err = dtm_db_query(db, &c, count_sql, n, p);
    if (err)
        return err;
    *total = dtm_pg_int(c, 0, "n", 0);
    char lim[16], off[24];
    snprintf(lim, sizeof lim, "%d", limit);
    snprintf(off, sizeof off, "%lld", (long long)(page - 1) * limit);
    p[n] = lim;
    p[n + 1] = off;
    return dtm_db_query(db, rows, list_sql, n + 2, p);
}

dtm_err_t visits_db_materialise(dtm_db_t *db, const char *plan_id, long long *created)
{
    const char *p[] = {plan_id};
    /* Untouched future visits of the plan that it no longer calls for. */
    dtm_err_t err = dtm_db_query(
        db, NULL,
        "DELETE FROM visits.visits v USING visits.plans p"
        " WHERE v.plan_id = p.id AND ($1::uuid IS NULL OR p.id = $1)"
        " AND v.status = 'planned' AND NOT v.edited"
        " AND v.planned_date >= (now() AT TIME ZONE v.store_timezone)::date"
        " AND (NOT p.active OR v.user_id <> p.user_id OR NOT (v.store_id = ANY (p.store_ids))"
        "  OR NOT (extract(isodow FROM v.planned_date)::smallint = ANY (p.weekdays))"
        "  OR v.planned_date < p.valid_from"
        "  OR (p.valid_to IS NOT NULL AND v.planned_date > p.valid_to))",
        1, p);
    if (err)
        return err;
    /* The others follow the plan's store order. */
    err = dtm_db_query(db, NULL,
                       "UPDATE visits.visits v SET sequence = s.ord, updated_at = now()"
                       " FROM visits.plans p, LATERAL unnest(p.store_ids) WITH ORDINALITY"
                       "  AS s(store_id, ord)"
                       " WHERE v.plan_id = p.id AND ($1::uuid IS NULL OR p.id = $1)"
                       " AND s.store_id = v.store_id AND v.status = 'planned' AND NOT v.edited"
                       " AND v.sequence <> s.ord",
                       1, p);
    if (err)
        return err;
    /* Missing slots: the plan-slot index makes a slot once ever (a cancelled or moved visit
     * keeps it), the day index skips a day that already has this visit by hand. */
    PGresult *r;
    err = dtm_db_query(
        db, &r,
        "WITH ins AS (INSERT INTO visits.visits (id, user_id, store_id, store_timezone,"
        " planned_date, sequence, plan_id, plan_date, created_by)"
        " SELECT gen_random_uuid(), p.user_id, s.store_id, s.tz, d.day, s.ord, p.id, d.day,"
        "  p.created_by"
        " FROM visits.plans p,"
        "  LATERAL unnest(p.store_ids, p.store_timezones) WITH ORDINALITY AS s(store_id, tz, ord),"
        "  LATERAL (SELECT g::date AS day FROM generate_series("
        "    greatest(p.valid_from, (now() AT TIME ZONE s.tz)::date)::timestamp,"
        "    least(coalesce(p.valid_to, 'infinity'::date),"
        "      (now() AT TIME ZONE s.tz)::date + 13)::timestamp," /* VISITS_HORIZON_DAYS */
        "    interval '1 day') g) d"
        " WHERE p.active AND ($1::uuid IS NULL OR p.id = $1)"
        "  AND extract(isodow FROM d.day)::smallint = ANY (p.weekdays)"
        " ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) AS n FROM ins",
        1, p);
    if (err)
        return err;
    if (created)
        *created = dtm_pg_int(r, 0, "n", 0);
    return DTM_OK;
}

/* ---- attendance events ---- */

dtm_err_t visits_db_apply_punch_in(dtm_db_t *db, const char *attendance_id, const char *user_id,
                                   const char *store_id, const char *store_tz,
                                   const char *punch_in_at)
{
    const char *p[] = {attendance_id, user_id, store_id, punch_in_at};
    PGresult *r;
    dtm_err_t err = dtm_db_query(
        db, &r,
        "WITH target AS (SELECT v.id FROM visits.visits v WHERE v.user_id = $2"
        " AND v.store_id = $3 AND v.status IN ('planned', 'missed') AND v.attendance_id IS NULL"
        " AND v.planned_date BETWEEN ($4::timestamptz AT TIME ZONE 'UTC')::date - 1"
        "  AND ($4::timestamptz AT TIME ZONE 'UTC')::date + 1"
        " AND v.planned_date = ($4::timestamptz AT TIME ZONE v.store_timezone)::date"
        " AND NOT EXISTS (SELECT 1 FROM visits.visits a WHERE a.attendance_id = $1)"
        " ORDER BY v.sequence, v.id LIMIT 1 FOR UPDATE)"
        " UPDATE visits.visits v SET status = 'in_progress', attendance_id = $1,"
        " started_at = $4::timestamptz, updated_at = now() FROM target WHERE v.id = target.id"
        " RETURNING v.id",
        4, p);
    if (err || PQntuples(r) == 1)
        return err;
    char id[DTM_UUID_LEN + 1];
    dtm_uuid_v4(id);
    const char *q[] = {id,          user_id,      store_id, store_tz ? store_tz : "UTC",
                       punch_in_at, attendance_id};
    return dtm_db_query(
        db, NULL,
        "INSERT INTO visits.visits (id, user_id, store_id, store_timezone, planned_date, status,"
        " attendance_id, started_at, created_by)"
        " SELECT $1, $2, $3, $4, ($5::timestamptz AT TIME ZONE $4)::date, 'unplanned', $6,"
        " $5::timestamptz, $2"
        " WHERE NOT EXISTS (SELECT 1 FROM visits.visits a WHERE a.attendance_id = $6)",
        6, q);
}

dtm_err_t visits_db_apply_punch_out(dtm_db_t *db, const char *attendance_id,
                                    const char *punch_out_at)
{
    const char *p[] = {attendance_id, punch_out_at};
    PGresult *r;
    dtm_err_t err = dtm_db_query(
        db, &r,
        "UPDATE visits.visits SET status = CASE WHEN status = 'in_progress' THEN 'completed'"
        " ELSE status END, completed_at = coalesce($2::timestamptz, now()), updated_at = now()"
        " WHERE attendance_id = $1 RETURNING id",
        2, p);
    if (err)
        return err;
    return PQntuples(r) == 1 ? DTM_OK : DTM_ENOTFOUND;
}

dtm_err_t visits_db_job(dtm_db_t *db, bool *ran, long long *missed, long long *created)
{
    *ran = false;
    *missed = *created = 0;
    PGresult *r;
    dtm_err_t err = dtm_db_query(
        db, &r, "SELECT pg_try_advisory_xact_lock(hashtext('dtm.visits.job')) AS ok", 0, NULL);
    if (err)
        return err;
    if (!dtm_pg_bool(r, 0, "ok"))
        return DTM_OK;
    *ran = true;
    /* A day is over when its end in the store's zone has passed; no zone is more than a day
     * ahead of UTC, which bounds the scan of the partial index of planned visits. */
    err = dtm_db_query(
        db, &r,
        "UPDATE visits.visits SET status = 'missed', updated_at = now()"
        " WHERE id IN (SELECT id FROM visits.visits WHERE status = 'planned'"
        "  AND planned_date <= (now() AT TIME ZONE 'UTC')::date + 1"
        "  AND ((planned_date + 1)::timestamp AT TIME ZONE store_timezone) <= now()"
        "  ORDER BY planned_date LIMIT 1000 FOR UPDATE SKIP LOCKED)"
        " RETURNING json_build_object('visitId', id, 'userId', user_id, 'storeId', store_id,"
        "  'plannedDate', planned_date, 'planId', plan_id)::text AS payload",
        0, NULL);
    if (err)
        return err;
    *missed = PQntuples(r);
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *payload = json_loads(dtm_pg_get(r, i, "payload"), 0, NULL);
        if (!payload)
            return DTM_EINTERNAL;
        err = dtm_outbox_emit(db, "visits", VISITS_TOPIC_MISSED, payload, NULL);
        json_decref(payload);
        if (err)
            return err;
    }
    err = visits_db_materialise(db, NULL, created);
    if (err)
        return err;
    return dtm_outbox_processed_purge(db, "visits", 30);
}

/* ---- JSON ---- */

json_t *visits_row_json(const PGresult *r, int i)
{
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:I, s:s, s:o, s:o, s:s, s:o, s:s, s:o, s:o, s:s, s:s}", "id",
        dtm_pg_get(r, i, "id"), "userId", dtm_pg_get(r, i, "user_id"), "storeId",
        dtm_pg_get(r, i, "store_id"), "plannedDate", dtm_pg_get(r, i, "planned_date"),
        "plannedStart", dtm_json_str_or_null(dtm_pg_get(r, i, "planned_start")), "sequence",
        (json_int_t)dtm_pg_int(r, i, "sequence", 0), "status", dtm_pg_get(r, i, "status"),
        "attendanceId", dtm_json_str_or_null(dtm_pg_get(r, i, "attendance_id")), "planId",
        dtm_json_str_or_null(dtm_pg_get(r, i, "plan_id")), "notes", dtm_pg_get(r, i, "notes"),
        "createdBy", dtm_json_str_or_null(dtm_pg_get(r, i, "created_by")), "storeTimezone",
        dtm_pg_get(r, i, "store_timezone"), "startedAt",
        dtm_json_str_or_null(dtm_pg_get(r, i, "started_at")), "completedAt",
        dtm_json_str_or_null(dtm_pg_get(r, i, "completed_at")), "createdAt",
        dtm_pg_get(r, i, "created_at"), "updatedAt", dtm_pg_get(r, i, "updated_at"));
}

json_t *visits_plan_json(const PGresult *r, int i)
{
    json_t *weekdays = json_loads(dtm_pg_get(r, i, "weekdays"), 0, NULL);
    json_t *stores = json_loads(dtm_pg_get(r, i, "store_ids"), 0, NULL);
    return json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:b, s:s, s:s, s:s}", "id", dtm_pg_get(r, i, "id"),
        "userId", dtm_pg_get(r, i, "user_id"), "name", dtm_pg_get(r, i, "name"), "weekdays",
        weekdays ? weekdays : json_array(), "storeIds", stores ? stores : json_array(), "validFrom",
        dtm_pg_get(r, i, "valid_from"), "validTo",
        dtm_json_str_or_null(dtm_pg_get(r, i, "valid_to")), "active", dtm_pg_bool(r, i, "active"),
        "createdBy", dtm_pg_get(r, i, "created_by"), "createdAt", dtm_pg_get(r, i, "created_at"),
        "updatedAt", dtm_pg_get(r, i, "updated_at"));
}
