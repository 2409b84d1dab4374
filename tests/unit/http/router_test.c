/* SPDX-License-Identifier: MIT */
/* Router: matching, specificity, params, 404/405, body limits, roles, request ids. */
#include "core/config.h"
#include "core/jwt.h"
#include "core/timeutil.h"
#include "http/internal.h"
#include "services/service.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static int hits;
static void h_list(dtm_req_t *req)
{
    hits++;
    dtm_resp_json(req, 200, json_pack("{s:s}", "route", "list"));
}
static void h_get(dtm_req_t *req)
{
    hits++;
    dtm_resp_json(req, 200, json_pack("{s:s,s:s}", "route", "get", "id", dtm_req_param(req, "id")));
}
static void h_stats(dtm_req_t *req)
{
    dtm_resp_json(req, 200, json_pack("{s:s}", "route", "stats"));
}
static void h_item(dtm_req_t *req)
{
    dtm_resp_json(req, 200,
                  json_pack("{s:s,s:s}", "id", dtm_req_param(req, "id"), "item",
                            dtm_req_param(req, "itemId")));
}

static const dtm_route_t t_routes[] = {
    {.method = "GET", .path = "/api/todos", .handler = h_list, .roles = DTM_PUBLIC},
    {.method = "GET", .path = "/api/todos/:id", .handler = h_get, .roles = DTM_ROLES_STAFF},
    {.method = "DELETE", .path = "/api/todos/:id", .handler = h_get, .roles = DTM_ROLE_ADMIN},
    {.method = "GET", .path = "/api/todos/stats", .handler = h_stats, .roles = DTM_PUBLIC},
    {.method = "PATCH",
     .path = "/api/todos/:id/checklist/:itemId",
     .handler = h_item,
     .roles = DTM_PUBLIC,
     .max_body = 10},
    {0},
};
static const dtm_service_t t_svc = {.name = "todos", .prefix = "/api/todos", .routes = t_routes};
static const dtm_service_t *t_local[] = {&t_svc, NULL};

typedef struct {
    dtm_req_t req;
    dtm_req_core_t core;
    dtm_header_t headers[4];
} fake_t;

static fake_t *fake(const char *method, const char *path)
{
    fake_t *f = calloc(1, sizeof *f);
    f->req.arena = dtm_arena_new(0);
    f->req.core = &f->core;
    f->req.method = method;
    f->req.path = path;
    f->req.headers = f->headers;
    f->req.body = "";
    return f;
}

static void fake_free(fake_t *f)
{
    dtm_arena_free(f->req.arena);
    free(f);
}

static void add_header(fake_t *f, const char *n, const char *v)
{
    f->headers[f->req.nheaders++] = (dtm_header_t){n, v};
}

static void setup(void)
{
    setenv("DTM_JWT_SECRET", "0123456789abcdef0123456789abcdef0123456789", 1);
    setenv("DATABASE_URL", "postgresql://127.0.0.1:1/none", 1);
    setenv("REDIS_URL", "redis://127.0.0.1:1/0", 1);
    cr_assert_eq(dtm_config_load(DTM_NEED_JWT, stderr), 0);
    dtm_router_conf_t c = {.process_service = "test", .gateway = false, .local = t_local};
    dtm_router_configure(&c);
    hits = 0;
}

TestSuite(router, .init = setup);

Test(router, literal_beats_param)
{
    fake_t *f = fake("GET", "/api/todos/stats");
    long max;
    cr_assert_eq(dtm_router_match(&f->req, &max), DTM_DISPATCH_WORKER);
    cr_assert_str_eq(f->req.route->path, "/api/todos/stats");
    fake_free(f);
}

Test(router, params_are_captured)
{
    fake_t *f = fake("PATCH", "/api/todos/abc/checklist/42");
    long max;
    cr_assert_eq(dtm_router_match(&f->req, &max), DTM_DISPATCH_WORKER);
    cr_assert_str_eq(dtm_req_param(&f->req, "id"), "abc");
    cr_assert_str_eq(dtm_req_param(&f->req, "itemId"), "42");
    cr_assert_eq(max, 10);
    cr_assert_null(dtm_req_param(&f->req, "nope"));
    fake_free(f);
}

Test(router, unknown_route_is_404_json)
{
    fake_t *f = fake("GET", "/api/nothing/here");
    long max;
    cr_assert_eq(dtm_router_match(&f->req, &max), DTM_DISPATCH_DONE);
    cr_assert_eq(dtm_req_resp(&f->req)->status, 404);
    cr_assert(strstr(dtm_req_resp(&f->req)->body, "\"not_found\""));
    fake_free(f);
}

Test(router, wrong_method_is_405_with_allow)
{
    fake_t *f = fake("PUT", "/api/todos/abc");
    long max;
    cr_assert_eq(dtm_router_match(&f->req, &max), DTM_DISPATCH_DONE);
    dtm_resp_t *r = dtm_req_resp(&f->req);
    cr_assert_eq(r->status, 405);
    bool found = false;
    for (int i = 0; i < r->nheaders; i++)
        if (strcmp(r->headers[i].name, "Allow") == 0) {
            found = true;
            cr_assert(strstr(r->headers[i].value, "GET"));
            cr_assert(strstr(r->headers[i].value, "DELETE"));
        }
    cr_assert(found);
    fake_free(f);
}

Test(router, declared_body_over_route_limit_is_413)
{
    fake_t *f = fake("PATCH", "/api/todos/a/checklist/b");
    add_header(f, "content-length", "11");
    long max;
    cr_assert_eq(dtm_router_match(&f->req, &max), DTM_DISPATCH_DONE);
    cr_assert_eq(dtm_req_resp(&f->req)->status, 413);
    fake_free(f);
}

Test(router, request_id_kept_when_valid_else_generated)
{
    fake_t *f = fake("GET", "/api/todos");
    add_header(f, "x-request-id", "req-12345");
    long max;
    dtm_router_match(&f->req, &max);
    cr_assert_str_eq(f->req.request_id, "req-12345");
    fake_free(f);
    f = fake("GET", "/api/todos");
    add_header(f, "x-request-id", "bad id with spaces");
    dtm_router_match(&f->req, &max);
    cr_assert_str_neq(f->req.request_id, "bad id with spaces");
    cr_assert_eq(strlen(f->req.request_id), 36);
    fake_free(f);
}

Test(router, protected_route_needs_token)
{
    fake_t *f = fake("GET", "/api/todos/x");
    long max;
    dtm_router_match(&f->req, &max);
    dtm_router_run(&f->req);
    cr_assert_eq(dtm_req_resp(&f->req)->status, 401);
    cr_assert_eq(hits, 0);
    fake_free(f);
}

static char *token_for(const char *role, int64_t exp_delta)
{
    dtm_claims_t c = {0};
    strcpy(c.sub, "11111111-1111-4111-8111-111111111111");
    strcpy(c.role, role);
    strcpy(c.jti, "22222222-2222-4222-8222-222222222222");
    strcpy(c.iss, "dtm");
    c.iat = dtm_now_ms() / 1000;
    c.exp = c.iat + exp_delta;
    return dtm_jwt_sign(&c, dtm_jwt_keys());
}

static int run_with_token(const char *method, const char *path, const char *token)
{
    fake_t *f = fake(method, path);
    char *h = malloc(strlen(token) + 8);
    sprintf(h, "Bearer %s", token);
    add_header(f, "authorization", h);
    long max;
    dtm_router_match(&f->req, &max);
    dtm_router_run(&f->req);
    int status = dtm_req_resp(&f->req)->status;
    fake_free(f);
    free(h);
    return status;
}

Test(router, roles_are_enforced)
{
    char *merch = token_for("merchandiser", 600);
    char *mgr = token_for("manager", 600);
    char *expired = token_for("admin", -10);
    cr_assert_eq(run_with_token("GET", "/api/todos/x", merch), 403);
    cr_assert_eq(run_with_token("GET", "/api/todos/x", mgr), 200);
    cr_assert_eq(run_with_token("DELETE", "/api/todos/x", mgr), 403);
    cr_assert_eq(run_with_token("GET", "/api/todos/x", expired), 401);
    free(merch);
    free(mgr);
    free(expired);
}

Test(router, query_decoding_and_pagination)
{
    fake_t *f = fake("GET", "/api/todos");
    f->req.raw_query = "search=a%20b+c&limit=500&page=2";
    cr_assert_str_eq(dtm_req_query(&f->req, "search"), "a b c");
    int page, limit;
    cr_assert_not(dtm_req_page(&f->req, &page, &limit));
    cr_assert_eq(dtm_req_resp(&f->req)->status, 400);
    fake_free(f);
    f = fake("GET", "/api/todos");
    f->req.raw_query = "page=3&limit=5";
    cr_assert(dtm_req_page(&f->req, &page, &limit));
    cr_assert_eq(page, 3);
    cr_assert_eq(limit, 5);
    fake_free(f);
}

Test(router, malformed_json_names_position)
{
    fake_t *f = fake("POST", "/api/todos");
    add_header(f, "content-type", "application/json");
    f->req.body = "{\"a\": 1,,}";
    f->req.body_len = strlen(f->req.body);
    cr_assert_null(dtm_req_json(&f->req));
    dtm_resp_t *r = dtm_req_resp(&f->req);
    cr_assert_eq(r->status, 400);
    cr_assert(strstr(r->body, "column"));
    fake_free(f);
    f = fake("POST", "/api/todos");
    add_header(f, "content-type", "text/plain");
    f->req.body = "{}";
    f->req.body_len = 2;
    cr_assert_null(dtm_req_json(&f->req));
    cr_assert_eq(dtm_req_resp(&f->req)->status, 415);
    fake_free(f);
}
