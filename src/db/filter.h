/* SPDX-License-Identifier: MIT */
/* A list query's optional filters, built once: each present filter adds " AND <fragment>" with
 * its value as the next $n parameter (values are never spliced into the SQL), then
 * dtm_filter_page runs the count and the page (ORDER BY, LIMIT, OFFSET) with the same WHERE.
 * Fragments are SQL text from code, never request input. */
#ifndef DTM_FILTER_H
#define DTM_FILTER_H

#include "core/str.h"
#include "db/pg.h"

#define DTM_FILTER_MAX 16

typedef struct {
    dtm_buf_t where; /* " WHERE true AND ..." */
    const char *params[DTM_FILTER_MAX + 2];
    int n;
} dtm_filter_t;

void dtm_filter_init(dtm_filter_t *f);
/** When value is not NULL: " AND " + fragment, where the one %d becomes value's $n. */
void dtm_filter_add(dtm_filter_t *f, const char *fragment, const char *value);
/** " AND " + fragment, a condition without a parameter. */
void dtm_filter_raw(dtm_filter_t *f, const char *fragment);
/** *total from `count_prefix` + WHERE (a query answering one row with column n), then *rows from
 *  `select_prefix` + WHERE + " ORDER BY " + order_by + LIMIT limit OFFSET (page - 1) * limit. */
dtm_err_t dtm_filter_page(dtm_db_t *db, dtm_filter_t *f, const char *count_prefix,
                          const char *select_prefix, const char *order_by, int limit, int page,
                          PGresult **rows, long long *total);
void dtm_filter_free(dtm_filter_t *f);

#endif
