/* SPDX-License-Identifier: MIT */
/* Every SQL statement of the reports service. It reads only the `reporting` views (DESIGN.md
 * "Data"). Statements are assembled from fixed fragments (which filters are present, which
 * optional views exist) so that each variant gets a plan that can use the indexes behind the
 * views: an "$n IS NULL OR ..." condition would defeat the keyset index scan once PostgreSQL
 * switches to a generic plan. */
#include "core/log.h"
#include "core/str.h"
#include "services/reports/reports.h"
#include <stdio.h>
#include <string.h>

#define ISO(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

dtm_err_t reports_db_views(dtm_db_t *db, reports_views_t *out)
{
    PGresult *r;
    dtm_err_t err =
        dtm_db_query(db, &r, "SELECT to_regclass('reporting.users') IS NOT NULL AS users", 0, NULL);
    if (err)
        return err;
    out->users = dtm_pg_bool(r, 0, "users");
    return DTM_OK;
}

/* The stores of the summary with the bounds of their local day ($1 date or NULL = today there;
 * $2 one store or NULL), and the visits open right now (a few hundred, read once through the
 * attendance service's partial index of open visits instead of once per store). */
#define STORE_DAYS                                                                                 \
    "WITH s AS (SELECT id, code, name, timezone, d AS local_date,"                                 \
    " d::timestamp AT TIME ZONE timezone AS day_start,"                                            \
    " (d + 1)::timestamp AT TIME ZONE timezone AS day_end"                                         \
    " FROM (SELECT st.*, coalesce($1::date, (now() AT TIME ZONE st.timezone)::date) AS d"          \
    "  FROM reporting.stores st WHERE st.active AND ($2::uuid IS NULL OR st.id = $2)) x),"         \
    " live AS MATERIALIZED (SELECT a.user_id, a.store_id, a.status FROM reporting.attendance a"    \
    "  WHERE a.status IN ('open', 'on_break')) "

dtm_err_t reports_db_summary_stores(dtm_db_t *db, const reports_views_t *v, const char *date,
                                    const char *store_id, PGresult **rows)
{
    const char *p[] = {date, store_id};
    static const char *const sql = STORE_DAYS
        "SELECT * FROM (SELECT s.id::text AS store_id, s.code, s.name, s.timezone,"
        " s.local_date::text AS local_date,"
        " (SELECT count(*) FROM reporting.todos t WHERE t.store_id = s.id"
        "   AND t.due_at >= s.day_start AND t.due_at < s.day_end) AS tasks_due,"
        " (SELECT count(*) FROM reporting.todos t WHERE t.store_id = s.id"
        "   AND t.status IN ('pending', 'in_progress') AND t.due_at < now()) AS tasks_overdue,"
        " (SELECT count(*) FROM reporting.todos t WHERE t.store_id = s.id"
        "   AND t.completed_at >= s.day_start AND t.completed_at < s.day_end) AS tasks_completed,"
        " (SELECT count(DISTINCT a.user_id) FROM reporting.attendance a WHERE a.store_id = s.id"
        "   AND a.punch_in_at >= s.day_start AND a.punch_in_at < s.day_end) AS present,"
        " (SELECT count(DISTINCT l.user_id) FROM live l WHERE l.store_id = s.id"
        "   AND l.status = 'on_break') AS on_break,"
        " (SELECT count(DISTINCT l.user_id) FROM live l WHERE l.store_id = s.id) AS working_now"
        " FROM s ORDER BY s.name, s.id) per_store"
        " UNION ALL SELECT NULL, NULL, NULL, 'UTC', u.d::text,"
        " (SELECT count(*) FROM reporting.todos t WHERE t.store_id IS NULL"
        "   AND t.due_at >= u.ds AND t.due_at < u.de),"
        " (SELECT count(*) FROM reporting.todos t WHERE t.store_id IS NULL"
        "   AND t.status IN ('pending', 'in_progress') AND t.due_at < now()),"
        " (SELECT count(*) FROM reporting.todos t WHERE t.store_id IS NULL"
        "   AND t.completed_at >= u.ds AND t.completed_at < u.de), 0, 0, 0"
        " FROM (SELECT d, d::timestamp AT TIME ZONE 'UTC' AS ds,"
        "   (d + 1)::timestamp AT TIME ZONE 'UTC' AS de"
        "   FROM (SELECT coalesce($1::date, (now() AT TIME ZONE 'UTC')::date) AS d) d0) u"
        " WHERE $2::uuid IS NULL";
    return dtm_db_query(db, rows, sql, 2, p);
}

/* clang-format off */
/* Present: distinct users with a punch-in during the local day of the store they punched in at.
 * Absent: active merchandisers without one. */
/* The outer time window (earliest local day start .. latest end) lets the punch_in_at index
 * find today's visits instead of joining every visit ever to the stores. */
#define ATT_CTE                                                                                    \
    ", att AS (SELECT DISTINCT a.user_id FROM reporting.attendance a JOIN s ON s.id = a.store_id"  \
    " WHERE a.punch_in_at >= s.day_start AND a.punch_in_at < s.day_end"                            \
    " AND a.punch_in_at >= (SELECT min(day_start) FROM s)"                                         \
    " AND a.punch_in_at < (SELECT max(day_end) FROM s)) "
#define MERCH "FROM reporting.users u WHERE u.active AND u.role = 'merchandiser'"
#define WITH_ATT                                                                                   \
    "SELECT (SELECT count(*) FROM att) AS present,"                                                \
    " (SELECT count(DISTINCT l.user_id) FROM live l JOIN s ON s.id = l.store_id"                   \
    "   WHERE l.status = 'on_break') AS on_break,"                                                 \
    " (SELECT count(DISTINCT l.user_id) FROM live l JOIN s ON s.id = l.store_id) AS working_now,"
static const char *const people_sql[2] = {
    STORE_DAYS ATT_CTE WITH_ATT " NULL::bigint AS absent, NULL::bigint AS team",
    STORE_DAYS ATT_CTE WITH_ATT
    " (SELECT count(*) " MERCH " AND NOT EXISTS (SELECT 1 FROM att WHERE att.user_id = u.id))"
    " AS absent, (SELECT count(*) " MERCH ") AS team",
};
/* clang-format on */

dtm_err_t reports_db_summary_people(dtm_db_t *db, const reports_views_t *v, const char *date,
                                    const char *store_id, PGresult **row)
{
    const char *p[] = {date, store_id};
    return dtm_db_query(db, row, people_sql[v->users ? 1 : 0], 2, p);
}

/* WHERE clause for a report over `tcol` (the time column) with the filters that are set;
 * parameters appended to p from index *n. */
static void report_where(dtm_buf_t *w, const reports_filter_t *f, const char *tcol,
                         const char *ucol, const char *after_ts, const char *after_id,
                         const char **p, int *n)
{
    dtm_buf_puts(w, " WHERE true");
    if (f->from) {
        p[(*n)++] = f->from;
        dtm_buf_printf(w, " AND t.%s >= $%d", tcol, *n);
    }
    if (f->to) {
        p[(*n)++] = f->to;
        dtm_buf_printf(w, " AND t.%s < $%d", tcol, *n);
    }
    if (f->store_id) {
        p[(*n)++] = f->store_id;
        dtm_buf_printf(w, " AND t.store_id = $%d", *n);
    }
    if (f->user_id) {
        p[(*n)++] = f->user_id;
        dtm_buf_printf(w, " AND t.%s = $%d", ucol, *n);
    }
    if (after_ts && after_id) {
        p[(*n)++] = after_ts;
        p[(*n)++] = after_id;
        dtm_buf_printf(w, " AND (t.%s, t.id) > ($%d::timestamptz, $%d::uuid)", tcol, *n - 1, *n);
    }
}

/* Runs count (when total) and the page/batch query. */
static dtm_err_t run_report(dtm_db_t *db, const char *select_from, const char *count_from,
                            const char *order, const reports_filter_t *f, const char *tcol,
                            const char *ucol, const char *after_ts, const char *after_id, int limit,
                            long long offset, PGresult **rows, long long *total)
{
    const char *p[10];
    int n = 0;
    dtm_buf_t w, sql;
    dtm_buf_init(&w);
    dtm_buf_init(&sql);
    report_where(&w, f, tcol, ucol, after_ts, after_id, p, &n);
    dtm_err_t err = DTM_OK;
    if (total) {
        dtm_buf_printf(&sql, "SELECT count(*) AS n FROM %s%s", count_from, w.data);
        PGresult *c;
        err = dtm_db_query(db, &c, sql.data, n, p);
        if (err)
            goto out;
        *total = dtm_pg_int(c, 0, "n", 0);
        dtm_buf_reset(&sql);
    }
    char lim[16], off[24];
    snprintf(lim, sizeof lim, "%d", limit);
    snprintf(off, sizeof off, "%lld", offset);
    p[n] = lim;
    p[n + 1] = off;
    dtm_buf_printf(&sql, "%s%s ORDER BY %s LIMIT $%d OFFSET $%d", select_from, w.data, order, n + 1,
                   n + 2);
    if (total) {
        err = dtm_db_query(db, rows, sql.data, n + 2, p);
        goto out;
    }
    /* A CSV batch: the result must be freed before the next batch, not kept on the request
     * arena until the end of the stream. An unnamed statement also gets a plan for these
     * exact keyset values. */
    *rows = PQexecParams(dtm_db_conn(db), sql.data, n + 2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(*rows) != PGRES_TUPLES_OK) {
        dtm_log_error("reports: batch query failed: %s", PQresultErrorMessage(*rows));
        err = PQstatus(dtm_db_conn(db)) == CONNECTION_OK ? DTM_EINTERNAL : DTM_EDB;
        PQclear(*rows);
        *rows = NULL;
    }
out:
    dtm_buf_free(&w);
    dtm_buf_free(&sql);
    return err;
}

dtm_err_t reports_db_todos(dtm_db_t *db, const reports_views_t *v, const reports_filter_t *f,
                           const char *after_ts, const char *after_id, int limit, long long offset,
                           PGresult **rows, long long *total)
{
    /* clang-format off */
#define TODO_SELECT(uname, ujoin)                                                                  \
    "SELECT t.id::text AS id, t.title, t.status, t.priority, " ISO("t.due_at") " AS due_at,"      \
    " " ISO("t.completed_at") " AS completed_at, " ISO("t.created_at") " AS created_at,"          \
    " t.assignee_id::text AS assignee_id, " uname " AS assignee_name,"                            \
    " t.store_id::text AS store_id, st.code AS store_code, st.name AS store_name,"                \
    " t.checklist_done, t.checklist_total, t.created_at::text AS k_ts, t.id::text AS k_id"        \
    " FROM reporting.todos t LEFT JOIN reporting.stores st ON st.id = t.store_id" ujoin
    /* clang-format on */
    static const char *const with_users =
        TODO_SELECT("u.first_name || ' ' || u.last_name",
                    " LEFT JOIN reporting.users u ON u.id = t.assignee_id");
    static const char *const without_users = TODO_SELECT("NULL::text", "");
#undef TODO_SELECT
    return run_report(db, v->users ? with_users : without_users, "reporting.todos t",
                      "t.created_at, t.id", f, "created_at", "assignee_id", after_ts, after_id,
                      limit, offset, rows, total);
}

dtm_err_t reports_db_visits(dtm_db_t *db, const reports_views_t *v, const reports_filter_t *f,
                            const char *after_ts, const char *after_id, int limit, long long offset,
                            PGresult **rows, long long *total)
{
    /* clang-format off */
#define VISIT_SELECT(uname, ujoin)                                                                 \
    "SELECT t.id::text AS id, t.user_id::text AS user_id, " uname " AS user_name,"                 \
    " t.store_id::text AS store_id, st.code AS store_code, st.name AS store_name,"                 \
    " t.planned_date::text AS planned_date, to_char(t.planned_start, 'HH24:MI') AS planned_start,"\
    " t.sequence, t.status, t.attendance_id::text AS attendance_id, t.plan_id::text AS plan_id,"   \
    " " ISO("t.started_at") " AS started_at, " ISO("t.completed_at") " AS completed_at,"           \
    " t.planned_at::text AS k_ts, t.id::text AS k_id"                                              \
    " FROM reporting.visits t LEFT JOIN reporting.stores st ON st.id = t.store_id" ujoin
    /* clang-format on */
    static const char *const with_users = VISIT_SELECT(
        "u.first_name || ' ' || u.last_name", " LEFT JOIN reporting.users u ON u.id = t.user_id");
    static const char *const without_users = VISIT_SELECT("NULL::text", "");
#undef VISIT_SELECT
    return run_report(db, v->users ? with_users : without_users, "reporting.visits t",
                      "t.planned_at, t.id", f, "planned_at", "user_id", after_ts, after_id, limit,
                      offset, rows, total);
}

dtm_err_t reports_db_attendance(dtm_db_t *db, const reports_views_t *v, const reports_filter_t *f,
                                const char *after_ts, const char *after_id, int limit,
                                long long offset, PGresult **rows, long long *total)
{
    /* clang-format off */
#define ATT_SELECT(uname, ujoin)                                                                   \
    "SELECT t.id::text AS id, t.user_id::text AS user_id, " uname " AS user_name,"                 \
    " t.store_id::text AS store_id, st.code AS store_code, st.name AS store_name, t.status,"       \
    " " ISO("t.punch_in_at") " AS punch_in_at, " ISO("t.punch_out_at") " AS punch_out_at,"         \
    " t.worked_minutes, t.break_minutes, t.net_minutes, t.overtime_minutes,"                       \
    " t.punch_in_at::text AS k_ts, t.id::text AS k_id"                                             \
    " FROM reporting.attendance t LEFT JOIN reporting.stores st ON st.id = t.store_id" ujoin
    /* clang-format on */
    static const char *const with_users = ATT_SELECT(
        "u.first_name || ' ' || u.last_name", " LEFT JOIN reporting.users u ON u.id = t.user_id");
    static const char *const without_users = ATT_SELECT("NULL::text", "");
#undef ATT_SELECT
    return run_report(db, v->users ? with_users : without_users, "reporting.attendance t",
                      "t.punch_in_at, t.id", f, "punch_in_at", "user_id", after_ts, after_id, limit,
                      offset, rows, total);
}
