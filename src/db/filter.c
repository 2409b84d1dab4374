/* SPDX-License-Identifier: MIT */
#include "db/filter.h"
#include <stdio.h>
#include <string.h>

void dtm_filter_init(dtm_filter_t *f)
{
    dtm_buf_init(&f->where);
    dtm_buf_puts(&f->where, " WHERE true");
    f->n = 0;
}

void dtm_filter_add(dtm_filter_t *f, const char *fragment, const char *value)
{
    if (!value || f->n >= DTM_FILTER_MAX)
        return;
    f->params[f->n++] = value;
    dtm_buf_puts(&f->where, " AND ");
    /* The fragment's one "%d" becomes the parameter's number (not a format string: the
     * fragments are constants, but this keeps -Wformat-nonliteral meaningful). */
    const char *at = strstr(fragment, "%d");
    if (!at) {
        dtm_buf_puts(&f->where, fragment);
        return;
    }
    dtm_buf_append(&f->where, fragment, (size_t)(at - fragment));
    dtm_buf_printf(&f->where, "%d", f->n);
    dtm_buf_puts(&f->where, at + 2);
}

void dtm_filter_raw(dtm_filter_t *f, const char *fragment)
{
    dtm_buf_puts(&f->where, " AND ");
    dtm_buf_puts(&f->where, fragment);
}

dtm_err_t dtm_filter_page(dtm_db_t *db, dtm_filter_t *f, const char *count_prefix,
                          const char *select_prefix, const char *order_by, int limit, int page,
                          PGresult **rows, long long *total)
{
    dtm_buf_t sql;
    dtm_buf_init(&sql);
    dtm_buf_printf(&sql, "%s%s", count_prefix, f->where.data);
    PGresult *c;
    dtm_err_t err = dtm_db_query(db, &c, sql.data, f->n, f->params);
    if (err)
        goto out;
    *total = dtm_pg_int(c, 0, "n", 0);
    char lim[16], off[24];
    snprintf(lim, sizeof lim, "%d", limit);
    snprintf(off, sizeof off, "%lld", (long long)(page - 1) * limit);
    f->params[f->n] = lim;
    f->params[f->n + 1] = off;
    dtm_buf_reset(&sql);
    dtm_buf_printf(&sql, "%s%s ORDER BY %s LIMIT $%d OFFSET $%d", select_prefix, f->where.data,
                   order_by, f->n + 1, f->n + 2);
    err = dtm_db_query(db, rows, sql.data, f->n + 2, f->params);
out:
    dtm_buf_free(&sql);
    return err;
}

void dtm_filter_free(dtm_filter_t *f)
{
    dtm_buf_free(&f->where);
}
