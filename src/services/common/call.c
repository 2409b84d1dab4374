/* SPDX-License-Identifier: MIT */
#include "services/common/call.h"
#include "core/log.h"
#include "db/ryw.h"
#include <string.h>

static void decref(void *j)
{
    json_decref(j);
}

typedef struct {
    const char *scope, *caller;
} ryw_ctx_t;

static void noted(void *ud, uint64_t lsn)
{
    const ryw_ctx_t *c = ud;
    dtm_ryw_note(c->scope, c->caller, lsn);
}

/* The caller read-your-writes is tracked for: the signed-in user (not a service token: those
 * are other services and jobs acting on nobody's behalf). */
static const char *ryw_caller(const dtm_req_t *req)
{
    return req->auth.authed && req->auth.sub[0] && req->auth.role != DTM_ROLE_SERVICE
               ? req->auth.sub
               : NULL;
}

dtm_db_t *dtm_svc_db(dtm_req_t *req, const char *service, dtm_arena_t *a)
{
    dtm_db_t *db = dtm_db_open(dtm_pg_pool_for(service), a);
    if (!db) {
        dtm_resp_err(req, DTM_EDB, NULL);
        return NULL;
    }
    const char *caller = ryw_caller(req);
    bool reads_only = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    dtm_pg_replica_t *r = caller && !reads_only ? dtm_pg_replica_for(service) : NULL;
    if (r) {
        ryw_ctx_t *c = dtm_arena_calloc(a, sizeof *c);
        c->scope = dtm_pg_replica_name(r);
        c->caller = dtm_arena_strdup(a, caller);
        dtm_db_track_writes(db, noted, c);
    }
    return db;
}

dtm_db_t *dtm_svc_db_read(dtm_req_t *req, const char *service, dtm_arena_t *a)
{
    dtm_pg_replica_t *r = dtm_pg_replica_for(service);
    if (!r)
        return dtm_svc_db(req, service, a);
    const char *caller = ryw_caller(req);
    dtm_db_t *db = dtm_db_open_read(dtm_pg_pool_for(service), r,
                                    caller ? dtm_ryw_get(dtm_pg_replica_name(r), caller) : 0, a);
    if (!db)
        dtm_resp_err(req, DTM_EDB, NULL);
    return db;
}

dtm_err_t dtm_svc_call(dtm_req_t *req, const char *method, const char *path, json_t *body,
                       int *status, json_t **out)
{
    dtm_req_t tmp = *req;
    tmp.arena = dtm_arena_new(0);
    json_t *o = NULL;
    *status = 0;
    dtm_err_t err = dtm_call(&tmp, method, path, body, status, &o);
    *out = NULL;
    if (err == DTM_OK && o) {
        json_incref(o);
        dtm_arena_defer(req->arena, decref, o);
        *out = o;
    }
    dtm_arena_free(tmp.arena);
    return err;
}

void dtm_svc_resp_upstream(dtm_req_t *req, dtm_err_t err, int status, const char *what)
{
    if (err != DTM_OK) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    dtm_log_warn("%s answered %d", what, status);
    dtm_resp_error(req, status == 503 ? 503 : 502,
                   status == 503 ? "service_unavailable" : "bad_gateway",
                   dtm_arena_sprintf(req->arena, "The %s did not answer as expected", what), NULL);
}
