/* SPDX-License-Identifier: MIT */
/* Todos service: tasks with checklists, their lifecycle and statistics. handlers.c validates,
 * checks who may do what and answers; store.c holds every SQL statement of the `todos` schema. */
#ifndef DTM_SERVICES_TODOS_H
#define DTM_SERVICES_TODOS_H

#include "core/metrics.h"
#include "db/pg.h"
#include "http/http.h"
#include <jansson.h>

/* Outbox topic (docs/events.md): a todo was given to someone other than the one who did it. */
#define TODOS_TOPIC_ASSIGNED "todo.assigned"

/* ---- store.c: data access ---- */

/* Writable fields as SQL text parameters. NULL means "not given": the column default on
 * insert, the current value on update. The *_clear flags set a nullable column to NULL. */
typedef struct {
    const char *title, *description, *status, *priority;
    const char *due_at; /* ISO-8601 */
    const char *assignee_id, *created_by, *store_id;
    const char *checklist;  /* JSON array text [{id,text,done}] */
    const char *source_ref; /* set only by services: "audit:<id>:<questionId>" */
    bool due_at_clear, store_id_clear;
} todos_input_t;

/* Sort orders of ?sort=, indexes into a fixed table of ORDER BY clauses in store.c. */
typedef enum {
    TODOS_SORT_CREATED_DESC = 0, /* default: newest first */
    TODOS_SORT_CREATED_ASC,
    TODOS_SORT_DUE_ASC,
    TODOS_SORT_DUE_DESC,
    TODOS_SORT_PRIORITY,
} todos_sort_t;

typedef struct {
    const char *scope_user; /* merchandiser: only the todos assigned to this id */
    const char *statuses;   /* PostgreSQL array text "{pending,in_progress}" or NULL */
    const char *priorities; /* same for priorities */
    const char *assignee_id, *store_id;
    const char *search;     /* LIKE pattern from todos_like_pattern, or NULL */
    const char *due_before; /* ISO-8601 or NULL */
    todos_sort_t sort;
    int page, limit;
} todos_filter_t;

/** "%s%" with the LIKE wildcards in s escaped, so the caller's text matches literally. */
const char *todos_like_pattern(dtm_arena_t *a, const char *s);
/** One page of todos (*rows, arena-owned) and the total number matching. */
dtm_err_t todos_db_list(dtm_db_t *db, const todos_filter_t *f, PGresult **rows, long long *total);
/** The todo `id` (a valid UUID), locked FOR UPDATE when for_update (inside a transaction).
 *  DTM_ENOTFOUND when there is none. */
dtm_err_t todos_db_get(dtm_db_t *db, const char *id, bool for_update, PGresult **row);
/** Insert with a new id. With in->source_ref, idempotent: when a todo with that reference
 *  exists it is returned instead and *created (may be NULL) is false. */
dtm_err_t todos_db_insert(dtm_db_t *db, const todos_input_t *in, PGresult **row, bool *created);
/** Update the given fields (status changes keep completed_at consistent). DTM_ENOTFOUND. */
dtm_err_t todos_db_update(dtm_db_t *db, const char *id, const todos_input_t *in, PGresult **row);
/** Delete; DTM_ENOTFOUND. */
dtm_err_t todos_db_delete(dtm_db_t *db, const char *id);
/** Mark completed unless it already is, in one conditional UPDATE (so concurrent completes get
 *  exactly one winner); only when assigned to `assignee` if that is not NULL. DTM_ENOTFOUND
 *  when no row changed: the caller finds out why. */
dtm_err_t todos_db_complete(dtm_db_t *db, const char *id, const char *assignee, PGresult **row);
/** Back to pending if completed (same conditions as complete). DTM_ENOTFOUND: nothing changed. */
dtm_err_t todos_db_reopen(dtm_db_t *db, const char *id, const char *assignee, PGresult **row);
/** Set done on checklist item `item_id`; a tick records doneAt (captured_at, an offline
 *  capture's ISO-8601 time, or now when NULL) and doneReceivedAt. DTM_ENOTFOUND when the todo
 *  (assigned to `assignee` when not NULL) has no such item. */
dtm_err_t todos_db_check_item(dtm_db_t *db, const char *id, const char *item_id, bool done,
                              const char *assignee, const char *captured_at, PGresult **row);
/** Assign every todo of `ids` (PostgreSQL uuid[] text) to `assignee`, inside the caller's
 *  transaction; *updated = rows changed. */
dtm_err_t todos_db_bulk_assign(dtm_db_t *db, const char *ids, const char *assignee,
                               const char *assigned_by, long long *updated);
/** Inside the caller's transaction: publish todo.assigned (docs/events.md) for the todo in row
 *  `i` of `r` (columns id, title, assignee_id, due_at) unless it is assigned to `assigned_by`
 *  itself. Errors as dtm_outbox_emit. */
dtm_err_t todos_db_emit_assigned(dtm_db_t *db, const PGresult *r, int i, const char *assigned_by);
/** The ids of `ids` that name no todo (column "id"). */
dtm_err_t todos_db_missing(dtm_db_t *db, const char *ids, PGresult **rows);
/** Counts for GET /stats, over every todo or (scope_user) those assigned to that user. */
dtm_err_t todos_db_stats(dtm_db_t *db, const char *scope_user, PGresult **row);

/** The API object of row `i` (new reference). */
json_t *todos_row_json(const PGresult *r, int i);

/* ---- metrics (registered by the service init) ---- */
extern dtm_metric_t *todos_created_total, *todos_completed_total;
dtm_err_t todos_init(void);

/* ---- handlers.c ---- */
void todos_list(dtm_req_t *req);
void todos_create(dtm_req_t *req);
void todos_get(dtm_req_t *req);
void todos_update(dtm_req_t *req);
void todos_delete(dtm_req_t *req);
void todos_complete(dtm_req_t *req);
void todos_reopen(dtm_req_t *req);
void todos_check_item(dtm_req_t *req);
void todos_bulk_assign(dtm_req_t *req);
void todos_stats(dtm_req_t *req);

#endif
