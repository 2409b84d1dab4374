/* SPDX-License-Identifier: MIT */
/* Edge: client IP behind trusted proxies, token-bucket limits with Retry-After, CORS. */
#include "core/config.h"
#include "core/jwt.h"
#include "core/timeutil.h"
#include "gateway/edge.h"
#include "http/realip.h"
#include "http/internal.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    dtm_req_t req;
    dtm_req_core_t core;
    dtm_header_t headers[6];
} fake_t;

static fake_t *fake(const char *method, const char *path, const char *peer)
{
    fake_t *f = calloc(1, sizeof *f);
    f->req.arena = dtm_arena_new(0);
    f->req.core = &f->core;
    f->req.method = method;
    f->req.path = path;
    f->req.headers = f->headers;
    f->req.client_ip = peer;
    f->req.body = "";
    return f;
}

static void hdr(fake_t *f, const char *n, const char *v)
{
    f->headers[f->req.nheaders++] = (dtm_header_t){n, v};
}

static void done(fake_t *f)
{
    dtm_arena_free(f->req.arena);
    free(f);
}

static void setup(void)
{
    setenv("DTM_JWT_SECRET", "0123456789abcdef0123456789abcdef0123456789", 1);
    setenv("REDIS_URL", "redis://127.0.0.1:1/0", 1); /* unreachable: local limits */
    setenv("DTM_TRUSTED_PROXIES", "10.0.0.0/8, ::1", 1);
    setenv("DTM_CORS_ORIGINS", "https://app.example.com", 1);
    setenv("DTM_RATE_LIMIT_PER_IP", "60", 1);    /* 1/s */
    setenv("DTM_RATE_LIMIT_BURST_PCT", "10", 1); /* bucket of 6 */
    cr_assert_eq(dtm_config_load(0, stderr), 0);
    cr_assert_eq(dtm_edge_init(), 0);
}

static void teardown(void)
{
    dtm_edge_shutdown();
}

TestSuite(edge, .init = setup, .fini = teardown);

Test(edge, forwarded_for_only_from_trusted_peers)
{
    fake_t *f = fake("GET", "/api/x", "10.1.2.3");
    hdr(f, "x-forwarded-for", "203.0.113.9, 198.51.100.7, 10.0.0.5");
    hdr(f, "x-forwarded-proto", "https");
    dtm_realip(&f->req);
    /* the rightmost address that is not one of our proxies */
    cr_assert_str_eq(f->req.client_ip, "198.51.100.7");
    cr_assert(f->req.via_tls);
    done(f);

    f = fake("GET", "/api/x", "192.0.2.1"); /* not trusted: header ignored */
    hdr(f, "x-forwarded-for", "203.0.113.9");
    dtm_realip(&f->req);
    cr_assert_str_eq(f->req.client_ip, "192.0.2.1");
    cr_assert_not(f->req.via_tls);
    done(f);
}

Test(edge, bucket_allows_the_burst_then_429_with_retry_after)
{
    int ok = 0, limited = 0;
    for (int i = 0; i < 10; i++) {
        fake_t *f = fake("GET", "/api/x", "192.0.2.50");
        if (dtm_edge_filter(&f->req)) {
            limited++;
            dtm_resp_t *r = dtm_req_resp(&f->req);
            cr_assert_eq(r->status, 429);
            bool retry = false;
            for (int h = 0; h < r->nheaders; h++)
                retry = retry || strcmp(r->headers[h].name, "Retry-After") == 0;
            cr_assert(retry);
        } else {
            ok++;
        }
        done(f);
    }
    cr_assert_eq(ok, 6);
    cr_assert_eq(limited, 4);
    /* another address has its own bucket; health checks are never limited */
    fake_t *f = fake("GET", "/api/x", "192.0.2.51");
    cr_assert_not(dtm_edge_filter(&f->req));
    done(f);
    for (int i = 0; i < 20; i++) {
        f = fake("GET", "/health", "192.0.2.50");
        cr_assert_not(dtm_edge_filter(&f->req));
        done(f);
    }
}

Test(edge, cors_preflight_and_headers)
{
    fake_t *f = fake("OPTIONS", "/api/todos", "192.0.2.60");
    hdr(f, "origin", "https://app.example.com");
    hdr(f, "access-control-request-method", "POST");
    cr_assert(dtm_edge_filter(&f->req));
    cr_assert_eq(dtm_req_resp(&f->req)->status, 204);
    dtm_buf_t b;
    dtm_buf_init(&b);
    dtm_edge_headers(&f->req, &b);
    cr_assert(strstr(b.data, "Access-Control-Allow-Origin: https://app.example.com"));
    cr_assert(strstr(b.data, "frame-ancestors 'none'"));
    cr_assert_null(strstr(b.data, "Strict-Transport-Security"));
    dtm_buf_free(&b);
    done(f);

    f = fake("OPTIONS", "/api/todos", "192.0.2.61");
    hdr(f, "origin", "https://evil.example.net");
    hdr(f, "access-control-request-method", "POST");
    cr_assert(dtm_edge_filter(&f->req));
    cr_assert_eq(dtm_req_resp(&f->req)->status, 403);
    dtm_buf_init(&b);
    dtm_edge_headers(&f->req, &b);
    cr_assert_null(strstr(b.data, "Access-Control-Allow-Origin"));
    dtm_buf_free(&b);
    done(f);
}
