/* SPDX-License-Identifier: MIT */
/* Service-to-service calls. A service never reads another service's tables; it asks the owner.
 * In-process when the owner is local (same router, same handlers), over HTTP otherwise. */
#include "core/config.h"
#include "core/ids.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/str.h"
#include "core/timeutil.h"
#include "http/internal.h"
#include "http/service.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static json_t *parse_body(dtm_req_t *req, const char *body, size_t len)
{
    if (!body || !len)
        return NULL;
    json_t *j = json_loadb(body, len, 0, NULL);
    if (j)
        dtm_arena_defer(req->arena, (void (*)(void *))json_decref, j);
    return j;
}

static dtm_err_t call_local(dtm_req_t *req, const char *method, const char *path, const char *query,
                            const char *body, int *status, json_t **out)
{
    /* The callee gets its own arena, freed as soon as its answer is parsed: whatever it holds
     * (a PostgreSQL connection above all) goes back before the caller carries on. */
    dtm_arena_t *child = dtm_arena_new(0);
    dtm_req_t *sub = dtm_arena_calloc(child, sizeof *sub);
    dtm_req_core_t *core = dtm_arena_calloc(child, sizeof *core);
    sub->arena = child;
    sub->core = core;
    sub->method = method;
    sub->path = path;
    sub->raw_query = query;
    sub->headers = dtm_arena_calloc(req->arena, sizeof(dtm_header_t) * 2);
    sub->headers[0] = (dtm_header_t){"content-type", "application/json"};
    sub->headers[1] = (dtm_header_t){"x-request-id", req->request_id ? req->request_id : ""};
    sub->nheaders = 2;
    sub->body = body ? body : "";
    sub->body_len = body ? strlen(body) : 0;
    sub->client_ip = req->client_ip;
    sub->internal = true;
    sub->auth.authed = true;
    sub->auth.role = DTM_ROLE_SERVICE;
    memcpy(sub->auth.sub, req->auth.sub, sizeof sub->auth.sub);
    core->started = dtm_mono_s();

    long max_body;
    dtm_err_t err = DTM_OK;
    dtm_dispatch_t d = dtm_router_match(sub, &max_body);
    if (d == DTM_DISPATCH_LOOP || d == DTM_DISPATCH_WORKER)
        dtm_router_run(sub);
    dtm_resp_t *r = &core->resp;
    if (d == DTM_DISPATCH_PROXY) {
        err = DTM_EUNAVAIL;
    } else if (r->kind == DTM_RESP_NONE) {
        *status = 500;
    } else {
        *status = r->status;
        *out = parse_body(req, r->body, r->body_len); /* owned by the caller's arena */
    }
    dtm_arena_free(child);
    return err;
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
    dtm_buf_append(ud, ptr, size * nmemb);
    return size * nmemb;
}

/* One easy handle per thread keeps upstream connections alive between calls. A thread-specific
 * key (not _Thread_local) so that a thread that ends (the outbox relay's, when it is stopped)
 * frees its handle. */
static pthread_key_t g_curl_key;
static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;

static void curl_free_handle(void *h)
{
    curl_easy_cleanup(h);
}

static void curl_key_init(void)
{
    pthread_key_create(&g_curl_key, curl_free_handle);
}

static CURL *thread_curl(void)
{
    pthread_once(&g_curl_once, curl_key_init);
    CURL *h = pthread_getspecific(g_curl_key);
    if (!h) {
        h = curl_easy_init();
        pthread_setspecific(g_curl_key, h);
    } else {
        curl_easy_reset(h);
    }
    return h;
}

static atomic_uint g_rr;

/* The n-th URL of a comma-separated list (round robin across replicas). */
static char *pick_upstream(dtm_arena_t *a, const char *list)
{
    int n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    unsigned k = atomic_fetch_add(&g_rr, 1) % (unsigned)n;
    const char *s = list;
    for (unsigned i = 0; i < k; i++)
        s = strchr(s, ',') + 1;
    const char *e = strchr(s, ',');
    return dtm_arena_strndup(a, s, e ? (size_t)(e - s) : strlen(s));
}

static dtm_err_t call_remote(dtm_req_t *req, const dtm_service_t *owner, const char *method,
                             const char *path_and_query, const char *body, int *status,
                             json_t **out)
{
    const char *base =
        pick_upstream(req->arena, dtm_config_upstreams(owner->name, owner->default_port));
    const char *url = dtm_arena_sprintf(req->arena, "%s%s", base, path_and_query);

    dtm_claims_t c = {0};
    snprintf(c.sub, sizeof c.sub, "%s", req->auth.sub);
    snprintf(c.role, sizeof c.role, "service");
    dtm_uuid_v4(c.jti);
    snprintf(c.iss, sizeof c.iss, "dtm");
    c.iat = dtm_now_ms() / 1000;
    c.exp = c.iat + 60;
    char *token = dtm_jwt_sign(&c, dtm_jwt_keys());

    CURL *h = thread_curl();
    dtm_buf_t resp;
    dtm_buf_init(&resp);
    struct curl_slist *hdrs = NULL;
    char *auth = dtm_arena_sprintf(req->arena, "Authorization: Bearer %s", token);
    free(token);
    hdrs = curl_slist_append(hdrs, auth);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, dtm_arena_sprintf(req->arena, "X-Request-Id: %s",
                                                     req->request_id ? req->request_id : ""));
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)dtm_cfg.upstream_connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)dtm_cfg.upstream_timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    dtm_err_t err = DTM_OK;
    if (rc != CURLE_OK) {
        dtm_log_warn("call %s %s failed: %s", method, url, curl_easy_strerror(rc));
        err = rc == CURLE_OPERATION_TIMEDOUT ? DTM_ETIMEOUT : DTM_EUNAVAIL;
    } else {
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        *status = (int)code;
        *out = parse_body(req, resp.data, resp.len);
    }
    dtm_buf_free(&resp);
    return err;
}

dtm_err_t dtm_call(dtm_req_t *req, const char *method, const char *path, json_t *body, int *status,
                   json_t **out)
{
    *status = 0;
    *out = NULL;
    char *text = NULL;
    if (body) {
        char *t = json_dumps(body, JSON_COMPACT);
        text = dtm_arena_strdup(req->arena, t);
        free(t);
    }
    const char *q = strchr(path, '?');
    const char *bare = q ? dtm_arena_strndup(req->arena, path, (size_t)(q - path)) : path;
    const dtm_service_t *owner = dtm_router_owner(bare);
    if (!owner)
        return DTM_EUNAVAIL;
    if (dtm_router_is_local(owner->name))
        return call_local(req, method, bare, q ? q + 1 : NULL, text, status, out);
    return call_remote(req, owner, method, path, text, status, out);
}
