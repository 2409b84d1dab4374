/* SPDX-License-Identifier: MIT */
#include "services/common/call.h"
#include "core/log.h"

static void decref(void *j)
{
    json_decref(j);
}

dtm_db_t *dtm_svc_db(dtm_req_t *req, const char *service, dtm_arena_t *a)
{
    dtm_db_t *db = dtm_db_open(dtm_pg_pool_for(service), a);
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
