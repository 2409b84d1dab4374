/* SPDX-License-Identifier: MIT */
/* Stores service: the registry of stores (code, coordinates, geofence, timezone). handlers.c
 * validates and answers; store.c holds every SQL statement of the `stores` schema. */
#ifndef DTM_SERVICES_STORES_H
#define DTM_SERVICES_STORES_H

#include "db/pg.h"
#include "http/http.h"
#include <jansson.h>

/* ---- store.c: data access ---- */

/* Writable fields as SQL text parameters; NULL means "not given" (keep the current value on
 * update, the column default on insert). */
typedef struct {
    const char *code, *name, *address;
    const char *latitude, *longitude; /* decimal text */
    const char *radius_m;             /* integer text */
    const char *timezone;
    const char *active; /* "true" / "false" */
} stores_input_t;

typedef struct {
    const char *search; /* a LIKE pattern from stores_like_pattern, or NULL */
    int active;         /* -1 any, 0 inactive, 1 active */
    int page, limit;
} stores_filter_t;

/** "%s%" with the LIKE wildcards in s escaped, so the caller's text matches literally. */
const char *stores_like_pattern(dtm_arena_t *a, const char *s);
/** One page of stores in name order (*rows, arena-owned) and the total matching count. */
dtm_err_t stores_db_list(dtm_db_t *db, const stores_filter_t *f, PGresult **rows, long long *total);
/** The store `id` (a valid UUID) in *row; DTM_ENOTFOUND when there is none. */
dtm_err_t stores_db_get(dtm_db_t *db, const char *id, PGresult **row);
/** Insert with a new id; DTM_ECONFLICT when the code is taken. */
dtm_err_t stores_db_insert(dtm_db_t *db, const stores_input_t *in, PGresult **row);
/** Update the given fields; DTM_ENOTFOUND, DTM_ECONFLICT (code taken). */
dtm_err_t stores_db_update(dtm_db_t *db, const char *id, const stores_input_t *in, PGresult **row);
/** Set active = false; DTM_ENOTFOUND. */
dtm_err_t stores_db_deactivate(dtm_db_t *db, const char *id);
/** *ok = whether PostgreSQL knows `tz` as an IANA zone name. */
dtm_err_t stores_db_timezone_known(dtm_db_t *db, const char *tz, bool *ok);

/** The API object of row `i` (new reference). */
json_t *stores_row_json(const PGresult *r, int i);

/* ---- handlers.c ---- */
void stores_list(dtm_req_t *req);
void stores_create(dtm_req_t *req);
void stores_get(dtm_req_t *req);
void stores_update(dtm_req_t *req);
void stores_delete(dtm_req_t *req);

#endif
