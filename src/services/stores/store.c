/* SPDX-License-Identifier: MIT */
/* Every SQL statement of the stores service. Only parameters ($n) carry caller input; the
 * few variable parts of the list query are chosen from fixed fragments. */
#include "services/stores/stores.h"
#include "core/ids.h"
#include "core/str.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ISO(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

#define STORE_COLS                                                                                 \
    "id, code, name, address, latitude, longitude, geofence_radius_m, timezone, active, " ISO(     \
        "created_at") " AS created_at, " ISO("updated_at") " AS updated_at"

/* "%" and "_" are wildcards in LIKE: the caller's text is matched literally. */
const char *stores_like_pattern(dtm_arena_t *a, const char *s)
{
    size_t n = strlen(s);
    char *out = dtm_arena_alloc(a, 2 * n + 3), *p = out;
    *p++ = '%';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' || s[i] == '_' || s[i] == '\\')
            *p++ = '\\';
        *p++ = s[i];
    }
    *p++ = '%';
    *p = '\0';
    return out;
}

dtm_err_t stores_db_list(dtm_db_t *db, const stores_filter_t *f, PGresult **rows, long long *total)
{
    /* Two parameters at most; the WHERE clause is one of four fixed texts. */
    static const char *const where[4] = {
        "",
        " WHERE active = $1",
        " WHERE (code || ' ' || name || ' ' || address) ILIKE $1",
        " WHERE active = $1 AND (code || ' ' || name || ' ' || address) ILIKE $2",
    };
    const char *params[4];
    int n = 0, w = 0;
    if (f->active >= 0) {
        params[n++] = f->active ? "true" : "false";
        w |= 1;
    }
    if (f->search) {
        params[n++] = f->search;
        w |= 2;
    }
    char count_sql[256], list_sql[768];
    snprintf(count_sql, sizeof count_sql, "SELECT count(*) AS n FROM stores.stores%s", where[w]);
    snprintf(list_sql, sizeof list_sql,
             "SELECT " STORE_COLS " FROM stores.stores%s ORDER BY name, id LIMIT $%d OFFSET $%d",
             where[w], n + 1, n + 2);
    PGresult *c;
    dtm_err_t err = dtm_db_query(db, &c, count_sql, n, params);
    if (err)
        return err;
    *total = dtm_pg_int(c, 0, "n", 0);
    char lim[16], off[24];
    snprintf(lim, sizeof lim, "%d", f->limit);
    snprintf(off, sizeof off, "%lld", (long long)(f->page - 1) * f->limit);
    params[n] = lim;
    params[n + 1] = off;
    return dtm_db_query(db, rows, list_sql, n + 2, params);
}

dtm_err_t stores_db_get(dtm_db_t *db, const char *id, PGresult **row)
{
    const char *p[] = {id};
    dtm_err_t err =
        dtm_db_query(db, row, "SELECT " STORE_COLS " FROM stores.stores WHERE id = $1", 1, p);
    if (err)
        return err;
    return PQntuples(*row) == 1 ? DTM_OK : DTM_ENOTFOUND;
}

dtm_err_t stores_db_insert(dtm_db_t *db, const stores_input_t *in, PGresult **row)
{
    char id[DTM_UUID_LEN + 1];
    dtm_uuid_v4(id);
    const char *p[] = {id,           in->code,      in->name,     in->address,
                       in->latitude, in->longitude, in->radius_m, in->timezone};
    return dtm_db_query(db, row,
                        "INSERT INTO stores.stores (id, code, name, address, latitude, longitude,"
                        " geofence_radius_m, timezone) VALUES ($1, $2, $3, coalesce($4, ''), $5,"
                        " $6, coalesce($7::int, 100), coalesce($8, 'UTC')) RETURNING " STORE_COLS,
                        8, p);
}

dtm_err_t stores_db_update(dtm_db_t *db, const char *id, const stores_input_t *in, PGresult **row)
{
    const char *p[] = {id,           in->code,     in->name,
                       in->address,  in->latitude, in->longitude,
                       in->radius_m, in->timezone, in->active};
    dtm_err_t err = dtm_db_query(
        db, row,
        "UPDATE stores.stores SET code = coalesce($2, code), name = coalesce($3, name),"
        " address = coalesce($4, address), latitude = coalesce($5::float8, latitude),"
        " longitude = coalesce($6::float8, longitude),"
        " geofence_radius_m = coalesce($7::int, geofence_radius_m),"
        " timezone = coalesce($8, timezone), active = coalesce($9::bool, active),"
        " updated_at = now() WHERE id = $1 RETURNING " STORE_COLS,
        9, p);
    if (err)
        return err;
    return PQntuples(*row) == 1 ? DTM_OK : DTM_ENOTFOUND;
}

dtm_err_t stores_db_deactivate(dtm_db_t *db, const char *id)
{
    const char *p[] = {id};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "UPDATE stores.stores SET active = false, updated_at = now()"
                                 " WHERE id = $1 RETURNING id",
                                 1, p);
    if (err)
        return err;
    return PQntuples(r) == 1 ? DTM_OK : DTM_ENOTFOUND;
}

dtm_err_t stores_db_timezone_known(dtm_db_t *db, const char *tz, bool *ok)
{
    /* pg_timezone_names scans the zone directory (~60 ms): only asked when a zone changes. */
    const char *p[] = {tz};
    PGresult *r;
    dtm_err_t err = dtm_db_query(
        db, &r, "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1) AS ok", 1, p);
    if (err)
        return err;
    *ok = dtm_pg_bool(r, 0, "ok");
    return DTM_OK;
}

json_t *stores_row_json(const PGresult *r, int i)
{
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:f, s:f, s:I, s:s, s:b, s:s, s:s}", "id", dtm_pg_get(r, i, "id"),
        "code", dtm_pg_get(r, i, "code"), "name", dtm_pg_get(r, i, "name"), "address",
        dtm_pg_get(r, i, "address"), "latitude", dtm_pg_double(r, i, "latitude", 0), "longitude",
        dtm_pg_double(r, i, "longitude", 0), "geofenceRadiusM",
        (json_int_t)dtm_pg_int(r, i, "geofence_radius_m", 100), "timezone",
        dtm_pg_get(r, i, "timezone"), "active", dtm_pg_bool(r, i, "active"), "createdAt",
        dtm_pg_get(r, i, "created_at"), "updatedAt", dtm_pg_get(r, i, "updated_at"));
}
