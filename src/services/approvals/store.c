/* SPDX-License-Identifier: MIT */
/* Every SQL statement of the approvals service. Only parameters ($n) carry caller input; the
 * variable parts of the list query are chosen from fixed fragments. */
#include "core/ids.h"
#include "db/filter.h"
#include "core/json.h"
#include "core/str.h"
#include "services/approvals/approvals.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ISO(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* clang-format off */
#define STEP_JSON                                                                               \
    "json_build_object('role', s.role, 'status', s.status, 'actorId', s.actor_id,"              \
    " 'comment', s.comment, 'decidedAt', " ISO("s.decided_at") ")"
#define REQUEST_COLS                                                                            \
    "q.id, q.type, q.requester_id, q.requester_name, q.payload::text AS payload, q.reason,"     \
    " q.status, q.workflow_version, q.nsteps, q.current_step, q.pending_role,"                  \
    " " ISO("q.created_at") " AS created_at, " ISO("q.updated_at") " AS updated_at,"            \
    " " ISO("q.decided_at") " AS decided_at,"                                                   \
    " (SELECT json_agg(" STEP_JSON " ORDER BY s.position) FROM approvals.steps s"               \
    "  WHERE s.request_id = q.id) AS steps"
#define WORKFLOW_COLS                                                                           \
    "w.type, w.version, array_to_json(w.roles)::text AS roles, w.updated_by,"                   \
    " " ISO("w.updated_at") " AS updated_at"
/* clang-format on */

dtm_err_t approvals_db_workflow_get(dtm_db_t *db, const char *type, PGresult **row)
{
    const char *p[] = {type};
    dtm_err_t err = dtm_db_query(
        db, row, "SELECT " WORKFLOW_COLS " FROM approvals.workflows w WHERE w.type = $1", 1, p);
    if (err == DTM_OK && PQntuples(*row) != 1)
        return DTM_ENOTFOUND;
    return err;
}

dtm_err_t approvals_db_workflow_list(dtm_db_t *db, PGresult **rows)
{
    return dtm_db_query(
        db, rows, "SELECT " WORKFLOW_COLS " FROM approvals.workflows w ORDER BY w.type", 0, NULL);
}

dtm_err_t approvals_db_workflow_put(dtm_db_t *db, const char *type, const char *roles,
                                    const char *by, PGresult **row)
{
    const char *p[] = {type, roles, by};
    dtm_err_t err = dtm_db_query(db, row,
                                 "WITH w AS (UPDATE approvals.workflows SET roles = $2::text[],"
                                 " version = version + 1, updated_by = $3, updated_at = now()"
                                 " WHERE type = $1 RETURNING *) SELECT " WORKFLOW_COLS " FROM w",
                                 3, p);
    if (err == DTM_OK && PQntuples(*row) != 1)
        return DTM_ENOTFOUND;
    return err;
}

dtm_err_t approvals_db_insert(dtm_db_t *db, const approvals_input_t *in, char id[37])
{
    dtm_uuid_v4(id);
    const char *p[] = {id,          in->type,   in->requester_id, in->requester_name,
                       in->payload, in->reason, in->roles,        in->version};
    /* The steps are the roles the handler read (and announced in approval.requested), not a
     * fresh read: the request keeps exactly the workflow version it was created with. */
    return dtm_db_query(
        db, NULL,
        "WITH q AS (INSERT INTO approvals.requests (id, type, requester_id, requester_name,"
        " payload, reason, workflow_version, nsteps, current_step, pending_role)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, coalesce($6, ''), $8::int,"
        " cardinality($7::text[]), 0, ($7::text[])[1]) RETURNING id)"
        " INSERT INTO approvals.steps (request_id, position, role, status)"
        " SELECT q.id, o.n - 1, o.role, CASE WHEN o.n = 1 THEN 'pending' ELSE 'waiting' END"
        " FROM q, unnest($7::text[]) WITH ORDINALITY AS o(role, n)",
        8, p);
}

dtm_err_t approvals_db_get(dtm_db_t *db, const char *id, PGresult **row)
{
    const char *p[] = {id};
    dtm_err_t err = dtm_db_query(
        db, row, "SELECT " REQUEST_COLS " FROM approvals.requests q WHERE q.id = $1", 1, p);
    if (err == DTM_OK && PQntuples(*row) != 1)
        return DTM_ENOTFOUND;
    return err;
}

dtm_err_t approvals_db_list(dtm_db_t *db, const approvals_filter_t *f, PGresult **rows,
                            long long *total)
{
    dtm_filter_t w;
    dtm_filter_init(&w);
    dtm_filter_add(&w, "q.requester_id = $%d", f->requester_id);
    /* The partial inbox index's predicate, spelled out so the planner uses it. */
    dtm_filter_add(&w, "q.status = 'pending' AND q.pending_role = $%d", f->inbox_role);
    dtm_filter_add(&w, "q.requester_id <> $%d", f->not_requester);
    dtm_filter_add(&w, "q.status = $%d", f->status);
    dtm_filter_add(&w, "q.type = $%d", f->type);
    dtm_err_t err = dtm_filter_page(db, &w, "SELECT count(*) AS n FROM approvals.requests q",
                                    "SELECT " REQUEST_COLS " FROM approvals.requests q",
                                    "q.created_at DESC, q.id DESC", f->limit, f->page, rows, total);
    dtm_filter_free(&w);
    return err;
}

dtm_err_t approvals_db_decide(dtm_db_t *db, const char *id, const char *step, const char *decision,
                              const char *actor, const char *comment, bool *final)
{
    const char *p[] = {id, step, decision};
    PGresult *r;
    /* The whole race is this statement: concurrent deciders of one step queue on the row lock,
     * and each one after the first re-checks the WHERE against the new row version, which no
     * longer matches (the step moved on, or the request is decided): 0 rows. */
    dtm_err_t err =
        dtm_db_query(db, &r,
                     "UPDATE approvals.requests q SET"
                     " status = CASE WHEN $3 = 'rejected' THEN 'rejected'"
                     "   WHEN q.current_step + 1 = q.nsteps THEN 'approved' ELSE 'pending' END,"
                     " current_step = CASE WHEN $3 = 'approved' AND q.current_step + 1 < q.nsteps"
                     "   THEN q.current_step + 1 END,"
                     " pending_role = CASE WHEN $3 = 'approved' AND q.current_step + 1 < q.nsteps"
                     "   THEN (SELECT s.role FROM approvals.steps s WHERE s.request_id = q.id"
                     "         AND s.position = q.current_step + 1) END,"
                     " decided_at = CASE WHEN $3 = 'rejected' OR q.current_step + 1 = q.nsteps"
                     "   THEN now() END,"
                     " updated_at = now()"
                     " WHERE q.id = $1 AND q.current_step = $2::int AND q.status = 'pending'"
                     " RETURNING q.status",
                     3, p);
    if (err)
        return err;
    if (PQntuples(r) != 1)
        return DTM_ECONFLICT;
    *final = strcmp(dtm_pg_get(r, 0, "status"), "pending") != 0;
    const char *sp[] = {id, step, decision, actor, comment};
    return dtm_db_query(db, NULL,
                        "UPDATE approvals.steps SET"
                        " status = CASE WHEN position = $2::int THEN $3"
                        "   WHEN $3 = 'rejected' THEN 'skipped' ELSE 'pending' END,"
                        " actor_id = CASE WHEN position = $2::int THEN $4::uuid END,"
                        " comment = CASE WHEN position = $2::int THEN $5 END,"
                        " decided_at = CASE WHEN position = $2::int THEN now() END"
                        " WHERE request_id = $1 AND (position = $2::int"
                        "   OR ($3 = 'rejected' AND position > $2::int)"
                        "   OR ($3 = 'approved' AND position = $2::int + 1))",
                        5, sp);
}

dtm_err_t approvals_db_cancel(dtm_db_t *db, const char *id, const char *requester)
{
    const char *p[] = {id, requester};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "UPDATE approvals.requests SET status = 'cancelled',"
                                 " current_step = NULL, pending_role = NULL, decided_at = now(),"
                                 " updated_at = now()"
                                 " WHERE id = $1 AND requester_id = $2 AND status = 'pending'"
                                 " RETURNING id",
                                 2, p);
    if (err)
        return err;
    if (PQntuples(r) != 1)
        return DTM_ECONFLICT;
    return dtm_db_query(db, NULL,
                        "UPDATE approvals.steps SET status = 'cancelled'"
                        " WHERE request_id = $1 AND status IN ('pending', 'waiting')",
                        1, p);
}

json_t *approvals_row_json(const PGresult *r, int i)
{
    const char *text = dtm_pg_get(r, i, "payload");
    json_t *payload = text ? json_loads(text, 0, NULL) : NULL;
    const char *st = dtm_pg_get(r, i, "steps");
    json_t *steps = st ? json_loads(st, 0, NULL) : NULL;
    const char *cur = dtm_pg_get(r, i, "current_step");
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:o, s:o, s:I, s:s, s:s, s:o}", "id",
        dtm_pg_get(r, i, "id"), "type", dtm_pg_get(r, i, "type"), "requesterId",
        dtm_pg_get(r, i, "requester_id"), "requesterName", dtm_pg_get(r, i, "requester_name"),
        "payload", payload ? payload : json_object(), "reason", dtm_pg_get(r, i, "reason"),
        "status", dtm_pg_get(r, i, "status"), "steps", steps ? steps : json_array(), "currentStep",
        cur ? json_integer(strtoll(cur, NULL, 10)) : json_null(), "currentRole",
        dtm_json_str_or_null(dtm_pg_get(r, i, "pending_role")), "workflowVersion",
        (json_int_t)dtm_pg_int(r, i, "workflow_version", 1), "createdAt",
        dtm_pg_get(r, i, "created_at"), "updatedAt", dtm_pg_get(r, i, "updated_at"), "decidedAt",
        dtm_json_str_or_null(dtm_pg_get(r, i, "decided_at")));
}

json_t *approvals_workflow_json(const PGresult *r, int i)
{
    const char *text = dtm_pg_get(r, i, "roles");
    json_t *roles = text ? json_loads(text, 0, NULL) : NULL;
    json_t *steps = json_array();
    size_t k;
    json_t *x;
    json_array_foreach(roles, k, x) json_array_append_new(steps, json_pack("{s:O}", "role", x));
    json_decref(roles);
    return json_pack("{s:s, s:I, s:o, s:o, s:s}", "type", dtm_pg_get(r, i, "type"), "version",
                     (json_int_t)dtm_pg_int(r, i, "version", 1), "steps", steps, "updatedBy",
                     dtm_json_str_or_null(dtm_pg_get(r, i, "updated_by")), "updatedAt",
                     dtm_pg_get(r, i, "updated_at"));
}
