/* SPDX-License-Identifier: MIT */
/* Idempotency-Key rows: every statement of the idempotency schema. */
#include "db/idempotency.h"
#include "core/arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One statement claims or reports. The INSERT takes a free key, an expired row (older than
 * the TTL: started afresh) or an abandoned one (running past its lease, same request); the
 * SELECT arm reports the row that stopped it. When a concurrent claim committed between this
 * statement's snapshot and its insert, neither arm returns a row: the caller asks again. */
static const char CLAIM_SQL[] =
    "WITH ins AS ("
    " INSERT INTO idempotency.keys AS k (scope, key, fingerprint, method, path, state,"
    "  lease_until)"
    " VALUES ($1, $2, $3, $4, $5, 'running', now() + $7::integer * interval '1 millisecond')"
    " ON CONFLICT (scope, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,"
    "  method = EXCLUDED.method, path = EXCLUDED.path, state = 'running',"
    "  lease_until = EXCLUDED.lease_until, status = NULL, content_type = NULL,"
    "  location = NULL, body = NULL, created_at = now(), completed_at = NULL"
    " WHERE k.created_at < now() - $6::integer * interval '1 second'"
    "    OR (k.state = 'running' AND k.lease_until < now() AND k.fingerprint = "
    "EXCLUDED.fingerprint)"
    " RETURNING 'claimed'::text AS outcome)"
    " SELECT outcome, NULL::integer AS status, NULL::text AS content_type, NULL::text AS location,"
    "  NULL::text AS body FROM ins"
    " UNION ALL"
    " SELECT CASE WHEN k.fingerprint <> $3 THEN 'mismatch'"
    "             WHEN k.state = 'running' THEN 'running' ELSE 'replay' END,"
    "  k.status, k.content_type, k.location, k.body"
    " FROM idempotency.keys k WHERE k.scope = $1 AND k.key = $2 AND NOT EXISTS (SELECT 1 FROM ins)";

dtm_err_t dtm_idem_claim(dtm_db_t *db, const char *scope, const char *key, const char *fingerprint,
                         const char *method, const char *path, int ttl_s, int lease_ms,
                         dtm_idem_outcome_t *outcome, dtm_idem_stored_t *stored)
{
    char ttl[24], lease[24];
    snprintf(ttl, sizeof ttl, "%d", ttl_s);
    snprintf(lease, sizeof lease, "%d", lease_ms);
    const char *p[] = {scope, key, fingerprint, method, path, ttl, lease};
    memset(stored, 0, sizeof *stored);
    for (int attempt = 0; attempt < 3; attempt++) {
        PGresult *r;
        dtm_err_t err = dtm_db_query(db, &r, CLAIM_SQL, 7, p);
        if (err != DTM_OK)
            return err;
        if (PQntuples(r) == 0)
            continue; /* lost a race with a claim our snapshot did not see: ask again */
        const char *o = dtm_pg_get(r, 0, "outcome");
        if (strcmp(o, "claimed") == 0) {
            *outcome = DTM_IDEM_CLAIMED;
        } else if (strcmp(o, "mismatch") == 0) {
            *outcome = DTM_IDEM_MISMATCH;
        } else if (strcmp(o, "running") == 0) {
            *outcome = DTM_IDEM_RUNNING;
        } else {
            *outcome = DTM_IDEM_REPLAY;
            stored->status = (int)dtm_pg_int(r, 0, "status", 500);
            stored->content_type = dtm_pg_get(r, 0, "content_type");
            stored->location = dtm_pg_get(r, 0, "location");
            stored->body = dtm_pg_get(r, 0, "body");
            stored->body_len = stored->body ? strlen(stored->body) : 0;
        }
        return DTM_OK;
    }
    return DTM_ECONFLICT;
}

dtm_err_t dtm_idem_complete(dtm_db_t *db, const char *scope, const char *key,
                            const dtm_idem_stored_t *resp)
{
    char status[16];
    snprintf(status, sizeof status, "%d", resp->status);
    const char *p[] = {
        scope, key, status, resp->content_type, resp->location, resp->body ? resp->body : ""};
    return dtm_db_query(db, NULL,
                        "UPDATE idempotency.keys SET state = 'done', status = $3::integer,"
                        " content_type = $4, location = $5, body = $6, completed_at = now()"
                        " WHERE scope = $1 AND key = $2 AND state = 'running'",
                        6, p);
}

dtm_err_t dtm_idem_release(dtm_db_t *db, const char *scope, const char *key)
{
    const char *p[] = {scope, key};
    return dtm_db_query(db, NULL,
                        "DELETE FROM idempotency.keys WHERE scope = $1 AND key = $2"
                        " AND state = 'running'",
                        2, p);
}

dtm_err_t dtm_idem_purge(dtm_db_t *db, int ttl_s, long long *deleted)
{
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%d", ttl_s);
    const char *p[] = {ttl};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "WITH d AS (DELETE FROM idempotency.keys"
                                 " WHERE created_at < now() - $1::integer * interval '1 second'"
                                 " RETURNING 1) SELECT count(*) AS n FROM d",
                                 1, p);
    if (err == DTM_OK)
        *deleted = dtm_pg_int(r, 0, "n", 0);
    return err;
}
