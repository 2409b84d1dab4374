/* SPDX-License-Identifier: MIT */
/* Audits service: questionnaire templates (typed questions, weights, N/A, pass rules, photo
 * proof, corrective tasks), versioned once used; audits that a merchandiser fills in on site,
 * saved piecemeal, scored on submit; scores by store, user, template and week.
 *
 * template.c checks and normalises templates and answer values, score.c is the scoring formula
 * of API.md (both pure jansson, unit-tested), store.c holds every SQL statement of the
 * `audits` schema, handlers.c validates, asks other services (stores, attendance, todos) and
 * answers. Photos go through the shared pipeline of services/common/photo.h. */
#ifndef DTM_SERVICES_AUDITS_H
#define DTM_SERVICES_AUDITS_H

#include "core/json.h"
#include "core/metrics.h"
#include "db/pg.h"
#include "http/http.h"
#include <jansson.h>
#include <stdbool.h>

#define AUDITS_MAX_QUESTIONS    100
#define AUDITS_MAX_OPTIONS      50
#define AUDITS_MAX_TEXT         5000 /* a text answer or a comment */
#define AUDITS_MAX_PHOTOS       10   /* per question of one audit */
#define AUDITS_MAX_DUE_HOURS    8760 /* failCreatesTask.dueInHours: at most a year */
#define AUDITS_QUESTION_ID_MAX  64
#define AUDITS_SUBMIT_ATTEMPTS  3 /* re-scoring when the draft changed during a submit */
#define AUDITS_PHOTO_URL_PREFIX "/api/audits/photos/"

/* ---- template.c: templates and answer values ---- */

/** Checks body["questions"] (an array of 1..AUDITS_MAX_QUESTIONS question objects) and returns
 *  the normalised array (new reference): every field present with its default, ids generated
 *  where missing. Every problem is recorded in v as "questions[i].field"; NULL when invalid. */
json_t *audits_questions_parse(dtm_valid_t *v, json_t *questions);

/** The question of `questions` with id `qid` (borrowed), or NULL. */
json_t *audits_question_find(json_t *questions, const char *qid);

/** Whether `value` (non-NULL, not JSON null) is a valid answer to question q: NULL when it is,
 *  else a message ("must be true or false"). */
const char *audits_value_check(json_t *q, json_t *value);

/* ---- score.c: the scoring formula of API.md ---- */

typedef struct {
    int score10;        /* scorePct in tenths: 0..1000 */
    bool passed;        /* score10 >= passThresholdPct * 10 */
    json_t *incomplete; /* question ids (new reference, array) */
    json_t *failed;     /* the question objects that failed (new reference, array) */
} audits_score_t;

/** Scores `answers` ({questionId: answer}, modified: each answer gets "passed" true, false or
 *  null) against the normalised `questions`. yes_no passes when value == passValue, number
 *  when min <= value <= max, choice when value is in passOptions; text and photo questions,
 *  unanswered questions and N/A answers are not scored. scorePct = sum weight(passed) /
 *  sum weight(scored) * 100 rounded half up to one decimal, 100 when nothing weighs. Required
 *  questions without an answer (or N/A) and photoRequired ones without a photo (unless N/A)
 *  are listed in out->incomplete. Release with audits_score_cleanup. */
void audits_score(json_t *questions, json_t *answers, double pass_threshold_pct,
                  audits_score_t *out);
void audits_score_cleanup(audits_score_t *s);

/* ---- store.c: data access ---- */

typedef struct {
    const char *name, *description, *threshold; /* NULL: keep (update) */
    const char *questions;                      /* normalised JSON text; NULL: keep */
} audits_template_in_t;

/** Page of templates (current versions), newest first; active -1 any, 0, 1. */
dtm_err_t audits_db_template_list(dtm_db_t *db, int active, int page, int limit, PGresult **rows,
                                  long long *total);
/** Template `id` at `version` (0 = current), locked FOR UPDATE (`lock` = 2) or FOR SHARE
 *  (1) inside a transaction. Columns: id, version, current_version, active, name, description,
 *  pass_threshold_pct, questions, created_by, created_at, updated_at, used (an audit
 *  references that version). DTM_ENOTFOUND. */
dtm_err_t audits_db_template_get(dtm_db_t *db, const char *id, int version, int lock,
                                 PGresult **row);
/** New template with version 1; its id into id[37]. */
dtm_err_t audits_db_template_insert(dtm_db_t *db, const char *created_by,
                                    const audits_template_in_t *in, char id[37]);
/** Write the given fields into `version` in place (new_version false) or as version + 1,
 *  which becomes current (new_version true). Inside the caller's transaction. */
dtm_err_t audits_db_template_write(dtm_db_t *db, const char *id, int version, bool new_version,
                                   const audits_template_in_t *in);
/** Set active. DTM_ENOTFOUND. */
dtm_err_t audits_db_template_set_active(dtm_db_t *db, const char *id, bool active);

typedef struct {
    const char *template_id, *store_id, *user_id;
    const char *visit_id, *attendance_id; /* NULL when none */
} audits_audit_in_t;

/** New draft of the template's current version (locks the template FOR SHARE, so a
 *  concurrent edit sees it as used). DTM_ENOTFOUND when the template is unknown or inactive. */
dtm_err_t audits_db_audit_insert(dtm_db_t *db, const audits_audit_in_t *in, char id[37]);
/** Audit `id` with its template version (columns of AUDIT_COLS plus questions,
 *  pass_threshold_pct, revision), FOR UPDATE when lock. DTM_ENOTFOUND. */
dtm_err_t audits_db_audit_get(dtm_db_t *db, const char *id, bool lock, PGresult **row);

typedef struct {
    const char *user_id, *store_id, *template_id; /* UUIDs or NULL */
    const char *from, *to;                        /* ISO text or NULL: started_at in [from, to) */
    int passed;                                   /* -1 any, 0, 1 */
    const char *status;                           /* "draft" | "submitted" | NULL */
    int page, limit;
} audits_filter_t;

/** A page of audits (rows like audits_db_audit_get), newest first, and the total. */
dtm_err_t audits_db_audit_list(dtm_db_t *db, const audits_filter_t *f, PGresult **rows,
                               long long *total);
/** Replace the answers of a draft and bump its revision. */
dtm_err_t audits_db_audit_save(dtm_db_t *db, const char *id, const char *answers);
/** Inside the submit's transaction: publish audit.failed (docs/events.md). */
dtm_err_t audits_db_emit_failed(dtm_db_t *db, const char *id, const char *template_id,
                                const char *store_id, const char *user_id, double score_pct,
                                double threshold_pct);
/** Mark a draft submitted with its score, if it is still a draft at `revision`. *done = whether
 *  this call did it. */
dtm_err_t audits_db_audit_submit(dtm_db_t *db, const char *id, const char *revision,
                                 const char *answers, const char *score_pct, bool passed,
                                 const char *todo_ids, bool *done);
/** Record photo `sha256` of question `qid` of audit `id` (idempotent). */
dtm_err_t audits_db_photo_insert(dtm_db_t *db, const char *id, const char *qid, const char *sha256,
                                 const char *type, const char *bytes);
/** Content type of a photo referenced by any audit, or (owner non-NULL) by one of that user's
 *  audits. *type NULL when none. */
dtm_err_t audits_db_photo_type(dtm_db_t *db, const char *sha256, const char *owner,
                               const char **type);

/** Scores of submitted audits with submitted_at in [from, to) grouped by `group` ("store",
 *  "user", "template", "week"): columns key, audits, avg_score_pct, pass_rate_pct. */
dtm_err_t audits_db_scores(dtm_db_t *db, const char *group, const char *from, const char *to,
                           PGresult **rows);

/** API objects of row i (new references). */
json_t *audits_template_json(const PGresult *r, int i);
json_t *audits_audit_json(const PGresult *r, int i);

/* ---- routes.c: business metrics ---- */
typedef struct {
    dtm_metric_t *templates, *started, *submitted, *failed, *photos, *photo_bytes, *todos;
} audits_metrics_t;
extern audits_metrics_t audits_metrics;

/* ---- handlers.c ---- */
void audits_templates_list(dtm_req_t *req);
void audits_templates_create(dtm_req_t *req);
void audits_templates_get(dtm_req_t *req);
void audits_templates_update(dtm_req_t *req);
void audits_templates_delete(dtm_req_t *req);
void audits_create(dtm_req_t *req);
void audits_list(dtm_req_t *req);
void audits_get(dtm_req_t *req);
void audits_update(dtm_req_t *req);
void audits_upload_photo(dtm_req_t *req);
void audits_submit(dtm_req_t *req);
void audits_scores(dtm_req_t *req);
void audits_photo(dtm_req_t *req);

#endif
