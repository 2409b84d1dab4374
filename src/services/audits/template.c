/* SPDX-License-Identifier: MIT */
/* Template questions: checked once when a template is written and stored normalised (every
 * field present, defaults applied), so scoring and answer checks never guess. */
#include "core/ids.h"
#include "services/audits/audits.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const types[] = {"yes_no", "number", "choice", "text", "photo", NULL};
static const char *const priorities[] = {"low", "medium", "high", "urgent", NULL};

static bool scored_type(const char *t)
{
    return strcmp(t, "yes_no") == 0 || strcmp(t, "number") == 0 || strcmp(t, "choice") == 0;
}

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Moves the problems of an inner validator to v under "questions[i].<field>". */
static void move_problems(dtm_valid_t *v, dtm_valid_t *inner, size_t i)
{
    size_t k;
    json_t *d;
    json_array_foreach(inner->details, k, d)
    {
        const char *f = json_string_value(json_object_get(d, "field"));
        char field[96];
        snprintf(field, sizeof field, "questions[%zu]%s%s", i, f && *f ? "." : "", f ? f : "");
        dtm_valid_fail(v, field, "%s", json_string_value(json_object_get(d, "message")));
    }
}

/* A list of 1..AUDITS_MAX_OPTIONS distinct strings of 1..200 characters, or NULL + problem. */
static json_t *string_list(dtm_valid_t *v, json_t *q, const char *field, bool required)
{
    json_t *a = json_object_get(q, field);
    if (!a || json_is_null(a)) {
        if (required)
            dtm_valid_fail(v, field, "is required");
        return NULL;
    }
    if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > AUDITS_MAX_OPTIONS) {
        dtm_valid_fail(v, field, "must be an array of 1..%d strings", AUDITS_MAX_OPTIONS);
        return NULL;
    }
    size_t i, j;
    json_t *s, *t;
    json_array_foreach(a, i, s)
    {
        size_t n = json_is_string(s) ? strlen(json_string_value(s)) : 0;
        if (n < 1 || n > 200) {
            dtm_valid_fail(v, field, "must hold strings of 1..200 characters");
            return NULL;
        }
        json_array_foreach(a, j, t) if (j < i && json_equal(s, t))
        {
            dtm_valid_fail(v, field, "must not repeat \"%s\"", json_string_value(s));
            return NULL;
        }
    }
    return a;
}

/* One question -> normalised object (new reference), or NULL with problems in iv. */
static json_t *parse_question(dtm_valid_t *iv, json_t *q)
{
    const char *id = NULL, *text = NULL, *type = NULL;
    bool required = false, allow_na = false, pass_value = true, photo_required = false;
    int64_t weight = 1;
    double min = 0, max = 0;
    if (!json_is_object(q)) {
        dtm_valid_fail(iv, "", "must be an object");
        return NULL;
    }
    json_t *jid = json_object_get(q, "id");
    if (jid && !json_is_null(jid)) {
        id = json_string_value(jid);
        size_t n = id ? strlen(id) : 0;
        bool ok = n >= 1 && n <= AUDITS_QUESTION_ID_MAX;
        for (size_t k = 0; ok && k < n; k++)
            ok = id_char(id[k]);
        if (!ok) {
            dtm_valid_fail(iv, "id", "must be 1..%d characters of A-Z a-z 0-9 - _",
                           AUDITS_QUESTION_ID_MAX);
            id = NULL;
        }
    }
    dtm_jstr(iv, q, "text", true, 1, 500, &text);
    dtm_jenum(iv, q, "type", true, types, &type);
    dtm_jbool(iv, q, "required", false, &required);
    dtm_jint(iv, q, "weight", false, 0, 100, &weight);
    dtm_jbool(iv, q, "allowNa", false, &allow_na);
    dtm_jbool(iv, q, "photoRequired", false, &photo_required);
    bool has_min = dtm_jnum(iv, q, "min", false, -1e15, 1e15, &min);
    bool has_max = dtm_jnum(iv, q, "max", false, -1e15, 1e15, &max);
    bool has_pv = dtm_jbool(iv, q, "passValue", false, &pass_value);
    json_t *options = NULL, *pass_options = NULL;
    bool is_choice = type && strcmp(type, "choice") == 0;
    if (is_choice) {
        options = string_list(iv, q, "options", true);
        pass_options = string_list(iv, q, "passOptions", true);
        size_t i;
        json_t *s;
        if (options && pass_options) {
            json_array_foreach(pass_options, i, s)
            {
                bool found = false;
                size_t j;
                json_t *o;
                json_array_foreach(options, j, o) found = found || json_equal(o, s);
                if (!found) {
                    dtm_valid_fail(iv, "passOptions", "\"%s\" is not one of options",
                                   json_string_value(s));
                    break;
                }
            }
        }
    }
    if (type && strcmp(type, "number") != 0 && (has_min || has_max))
        dtm_valid_fail(iv, has_min ? "min" : "max", "applies to number questions only");
    if (has_min && has_max && min > max)
        dtm_valid_fail(iv, "max", "must not be below min");
    if (type && strcmp(type, "yes_no") != 0 && has_pv)
        dtm_valid_fail(iv, "passValue", "applies to yes_no questions only");
    if (!is_choice && (json_object_get(q, "options") || json_object_get(q, "passOptions")) &&
        !json_is_null(json_object_get(q, "options")) &&
        json_array_size(json_object_get(q, "options")) > 0)
        dtm_valid_fail(iv, "options", "applies to choice questions only");

    json_t *task = json_object_get(q, "failCreatesTask"), *task_out = json_null();
    if (task && !json_is_null(task)) {
        const char *prio = "medium";
        int64_t hours = 24;
        if (!json_is_object(task)) {
            dtm_valid_fail(iv, "failCreatesTask",
                           "must be an object {priority, dueInHours} or null");
        } else {
            dtm_valid_t tv;
            dtm_valid_init(&tv);
            dtm_jenum(&tv, task, "priority", false, priorities, &prio);
            dtm_jint(&tv, task, "dueInHours", false, 1, AUDITS_MAX_DUE_HOURS, &hours);
            if (!dtm_valid_ok(&tv)) {
                json_t *d = json_array_get(tv.details, 0);
                dtm_valid_fail(iv, "failCreatesTask", "%s %s",
                               json_string_value(json_object_get(d, "field")),
                               json_string_value(json_object_get(d, "message")));
            }
            dtm_valid_cleanup(&tv);
            if (type && !scored_type(type))
                dtm_valid_fail(iv, "failCreatesTask",
                               "applies to scored questions only (yes_no, number, choice)");
            json_decref(task_out);
            task_out = json_pack("{s:s, s:I}", "priority", prio, "dueInHours", (json_int_t)hours);
        }
    }
    if (!dtm_valid_ok(iv)) {
        json_decref(task_out);
        return NULL;
    }
    char fresh[DTM_UUID_LEN + 1];
    if (!id) {
        dtm_uuid_v4(fresh);
        id = fresh;
    }
    bool yes_no = strcmp(type, "yes_no") == 0, number = strcmp(type, "number") == 0;
    return json_pack("{s:s, s:s, s:s, s:b, s:I, s:b, s:o, s:o, s:o, s:o, s:o, s:b, s:o}", "id", id,
                     "text", text, "type", type, "required", required, "weight", (json_int_t)weight,
                     "allowNa", allow_na, "passValue",
                     yes_no ? json_boolean(pass_value) : json_null(), "min",
                     number && has_min ? json_real(min) : json_null(), "max",
                     number && has_max ? json_real(max) : json_null(), "options",
                     options ? json_incref(options) : json_array(), "passOptions",
                     pass_options ? json_incref(pass_options) : json_array(), "photoRequired",
                     photo_required, "failCreatesTask", task_out);
}

json_t *audits_questions_parse(dtm_valid_t *v, json_t *questions)
{
    if (!json_is_array(questions) || json_array_size(questions) < 1 ||
        json_array_size(questions) > AUDITS_MAX_QUESTIONS) {
        dtm_valid_fail(v, "questions", "must be an array of 1..%d questions", AUDITS_MAX_QUESTIONS);
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *q;
    json_array_foreach(questions, i, q)
    {
        dtm_valid_t iv;
        dtm_valid_init(&iv);
        json_t *n = parse_question(&iv, q);
        if (n) {
            const char *id = json_string_value(json_object_get(n, "id"));
            if (audits_question_find(out, id)) {
                char field[48];
                snprintf(field, sizeof field, "questions[%zu].id", i);
                dtm_valid_fail(v, field, "repeats the id of an earlier question");
            }
            json_array_append_new(out, n);
        } else {
            move_problems(v, &iv, i);
        }
        dtm_valid_cleanup(&iv);
    }
    if (!dtm_valid_ok(v)) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *audits_question_find(json_t *questions, const char *qid)
{
    size_t i;
    json_t *q;
    if (!qid)
        return NULL;
    json_array_foreach(questions, i, q)
    {
        const char *id = json_string_value(json_object_get(q, "id"));
        if (id && strcmp(id, qid) == 0)
            return q;
    }
    return NULL;
}

const char *audits_value_check(json_t *q, json_t *value)
{
    const char *type = json_string_value(json_object_get(q, "type"));
    if (strcmp(type, "yes_no") == 0)
        return json_is_boolean(value) ? NULL : "must be true or false";
    if (strcmp(type, "number") == 0) {
        if (!json_is_number(value) || !isfinite(json_number_value(value)) ||
            fabs(json_number_value(value)) > 1e15)
            return "must be a number";
        return NULL;
    }
    if (strcmp(type, "choice") == 0) {
        if (!json_is_string(value))
            return "must be one of the options";
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(q, "options"), i,
                           o) if (json_equal(o, value)) return NULL;
        return "must be one of the options";
    }
    if (strcmp(type, "text") == 0) {
        if (!json_is_string(value))
            return "must be a string";
        /* code points, like dtm_jstr */
        size_t n = 0;
        for (const unsigned char *p = (const unsigned char *)json_string_value(value); *p; p++)
            n += (*p & 0xC0) != 0x80;
        return n <= AUDITS_MAX_TEXT ? NULL : "must be at most 5000 characters";
    }
    return "must be null: a photo question is answered with photos";
}
