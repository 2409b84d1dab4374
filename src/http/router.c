/* SPDX-License-Identifier: MIT */
/* The router: one flat table built from the local services' route tables plus the built-in
 * operational routes, matched by path segments (literal segments beat :params), then the
 * request phases in a fixed order (nginx style, hooks in internal.h): realip -> preaccess ->
 * match -> token -> authenticate -> role -> content_before -> handler -> content_after. */
#include "core/config.h"
#include "core/ids.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/str.h"
#include "core/timeutil.h"
#include "http/health.h"
#include "http/internal.h"
#include "http/service.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef struct {
    const dtm_route_t *route;
    const dtm_service_t *svc; /* NULL for built-in routes */
    int literals;             /* literal segments: more is more specific */
} entry_t;

static dtm_router_conf_t g_conf;
static entry_t *g_entries;
static int g_nentries;

static void static_serve(dtm_req_t *req);
static void api_docs_serve(dtm_req_t *req);
static bool edge_token_ok(dtm_req_t *req);

/* docs/openapi.yaml, embedded at build time (cmake/embed_file.cmake). */
extern const char dtm_openapi_yaml[];
extern const unsigned long dtm_openapi_yaml_len;

static void openapi_serve(dtm_req_t *req)
{
    dtm_resp_header(req, "Cache-Control", "public, max-age=300");
    dtm_resp_body(req, 200, "application/yaml; charset=utf-8", dtm_openapi_yaml,
                  dtm_openapi_yaml_len);
}

static const dtm_route_t builtin_routes[] = {
    {.method = "GET", .path = "/health", .handler = dtm_health_handler, .flags = DTM_ROUTE_ON_LOOP},
    {.method = "GET", .path = "/livez", .handler = dtm_livez_handler, .flags = DTM_ROUTE_ON_LOOP},
    {.method = "GET", .path = "/readyz", .handler = dtm_readyz_handler, .flags = DTM_ROUTE_ON_LOOP},
    {.method = "GET",
     .path = "/metrics",
     .handler = dtm_metrics_handler,
     .flags = DTM_ROUTE_ON_LOOP | DTM_ROUTE_NO_LOG},
    {.method = "GET", .path = "/api/docs", .handler = api_docs_serve},
    {.method = "GET",
     .path = "/api/openapi.yaml",
     .handler = openapi_serve,
     .flags = DTM_ROUTE_ON_LOOP},
    {.method = "GET",
     .path = "/api/docs/openapi.yaml",
     .handler = openapi_serve,
     .flags = DTM_ROUTE_ON_LOOP},
    {0},
};
static const dtm_route_t static_route = {.method = "GET", .path = "/*", .handler = static_serve};

static int count_literals(const char *path)
{
    int n = 0;
    for (const char *p = path; *p; p++)
        if (*p == '/' && p[1] && p[1] != ':')
            n++;
    return n;
}

static void add_routes(const dtm_route_t *routes, const dtm_service_t *svc)
{
    for (const dtm_route_t *r = routes; r->method; r++) {
        g_entries = dtm_realloc(g_entries, sizeof(entry_t) * (size_t)(g_nentries + 1));
        g_entries[g_nentries++] = (entry_t){r, svc, count_literals(r->path)};
    }
}

static const dtm_service_t *registry_find(const char *name)
{
    for (int i = 0; g_conf.registry && g_conf.registry[i]; i++)
        if (strcmp(g_conf.registry[i]->name, name) == 0)
            return g_conf.registry[i];
    return NULL;
}

/* Every service's routes are known to every process (one binary): the edge answers 404, 405,
 * 413 and 401 for remote services without a hop, and proxies only what a service would take. */
void dtm_router_configure(const dtm_router_conf_t *conf)
{
    g_conf = *conf;
    free(g_entries);
    g_entries = NULL;
    g_nentries = 0;
    add_routes(builtin_routes, NULL);
    for (int i = 0; conf->registry && conf->registry[i]; i++) {
        const dtm_service_t *svc = conf->registry[i];
        for (int j = 0; conf->local && conf->local[j]; j++)
            if (strcmp(conf->local[j]->name, svc->name) == 0)
                svc = conf->local[j]; /* the instance this process was given wins */
        add_routes(svc->routes, svc);
    }
    for (int j = 0; conf->local && conf->local[j]; j++)
        if (!registry_find(conf->local[j]->name))
            add_routes(conf->local[j]->routes, conf->local[j]);
}

const dtm_router_conf_t *dtm_router_conf(void)
{
    return &g_conf;
}

bool dtm_router_is_local(const char *service)
{
    for (int i = 0; g_conf.local && g_conf.local[i]; i++)
        if (strcmp(g_conf.local[i]->name, service) == 0)
            return true;
    return false;
}

/* Match `path` against `pattern`; on success the :params go into req (when req is non-NULL). */
static bool match_path(const char *pattern, const char *path, dtm_req_t *req)
{
    const char *p = pattern, *s = path;
    int nparams = 0;
    dtm_header_t params[8];
    while (*p && *s) {
        if (*p == ':') {
            const char *pend = strchr(p, '/');
            const char *send = strchr(s, '/');
            size_t plen = pend ? (size_t)(pend - p) : strlen(p);
            size_t slen = send ? (size_t)(send - s) : strlen(s);
            if (slen == 0 || nparams == 8)
                return false;
            if (req) {
                params[nparams].name = dtm_arena_strndup(req->arena, p + 1, plen - 1);
                params[nparams].value = dtm_arena_strndup(req->arena, s, slen);
            }
            nparams++;
            p += plen;
            s += slen;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    /* A trailing slash on the request is tolerated ("/api/users/" == "/api/users"). */
    if (*p == '\0' && (*s == '\0' || (s[0] == '/' && s[1] == '\0'))) {
        if (req) {
            memcpy(req->params, params, sizeof(dtm_header_t) * (size_t)nparams);
            req->nparams = nparams;
        }
        return true;
    }
    return false;
}

static bool method_matches(const char *route_method, const char *method)
{
    if (strcmp(route_method, method) == 0)
        return true;
    return strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0;
}

/* The service whose prefix owns `path` (whether local or not), or NULL. */
const dtm_service_t *dtm_router_owner(const char *path)
{
    const dtm_service_t *const *tables = g_conf.registry ? g_conf.registry : g_conf.local;
    for (int i = 0; tables && tables[i]; i++) {
        size_t n = strlen(tables[i]->prefix);
        if (strncmp(path, tables[i]->prefix, n) == 0 && (path[n] == '/' || !path[n]))
            return tables[i];
    }
    return NULL;
}

static long long declared_length(const dtm_req_t *req)
{
    const char *cl = dtm_req_header(req, "content-length");
    if (!cl)
        return 0;
    char *end;
    long long v = strtoll(cl, &end, 10);
    return (*end || v < 0) ? -1 : v;
}

dtm_dispatch_t dtm_router_match(dtm_req_t *req, long *max_body)
{
    const char *rid = dtm_req_header(req, "x-request-id");
    if (rid && dtm_request_id_valid(rid)) {
        req->request_id = rid;
    } else {
        char *id = dtm_arena_alloc(req->arena, DTM_UUID_LEN + 1);
        dtm_request_id_new(id);
        req->request_id = id;
    }
    req->service = g_conf.process_service;
    *max_body = dtm_cfg.max_body_bytes;
    /* The metrics listener and the public one split the routes: /metrics never reaches the
     * world, and the private port is no side door into the API. */
    if (g_conf.metrics_private && !req->internal &&
        req->via_metrics_listener != (strcmp(req->path, "/metrics") == 0)) {
        dtm_resp_error(req, 404, "not_found",
                       dtm_arena_sprintf(req->arena, "No route for %s %s", req->method, req->path),
                       NULL);
        return DTM_DISPATCH_DONE;
    }
    /* In-process dtm_call sub-requests are ours, not the client's: charging them to the
     * client's IP bucket counted one request several times, and a 429 inside a call surfaced
     * as a 500 of the outer request. */
    if (!req->internal) {
        if (g_conf.realip)
            g_conf.realip(req);
        if (g_conf.preaccess && g_conf.preaccess(req))
            return DTM_DISPATCH_DONE;
    }

    const entry_t *best = NULL;
    char allow[96] = "";
    for (int i = 0; i < g_nentries; i++) {
        const entry_t *e = &g_entries[i];
        if (!match_path(e->route->path, req->path, NULL))
            continue;
        if (!method_matches(e->route->method, req->method)) {
            if (!strstr(allow, e->route->method) && strlen(allow) + 10 < sizeof allow) {
                if (*allow)
                    strcat(allow, ", ");
                strcat(allow, e->route->method);
            }
            continue;
        }
        if (!best || e->literals > best->literals)
            best = e;
    }

    if (!best) {
        if (*allow) {
            dtm_resp_header(req, "Allow", allow);
            dtm_resp_error(req, 405, "method_not_allowed",
                           dtm_arena_sprintf(req->arena,
                                             "Method %s is not allowed here; allowed: %s",
                                             req->method, allow),
                           NULL);
            return DTM_DISPATCH_DONE;
        }
        if (g_conf.gateway && strncmp(req->path, "/api/", 5) != 0 &&
            strcmp(req->path, "/api") != 0 &&
            (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)) {
            req->route = &static_route;
            return DTM_DISPATCH_WORKER;
        }
        dtm_resp_error(req, 404, "not_found",
                       dtm_arena_sprintf(req->arena, "No route for %s %s", req->method, req->path),
                       NULL);
        return DTM_DISPATCH_DONE;
    }

    match_path(best->route->path, req->path, req);
    req->route = best->route;
    if (best->svc)
        req->service = best->svc->name;
    /* A route's own, larger limit is for its multipart uploads (photos); any other body, JSON
     * above all, stays within DTM_MAX_BODY on every route. */
    if (best->route->max_body > 0) {
        const char *ct = dtm_req_header(req, "content-type");
        bool multipart = ct && strncasecmp(ct, "multipart/", 10) == 0;
        if (multipart || best->route->max_body < *max_body)
            *max_body = best->route->max_body;
    }
    long long cl = declared_length(req);
    if (cl < 0) {
        dtm_resp_error(req, 400, "bad_request", "Invalid Content-Length", NULL);
        return DTM_DISPATCH_DONE;
    }
    if (cl > *max_body) {
        dtm_resp_error(req, 413, "payload_too_large",
                       dtm_arena_sprintf(req->arena, "Request body exceeds %ld bytes", *max_body),
                       NULL);
        return DTM_DISPATCH_DONE;
    }
    if (best->svc && !dtm_router_is_local(best->svc->name)) {
        if (!g_conf.gateway) {
            dtm_resp_error(
                req, 404, "not_found",
                dtm_arena_sprintf(req->arena, "%s is not served by this process", best->svc->name),
                NULL);
            return DTM_DISPATCH_DONE;
        }
        /* The edge checks the token's signature before a hop (401 without proxying); the
         * service still authenticates it fully (denylist, role). */
        if (best->route->roles != DTM_PUBLIC && !edge_token_ok(req))
            return DTM_DISPATCH_DONE;
        return DTM_DISPATCH_PROXY;
    }
    return (best->route->flags & DTM_ROUTE_ON_LOOP) ? DTM_DISPATCH_LOOP : DTM_DISPATCH_WORKER;
}

bool dtm_req_bearer(dtm_req_t *req)
{
    if (req->auth.bearer)
        return req->auth.bearer > 0;
    req->auth.bearer = -1;
    const char *h = dtm_req_header(req, "authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7])
        return false;
    dtm_claims_t c;
    /* The per-thread cache of verified tokens saves the HMAC and JSON parse on
     * every request after the first; expiry is still checked on each hit. */
    if (dtm_jwt_verify_cached(h + 7, dtm_now_ms() / 1000, &c) != DTM_OK)
        return false;
    unsigned role = dtm_role_parse(c.role);
    if (!role)
        return false;
    req->auth.role = role;
    memcpy(req->auth.sub, c.sub, sizeof req->auth.sub);
    memcpy(req->auth.jti, c.jti, sizeof req->auth.jti);
    req->auth.iat = c.iat;
    req->auth.exp = c.exp;
    req->auth.token = h + 7;
    req->auth.bearer = 1;
    return true;
}

static bool edge_token_ok(dtm_req_t *req)
{
    if (dtm_req_bearer(req) && req->auth.role != DTM_ROLE_SERVICE)
        return true;
    bool present = dtm_req_header(req, "authorization") != NULL;
    dtm_resp_header(req, "WWW-Authenticate", "Bearer");
    dtm_resp_error(req, 401, present ? "invalid_token" : "unauthorized",
                   present ? "The access token is invalid or expired"
                           : "A bearer access token is required",
                   NULL);
    return false;
}

/* Bearer token -> req->auth. Writes the 401 itself and returns false on any failure. */
bool dtm_router_authenticate(dtm_req_t *req)
{
    const char *h = dtm_req_header(req, "authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7]) {
        dtm_resp_header(req, "WWW-Authenticate", "Bearer");
        dtm_resp_error(req, 401, "unauthorized", "A bearer access token is required", NULL);
        return false;
    }
    if (!dtm_req_bearer(req)) {
        dtm_resp_header(req, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        dtm_resp_error(req, 401, "invalid_token", "The access token is invalid or expired", NULL);
        return false;
    }
    /* Service identities exist only between our own processes, never at the edge. */
    if (req->auth.role == DTM_ROLE_SERVICE && g_conf.gateway && !req->internal) {
        dtm_resp_error(req, 401, "invalid_token", "The access token is invalid or expired", NULL);
        return false;
    }
    req->auth.authed = true;
    if (g_conf.authenticate && !g_conf.authenticate(req)) {
        req->auth.authed = false; /* the hook set the refusal */
        return false;
    }
    return true;
}

void dtm_router_run(dtm_req_t *req)
{
    const dtm_route_t *route = req->route;
    if (route->roles != DTM_PUBLIC) {
        if (!req->auth.authed && !dtm_router_authenticate(req))
            return;
        if (!dtm_req_has_role(req, route->roles)) {
            dtm_resp_error(req, 403, "forbidden", "Your role may not do this", NULL);
            return;
        }
    }
    if (g_conf.content_before && g_conf.content_before(req))
        return;
    route->handler(req);
    if (g_conf.content_after)
        g_conf.content_after(req);
}

/* Request metrics: the two series of a (route, service, method, status) are resolved once per
 * thread and kept in a small direct-mapped cache, instead of a registry lookup (label text,
 * hash, lock) per request. The registry's series live as long as the process; the labels are
 * compared by value (the pointers only pick the slot). */
#define OBS_SLOTS 64
typedef struct {
    int status;
    char method[16], service[48], label[112];
    dtm_metric_t *hist, *count;
} obs_slot_t;

static _Thread_local obs_slot_t t_obs[OBS_SLOTS];

static void escape_label(dtm_buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            dtm_buf_append(b, "\\", 1);
        if (*s == '\n')
            dtm_buf_puts(b, "\\n");
        else
            dtm_buf_append(b, s, 1);
    }
}

static void observe(const dtm_route_t *route, const char *service, const char *method,
                    const char *label, int status, double seconds)
{
    if (!route || !service || !method || !label || strlen(method) >= sizeof t_obs[0].method ||
        strlen(service) >= sizeof t_obs[0].service || strlen(label) >= sizeof t_obs[0].label) {
        dtm_metrics_observe_request(service, method, label, status, seconds);
        return;
    }
    uintptr_t h = ((uintptr_t)route >> 4) ^ ((uintptr_t)service >> 3) * 31u ^
                  (uintptr_t)status * 131u ^ (unsigned char)method[0] * 7u;
    obs_slot_t *s = &t_obs[h % OBS_SLOTS];
    if (!s->hist || s->status != status || strcmp(s->method, method) != 0 ||
        strcmp(s->label, label) != 0 || strcmp(s->service, service) != 0) {
        /* The same labels as dtm_metrics_observe_request (metrics.h). */
        dtm_buf_t l;
        dtm_buf_init(&l);
        dtm_buf_puts(&l, "service=\"");
        escape_label(&l, service);
        dtm_buf_puts(&l, "\",method=\"");
        escape_label(&l, method);
        dtm_buf_puts(&l, "\",route=\"");
        escape_label(&l, label);
        dtm_buf_puts(&l, "\"");
        s->hist = dtm_histogram("http_request_duration_seconds", "HTTP request latency in seconds",
                                l.data);
        dtm_buf_printf(&l, ",status=\"%d\"", status);
        s->count = dtm_counter("http_requests_total", "HTTP requests handled", l.data);
        dtm_buf_free(&l);
        s->status = status;
        strcpy(s->method, method);
        strcpy(s->service, service);
        strcpy(s->label, label);
    }
    dtm_histogram_observe(s->hist, seconds);
    dtm_metric_inc(s->count);
}

void dtm_router_finish(dtm_req_t *req, int status, double seconds)
{
    const dtm_route_t *route = req->route;
    const char *label = route ? route->path : "unmatched";
    if (route == &static_route)
        label = "static";
    observe(route, req->service ? req->service : g_conf.process_service, req->method, label, status,
            seconds);
    if (route && (route->flags & DTM_ROUTE_NO_LOG))
        return;
    dtm_req_core_t *core = req->core;
    dtm_access_t a = {
        .method = req->method,
        .path = req->path,
        .upstream = core ? core->upstream : NULL,
        .ip = req->client_ip,
        .user_agent = dtm_req_header(req, "user-agent"),
        .request_id = req->request_id,
        .user_id = req->auth.authed ? req->auth.sub : NULL,
        .status = status,
        .duration_ms = seconds * 1000.0,
        .bytes_in = (long long)req->body_len,
        .bytes_out = core ? (long long)core->resp.body_len : 0,
    };
    dtm_log_access(&a);
}

/* ---- the web client (gateway only) ---- */

static const char *mime_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".webmanifest", "application/manifest+json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".webp", "image/webp"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
        {".yaml", "application/yaml"},
        {".map", "application/json"},
    };
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

static bool is_regular_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The API reference: Redoc's page from the web build (web/scripts/api-docs-plugin.ts), which
 * reads /api/openapi.yaml. A worker route: it reads a file. */
static void api_docs_serve(dtm_req_t *req)
{
    const char *page = dtm_arena_sprintf(req->arena, "%s/api-docs/index.html", dtm_cfg.web_dir);
    if (!is_regular_file(page)) {
        dtm_resp_error(req, 404, "not_found",
                       "The API reference page is not built (make web); the document itself is "
                       "at /api/openapi.yaml",
                       NULL);
        return;
    }
    dtm_resp_file(req, page, "text/html; charset=utf-8", "no-cache");
}

/* History fallback: a path without an extension that is not a file is a client-side route and
 * gets index.html; hashed assets are immutable, everything else must be revalidated. */
static void static_serve(dtm_req_t *req)
{
    const char *path = req->path;
    if (strstr(path, "/..") || strstr(path, "\\") || path[0] != '/') {
        dtm_resp_error(req, 404, "not_found", "Not found", NULL);
        return;
    }
    const char *root = dtm_cfg.web_dir;
    const char *file = dtm_arena_sprintf(req->arena, "%s%s", root, path);
    if (path[strlen(path) - 1] == '/')
        file = dtm_arena_sprintf(req->arena, "%s%sindex.html", root, path);
    if (is_regular_file(file)) {
        bool hashed = strncmp(path, "/assets/", 8) == 0;
        dtm_resp_file(req, file, mime_type(file),
                      hashed ? "public, max-age=31536000, immutable" : "no-cache");
        return;
    }
    const char *last = strrchr(path, '/');
    const char *index = dtm_arena_sprintf(req->arena, "%s/index.html", root);
    if (!strchr(last, '.') && is_regular_file(index)) {
        dtm_resp_file(req, index, "text/html; charset=utf-8", "no-cache");
        return;
    }
    dtm_resp_error(req, 404, "not_found",
                   is_regular_file(index) ? "Not found" : "The web client is not built", NULL);
}
