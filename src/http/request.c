/* SPDX-License-Identifier: MIT */
/* Request accessors and response builders used by every handler. Everything allocated here
 * lives in the request arena; jansson values are released by arena defer hooks. */
#include "core/arena.h"
#include "core/ids.h"
#include "core/json.h"
#include "core/str.h"
#include "core/timeutil.h"
#include "http/internal.h"

#include <limits.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct {
    const char *name;
    unsigned bit;
} role_names[] = {
    {"admin", DTM_ROLE_ADMIN},
    {"manager", DTM_ROLE_MANAGER},
    {"merchandiser", DTM_ROLE_MERCH},
    {"service", DTM_ROLE_SERVICE},
};

unsigned dtm_role_parse(const char *s)
{
    if (!s)
        return 0;
    for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++)
        if (strcmp(role_names[i].name, s) == 0)
            return role_names[i].bit;
    return 0;
}

const char *dtm_role_name(unsigned role)
{
    for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++)
        if (role_names[i].bit == role)
            return role_names[i].name;
    return "unknown";
}

const char *dtm_req_header(const dtm_req_t *req, const char *name)
{
    for (int i = 0; i < req->nheaders; i++)
        if (dtm_streq_ci(req->headers[i].name, name))
            return req->headers[i].value;
    return NULL;
}

const char *dtm_req_param(const dtm_req_t *req, const char *name)
{
    for (int i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].name, name) == 0)
            return req->params[i].value;
    return NULL;
}

/* Query strings are short; decoding on each lookup keeps the request struct simple. */
const char *dtm_req_query(const dtm_req_t *req, const char *name)
{
    const char *q = req->raw_query;
    size_t nlen = strlen(name);
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t plen = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', plen);
        size_t klen = eq ? (size_t)(eq - q) : plen;
        char *key = dtm_arena_alloc(req->arena, klen + 1);
        long kl = dtm_url_decode(q, klen, key, true);
        if (kl >= 0 && (size_t)kl == nlen && memcmp(key, name, nlen) == 0) {
            size_t vlen = eq ? plen - klen - 1 : 0;
            char *val = dtm_arena_alloc(req->arena, vlen + 1);
            if (dtm_url_decode(eq ? eq + 1 : "", vlen, val, true) < 0)
                return NULL;
            return val;
        }
        q = amp ? amp + 1 : NULL;
    }
    return NULL;
}

static void decref_json(void *p)
{
    json_decref(p);
}

static bool content_type_is_json(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0)
        return false;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

json_t *dtm_req_json(dtm_req_t *req)
{
    if (!content_type_is_json(dtm_req_header(req, "content-type"))) {
        dtm_resp_error(req, 415, "unsupported_media_type", "Content-Type must be application/json",
                       NULL);
        return NULL;
    }
    if (req->body_len == 0) {
        dtm_resp_error(req, 400, "bad_request", "Request body must be a JSON object", NULL);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        json_t *details = json_pack("[{s:i,s:i,s:i}]", "line", jerr.line, "column", jerr.column,
                                    "position", jerr.position);
        /* jansson names its own flags in some texts ("... without JSON_ALLOW_NUL") */
        const char *why =
            strstr(jerr.text, "JSON_") ? "\\u0000 is not allowed in strings" : jerr.text;
        char *msg = dtm_arena_sprintf(req->arena, "Malformed JSON at line %d, column %d: %s",
                                      jerr.line, jerr.column, why);
        dtm_resp_error(req, 400, "malformed_json", msg, details);
        return NULL;
    }
    dtm_arena_defer(req->arena, decref_json, root);
    if (!json_is_object(root)) {
        dtm_resp_error(req, 400, "bad_request", "Request body must be a JSON object", NULL);
        return NULL;
    }
    return root;
}

json_t *dtm_req_json_optional(dtm_req_t *req)
{
    if (req->body_len > 0)
        return dtm_req_json(req);
    json_t *o = json_object();
    dtm_arena_defer(req->arena, decref_json, o);
    return o;
}

/* Strict positive decimal: no sign, no spaces, no trailing junk. */
static bool parse_uint(const char *s, long max, long *out)
{
    if (!s || !*s || strlen(s) > 9)
        return false;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

bool dtm_req_page(dtm_req_t *req, int *page, int *limit)
{
    const char *ps = dtm_req_query(req, "page");
    const char *ls = dtm_req_query(req, "limit");
    long p = 1, l = 20;
    dtm_valid_t v;
    dtm_valid_init(&v);
    if (ps && (!parse_uint(ps, 1000000, &p) || p < 1))
        dtm_valid_fail(&v, "page", "must be an integer from 1 to 1000000");
    if (ls && (!parse_uint(ls, 100, &l) || l < 1))
        dtm_valid_fail(&v, "limit", "must be an integer from 1 to 100");
    if (!dtm_valid_ok(&v)) {
        dtm_resp_invalid(req, "Invalid pagination parameters", &v);
        dtm_valid_cleanup(&v);
        return false;
    }
    dtm_valid_cleanup(&v);
    *page = (int)p;
    *limit = (int)l;
    return true;
}

json_t *dtm_pagination(int page, int limit, long long total)
{
    long long pages = limit > 0 ? (total + limit - 1) / limit : 0;
    return json_pack("{s:i,s:i,s:I,s:I}", "page", page, "limit", limit, "total", (json_int_t)total,
                     "pages", (json_int_t)pages);
}

static void valid_cleanup(void *v)
{
    dtm_valid_cleanup(v);
}

dtm_valid_t *dtm_req_validator(dtm_req_t *req)
{
    dtm_valid_t *v = dtm_arena_calloc(req->arena, sizeof *v);
    dtm_valid_init(v);
    dtm_arena_defer(req->arena, valid_cleanup, v);
    return v;
}

const char *dtm_req_uuid_param(dtm_req_t *req, const char *name, const char *message)
{
    const char *id = dtm_req_param(req, name);
    if (!id || !dtm_uuid_valid(id)) {
        dtm_resp_error(req, 404, "not_found", message, NULL);
        return NULL;
    }
    char *low = dtm_arena_strdup(req->arena, id);
    for (char *c = low; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            *c = (char)(*c + 32);
    return low;
}

const char *dtm_req_query_uuid(dtm_req_t *req, dtm_valid_t *v, const char *name)
{
    const char *q = dtm_req_query(req, name);
    if (!q || !*q)
        return NULL;
    if (!dtm_uuid_valid(q)) {
        dtm_valid_fail(v, name, "must be a UUID");
        return NULL;
    }
    return q;
}

bool dtm_req_own_scope(dtm_req_t *req, const char **user_id, const char *what)
{
    if (dtm_req_has_role(req, DTM_ROLES_STAFF))
        return true;
    if (*user_id && strcasecmp(*user_id, req->auth.sub) != 0) {
        dtm_resp_error(req, 403, "forbidden",
                       dtm_arena_sprintf(req->arena, "Merchandisers see only their own %s", what),
                       NULL);
        return false;
    }
    *user_id = req->auth.sub;
    return true;
}

bool dtm_req_captured_field(dtm_valid_t *v, json_t *body, int64_t *ms)
{
    return dtm_jtime(v, body, "capturedAt", false, ms);
}

const char *dtm_req_captured_ok(dtm_req_t *req, int64_t ms, int64_t floor_ms)
{
    int64_t now = dtm_now_ms();
    int64_t earliest = now - DTM_CAPTURED_MAX_PAST_MS;
    if (floor_ms != INT64_MIN && floor_ms > earliest)
        earliest = floor_ms;
    int64_t latest = now + DTM_CAPTURED_MAX_FUTURE_MS;
    char at[32], lo[32], hi[32];
    dtm_iso8601(ms, at);
    if (ms >= earliest && ms <= latest)
        return dtm_arena_strdup(req->arena, at);
    dtm_iso8601(earliest, lo);
    dtm_iso8601(latest, hi);
    const char *why = ms > latest ? "capturedAt lies more than 5 minutes in the future"
                      : floor_ms != INT64_MIN && ms < floor_ms
                          ? "capturedAt precedes the record it closes or extends"
                          : "capturedAt lies more than 72 hours in the past";
    dtm_resp_error(req, 422, "invalid_captured_at", why,
                   json_pack("{s:s, s:s, s:s}", "capturedAt", at, "earliest", lo, "latest", hi));
    return NULL;
}

bool dtm_req_has_role(const dtm_req_t *req, unsigned roles)
{
    if (!req->auth.authed)
        return false;
    if (req->auth.role == DTM_ROLE_SERVICE)
        return true;
    return (req->auth.role & roles) != 0;
}

/* ---- responses ---- */

void dtm_resp_header(dtm_req_t *req, const char *name, const char *value)
{
    dtm_resp_t *r = dtm_req_resp(req);
    for (int i = 0; i < r->nheaders; i++) {
        if (dtm_streq_ci(r->headers[i].name, name)) {
            r->headers[i].value = dtm_arena_strdup(req->arena, value);
            return;
        }
    }
    if (r->nheaders >= (int)(sizeof r->headers / sizeof r->headers[0]))
        dtm_panic("too many response headers (adding %s)", name);
    r->headers[r->nheaders].name = dtm_arena_strdup(req->arena, name);
    r->headers[r->nheaders].value = dtm_arena_strdup(req->arena, value);
    r->nheaders++;
}

void dtm_resp_header_default(dtm_req_t *req, const char *name, const char *value)
{
    const dtm_resp_t *r = dtm_req_resp(req);
    for (int i = 0; i < r->nheaders; i++)
        if (dtm_streq_ci(r->headers[i].name, name))
            return;
    dtm_resp_header(req, name, value);
}

void dtm_resp_body(dtm_req_t *req, int status, const char *content_type, const void *data,
                   size_t len)
{
    dtm_resp_t *r = dtm_req_resp(req);
    r->kind = DTM_RESP_BODY;
    r->status = status;
    r->content_type = content_type ? dtm_arena_strdup(req->arena, content_type) : NULL;
    r->body = dtm_arena_alloc(req->arena, len + 1);
    if (len)
        memcpy(r->body, data, len);
    r->body[len] = '\0';
    r->body_len = len;
}

void dtm_resp_json(dtm_req_t *req, int status, json_t *body)
{
    if (status == 204 || !body) {
        dtm_resp_body(req, status, NULL, "", 0);
        json_decref(body);
        return;
    }
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    if (!text)
        dtm_panic("json_dumps failed");
    dtm_resp_body(req, status, "application/json; charset=utf-8", text, strlen(text));
    free(text);
}

void dtm_resp_error(dtm_req_t *req, int status, const char *code, const char *message,
                    json_t *details)
{
    json_t *err =
        json_pack("{s:s,s:s}", "code", code ? code : "error", "message", message ? message : "");
    if (details)
        json_object_set_new(err, "details", details);
    json_t *body =
        json_pack("{s:o,s:s}", "error", err, "requestId", req->request_id ? req->request_id : "");
    dtm_resp_json(req, status, body);
}

void dtm_resp_invalid(dtm_req_t *req, const char *message, dtm_valid_t *v)
{
    dtm_resp_error(req, 400, "validation_failed", message ? message : "Request is not valid",
                   dtm_valid_take(v));
}

static bool resp_has_header(dtm_req_t *req, const char *name)
{
    dtm_resp_t *r = dtm_req_resp(req);
    for (int i = 0; i < r->nheaders; i++)
        if (dtm_streq_ci(r->headers[i].name, name))
            return true;
    return false;
}

void dtm_resp_err(dtm_req_t *req, dtm_err_t err, const char *message)
{
    if (err == DTM_ERATE && !resp_has_header(req, "retry-after"))
        dtm_resp_header(req, "Retry-After", "60");
    dtm_resp_error(req, dtm_err_status(err), dtm_err_code(err),
                   message ? message : dtm_err_message(err), NULL);
}

/* ---- serialization ---- */

/* RFC 9110 15 (and 6585, 4918 for 423/424/428/429/431, 7725 for 451). A status without a
 * phrase here gets its class's generic one: a status line always carries words. */
static const char *reason_phrase(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 203:
        return "Non-Authoritative Information";
    case 204:
        return "No Content";
    case 205:
        return "Reset Content";
    case 206:
        return "Partial Content";
    case 300:
        return "Multiple Choices";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 407:
        return "Proxy Authentication Required";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 421:
        return "Misdirected Request";
    case 422:
        return "Unprocessable Content";
    case 423:
        return "Locked";
    case 424:
        return "Failed Dependency";
    case 425:
        return "Too Early";
    case 426:
        return "Upgrade Required";
    case 428:
        return "Precondition Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 451:
        return "Unavailable For Legal Reasons";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    case 507:
        return "Insufficient Storage";
    default:
        break;
    }
    static const char *const by_class[] = {"Unknown",     "Informational", "Success",
                                           "Redirection", "Client Error",  "Server Error"};
    return by_class[status >= 100 && status < 600 ? status / 100 : 0];
}

/* "Date: <IMF-fixdate>\r\n" changes once a second; each thread keeps its own formatted copy. */
static const char *http_date_line(size_t *len)
{
    static _Thread_local char buf[48];
    static _Thread_local size_t n;
    static _Thread_local time_t last;
    time_t now = time(NULL);
    if (now != last || !n) {
        struct tm tm;
        gmtime_r(&now, &tm);
        n = strftime(buf, sizeof buf, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        last = now;
    }
    *len = n;
    return buf;
}

static void put_lit(dtm_buf_t *out, const char *s, size_t n)
{
    dtm_buf_append(out, s, n);
}
#define PUT_LIT(out, lit) put_lit((out), (lit), sizeof(lit) - 1)

static void put_str(dtm_buf_t *out, const char *s)
{
    dtm_buf_append(out, s, strlen(s));
}

static void put_ll(dtm_buf_t *out, long long v)
{
    char tmp[24], *p = tmp + sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    dtm_buf_append(out, p, (size_t)(tmp + sizeof tmp - p));
}

/* Response heads are built from copies of static pieces: this runs for every response. */
void dtm_resp_head(dtm_req_t *req, int status, bool keep_alive, long long content_length,
                   const char *content_type, dtm_buf_t *out)
{
    dtm_resp_t *r = dtm_req_resp(req);
    size_t dlen;
    const char *date = http_date_line(&dlen);
    if (status == 200) {
        PUT_LIT(out, "HTTP/1.1 200 OK\r\n");
    } else {
        PUT_LIT(out, "HTTP/1.1 ");
        put_ll(out, status);
        PUT_LIT(out, " ");
        put_str(out, reason_phrase(status));
        PUT_LIT(out, "\r\n");
    }
    put_lit(out, date, dlen);
    if (content_type) {
        PUT_LIT(out, "Content-Type: ");
        put_str(out, content_type);
        PUT_LIT(out, "\r\n");
    }
    if (content_length >= 0 && status != 204 && status != 304) {
        PUT_LIT(out, "Content-Length: ");
        put_ll(out, content_length);
        PUT_LIT(out, "\r\n");
    }
    if (req->request_id) {
        PUT_LIT(out, "X-Request-Id: ");
        put_str(out, req->request_id);
        PUT_LIT(out, "\r\n");
    }
    PUT_LIT(out, "X-Content-Type-Options: nosniff\r\n");
    for (int i = 0; i < r->nheaders; i++) {
        put_str(out, r->headers[i].name);
        PUT_LIT(out, ": ");
        put_str(out, r->headers[i].value);
        PUT_LIT(out, "\r\n");
    }
    const dtm_router_conf_t *rc = dtm_router_conf();
    if (rc->resp_headers && !req->internal)
        rc->resp_headers(req, out);
    if (keep_alive)
        PUT_LIT(out, "Connection: keep-alive\r\n\r\n");
    else
        PUT_LIT(out, "Connection: close\r\n\r\n");
}

void dtm_resp_serialize(dtm_req_t *req, bool keep_alive, dtm_buf_t *out)
{
    dtm_resp_t *r = dtm_req_resp(req);
    dtm_resp_head(req, r->status, keep_alive, (long long)r->body_len, r->content_type, out);
    bool head = req->method && strcmp(req->method, "HEAD") == 0;
    if (!head && r->status != 204 && r->status != 304 && r->body_len)
        dtm_buf_append(out, r->body, r->body_len);
}
