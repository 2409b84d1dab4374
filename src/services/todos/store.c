/* SPDX-License-Identifier: MIT */
/* Every SQL statement of the todos service. Caller input only ever travels as parameters ($n);
 * the list query is assembled from fixed fragments (filters present, one of five ORDER BY
 * clauses), so the set of distinct statements stays small and each is prepared once per
 * connection. */
#include "core/ids.h"
#include "db/filter.h"
#include "core/json.h"
#include "core/str.h"
#include "db/outbox.h"
#include "services/todos/todos.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ISO(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* clang-format off */
#define TODO_COLS                                                                                  \
    "id, title, description, status, priority, " ISO("due_at") " AS due_at, assignee_id, "        \
    "created_by, store_id, checklist::text AS checklist, "                                         \
    ISO("completed_at") " AS completed_at, " ISO("created_at") " AS created_at, "                  \
    ISO("updated_at") " AS updated_at, source_ref"
/* clang-format on */

const char *todos_like_pattern(dtm_arena_t *a, const char *s)
{
    size_t n = strlen(s);
    char *out = dtm_arena_alloc(a, 2 * n + 3), *p = out;
    *p++ = '%';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' || s[i] == '_' || s[i] == '\\')
            *p++ = '\\';
        *p++ = s[i];
    }
    *p++ = '%';
    *p = '\0';
    return out;
}

/* ORDER BY clauses, each matching an index (see migrations/todos/0001_todos.sql); the id
 * tie-breaker keeps pages stable. Columns are qualified: a bare "created_at" would name the
 * formatted output column of TODO_COLS, and sorting by that text can use no index. */
static const char *const order_by[] = {
    [TODOS_SORT_CREATED_DESC] = "todos.created_at DESC, todos.id DESC",
    [TODOS_SORT_CREATED_ASC] = "todos.created_at, todos.id",
    [TODOS_SORT_DUE_ASC] = "todos.due_at ASC NULLS LAST, todos.id",
    [TODOS_SORT_DUE_DESC] = "todos.due_at DESC NULLS LAST, todos.id DESC",
    [TODOS_SORT_PRIORITY] = "todos.priority_rank DESC, todos.due_at ASC NULLS LAST, todos.id",
};

dtm_err_t todos_db_list(dtm_db_t *db, const todos_filter_t *f, PGresult **rows, long long *total)
{
    dtm_filter_t w;
    dtm_filter_init(&w);
    dtm_filter_add(&w, "assignee_id = $%d", f->scope_user);
    /* One value (the usual case) as "=", so that (status, due_at) can hand rows over in due
     * order; a generic plan cannot know that an array parameter holds a single element. */
    if (f->statuses)
        dtm_filter_add(&w,
                       strchr(f->statuses, ',') ? "status = ANY ($%d::text[])"
                                                : "status = ($%d::text[])[1]",
                       f->statuses);
    if (f->priorities)
        dtm_filter_add(&w,
                       strchr(f->priorities, ',') ? "priority = ANY ($%d::text[])"
                                                  : "priority = ($%d::text[])[1]",
                       f->priorities);
    dtm_filter_add(&w, "assignee_id = $%d", f->assignee_id);
    dtm_filter_add(&w, "store_id = $%d", f->store_id);
    dtm_filter_add(&w, "(title || ' ' || description) ILIKE $%d", f->search);
    dtm_filter_add(&w, "due_at < $%d", f->due_before);
    /* Filters the counter tables also have: read the trigger-maintained counts (exact) instead
     * of counting todos; the WHERE text is the same, its columns exist there too. Totals per
     * (status, priority) when no assignee is named, per assignee otherwise (primary key). */
    bool counters = !f->store_id && !f->search && !f->due_before;
    const char *count = !counters ? "SELECT count(*) AS n FROM todos.todos"
                        : f->assignee_id || f->scope_user
                            ? "SELECT coalesce(sum(n), 0) AS n FROM todos.todo_counts"
                            : "SELECT coalesce(sum(n), 0) AS n FROM todos.todo_totals";
    dtm_err_t err = dtm_filter_page(db, &w, count, "SELECT " TODO_COLS " FROM todos.todos",
                                    order_by[f->sort], f->limit, f->page, rows, total);
    dtm_filter_free(&w);
    return err;
}

dtm_err_t todos_db_get(dtm_db_t *db, const char *id, bool for_update, PGresult **row)
{
    const char *p[] = {id};
    dtm_err_t err =
        dtm_db_query(db, row,
                     for_update ? "SELECT " TODO_COLS " FROM todos.todos WHERE id = $1 FOR UPDATE"
                                : "SELECT " TODO_COLS " FROM todos.todos WHERE id = $1",
                     1, p);
    if (err)
        return err;
    return PQntuples(*row) == 1 ? DTM_OK : DTM_ENOTFOUND;
}

dtm_err_t todos_db_insert(dtm_db_t *db, const todos_input_t *in, PGresult **row, bool *created)
{
    char id[DTM_UUID_LEN + 1];
    dtm_uuid_v4(id);
    const char *p[] = {id,
                       in->title,
                       in->description,
                       in->priority,
                       in->due_at,
                       in->assignee_id,
                       in->created_by,
                       in->store_id,
                       in->checklist,
                       in->source_ref};
    if (created)
        *created = true;
    if (!in->source_ref)
        return dtm_db_query(
            db, row,
            "INSERT INTO todos.todos (id, title, description, priority, due_at, assignee_id,"
            " created_by, store_id, checklist) VALUES ($1, $2, coalesce($3, ''),"
            " coalesce($4, 'medium'), $5, $6, $7, $8, coalesce($9::jsonb, '[]'))"
            " RETURNING " TODO_COLS,
            9, p);
    /* Keyed by source_ref: a retry, or a concurrent request that lost the race (it waits for
     * the winner's commit, then does nothing), reads the todo that exists. */
    dtm_err_t err = dtm_db_query(
        db, row,
        "INSERT INTO todos.todos (id, title, description, priority, due_at, assignee_id,"
        " created_by, store_id, checklist, source_ref) VALUES ($1, $2, coalesce($3, ''),"
        " coalesce($4, 'medium'), $5, $6, $7, $8, coalesce($9::jsonb, '[]'), $10)"
        " ON CONFLICT (source_ref) WHERE source_ref IS NOT NULL DO NOTHING"
        " RETURNING " TODO_COLS,
        10, p);
    if (err != DTM_OK || PQntuples(*row) == 1)
        return err;
    if (created)
        *created = false;
    const char *q[] = {in->source_ref};
    err =
        dtm_db_query(db, row, "SELECT " TODO_COLS " FROM todos.todos WHERE source_ref = $1", 1, q);
    if (err == DTM_OK && PQntuples(*row) != 1)
        err = DTM_ECONFLICT; /* only if it was deleted in between */
    return err;
}

dtm_err_t todos_db_update(dtm_db_t *db, const char *id, const todos_input_t *in, PGresult **row)
{
    const char *p[] = {id,
                       in->title,
                       in->description,
                       in->status,
                       in->priority,
                       in->due_at,
                       in->due_at_clear ? "true" : "false",
                       in->assignee_id,
                       in->store_id,
                       in->store_id_clear ? "true" : "false",
                       in->checklist};
    dtm_err_t err = dtm_db_query(
        db, row,
        "UPDATE todos.todos SET title = coalesce($2, title),"
        " description = coalesce($3, description), status = coalesce($4, status),"
        " completed_at = CASE WHEN $4 IS NULL THEN completed_at"
        "   WHEN $4 = 'completed' THEN coalesce(completed_at, now()) END,"
        " priority = coalesce($5, priority),"
        " due_at = CASE WHEN $7::bool THEN NULL ELSE coalesce($6::timestamptz, due_at) END,"
        " assignee_id = coalesce($8::uuid, assignee_id),"
        " store_id = CASE WHEN $10::bool THEN NULL ELSE coalesce($9::uuid, store_id) END,"
        " checklist = coalesce($11::jsonb, checklist), updated_at = now()"
        " WHERE id = $1 RETURNING " TODO_COLS,
        11, p);
    if (err)
        return err;
    return PQntuples(*row) == 1 ? DTM_OK : DTM_ENOTFOUND;
}

dtm_err_t todos_db_delete(dtm_db_t *db, const char *id)
{
    const char *p[] = {id};
    PGresult *r;
    dtm_err_t err =
        dtm_db_query(db, &r, "DELETE FROM todos.todos WHERE id = $1 RETURNING id", 1, p);
    if (err)
        return err;
    return PQntuples(r) == 1 ? DTM_OK : DTM_ENOTFOUND;
}

dtm_err_t todos_db_complete(dtm_db_t *db, const char *id, const char *assignee, PGresult **row)
{
    const char *p[] = {id, assignee};
    dtm_err_t err = dtm_db_query(
        db, row,
        "UPDATE todos.todos SET status = 'completed', completed_at = now(), updated_at = now()"
        " WHERE id = $1 AND status <> 'completed' AND ($2::uuid IS NULL OR assignee_id = $2)"
        " RETURNING " TODO_COLS,
        2, p);
    if (err)
        return err;
    return PQntuples(*row) == 1 ? DTM_OK : DTM_ENOTFOUND;
}

dtm_err_t todos_db_reopen(dtm_db_t *db, const char *id, const char *assignee, PGresult **row)
{
    const char *p[] = {id, assignee};
    dtm_err_t err = dtm_db_query(
        db, row,
        "UPDATE todos.todos SET status = 'pending', completed_at = NULL, updated_at = now()"
        " WHERE id = $1 AND status = 'completed' AND ($2::uuid IS NULL OR assignee_id = $2)"
        " RETURNING " TODO_COLS,
        2, p);
    if (err)
        return err;
    return PQntuples(*row) == 1 ? DTM_OK : DTM_ENOTFOUND;
}

dtm_err_t todos_db_check_item(dtm_db_t *db, const char *id, const char *item_id, bool done,
                              const char *assignee, const char *captured_at, PGresult **row)
{
    const char *p[] = {id, item_id, done ? "true" : "false", assignee, captured_at};
    /* Rebuilds the array in its order with the one item changed; the row lock of the UPDATE
     * serialises concurrent ticks of the same todo. */
    dtm_err_t err = dtm_db_query(
        db, row,
        /* clang-format off */
        "UPDATE todos.todos t SET checklist = (SELECT jsonb_agg(CASE WHEN e ->> 'id' = $2"
        "   THEN jsonb_set(e, '{done}', to_jsonb($3::bool)) || jsonb_build_object("
        "     'doneAt', CASE WHEN $3::bool THEN " ISO("coalesce($5::timestamptz, now())") " END,"
        "     'doneReceivedAt', CASE WHEN $3::bool THEN " ISO("now()") " END)"
        "   ELSE e END ORDER BY o)"
        "   FROM jsonb_array_elements(t.checklist) WITH ORDINALITY AS x(e, o)),"
        " updated_at = now()"
        " WHERE t.id = $1 AND t.checklist @> jsonb_build_array(jsonb_build_object('id', $2::text))"
        " AND ($4::uuid IS NULL OR t.assignee_id = $4) RETURNING " TODO_COLS,
        /* clang-format on */
        5, p);
    if (err)
        return err;
    return PQntuples(*row) == 1 ? DTM_OK : DTM_ENOTFOUND;
}

dtm_err_t todos_db_bulk_assign(dtm_db_t *db, const char *ids, const char *assignee,
                               const char *assigned_by, long long *updated)
{
    const char *p[] = {ids, assignee};
    PGresult *r;
    /* Rows are locked in id order first, so two bulk assigns over overlapping sets wait for
     * each other instead of deadlocking. */
    dtm_err_t err = dtm_db_query(
        db, &r,
        "WITH l AS (SELECT id, assignee_id AS was FROM todos.todos"
        " WHERE id = ANY ($1::uuid[]) ORDER BY id FOR UPDATE),"
        " u AS (UPDATE todos.todos t SET assignee_id = $2, updated_at = now()"
        " FROM l WHERE t.id = l.id RETURNING t.id, t.title, t.assignee_id,"
        " " ISO("t.due_at") " AS due_at, l.was IS DISTINCT FROM t.assignee_id AS moved)"
                            " SELECT id, title, assignee_id, due_at, moved FROM u",
        2, p);
    if (err)
        return err;
    *updated = PQntuples(r);
    for (int i = 0; i < PQntuples(r) && !err; i++)
        if (dtm_pg_bool(r, i, "moved"))
            err = todos_db_emit_assigned(db, r, i, assigned_by);
    return err;
}

dtm_err_t todos_db_emit_assigned(dtm_db_t *db, const PGresult *r, int i, const char *assigned_by)
{
    const char *assignee = dtm_pg_get(r, i, "assignee_id");
    if (!assignee || (assigned_by && strcasecmp(assignee, assigned_by) == 0))
        return DTM_OK; /* nobody to tell, or one's own todo */
    json_t *payload = json_pack("{s:s, s:s, s:s, s:o, s:o}", "todoId", dtm_pg_get(r, i, "id"),
                                "title", dtm_pg_get(r, i, "title"), "assigneeId", assignee,
                                "assignedBy", dtm_json_str_or_null(assigned_by), "dueDate",
                                dtm_json_str_or_null(dtm_pg_get(r, i, "due_at")));
    dtm_err_t err = dtm_outbox_emit(db, "todos", TODOS_TOPIC_ASSIGNED, payload, NULL);
    json_decref(payload);
    return err;
}

dtm_err_t todos_db_missing(dtm_db_t *db, const char *ids, PGresult **rows)
{
    const char *p[] = {ids};
    return dtm_db_query(db, rows,
                        "SELECT DISTINCT u.id::text AS id FROM unnest($1::uuid[]) AS u(id)"
                        " WHERE NOT EXISTS (SELECT 1 FROM todos.todos t WHERE t.id = u.id)"
                        " ORDER BY 1",
                        1, p);
}

#define STATS_COLS(count)                                                                          \
    count " AS total,"                                                                             \
          " " count " FILTER (WHERE status = 'pending') AS s_pending,"                             \
          " " count " FILTER (WHERE status = 'in_progress') AS s_in_progress,"                     \
          " " count " FILTER (WHERE status = 'completed') AS s_completed,"                         \
          " " count " FILTER (WHERE status = 'cancelled') AS s_cancelled,"                         \
          " " count " FILTER (WHERE priority = 'low') AS p_low,"                                   \
          " " count " FILTER (WHERE priority = 'medium') AS p_medium,"                             \
          " " count " FILTER (WHERE priority = 'high') AS p_high,"                                 \
          " " count " FILTER (WHERE priority = 'urgent') AS p_urgent"

dtm_err_t todos_db_stats(dtm_db_t *db, const char *scope_user, PGresult **row)
{
    /* Everything: the totals table for the breakdowns, two index range counts for the
     * time-dependent figures (todos_status_due_idx, todos_completed_idx). */
    if (!scope_user)
        return dtm_db_query(
            db, row,
            "SELECT " STATS_COLS("sum(n)") ","
                                           " (SELECT count(*) FROM todos.todos WHERE status IN "
                                           "('pending', 'in_progress')"
                                           "   AND due_at < now()) AS overdue,"
                                           " (SELECT count(*) FROM todos.todos WHERE completed_at "
                                           ">= now() - interval '7 days')"
                                           "   AS completed_7d FROM todos.todo_totals",
            0, NULL);
    /* One merchandiser's todos (those assigned to them): their counter rows, and index-only
     * counts on (assignee_id, status, due_at) INCLUDE (completed_at). completed_at is set
     * exactly when the status is completed (table CHECK), which lets the index prefix serve. */
    const char *p[] = {scope_user};
    return dtm_db_query(
        db, row,
        "SELECT " STATS_COLS(
            "sum(n)") ","
                      " (SELECT count(*) FROM todos.todos WHERE assignee_id = $1"
                      "   AND status IN ('pending', 'in_progress') AND due_at < now()) AS overdue,"
                      " (SELECT count(*) FROM todos.todos WHERE assignee_id = $1 AND status = "
                      "'completed'"
                      "   AND completed_at >= now() - interval '7 days') AS completed_7d"
                      " FROM todos.todo_counts WHERE assignee_id = $1",
        1, p);
}

static json_t *checklist_json(const char *text)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    return json_is_array(j) ? j : (json_decref(j), json_array());
}

json_t *todos_row_json(const PGresult *r, int i)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:o, s:o, s:s, s:s}", "id",
        dtm_pg_get(r, i, "id"), "title", dtm_pg_get(r, i, "title"), "description",
        dtm_pg_get(r, i, "description"), "status", dtm_pg_get(r, i, "status"), "priority",
        dtm_pg_get(r, i, "priority"), "dueAt", dtm_json_str_or_null(dtm_pg_get(r, i, "due_at")),
        "assigneeId", dtm_pg_get(r, i, "assignee_id"), "createdBy", dtm_pg_get(r, i, "created_by"),
        "storeId", dtm_json_str_or_null(dtm_pg_get(r, i, "store_id")), "checklist",
        checklist_json(dtm_pg_get(r, i, "checklist")), "completedAt",
        dtm_json_str_or_null(dtm_pg_get(r, i, "completed_at")), "createdAt",
        dtm_pg_get(r, i, "created_at"), "updatedAt", dtm_pg_get(r, i, "updated_at"));
    const char *ref = dtm_pg_get(r, i, "source_ref");
    if (ref)
        json_object_set_new(o, "sourceRef", json_string(ref));
    return o;
}
