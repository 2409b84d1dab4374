/* SPDX-License-Identifier: MIT */
/* The Idempotency-Key hooks: which requests take part, the request fingerprint, and the
 * answers for a reused, running or finished key. See idempotency.h. */
#include "services/idempotency.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/ticker.h"
#include "db/idempotency.h"
#include "http/internal.h"
#include "services/common/photo.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

#define IDEM_HEADER    "idempotency-key"
#define IDEM_MAX_KEY   255
#define IDEM_SCHEMA    "idempotency" /* its pool: DATABASE_URL_IDEMPOTENCY or DATABASE_URL */
#define PURGE_EVERY_MS (10 * 60 * 1000)

static struct {
    dtm_metric_t *claimed, *replayed, *stored, *released, *mismatch, *running, *unavailable;
    dtm_metric_t *purged;
} M;
static dtm_ticker_t *g_purge;

static void purge_tick(void *ud)
{
    (void)ud;
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(dtm_pg_pool_for(IDEM_SCHEMA), a);
    long long n = 0;
    if (db && dtm_idem_purge(db, dtm_cfg.idempotency_ttl_s, &n) == DTM_OK && n > 0) {
        dtm_metric_add(M.purged, (double)n);
        dtm_log_info("idempotency: purged %lld keys older than %d s", n, dtm_cfg.idempotency_ttl_s);
    }
    dtm_arena_free(a);
}

static dtm_metric_t *outcome(const char *name)
{
    char labels[48];
    snprintf(labels, sizeof labels, "outcome=\"%s\"", name);
    return dtm_counter("dtm_idempotency_requests_total",
                       "Requests sent with an Idempotency-Key, by what happened", labels);
}

void dtm_idempotency_start(void)
{
    M.claimed = outcome("executed");
    M.replayed = outcome("replayed");
    M.mismatch = outcome("key_reused");
    M.running = outcome("in_progress");
    M.unavailable = outcome("unavailable");
    M.stored = dtm_counter("dtm_idempotency_stored_total", "Responses kept for a retry", NULL);
    M.released = dtm_counter("dtm_idempotency_released_total",
                             "Keys given up because the response was not kept (5xx)", NULL);
    M.purged = dtm_counter("dtm_idempotency_purged_total", "Expired keys deleted", NULL);
    if (!g_purge)
        g_purge = dtm_ticker_start(PURGE_EVERY_MS, purge_tick, NULL);
}

void dtm_idempotency_stop(void)
{
    dtm_ticker_stop(g_purge);
    g_purge = NULL;
}

/* POSTs and PATCHes of an authenticated caller from outside (in-process sub-requests are part
 * of the outer request), unless the route opts out. */
static const char *key_of(const dtm_req_t *req)
{
    if (req->internal || !req->auth.authed || !req->route ||
        (req->route->flags & DTM_ROUTE_NO_IDEMPOTENCY))
        return NULL;
    if (strcmp(req->method, "POST") != 0 && strcmp(req->method, "PATCH") != 0)
        return NULL;
    return dtm_req_header(req, IDEM_HEADER);
}

static bool key_valid(const char *k)
{
    size_t n = strlen(k);
    if (n < 1 || n > IDEM_MAX_KEY)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] < 0x20 || (unsigned char)k[i] > 0x7e)
            return false;
    return true;
}

static void hash_field(crypto_hash_sha256_state *h, const void *p, size_t n)
{
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)n >> (8 * i));
    crypto_hash_sha256_update(h, len, sizeof len); /* length-prefixed: no ambiguity */
    crypto_hash_sha256_update(h, (const unsigned char *)p, n);
}

static void hash_str(crypto_hash_sha256_state *h, const char *s)
{
    hash_field(h, s ? s : "", s ? strlen(s) : 0);
}

/* SHA-256 of what makes two requests "the same": method, path, query and body. A multipart
 * body is hashed part by part (name, filename, type, bytes), not as bytes: a client retrying
 * a form gets a new boundary each time. */
static void fingerprint(dtm_req_t *req, char out[65])
{
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    hash_str(&h, req->method);
    hash_str(&h, req->path);
    hash_str(&h, req->raw_query);
    const char *ct = dtm_req_header(req, "content-type");
    const char *boundary = ct && strncasecmp(ct, "multipart/", 10) == 0
                               ? dtm_multipart_boundary(req->arena, ct)
                               : NULL;
    dtm_mpart_t *parts = NULL;
    int n = 0;
    if (boundary &&
        dtm_multipart_parse(req->arena, req->body, req->body_len, boundary, &parts, &n) == DTM_OK) {
        hash_str(&h, "multipart");
        for (int i = 0; i < n; i++) {
            hash_str(&h, parts[i].name);
            hash_str(&h, parts[i].filename);
            hash_str(&h, parts[i].content_type);
            hash_field(&h, parts[i].data, parts[i].len);
        }
    } else {
        hash_str(&h, "body");
        hash_field(&h, req->body ? req->body : "", req->body ? req->body_len : 0);
    }
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&h, d);
    sodium_bin2hex(out, 65, d, sizeof d);
}

bool dtm_idempotency_before(dtm_req_t *req)
{
    const char *key = key_of(req);
    if (!key)
        return false;
    if (!key_valid(key)) {
        dtm_resp_error(req, 400, "invalid_idempotency_key",
                       "Idempotency-Key must be 1 to 255 printable ASCII characters", NULL);
        return true;
    }
    char fp[65];
    fingerprint(req, fp);
    dtm_idem_outcome_t o = DTM_IDEM_CLAIMED;
    dtm_idem_stored_t st;
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(dtm_pg_pool_for(IDEM_SCHEMA), a);
    dtm_err_t err =
        db ? dtm_idem_claim(db, req->auth.sub, key, fp, req->method, req->path,
                            dtm_cfg.idempotency_ttl_s, dtm_cfg.idempotency_lease_ms, &o, &st)
           : DTM_EDB;
    bool answered = true;
    if (err != DTM_OK) {
        /* Running the write unprotected could double it; the client retries later. */
        dtm_metric_inc(M.unavailable);
        dtm_resp_header(req, "Retry-After", "1");
        dtm_resp_error(req, 503, "unavailable",
                       "Idempotency-Key cannot be checked right now; retry the request", NULL);
    } else if (o == DTM_IDEM_CLAIMED) {
        dtm_metric_inc(M.claimed);
        answered = false;
    } else if (o == DTM_IDEM_MISMATCH) {
        dtm_metric_inc(M.mismatch);
        dtm_resp_error(req, 422, "idempotency_key_reused",
                       "This Idempotency-Key was used for a different request", NULL);
    } else if (o == DTM_IDEM_RUNNING) {
        dtm_metric_inc(M.running);
        dtm_resp_header(req, "Retry-After", "1");
        dtm_resp_error(req, 409, "request_in_progress",
                       "A request with this Idempotency-Key is still being processed", NULL);
    } else {
        dtm_metric_inc(M.replayed);
        dtm_resp_body(req, st.status, st.content_type, st.body, st.body_len);
        if (st.location)
            dtm_resp_header(req, "Location", st.location);
        dtm_resp_header(req, "Idempotent-Replayed", "true");
    }
    dtm_arena_free(a); /* copies above went to the request's arena */
    return answered;
}

static const char *resp_header(const dtm_resp_t *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

void dtm_idempotency_after(dtm_req_t *req)
{
    const char *key = key_of(req);
    if (!key)
        return; /* (an invalid key was answered by the before hook, which skips this one) */
    const dtm_resp_t *r = dtm_req_resp(req);
    /* Kept: complete answers below 500 whose body is text (JSON). Streams and 5xx are not:
     * the retry runs again. */
    bool keep = r->kind == DTM_RESP_BODY && r->status >= 200 && r->status < 500 &&
                (!r->body_len || !memchr(r->body, '\0', r->body_len));
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(dtm_pg_pool_for(IDEM_SCHEMA), a);
    dtm_err_t err = DTM_EDB;
    if (db && keep) {
        dtm_idem_stored_t st = {.status = r->status,
                                .content_type = r->content_type,
                                .location = resp_header(r, "Location"),
                                .body = r->body_len ? r->body : "",
                                .body_len = r->body_len};
        err = dtm_idem_complete(db, req->auth.sub, key, &st);
        if (err == DTM_OK)
            dtm_metric_inc(M.stored);
    }
    if (db && (!keep || err != DTM_OK)) {
        err = dtm_idem_release(db, req->auth.sub, key);
        dtm_metric_inc(M.released);
    }
    if (err != DTM_OK) /* the lease runs out and a retry takes the key over */
        dtm_log_warn("idempotency: key of %s %s left running: %s", req->method, req->path,
                     dtm_err_code(err));
    dtm_arena_free(a);
}
