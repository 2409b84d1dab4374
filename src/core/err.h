/* SPDX-License-Identifier: MIT */
/* Error codes shared by every module, and the one table that maps them to HTTP. */
#ifndef DTM_ERR_H
#define DTM_ERR_H

/* Negative codes, libuv style. DTM_OK is zero. */
typedef enum {
    DTM_OK = 0,
    DTM_EINVAL = -1,     /* 400 validation_failed / bad_request */
    DTM_EAUTH = -2,      /* 401 unauthorized / invalid_token */
    DTM_EFORBIDDEN = -3, /* 403 forbidden */
    DTM_ENOTFOUND = -4,  /* 404 not_found */
    DTM_EMETHOD = -5,    /* 405 method_not_allowed */
    DTM_ECONFLICT = -6,  /* 409 conflict */
    DTM_ETOOBIG = -7,    /* 413 payload_too_large */
    DTM_EMEDIA = -8,     /* 415 unsupported_media_type */
    DTM_ERULE = -9,      /* 422 rule_violated */
    DTM_ELOCKED = -10,   /* 423 locked */
    DTM_ERATE = -11,     /* 429 rate_limited */
    DTM_EHEADERS = -12,  /* 431 headers_too_large */
    DTM_EINTERNAL = -13, /* 500 internal_error */
    DTM_EUPSTREAM = -14, /* 502 bad_gateway */
    DTM_EUNAVAIL = -15,  /* 503 service_unavailable */
    DTM_EDB = -16,       /* 503 database_unavailable */
    DTM_ETIMEOUT = -17,  /* 504 gateway_timeout */
} dtm_err_t;

/** HTTP status for an error code (500 for unknown codes, 200 for DTM_OK). */
int dtm_err_status(dtm_err_t err);

/** Default machine-readable code string for the JSON error body ("validation_failed", ...). */
const char *dtm_err_code(dtm_err_t err);

/** Default human message ("Request body is not valid", ...). Static storage. */
const char *dtm_err_message(dtm_err_t err);

/** Abort the process with a message: used for allocation failure and broken invariants. */
_Noreturn void dtm_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
