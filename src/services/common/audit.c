/* SPDX-License-Identifier: MIT */
/* The audit log: append in the writer's transaction, verify the chain, list (see audit.h). */
#include "services/common/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_LOCK_KEY    "7283001401" /* pg_advisory_xact_lock key of the chain's head */
#define AUDIT_ZERO_HASH   "0000000000000000000000000000000000000000000000000000000000000000"
#define AUDIT_VERIFY_PAGE 5000

bool dtm_audit_wanted(const dtm_req_t *req)
{
    return req && req->auth.authed &&
           (req->auth.role == DTM_ROLE_ADMIN || req->auth.role == DTM_ROLE_MANAGER);
}

dtm_err_t dtm_audit_append(dtm_db_t *db, const dtm_req_t *req, const char *action,
                           const char *entity, const char *entity_id, json_t *changes)
{
    char *text = changes ? json_dumps(changes, JSON_COMPACT) : strdup("{}");
    json_decref(changes);
    if (!text)
        return DTM_EINTERNAL;
    const char *actor =
        req && req->auth.sub[0] && req->auth.role != DTM_ROLE_SERVICE ? req->auth.sub : NULL;
    const char *params[] = {
        actor,
        req ? dtm_role_name(req->auth.role) : "cli",
        action,
        entity,
        entity_id ? entity_id : "",
        req && req->client_ip ? req->client_ip : "",
        req && req->request_id ? req->request_id : "",
        text,
    };
    dtm_err_t err =
        dtm_db_query(db, NULL, "SELECT pg_advisory_xact_lock(" AUDIT_LOCK_KEY ")", 0, NULL);
    if (!err)
        err = dtm_db_query(
            db, NULL,
            "WITH r AS (SELECT nextval('audit.log_id_seq') AS id, clock_timestamp() AS at), "
            "p AS (SELECT coalesce((SELECT hash FROM audit.log ORDER BY id DESC LIMIT 1), "
            "'" AUDIT_ZERO_HASH "') AS h), "
            "ins AS (INSERT INTO audit.log (id, at, actor_id, actor_role, action, entity, "
            "entity_id, ip, request_id, changes, prev_hash, hash) "
            "SELECT r.id, r.at, $1::uuid, $2, $3, $4, left($5, 64), left($6, 64), left($7, 128), "
            "$8::jsonb, p.h, audit.row_hash(p.h, r.id, r.at, $1::uuid, $2, $3, $4, left($5, 64), "
            "left($6, 64), left($7, 128), $8::jsonb) FROM r, p RETURNING id, hash) "
            "UPDATE audit.head SET id = ins.id, hash = ins.hash FROM ins",
            8, params);
    free(text);
    return err;
}

json_t *dtm_audit_diff(const json_t *before, const json_t *after, const char *const *skip)
{
    json_t *out = json_object();
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)after, key, v)
    {
        bool skipped = false;
        for (const char *const *s = skip; s && *s && !skipped; s++)
            skipped = strcmp(*s, key) == 0;
        json_t *old = before ? json_object_get(before, key) : NULL;
        if (skipped || (old && json_equal(old, v)))
            continue;
        json_object_set_new(out, key,
                            json_pack("{s:O, s:O}", "from", old ? old : json_null(), "to", v));
    }
    return out;
}

dtm_err_t dtm_audit_verify(dtm_db_t *db, dtm_audit_check_t *out)
{
    memset(out, 0, sizeof *out);
    char expected[65] = AUDIT_ZERO_HASH, last[24] = "0";
    long long prev_id = 0;
    for (;;) {
        PGresult *r;
        char limit[16];
        snprintf(limit, sizeof limit, "%d", AUDIT_VERIFY_PAGE);
        const char *params[] = {last, limit};
        dtm_err_t err = dtm_db_query(
            db, &r,
            "SELECT id, prev_hash, hash, audit.row_hash(prev_hash, id, at, actor_id, actor_role, "
            "action, entity, entity_id, ip, request_id, changes) AS computed "
            "FROM audit.log WHERE id > $1::bigint ORDER BY id LIMIT $2::int",
            2, params);
        if (err)
            return err;
        int n = PQntuples(r);
        for (int i = 0; i < n; i++) {
            long long id = dtm_pg_int(r, i, "id", 0);
            const char *prev = dtm_pg_get(r, i, "prev_hash");
            const char *hash = dtm_pg_get(r, i, "hash");
            const char *computed = dtm_pg_get(r, i, "computed");
            out->entries++;
            if (strcmp(computed, hash) != 0) {
                out->broken_id = id;
                snprintf(out->reason, sizeof out->reason,
                         "row %lld does not match its hash: it was altered", id);
                return DTM_OK;
            }
            if (strcmp(prev, expected) != 0) {
                out->broken_id = id;
                if (prev_id)
                    snprintf(out->reason, sizeof out->reason,
                             "row %lld does not follow row %lld: a row between them was "
                             "deleted, or row %lld was rewritten",
                             id, prev_id, prev_id);
                else
                    snprintf(out->reason, sizeof out->reason,
                             "row %lld is not the start of the chain: the rows before it were "
                             "deleted",
                             id);
                return DTM_OK;
            }
            snprintf(expected, sizeof expected, "%s", hash);
            prev_id = id;
        }
        if (n < AUDIT_VERIFY_PAGE)
            break;
        snprintf(last, sizeof last, "%lld", prev_id);
    }
    /* The chain holds; does it end where the head says? */
    PGresult *h;
    dtm_err_t err = dtm_db_query(db, &h, "SELECT id, hash FROM audit.head", 0, NULL);
    if (err)
        return err;
    long long head_id = PQntuples(h) == 1 ? dtm_pg_int(h, 0, "id", -1) : -1;
    const char *head_hash = PQntuples(h) == 1 ? dtm_pg_get(h, 0, "hash") : NULL;
    if (head_id != prev_id || !head_hash || strcmp(head_hash, expected) != 0) {
        out->broken_id = head_id > 0 ? head_id : prev_id;
        snprintf(out->reason, sizeof out->reason,
                 "the chain ends at row %lld but its head names row %lld: the newest rows were "
                 "deleted, or the head was changed",
                 prev_id, head_id);
    }
    return DTM_OK;
}

#define AUDIT_WHERE                                                                                \
    "WHERE ($1::uuid IS NULL OR actor_id = $1::uuid) AND ($2::text IS NULL OR entity = $2) "       \
    "AND ($3::text IS NULL OR entity_id = $3) AND ($4::text IS NULL OR action = $4) "              \
    "AND ($5::timestamptz IS NULL OR at >= $5::timestamptz) "                                      \
    "AND ($6::timestamptz IS NULL OR at < $6::timestamptz) "

dtm_err_t dtm_audit_list(dtm_db_t *db, const dtm_audit_filter_t *f, json_t **items,
                         long long *total)
{
    char limit[16], offset[24];
    snprintf(limit, sizeof limit, "%d", f->limit);
    snprintf(offset, sizeof offset, "%lld", (long long)(f->page - 1) * f->limit);
    const char *params[] = {f->actor_id, f->entity, f->entity_id, f->action,
                            f->from,     f->to,     limit,        offset};
    PGresult *c, *r;
    dtm_err_t err =
        dtm_db_query(db, &c, "SELECT count(*) AS n FROM audit.log " AUDIT_WHERE, 6, params);
    if (!err)
        err = dtm_db_query(
            db, &r,
            "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS at, "
            "actor_id::text AS actor_id, actor_role, action, entity, entity_id, ip, request_id, "
            "changes::text AS changes FROM audit.log " AUDIT_WHERE
            "ORDER BY id DESC LIMIT $7::int OFFSET $8::bigint",
            8, params);
    if (err)
        return err;
    *total = dtm_pg_int(c, 0, "n", 0);
    *items = json_array();
    for (int i = 0, n = PQntuples(r); i < n; i++) {
        const char *actor = dtm_pg_get(r, i, "actor_id");
        json_t *changes = json_loads(dtm_pg_get(r, i, "changes"), 0, NULL);
        json_array_append_new(
            *items,
            json_pack("{s:I, s:s, s:s?, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "id",
                      (json_int_t)dtm_pg_int(r, i, "id", 0), "at", dtm_pg_get(r, i, "at"),
                      "actorId", actor, "actorRole", dtm_pg_get(r, i, "actor_role"), "action",
                      dtm_pg_get(r, i, "action"), "entity", dtm_pg_get(r, i, "entity"), "entityId",
                      dtm_pg_get(r, i, "entity_id"), "ip", dtm_pg_get(r, i, "ip"), "requestId",
                      dtm_pg_get(r, i, "request_id"), "changes",
                      changes ? changes : json_object()));
    }
    return DTM_OK;
}
