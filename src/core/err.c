/* SPDX-License-Identifier: MIT */
/* The one table that maps dtm_err_t to HTTP statuses and JSON error bodies. */
#include "core/err.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    dtm_err_t err;
    int status;
    const char *code;
    const char *message;
} err_row_t;

static const err_row_t err_table[] = {
    {DTM_OK, 200, "ok", "OK"},
    {DTM_EINVAL, 400, "validation_failed", "Request is not valid"},
    {DTM_EAUTH, 401, "unauthorized", "Authentication required"},
    {DTM_EFORBIDDEN, 403, "forbidden", "You are not allowed to do this"},
    {DTM_ENOTFOUND, 404, "not_found", "Not found"},
    {DTM_EMETHOD, 405, "method_not_allowed", "Method not allowed"},
    {DTM_ECONFLICT, 409, "conflict", "Conflict with the current state"},
    {DTM_ETOOBIG, 413, "payload_too_large", "Request body is too large"},
    {DTM_EMEDIA, 415, "unsupported_media_type", "Content-Type must be application/json"},
    {DTM_ERULE, 422, "rule_violated", "A business rule was violated"},
    {DTM_ELOCKED, 423, "locked", "Resource is locked"},
    {DTM_ERATE, 429, "rate_limited", "Too many requests"},
    {DTM_EHEADERS, 431, "headers_too_large", "Request headers are too large"},
    {DTM_EINTERNAL, 500, "internal_error", "Internal server error"},
    {DTM_EUPSTREAM, 502, "bad_gateway", "Upstream service failed"},
    {DTM_EUNAVAIL, 503, "service_unavailable", "Service unavailable"},
    {DTM_EDB, 503, "database_unavailable", "Database unavailable"},
    {DTM_ETIMEOUT, 504, "gateway_timeout", "Upstream service timed out"},
};

static const err_row_t *err_row(dtm_err_t err)
{
    for (size_t i = 0; i < sizeof err_table / sizeof err_table[0]; i++)
        if (err_table[i].err == err)
            return &err_table[i];
    return &err_table[13]; /* DTM_EINTERNAL */
}

int dtm_err_status(dtm_err_t err)
{
    return err_row(err)->status;
}

const char *dtm_err_code(dtm_err_t err)
{
    return err_row(err)->code;
}

const char *dtm_err_message(dtm_err_t err)
{
    return err_row(err)->message;
}

void dtm_panic(const char *fmt, ...)
{
    va_list ap;
    fputs("dtm: fatal: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}
