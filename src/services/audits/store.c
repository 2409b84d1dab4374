/* SPDX-License-Identifier: MIT */
/* Every SQL statement of the audits service. Caller input only travels as parameters ($n);
 * the list and score queries are assembled from fixed fragments. */
#include "core/ids.h"
#include "db/filter.h"
#include "core/str.h"
#include "db/outbox.h"
#include "services/audits/audits.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ISO(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* clang-format off */
#define TEMPLATE_COLS                                                                              \
    "t.id, v.version, t.current_version, t.active, v.name, v.description,"                         \
    " v.pass_threshold_pct::text AS pass_threshold_pct, v.questions::text AS questions,"           \
    " t.created_by, " ISO("t.created_at") " AS created_at, " ISO("t.updated_at") " AS updated_at," \
    " v.used"

#define AUDIT_COLS                                                                                 \
    "a.id, a.template_id, a.template_version, v.name AS template_name, a.store_id, a.user_id,"     \
    " a.visit_id, a.attendance_id, a.status, a.answers::text AS answers, a.revision,"              \
    " a.score_pct::text AS score_pct, a.passed,"                                                   \
    " array_to_json(a.corrective_todo_ids)::text AS corrective_todo_ids,"                          \
    " " ISO("a.started_at") " AS started_at, " ISO("a.submitted_at") " AS submitted_at,"           \
    " " ISO("a.updated_at") " AS updated_at, v.questions::text AS questions,"                      \
    " v.pass_threshold_pct::text AS pass_threshold_pct"
/* clang-format on */

dtm_err_t audits_db_template_list(dtm_db_t *db, int active, int page, int limit, PGresult **rows,
                                  long long *total)
{
    static const char *const where[] = {" WHERE NOT t.active", " WHERE t.active", ""};
    const char *w = where[active < 0 ? 2 : active];
    char sql[1024];
    PGresult *c;
    snprintf(sql, sizeof sql, "SELECT count(*) AS n FROM audits.templates t%s", w);
    dtm_err_t err = dtm_db_query(db, &c, sql, 0, NULL);
    if (err)
        return err;
    *total = dtm_pg_int(c, 0, "n", 0);
    char lim[16], off[24];
    snprintf(lim, sizeof lim, "%d", limit);
    snprintf(off, sizeof off, "%lld", (long long)(page - 1) * limit);
    const char *p[] = {lim, off};
    snprintf(sql, sizeof sql,
             "SELECT " TEMPLATE_COLS " FROM audits.templates t JOIN audits.template_versions v"
             " ON v.template_id = t.id AND v.version = t.current_version%s"
             " ORDER BY t.created_at DESC, t.id DESC LIMIT $1 OFFSET $2",
             w);
    return dtm_db_query(db, rows, sql, 2, p);
}

dtm_err_t audits_db_template_get(dtm_db_t *db, const char *id, int version, int lock,
                                 PGresult **row)
{
    static const char *const locks[] = {"", " FOR SHARE OF t", " FOR UPDATE OF t"};
    char ver[16], sql[1024];
    snprintf(ver, sizeof ver, "%d", version);
    const char *p[] = {id, ver};
    snprintf(sql, sizeof sql,
             "SELECT " TEMPLATE_COLS " FROM audits.templates t JOIN audits.template_versions v"
             " ON v.template_id = t.id AND v.version = CASE WHEN $2::int = 0"
             " THEN t.current_version ELSE $2::int END WHERE t.id = $1%s",
             locks[lock]);
    dtm_err_t err = dtm_db_query(db, row, sql, 2, p);
    if (err == DTM_OK && PQntuples(*row) != 1)
        err = DTM_ENOTFOUND;
    return err;
}

dtm_err_t audits_db_template_insert(dtm_db_t *db, const char *created_by,
                                    const audits_template_in_t *in, char id[37])
{
    dtm_uuid_v4(id);
    const char *p[] = {id, created_by, in->name, in->description, in->threshold, in->questions};
    return dtm_db_query(db, NULL,
                        "WITH t AS (INSERT INTO audits.templates (id, created_by)"
                        " VALUES ($1, $2) RETURNING id)"
                        " INSERT INTO audits.template_versions (template_id, version, name,"
                        " description, pass_threshold_pct, questions)"
                        " SELECT t.id, 1, $3, coalesce($4, ''), coalesce($5::numeric, 80),"
                        " $6::jsonb FROM t",
                        6, p);
}

dtm_err_t audits_db_template_write(dtm_db_t *db, const char *id, int version, bool new_version,
                                   const audits_template_in_t *in)
{
    char ver[16];
    snprintf(ver, sizeof ver, "%d", version);
    const char *p[] = {id, ver, in->name, in->description, in->threshold, in->questions};
    dtm_err_t err;
    if (new_version) {
        err = dtm_db_query(db, NULL,
                           "INSERT INTO audits.template_versions (template_id, version, name,"
                           " description, pass_threshold_pct, questions)"
                           " SELECT template_id, version + 1, coalesce($3, name),"
                           " coalesce($4, description),"
                           " coalesce($5::numeric, pass_threshold_pct),"
                           " coalesce($6::jsonb, questions) FROM audits.template_versions"
                           " WHERE template_id = $1 AND version = $2::int",
                           6, p);
        if (err)
            return err;
        return dtm_db_query(db, NULL,
                            "UPDATE audits.templates SET current_version = $2::int + 1,"
                            " updated_at = now() WHERE id = $1",
                            2, p);
    }
    err = dtm_db_query(db, NULL,
                       "UPDATE audits.template_versions SET name = coalesce($3, name),"
                       " description = coalesce($4, description),"
                       " pass_threshold_pct = coalesce($5::numeric, pass_threshold_pct),"
                       " questions = coalesce($6::jsonb, questions)"
                       " WHERE template_id = $1 AND version = $2::int",
                       6, p);
    if (err)
        return err;
    return dtm_db_query(db, NULL, "UPDATE audits.templates SET updated_at = now() WHERE id = $1", 1,
                        p);
}

dtm_err_t audits_db_template_set_active(dtm_db_t *db, const char *id, bool active)
{
    const char *p[] = {id, active ? "true" : "false"};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "UPDATE audits.templates SET active = $2::boolean,"
                                 " updated_at = now() WHERE id = $1 RETURNING id",
                                 2, p);
    if (err == DTM_OK && PQntuples(r) != 1)
        err = DTM_ENOTFOUND;
    return err;
}

dtm_err_t audits_db_audit_insert(dtm_db_t *db, const audits_audit_in_t *in, char id[37])
{
    dtm_uuid_v4(id);
    const char *p[] = {id,          in->template_id, in->store_id,
                       in->user_id, in->visit_id,    in->attendance_id};
    dtm_err_t err = dtm_db_begin(db);
    if (err)
        return err;
    PGresult *t;
    /* FOR SHARE: an edit of the template (FOR UPDATE) waits for this insert, then sees the
     * version as used and writes a new one instead of changing what this draft answers. */
    err = dtm_db_query(db, &t,
                       "SELECT current_version FROM audits.templates WHERE id = $1 AND active"
                       " FOR SHARE",
                       1, &p[1]);
    if (err == DTM_OK && PQntuples(t) != 1)
        err = DTM_ENOTFOUND;
    if (err == DTM_OK) {
        const char *q[] = {p[0], p[1], dtm_pg_get(t, 0, "current_version"), p[2], p[3], p[4], p[5]};
        err = dtm_db_query(db, NULL,
                           "INSERT INTO audits.audits (id, template_id, template_version,"
                           " store_id, user_id, visit_id, attendance_id)"
                           " VALUES ($1, $2, $3::int, $4, $5, $6, $7)",
                           7, q);
        /* Only the first audit of a version writes (and locks) the version row. */
        const char *u[] = {q[1], q[2]};
        if (err == DTM_OK)
            err = dtm_db_query(db, NULL,
                               "UPDATE audits.template_versions SET used = true"
                               " WHERE template_id = $1 AND version = $2::int AND NOT used",
                               2, u);
    }
    if (err == DTM_OK)
        err = dtm_db_commit(db);
    if (err)
        dtm_db_rollback(db);
    return err;
}

dtm_err_t audits_db_audit_get(dtm_db_t *db, const char *id, bool lock, PGresult **row)
{
    const char *p[] = {id};
    dtm_err_t err = dtm_db_query(
        db, row,
        lock ? "SELECT " AUDIT_COLS " FROM audits.audits a JOIN audits.template_versions v"
               " ON v.template_id = a.template_id AND v.version = a.template_version"
               " WHERE a.id = $1 FOR UPDATE OF a"
             : "SELECT " AUDIT_COLS " FROM audits.audits a JOIN audits.template_versions v"
               " ON v.template_id = a.template_id AND v.version = a.template_version"
               " WHERE a.id = $1",
        1, p);
    if (err == DTM_OK && PQntuples(*row) != 1)
        err = DTM_ENOTFOUND;
    return err;
}

dtm_err_t audits_db_audit_list(dtm_db_t *db, const audits_filter_t *f, PGresult **rows,
                               long long *total)
{
    dtm_filter_t w;
    dtm_filter_init(&w);
    dtm_filter_add(&w, "a.user_id = $%d", f->user_id);
    dtm_filter_add(&w, "a.store_id = $%d", f->store_id);
    dtm_filter_add(&w, "a.template_id = $%d", f->template_id);
    dtm_filter_add(&w, "a.started_at >= $%d", f->from);
    dtm_filter_add(&w, "a.started_at < $%d", f->to);
    dtm_filter_add(&w, "a.status = $%d", f->status);
    if (f->passed >= 0)
        dtm_filter_raw(&w, f->passed ? "a.passed" : "NOT a.passed");
    dtm_err_t err = dtm_filter_page(db, &w, "SELECT count(*) AS n FROM audits.audits a",
                                    "SELECT " AUDIT_COLS " FROM audits.audits a JOIN"
                                    " audits.template_versions v ON v.template_id = a.template_id"
                                    " AND v.version = a.template_version",
                                    "a.started_at DESC, a.id DESC", f->limit, f->page, rows, total);
    dtm_filter_free(&w);
    return err;
}

dtm_err_t audits_db_audit_save(dtm_db_t *db, const char *id, const char *answers)
{
    const char *p[] = {id, answers};
    return dtm_db_query(db, NULL,
                        "UPDATE audits.audits SET answers = $2::jsonb, revision = revision + 1,"
                        " updated_at = now() WHERE id = $1",
                        2, p);
}

dtm_err_t audits_db_audit_submit(dtm_db_t *db, const char *id, const char *revision,
                                 const char *answers, const char *score_pct, bool passed,
                                 const char *todo_ids, bool *done)
{
    const char *p[] = {id, revision, answers, score_pct, passed ? "true" : "false", todo_ids};
    PGresult *r;
    dtm_err_t err = dtm_db_query(
        db, &r,
        "UPDATE audits.audits SET status = 'submitted', submitted_at = now(), updated_at = now(),"
        " answers = $3::jsonb, score_pct = $4::numeric, passed = $5::boolean,"
        " corrective_todo_ids = $6::uuid[], revision = revision + 1"
        " WHERE id = $1 AND status = 'draft' AND revision = $2::int RETURNING id",
        6, p);
    *done = err == DTM_OK && PQntuples(r) == 1;
    return err;
}

dtm_err_t audits_db_emit_failed(dtm_db_t *db, const char *id, const char *template_id,
                                const char *store_id, const char *user_id, double score_pct,
                                double threshold_pct)
{
    json_t *payload = json_pack("{s:s, s:s, s:s, s:s, s:f, s:f}", "auditId", id, "templateId",
                                template_id, "storeId", store_id, "userId", user_id, "scorePct",
                                score_pct, "passThresholdPct", threshold_pct);
    dtm_err_t err = dtm_outbox_emit(db, "audits", "audit.failed", payload, NULL);
    json_decref(payload);
    return err;
}

dtm_err_t audits_db_photo_insert(dtm_db_t *db, const char *id, const char *qid, const char *sha256,
                                 const char *type, const char *bytes)
{
    const char *p[] = {id, qid, sha256, type, bytes};
    return dtm_db_query(db, NULL,
                        "INSERT INTO audits.photos (audit_id, question_id, sha256, content_type,"
                        " bytes) VALUES ($1, $2, $3, $4, $5::int) ON CONFLICT DO NOTHING",
                        5, p);
}

dtm_err_t audits_db_photo_type(dtm_db_t *db, const char *sha256, const char *owner,
                               const char **type)
{
    const char *p[] = {sha256, owner};
    PGresult *r;
    dtm_err_t err =
        owner ? dtm_db_query(db, &r,
                             "SELECT p.content_type FROM audits.photos p JOIN audits.audits a"
                             " ON a.id = p.audit_id WHERE p.sha256 = $1 AND a.user_id = $2"
                             " LIMIT 1",
                             2, p)
              : dtm_db_query(db, &r,
                             "SELECT content_type FROM audits.photos WHERE sha256 = $1 LIMIT 1", 1,
                             p);
    *type = err == DTM_OK && PQntuples(r) == 1 ? dtm_pg_get(r, 0, "content_type") : NULL;
    return err;
}

dtm_err_t audits_db_scores(dtm_db_t *db, const char *group, const char *from, const char *to,
                           PGresult **rows)
{
    static const struct {
        const char *name, *expr;
    } keys[] = {
        {"store", "store_id::text"},
        {"user", "user_id::text"},
        {"template", "template_id::text"},
        {"week", "to_char(date_trunc('week', submitted_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"},
    };
    const char *expr = NULL;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(keys[i].name, group) == 0)
            expr = keys[i].expr;
    if (!expr)
        return DTM_EINVAL;
    const char *p[2];
    int n = 0;
    dtm_buf_t sql;
    dtm_buf_init(&sql);
    dtm_buf_printf(&sql,
                   "SELECT %s AS key, count(*) AS audits,"
                   " round(avg(score_pct), 1)::text AS avg_score_pct,"
                   " round(100.0 * count(*) FILTER (WHERE passed) / count(*), 1)::text"
                   " AS pass_rate_pct FROM audits.audits WHERE status = 'submitted'",
                   expr);
    if (from) {
        p[n++] = from;
        dtm_buf_printf(&sql, " AND submitted_at >= $%d", n);
    }
    if (to) {
        p[n++] = to;
        dtm_buf_printf(&sql, " AND submitted_at < $%d", n);
    }
    dtm_buf_puts(&sql, " GROUP BY 1 ORDER BY 1");
    dtm_err_t err = dtm_db_query(db, rows, sql.data, n, p);
    dtm_buf_free(&sql);
    return err;
}

/* ---- JSON ---- */

static json_t *parse_or(const char *text, json_t *dflt)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    if (!j)
        return dflt;
    json_decref(dflt);
    return j;
}

static json_t *num_or_null(const char *text)
{
    return text ? json_real(strtod(text, NULL)) : json_null();
}

json_t *audits_template_json(const PGresult *r, int i)
{
    return json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:b, s:o, s:o, s:b, s:s, s:s, s:s}", "id",
        dtm_pg_get(r, i, "id"), "name", dtm_pg_get(r, i, "name"), "description",
        dtm_pg_get(r, i, "description"), "version", (json_int_t)dtm_pg_int(r, i, "version", 1),
        "currentVersion", (json_int_t)dtm_pg_int(r, i, "current_version", 1), "active",
        dtm_pg_bool(r, i, "active"), "passThresholdPct",
        num_or_null(dtm_pg_get(r, i, "pass_threshold_pct")), "questions",
        parse_or(dtm_pg_get(r, i, "questions"), json_array()), "used", dtm_pg_bool(r, i, "used"),
        "createdBy", dtm_pg_get(r, i, "created_by"), "createdAt", dtm_pg_get(r, i, "created_at"),
        "updatedAt", dtm_pg_get(r, i, "updated_at"));
}

/* Answers in the order of the template's questions, each with its questionId. */
static json_t *answers_array(json_t *questions, json_t *answers)
{
    json_t *out = json_array();
    size_t k;
    json_t *q;
    json_array_foreach(questions, k, q)
    {
        const char *id = json_string_value(json_object_get(q, "id"));
        json_t *a = id ? json_object_get(answers, id) : NULL;
        if (!a)
            continue;
        json_t *val = json_object_get(a, "value"), *comment = json_object_get(a, "comment");
        json_t *urls = json_object_get(a, "photoUrls"), *passed = json_object_get(a, "passed");
        json_t *o = json_pack("{s:s, s:O, s:b, s:O, s:o, s:O}", "questionId", id, "value",
                              val ? val : json_null(), "na", json_is_true(json_object_get(a, "na")),
                              "comment", comment ? comment : json_null(), "photoUrls",
                              urls ? json_incref(urls) : json_array(), "passed",
                              passed ? passed : json_null());
        json_t *ca = json_object_get(a, "capturedAt"), *ra = json_object_get(a, "receivedAt");
        if (ca)
            json_object_set(o, "capturedAt", ca);
        if (ra)
            json_object_set(o, "receivedAt", ra);
        json_array_append_new(out, o);
    }
    return out;
}

json_t *audits_audit_json(const PGresult *r, int i)
{
    json_t *questions = parse_or(dtm_pg_get(r, i, "questions"), json_array());
    json_t *answers = parse_or(dtm_pg_get(r, i, "answers"), json_object());
    const char *passed = dtm_pg_get(r, i, "passed");
    json_t *o = json_pack(
        "{s:s, s:s, s:I, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:s}",
        "id", dtm_pg_get(r, i, "id"), "templateId", dtm_pg_get(r, i, "template_id"),
        "templateVersion", (json_int_t)dtm_pg_int(r, i, "template_version", 1), "templateName",
        dtm_pg_get(r, i, "template_name"), "storeId", dtm_pg_get(r, i, "store_id"), "userId",
        dtm_pg_get(r, i, "user_id"), "visitId", dtm_json_str_or_null(dtm_pg_get(r, i, "visit_id")),
        "attendanceId", dtm_json_str_or_null(dtm_pg_get(r, i, "attendance_id")), "status",
        dtm_pg_get(r, i, "status"), "answers", answers_array(questions, answers), "scorePct",
        num_or_null(dtm_pg_get(r, i, "score_pct")), "passed",
        passed ? json_boolean(passed[0] == 't') : json_null(), "passThresholdPct",
        num_or_null(dtm_pg_get(r, i, "pass_threshold_pct")), "correctiveTodoIds",
        parse_or(dtm_pg_get(r, i, "corrective_todo_ids"), json_array()), "startedAt",
        dtm_pg_get(r, i, "started_at"), "submittedAt",
        dtm_json_str_or_null(dtm_pg_get(r, i, "submitted_at")), "updatedAt",
        dtm_pg_get(r, i, "updated_at"));
    json_decref(questions);
    json_decref(answers);
    return o;
}
