/* SPDX-License-Identifier: MIT */
/* Reports handlers (admins and managers): the summary of today's KPIs, and the todo and
 * attendance reports as JSON pages or as RFC 4180 CSV streamed in keyset batches, so an export
 * of any size holds one batch in memory at a time. */
#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "core/timeutil.h"
#include "services/common/call.h"
#include "services/reports/reports.h"
#include <stdlib.h>
#include <string.h>

#define CSV_BATCH 1000

typedef enum { COL_STR, COL_INT } col_type_t;

/* One report column: its JSON key (also the CSV header) and result column. */
typedef struct {
    const char *key, *col;
    col_type_t type;
} col_t;

static const col_t todo_cols[] = {
    {"id", "id", COL_STR},
    {"title", "title", COL_STR},
    {"status", "status", COL_STR},
    {"priority", "priority", COL_STR},
    {"dueAt", "due_at", COL_STR},
    {"completedAt", "completed_at", COL_STR},
    {"createdAt", "created_at", COL_STR},
    {"assigneeId", "assignee_id", COL_STR},
    {"assigneeName", "assignee_name", COL_STR},
    {"storeId", "store_id", COL_STR},
    {"storeCode", "store_code", COL_STR},
    {"storeName", "store_name", COL_STR},
    {"checklistDone", "checklist_done", COL_INT},
    {"checklistTotal", "checklist_total", COL_INT},
    {0},
};

static const col_t attendance_cols[] = {
    {"id", "id", COL_STR},
    {"userId", "user_id", COL_STR},
    {"userName", "user_name", COL_STR},
    {"storeId", "store_id", COL_STR},
    {"storeCode", "store_code", COL_STR},
    {"storeName", "store_name", COL_STR},
    {"status", "status", COL_STR},
    {"punchInAt", "punch_in_at", COL_STR},
    {"punchOutAt", "punch_out_at", COL_STR},
    {"workedMinutes", "worked_minutes", COL_INT},
    {"breakMinutes", "break_minutes", COL_INT},
    {"netMinutes", "net_minutes", COL_INT},
    {"overtimeMinutes", "overtime_minutes", COL_INT},
    {0},
};

static const col_t visit_cols[] = {
    {"id", "id", COL_STR},
    {"userId", "user_id", COL_STR},
    {"userName", "user_name", COL_STR},
    {"storeId", "store_id", COL_STR},
    {"storeCode", "store_code", COL_STR},
    {"storeName", "store_name", COL_STR},
    {"plannedDate", "planned_date", COL_STR},
    {"plannedStart", "planned_start", COL_STR},
    {"sequence", "sequence", COL_INT},
    {"status", "status", COL_STR},
    {"attendanceId", "attendance_id", COL_STR},
    {"planId", "plan_id", COL_STR},
    {"startedAt", "started_at", COL_STR},
    {"completedAt", "completed_at", COL_STR},
    {0},
};

typedef dtm_err_t (*report_fn)(dtm_db_t *db, const reports_views_t *v, const reports_filter_t *f,
                               const char *after_ts, const char *after_id, int limit,
                               long long offset, PGresult **rows, long long *total);

static json_t *row_json(const PGresult *r, int i, const col_t *cols)
{
    json_t *o = json_object();
    for (const col_t *c = cols; c->key; c++) {
        const char *s = dtm_pg_get(r, i, c->col);
        json_object_set_new(o, c->key,
                            !s                   ? json_null()
                            : c->type == COL_INT ? json_integer(strtoll(s, NULL, 10))
                                                 : json_string(s));
    }
    return o;
}

static void csv_row(dtm_buf_t *b, const PGresult *r, int i, const col_t *cols)
{
    for (const col_t *c = cols; c->key; c++) {
        if (c != cols)
            dtm_buf_puts(b, ",");
        dtm_buf_csv_field(b, r ? dtm_pg_get(r, i, c->col) : c->key);
    }
    dtm_buf_puts(b, "\r\n");
}

/* YYYY-MM-DD: strictly that form, a real date. */
static bool is_date(const char *s)
{
    int64_t ms;
    return strlen(s) == 10 && s[4] == '-' && s[7] == '-' && dtm_parse_iso8601(s, &ms) == 0;
}

static const char *iso(dtm_req_t *req, int64_t ms)
{
    char *out = dtm_arena_alloc(req->arena, 32);
    dtm_iso8601(ms, out);
    return out;
}

/* from/to/storeId/userId. A plain date as `to` includes that whole (UTC) day. */
static void read_filter(dtm_req_t *req, reports_filter_t *f, dtm_valid_t *v)
{
    memset(f, 0, sizeof *f);
    const char *q;
    int64_t from = 0, to = 0;
    if ((q = dtm_req_query(req, "from")) && *q) {
        if (dtm_parse_iso8601(q, &from) == 0)
            f->from = iso(req, from);
        else
            dtm_valid_fail(v, "from", "must be an ISO-8601 date or timestamp");
    }
    if ((q = dtm_req_query(req, "to")) && *q) {
        if (dtm_parse_iso8601(q, &to) == 0) {
            if (is_date(q))
                to += 86400000;
            f->to = iso(req, to);
        } else {
            dtm_valid_fail(v, "to", "must be an ISO-8601 date or timestamp");
        }
    }
    if (f->from && f->to && to < from)
        dtm_valid_fail(v, "to", "must not be before from");
    f->store_id = dtm_req_query_uuid(req, v, "storeId");
    f->user_id = dtm_req_query_uuid(req, v, "userId");
}

/* Streams every row as CSV, batch by batch (keyset on the last row's k_ts/k_id). The first
 * batch is read before the response starts so that a failure can still be a JSON error. */
static void stream_csv(dtm_req_t *req, dtm_db_t *db, const reports_views_t *views,
                       const reports_filter_t *f, report_fn fn, const col_t *cols,
                       const char *filename)
{
    PGresult *r = NULL;
    dtm_err_t err = fn(db, views, f, NULL, NULL, CSV_BATCH, 0, &r, NULL);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_resp_header(req, "Content-Disposition",
                    dtm_arena_sprintf(req->arena, "attachment; filename=\"%s\"", filename));
    dtm_resp_header(req, "Cache-Control", "no-store");
    dtm_resp_stream_begin(req, 200, "text/csv; charset=utf-8");
    dtm_buf_t b;
    dtm_buf_init(&b);
    csv_row(&b, NULL, 0, cols);
    long long rows = 0;
    for (;;) {
        int n = PQntuples(r);
        for (int i = 0; i < n; i++)
            csv_row(&b, r, i, cols);
        rows += n;
        if (dtm_resp_stream_write(req, b.data, b.len) < 0)
            break; /* client went away */
        dtm_buf_reset(&b);
        if (n < CSV_BATCH)
            break;
        char ts[64], id[DTM_UUID_LEN + 1];
        snprintf(ts, sizeof ts, "%s", dtm_pg_get(r, n - 1, "k_ts"));
        snprintf(id, sizeof id, "%s", dtm_pg_get(r, n - 1, "k_id"));
        PQclear(r);
        r = NULL;
        err = fn(db, views, f, ts, id, CSV_BATCH, 0, &r, NULL);
        if (err) {
            /* Headers are gone: the truncated body (no final CRLF-terminated batch) and the
             * log line are all we can give. */
            dtm_log_error("reports: %s export stopped after %lld rows", filename, rows);
            break;
        }
    }
    PQclear(r);
    dtm_buf_free(&b);
    dtm_resp_stream_end(req);
}

static void report(dtm_req_t *req, report_fn fn, const col_t *cols, const char *filename)
{
    dtm_valid_t v;
    dtm_valid_init(&v);
    reports_filter_t f;
    read_filter(req, &f, &v);
    const char *format = dtm_req_query(req, "format");
    bool csv = false;
    if (format && *format) {
        if (strcmp(format, "csv") == 0)
            csv = true;
        else if (strcmp(format, "json") != 0)
            dtm_valid_fail(&v, "format", "must be json or csv");
    }
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, "Bad filter", &v);
        return;
    }
    dtm_valid_cleanup(&v);
    int page = 1, limit = 20;
    if (!csv && !dtm_req_page(req, &page, &limit))
        return;
    dtm_db_t *db = dtm_svc_db_read(req, "reports", req->arena);
    if (!db)
        return;
    reports_views_t views;
    dtm_err_t err = reports_db_views(db, &views);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    if (csv) {
        stream_csv(req, db, &views, &f, fn, cols, filename);
        return;
    }
    PGresult *r;
    long long total = 0;
    err = fn(db, &views, &f, NULL, NULL, limit, (long long)(page - 1) * limit, &r, &total);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(items, row_json(r, i, cols));
    dtm_resp_json(
        req, 200,
        json_pack("{s:o, s:o}", "items", items, "pagination", dtm_pagination(page, limit, total)));
}

void reports_todos(dtm_req_t *req)
{
    report(req, reports_db_todos, todo_cols, "todos.csv");
}

void reports_attendance(dtm_req_t *req)
{
    report(req, reports_db_attendance, attendance_cols, "attendance.csv");
}

/* JSON integer, or null when the column is NULL (a view that has not landed yet). */
static json_t *count_or_null(const PGresult *r, int i, const char *col)
{
    const char *s = dtm_pg_get(r, i, col);
    return s ? json_integer(strtoll(s, NULL, 10)) : json_null();
}

void reports_summary(dtm_req_t *req)
{
    dtm_valid_t v;
    dtm_valid_init(&v);
    const char *date = dtm_req_query(req, "date");
    const char *store = dtm_req_query(req, "storeId");
    if (date && !*date)
        date = NULL;
    if (store && !*store)
        store = NULL;
    if (date && !is_date(date))
        dtm_valid_fail(&v, "date", "must be a date (YYYY-MM-DD)");
    if (store && !dtm_uuid_valid(store))
        dtm_valid_fail(&v, "storeId", "must be a UUID");
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, "Bad filter", &v);
        return;
    }
    dtm_valid_cleanup(&v);
    dtm_db_t *db = dtm_svc_db_read(req, "reports", req->arena);
    if (!db)
        return;
    reports_views_t views;
    PGresult *rows, *people;
    dtm_err_t err = reports_db_views(db, &views);
    if (!err)
        err = reports_db_summary_stores(db, &views, date, store, &rows);
    if (!err)
        err = reports_db_summary_people(db, &views, date, store, &people);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    json_t *stores = json_array();
    long long due = 0, overdue = 0, completed = 0;
    int n = PQntuples(rows);
    for (int i = 0; i < n; i++) {
        due += dtm_pg_int(rows, i, "tasks_due", 0);
        overdue += dtm_pg_int(rows, i, "tasks_overdue", 0);
        completed += dtm_pg_int(rows, i, "tasks_completed", 0);
        if (!dtm_pg_get(rows, i, "store_id"))
            continue; /* the bucket of todos without a store: in the totals only */
        json_t *s = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "storeId", dtm_pg_get(rows, i, "store_id"),
            "code", dtm_pg_get(rows, i, "code"), "name", dtm_pg_get(rows, i, "name"), "timezone",
            dtm_pg_get(rows, i, "timezone"), "date", dtm_pg_get(rows, i, "local_date"), "tasksDue",
            (json_int_t)dtm_pg_int(rows, i, "tasks_due", 0), "tasksOverdue",
            (json_int_t)dtm_pg_int(rows, i, "tasks_overdue", 0), "tasksCompleted",
            (json_int_t)dtm_pg_int(rows, i, "tasks_completed", 0));
        json_object_set_new(s, "present", count_or_null(rows, i, "present"));
        json_object_set_new(s, "onBreak", count_or_null(rows, i, "on_break"));
        json_object_set_new(s, "workingNow", count_or_null(rows, i, "working_now"));
        json_array_append_new(stores, s);
    }
    char now[32];
    dtm_iso8601(dtm_now_ms(), now);
    json_t *totals = json_object();
    json_object_set_new(totals, "present", count_or_null(people, 0, "present"));
    json_object_set_new(totals, "onBreak", count_or_null(people, 0, "on_break"));
    json_object_set_new(totals, "workingNow", count_or_null(people, 0, "working_now"));
    json_object_set_new(totals, "absent", count_or_null(people, 0, "absent"));
    json_object_set_new(totals, "merchandisers", count_or_null(people, 0, "team"));
    json_object_set_new(totals, "tasksDue", json_integer(due));
    json_object_set_new(totals, "tasksOverdue", json_integer(overdue));
    json_object_set_new(totals, "tasksCompleted", json_integer(completed));
    json_object_set_new(totals, "stores", json_integer((json_int_t)json_array_size(stores)));
    dtm_resp_json(req, 200,
                  json_pack("{s:s, s:o, s:o, s:o, s:{s:b}}", "generatedAt", now, "date",
                            dtm_json_str_or_null(date), "totals", totals, "stores", stores,
                            "sources", "users", views.users));
}

void reports_visits(dtm_req_t *req)
{
    report(req, reports_db_visits, visit_cols, "visits.csv");
}
