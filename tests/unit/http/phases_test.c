/* SPDX-License-Identifier: MIT */
/* Phase hooks (http/internal.h): each phase runs in its place and order, can stop the request
 * where it may, sees what it should (claims, the handler's response), and is skipped where it
 * must be (in-process calls, public routes). Health probes: states, dedup, worst-of. */
#include "core/config.h"
#include "core/jwt.h"
#include "core/timeutil.h"
#include "http/health.h"
#include "http/internal.h"
#include "http/service.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* Each phase appends a letter: the order of a request's phases is the string. */
static char trail[32];
static void mark(char c)
{
    size_t n = strlen(trail);
    if (n + 1 < sizeof trail) {
        trail[n] = c;
        trail[n + 1] = '\0';
    }
}

static bool stop_preaccess, refuse_auth, answer_before, rewrite_after;
static char seen_sub[64];
static int seen_after_status;
static char seen_after_body[128];
static int after_kind;

static void h_ok(dtm_req_t *req)
{
    mark('H');
    dtm_resp_header(req, "X-Handler", "yes");
    dtm_resp_json(req, 201, json_pack("{s:s}", "from", "handler"));
}

static void hook_realip(dtm_req_t *req)
{
    mark('R');
    req->client_ip = "203.0.113.9";
}

static bool hook_preaccess(dtm_req_t *req)
{
    mark('P');
    if (!stop_preaccess)
        return false;
    dtm_resp_error(req, 429, "rate_limited", "slow down", NULL);
    return true;
}

static bool hook_auth(dtm_req_t *req)
{
    mark('A');
    cr_assert(req->auth.authed, "claims are on the request before the authenticate hook");
    snprintf(seen_sub, sizeof seen_sub, "%s", req->auth.sub);
    if (!refuse_auth)
        return true;
    dtm_resp_error(req, 401, "invalid_token", "revoked", NULL);
    return false;
}

static bool hook_before(dtm_req_t *req)
{
    mark('B');
    if (!answer_before)
        return false;
    dtm_resp_body(req, 200, "application/json", "{\"stored\":true}", 15);
    return true;
}

static void hook_after(dtm_req_t *req)
{
    mark('C');
    dtm_resp_t *r = dtm_req_resp(req);
    after_kind = r->kind;
    seen_after_status = r->status;
    snprintf(seen_after_body, sizeof seen_after_body, "%.*s", (int)r->body_len,
             r->body ? r->body : "");
    if (rewrite_after)
        dtm_resp_body(req, 202, "text/plain", "rewritten", 9);
}

static void hook_headers(const dtm_req_t *req, dtm_buf_t *out)
{
    (void)req;
    mark('X');
    dtm_buf_puts(out, "X-Phase: resp_headers\r\n");
}

static const dtm_route_t routes[] = {
    {.method = "GET", .path = "/api/things/:id", .handler = h_ok, .roles = DTM_ROLES_ANY},
    {.method = "GET", .path = "/api/things", .handler = h_ok, .roles = DTM_PUBLIC},
    {0},
};
static const dtm_service_t svc = {.name = "things", .prefix = "/api/things", .routes = routes};
static const dtm_service_t *local[] = {&svc, NULL};

typedef struct {
    dtm_req_t req;
    dtm_req_core_t core;
    dtm_header_t headers[4];
    char auth[1024];
} fake_t;

static fake_t *fake(const char *path)
{
    fake_t *f = calloc(1, sizeof *f);
    f->req.arena = dtm_arena_new(0);
    f->req.core = &f->core;
    f->req.method = "GET";
    f->req.path = path;
    f->req.headers = f->headers;
    f->req.body = "";
    f->req.client_ip = "127.0.0.1";
    return f;
}

static void with_token(fake_t *f, const char *role)
{
    dtm_claims_t c = {0};
    strcpy(c.sub, "11111111-1111-4111-8111-111111111111");
    snprintf(c.role, sizeof c.role, "%s", role);
    strcpy(c.jti, "22222222-2222-4222-8222-222222222222");
    strcpy(c.iss, "dtm");
    c.iat = dtm_now_ms() / 1000;
    c.exp = c.iat + 600;
    char *tok = dtm_jwt_sign(&c, dtm_jwt_keys());
    snprintf(f->auth, sizeof f->auth, "Bearer %s", tok);
    free(tok);
    f->headers[f->req.nheaders++] = (dtm_header_t){"authorization", f->auth};
}

static void fake_free(fake_t *f)
{
    dtm_arena_free(f->req.arena);
    free(f);
}

/* match + run as the connection layer does; the dispatch result is returned. */
static dtm_dispatch_t serve(fake_t *f)
{
    long max;
    dtm_dispatch_t d = dtm_router_match(&f->req, &max);
    if (d == DTM_DISPATCH_WORKER || d == DTM_DISPATCH_LOOP)
        dtm_router_run(&f->req);
    return d;
}

static void setup(void)
{
    setenv("DTM_JWT_SECRET", "0123456789abcdef0123456789abcdef0123456789", 1);
    setenv("DATABASE_URL", "postgresql://127.0.0.1:1/none", 1);
    setenv("REDIS_URL", "redis://127.0.0.1:1/0", 1);
    cr_assert_eq(dtm_config_load(DTM_NEED_JWT, stderr), 0);
    dtm_router_conf_t c = {
        .process_service = "test",
        .gateway = false,
        .local = local,
        .realip = hook_realip,
        .preaccess = hook_preaccess,
        .authenticate = hook_auth,
        .content_before = hook_before,
        .content_after = hook_after,
        .resp_headers = hook_headers,
    };
    dtm_router_configure(&c);
    trail[0] = '\0';
    stop_preaccess = refuse_auth = answer_before = rewrite_after = false;
    seen_sub[0] = seen_after_body[0] = '\0';
    seen_after_status = 0;
    after_kind = -1;
}

TestSuite(phases, .init = setup);

Test(phases, every_phase_in_order_for_an_authenticated_route)
{
    fake_t *f = fake("/api/things/7");
    with_token(f, "merchandiser");
    cr_assert_eq(serve(f), DTM_DISPATCH_WORKER);
    cr_assert_str_eq(trail, "RPABHC");
    cr_assert_str_eq(f->req.client_ip, "203.0.113.9", "realip's answer is the client ip");
    cr_assert_str_eq(seen_sub, "11111111-1111-4111-8111-111111111111");
    cr_assert_eq(seen_after_status, 201, "content_after sees the handler's status");
    cr_assert_str_eq(seen_after_body, "{\"from\":\"handler\"}");
    cr_assert_eq(after_kind, DTM_RESP_BODY);
    dtm_resp_t *r = dtm_req_resp(&f->req);
    cr_assert_eq(r->nheaders, 1);
    cr_assert_str_eq(r->headers[0].name, "X-Handler", "content_after sees the headers");
    fake_free(f);
}

Test(phases, public_route_skips_token_and_authenticate)
{
    fake_t *f = fake("/api/things");
    serve(f);
    cr_assert_str_eq(trail, "RPBHC");
    cr_assert_eq(dtm_req_resp(&f->req)->status, 201);
    fake_free(f);
}

Test(phases, preaccess_answers_and_stops_before_matching)
{
    stop_preaccess = true;
    fake_t *f = fake("/api/things/7");
    with_token(f, "admin");
    cr_assert_eq(serve(f), DTM_DISPATCH_DONE);
    cr_assert_str_eq(trail, "RP");
    cr_assert_eq(dtm_req_resp(&f->req)->status, 429);
    cr_assert_null(f->req.route, "no route was matched");
    fake_free(f);
}

Test(phases, authenticate_refusal_stops_before_role_and_handler)
{
    refuse_auth = true;
    fake_t *f = fake("/api/things/7");
    with_token(f, "admin");
    serve(f);
    cr_assert_str_eq(trail, "RPA");
    cr_assert_eq(dtm_req_resp(&f->req)->status, 401);
    cr_assert_not(f->req.auth.authed, "a refused token leaves no identity on the request");
    fake_free(f);
}

Test(phases, authenticate_not_called_without_a_valid_token)
{
    fake_t *f = fake("/api/things/7");
    serve(f);
    cr_assert_str_eq(trail, "RP");
    cr_assert_eq(dtm_req_resp(&f->req)->status, 401);
    fake_free(f);
    trail[0] = '\0';
    f = fake("/api/things/7");
    f->headers[f->req.nheaders++] = (dtm_header_t){"authorization", "Bearer not.a.token"};
    serve(f);
    cr_assert_str_eq(trail, "RP");
    cr_assert_eq(dtm_req_resp(&f->req)->status, 401);
    fake_free(f);
}

Test(phases, role_check_runs_after_authenticate_and_before_content)
{
    static const dtm_route_t admin_routes[] = {
        {.method = "GET", .path = "/api/admin", .handler = h_ok, .roles = DTM_ROLE_ADMIN},
        {0},
    };
    static const dtm_service_t admin = {
        .name = "adm", .prefix = "/api/admin", .routes = admin_routes};
    static const dtm_service_t *loc[] = {&admin, NULL};
    dtm_router_conf_t c = *dtm_router_conf();
    c.local = loc;
    dtm_router_configure(&c);
    fake_t *f = fake("/api/admin");
    with_token(f, "merchandiser");
    serve(f);
    cr_assert_str_eq(trail, "RPA");
    cr_assert_eq(dtm_req_resp(&f->req)->status, 403);
    fake_free(f);
}

Test(phases, content_before_answers_instead_of_the_handler)
{
    answer_before = true;
    fake_t *f = fake("/api/things/7");
    with_token(f, "manager");
    serve(f);
    cr_assert_str_eq(trail, "RPAB", "neither the handler nor content_after ran");
    dtm_resp_t *r = dtm_req_resp(&f->req);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(r->body, "{\"stored\":true}");
    fake_free(f);
}

Test(phases, content_after_may_replace_the_response)
{
    rewrite_after = true;
    fake_t *f = fake("/api/things/7");
    with_token(f, "manager");
    serve(f);
    dtm_resp_t *r = dtm_req_resp(&f->req);
    cr_assert_eq(r->status, 202);
    cr_assert_eq(r->body_len, 9);
    cr_assert_eq(memcmp(r->body, "rewritten", 9), 0);
    fake_free(f);
}

Test(phases, internal_calls_skip_the_client_phases)
{
    fake_t *f = fake("/api/things/7");
    f->req.internal = true;
    f->req.auth.authed = true;
    f->req.auth.role = DTM_ROLE_SERVICE;
    serve(f);
    cr_assert_str_eq(trail, "BHC", "no realip/preaccess; the caller's identity is kept");
    cr_assert_str_eq(f->req.client_ip, "127.0.0.1");
    dtm_buf_t b;
    dtm_buf_init(&b);
    dtm_resp_serialize(&f->req, true, &b);
    cr_assert_str_eq(trail, "BHC", "no resp_headers for an in-process call");
    dtm_buf_free(&b);
    fake_free(f);
}

Test(phases, resp_headers_appends_to_the_head)
{
    fake_t *f = fake("/api/things");
    serve(f);
    dtm_buf_t b;
    dtm_buf_init(&b);
    dtm_resp_serialize(&f->req, true, &b);
    cr_assert_str_eq(trail, "RPBHCX");
    cr_assert(strstr(b.data, "\r\nX-Phase: resp_headers\r\n"));
    cr_assert(strstr(b.data, "\r\n\r\n{\"from\":\"handler\"}"), "headers before the body");
    dtm_buf_free(&b);
    fake_free(f);
}

Test(phases, no_hooks_is_the_plain_router)
{
    dtm_router_conf_t c = {.process_service = "test", .local = local};
    dtm_router_configure(&c);
    fake_t *f = fake("/api/things/7");
    with_token(f, "merchandiser");
    serve(f);
    cr_assert_str_eq(trail, "H");
    cr_assert_eq(dtm_req_resp(&f->req)->status, 201);
    cr_assert_str_eq(f->req.client_ip, "127.0.0.1");
    fake_free(f);
}

/* ---- health probes ---- */

static int calls_a, calls_b;
static dtm_health_t state_a = DTM_HEALTH_OK, state_b = DTM_HEALTH_OK;
static dtm_health_t probe_a(void *ud)
{
    (void)ud;
    calls_a++;
    return state_a;
}
static dtm_health_t probe_b(void *ud)
{
    (void)ud;
    calls_b++;
    return state_b;
}

static json_t *doc(dtm_health_t *overall)
{
    dtm_health_probe_now();
    return dtm_health_document(overall);
}

static const char *status_at(json_t *d, const char *section, const char *name)
{
    json_t *o = json_object_get(json_object_get(d, section), name);
    return o ? json_string_value(json_object_get(o, "status")) : NULL;
}

Test(phases, health_probes_report_services_and_dependencies)
{
    static int pool; /* two services sharing one pool: one ping a round */
    dtm_health_clear_probes();
    cr_assert_eq(dtm_health_add_probe("postgres", "users", probe_a, &pool), 0);
    cr_assert_eq(dtm_health_add_probe("postgres", "todos", probe_a, &pool), 0);
    cr_assert_eq(dtm_health_add_probe("redis", NULL, probe_b, NULL), 0);
    calls_a = calls_b = 0;
    state_a = state_b = DTM_HEALTH_OK;
    dtm_health_t overall;
    json_t *d = doc(&overall);
    cr_assert_eq(calls_a, 1, "same fn and ud: one call per round");
    cr_assert_eq(calls_b, 1);
    cr_assert_eq(overall, DTM_HEALTH_OK);
    cr_assert_str_eq(status_at(d, "services", "users"), "ok");
    cr_assert_str_eq(status_at(d, "services", "todos"), "ok");
    cr_assert_str_eq(status_at(d, "dependencies", "postgres"), "ok");
    cr_assert_str_eq(status_at(d, "dependencies", "redis"), "ok");
    cr_assert_null(status_at(d, "services", "redis"), "a probe without a service is no service");
    json_decref(d);

    state_b = DTM_HEALTH_DEGRADED; /* the cache is down: degraded, its dependency "down" */
    d = doc(&overall);
    cr_assert_eq(overall, DTM_HEALTH_DEGRADED);
    cr_assert_str_eq(status_at(d, "dependencies", "redis"), "down");
    cr_assert_str_eq(status_at(d, "services", "users"), "ok");
    cr_assert_eq(dtm_health_dependency("redis"), DTM_HEALTH_DEGRADED);
    json_decref(d);

    state_a = DTM_HEALTH_DOWN; /* the database is down: the services and the whole are down */
    d = doc(&overall);
    cr_assert_eq(overall, DTM_HEALTH_DOWN);
    cr_assert_str_eq(status_at(d, "services", "users"), "down");
    cr_assert_str_eq(status_at(d, "services", "todos"), "down");
    cr_assert_str_eq(status_at(d, "dependencies", "postgres"), "down");
    json_decref(d);
    dtm_health_clear_probes();
}

Test(phases, health_without_probes_is_ok_and_empty)
{
    dtm_health_clear_probes();
    dtm_health_t overall;
    json_t *d = doc(&overall);
    cr_assert_eq(overall, DTM_HEALTH_OK);
    cr_assert_eq(json_object_size(json_object_get(d, "dependencies")), 0);
    cr_assert_eq(json_object_size(json_object_get(d, "services")), 0);
    cr_assert_eq(dtm_health_dependency("postgres"), DTM_HEALTH_OK);
    json_decref(d);
}

Test(phases, health_probe_table_is_bounded)
{
    dtm_health_clear_probes();
    int added = 0;
    while (dtm_health_add_probe("x", NULL, probe_a, NULL) == 0 && added < 100)
        added++;
    cr_assert_eq(added, 16);
    cr_assert_eq(dtm_health_add_probe(NULL, NULL, probe_a, NULL), -1);
    dtm_health_clear_probes();
}
