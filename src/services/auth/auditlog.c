/* SPDX-License-Identifier: MIT */
/* GET /api/audit-log (admin): the audit log's entries, newest first, as JSON pages or CSV.
 * Served by the auth service (account security); the entries are written by every service
 * in its own transactions (services/common/audit.h). */
#include "core/str.h"
#include "core/timeutil.h"
#include "services/auth/auth.h"
#include "services/common/audit.h"
#include "services/common/call.h"

#include <stdlib.h>
#include <string.h>

#define AUDIT_CSV_MAX 10000 /* rows in one export */

static const char *query_time(dtm_req_t *req, dtm_valid_t *v, const char *name)
{
    const char *s = dtm_req_query(req, name);
    int64_t ms;
    if (!s || !*s)
        return NULL;
    if (dtm_parse_iso8601(s, &ms) != 0) {
        dtm_valid_fail(v, name, "must be an ISO-8601 time");
        return NULL;
    }
    return s;
}

static const char *query_text(dtm_req_t *req, dtm_valid_t *v, const char *name, size_t max)
{
    const char *s = dtm_req_query(req, name);
    if (!s || !*s)
        return NULL;
    if (strlen(s) > max)
        dtm_valid_fail(v, name, "is longer than %zu characters", max);
    return s;
}

static void csv_row(dtm_buf_t *b, json_t *e)
{
    static const char *const cols[] = {"id",     "at",       "actorId", "actorRole", "action",
                                       "entity", "entityId", "ip",      "requestId", "changes"};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        json_t *v = e ? json_object_get(e, cols[i]) : NULL;
        char *text = NULL;
        const char *s = !e ? cols[i] : json_is_string(v) ? json_string_value(v) : NULL;
        if (e && !s && v && !json_is_null(v))
            s = text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (i)
            dtm_buf_puts(b, ",");
        dtm_buf_csv_field(b, s ? s : "");
        free(text);
    }
    dtm_buf_puts(b, "\r\n");
}

void auth_audit_log(dtm_req_t *req)
{
    dtm_audit_filter_t f = {0};
    if (!dtm_req_page(req, &f.page, &f.limit))
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    f.actor_id = dtm_req_query_uuid(req, v, "actorId");
    f.entity = query_text(req, v, "entity", 32);
    f.entity_id = query_text(req, v, "entityId", 64);
    f.action = query_text(req, v, "action", 64);
    f.from = query_time(req, v, "from");
    f.to = query_time(req, v, "to");
    const char *format = dtm_req_query(req, "format");
    bool csv = format && strcmp(format, "csv") == 0;
    if (format && !csv && strcmp(format, "json") != 0)
        dtm_valid_fail(v, "format", "must be json or csv");
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, NULL, v);
        return;
    }
    if (csv) {
        f.page = 1;
        f.limit = AUDIT_CSV_MAX;
    }
    dtm_db_t *db = dtm_svc_db(req, "audit", req->arena);
    if (!db)
        return;
    json_t *items = NULL;
    long long total = 0;
    dtm_err_t err = dtm_audit_list(db, &f, &items, &total);
    if (err) {
        dtm_resp_err(req, err, NULL);
        return;
    }
    if (!csv) {
        dtm_resp_json(req, 200,
                      json_pack("{s:o, s:o}", "items", items, "pagination",
                                dtm_pagination(f.page, f.limit, total)));
        return;
    }
    dtm_buf_t b;
    dtm_buf_init(&b);
    csv_row(&b, NULL);
    size_t i;
    json_t *e;
    json_array_foreach(items, i, e) csv_row(&b, e);
    json_decref(items);
    dtm_resp_header(req, "Content-Disposition", "attachment; filename=\"audit-log.csv\"");
    dtm_resp_body(req, 200, "text/csv; charset=utf-8", b.data, b.len);
    dtm_buf_free(&b);
}
