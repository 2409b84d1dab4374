/* SPDX-License-Identifier: MIT */
/* The audit log (schema `audit`, migrations/audit): one hash-chained row per write by an admin or
 * a manager, appended in the same transaction as the change by whichever service makes it
 * (users, stores, auth's MFA reset). The audit schema lives in the writer's database (the one
 * DATABASE_URL of the usual deployment). All SQL of the audit schema is in audit.c.
 *
 * Entry: {id, at, actorId, actorRole, action, entity, entityId, ip, requestId, changes}.
 * Chain: prev_hash is the previous row's hash (64 zeros for the first), hash = audit.row_hash()
 * (SQL, the migration) over prev_hash and every field; audit.head names the newest row, moved by
 * the same statement, so deleting the newest rows shows too. `dtm audit verify` recomputes it.
 * Not a defence against someone who may rewrite the whole table and its head (no secret key):
 * it makes an edit or deletion by SQL visible, it does not make it impossible. */
#ifndef DTM_COMMON_AUDIT_H
#define DTM_COMMON_AUDIT_H

#include "core/err.h"
#include "db/pg.h"
#include "http/http.h"
#include <jansson.h>
#include <stdbool.h>

/** Whether this request's writes are recorded: its caller is an admin or a manager. */
bool dtm_audit_wanted(const dtm_req_t *req);

/** Inside the caller's open transaction on `db`: append one entry (actor, ip and request id from
 *  req; req NULL means the CLI). `changes` is stolen (NULL: {}). Serialised with other appends
 *  until the caller's transaction ends. DTM_OK or the database error (the caller rolls back). */
dtm_err_t dtm_audit_append(dtm_db_t *db, const dtm_req_t *req, const char *action,
                           const char *entity, const char *entity_id, json_t *changes);

/** {field: {from, to}} for each field of `after` whose value differs in `before` (fields named
 *  in `skip`, a NULL-terminated list, are left out). New reference. */
json_t *dtm_audit_diff(const json_t *before, const json_t *after, const char *const *skip);

typedef struct {
    long long entries;   /* rows checked */
    long long broken_id; /* first row whose link or hash is wrong; 0 when the chain holds */
    char reason[160];
} dtm_audit_check_t;

/** Walk the whole chain in id order (in batches): DTM_OK with *out filled. */
dtm_err_t dtm_audit_verify(dtm_db_t *db, dtm_audit_check_t *out);

typedef struct {
    const char *actor_id, *entity, *entity_id, *action, *from, *to; /* NULL = any */
    int page, limit;
} dtm_audit_filter_t;

/** A page of entries, newest first, as JSON objects (new reference), *total the match count. */
dtm_err_t dtm_audit_list(dtm_db_t *db, const dtm_audit_filter_t *f, json_t **items,
                         long long *total);

#endif
