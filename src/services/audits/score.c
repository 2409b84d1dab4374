/* SPDX-License-Identifier: MIT */
/* The scoring formula of API.md. Weights are integers, so the score is computed exactly in
 * integers: tenths = round_half_up(1000 * passed / scored). */
#include "services/audits/audits.h"
#include <math.h>
#include <string.h>

static bool has_photo(json_t *a)
{
    return json_array_size(json_object_get(a, "photoUrls")) > 0;
}

/* Answered: N/A, or a value (a photo question: at least one photo). */
static bool answered(json_t *q, json_t *a)
{
    if (!a)
        return false;
    if (json_is_true(json_object_get(a, "na")))
        return true;
    if (strcmp(json_string_value(json_object_get(q, "type")), "photo") == 0)
        return has_photo(a);
    json_t *val = json_object_get(a, "value");
    return val && !json_is_null(val);
}

/* 1 passed, 0 failed, -1 not scored. */
static int judge(json_t *q, json_t *a)
{
    const char *type = json_string_value(json_object_get(q, "type"));
    if (!a || json_is_true(json_object_get(a, "na")))
        return -1;
    json_t *val = json_object_get(a, "value");
    if (!val || json_is_null(val))
        return -1;
    if (strcmp(type, "yes_no") == 0)
        return json_equal(val, json_object_get(q, "passValue")) ? 1 : 0;
    if (strcmp(type, "number") == 0) {
        double x = json_number_value(val);
        json_t *min = json_object_get(q, "min"), *max = json_object_get(q, "max");
        if (json_is_number(min) && x < json_number_value(min))
            return 0;
        if (json_is_number(max) && x > json_number_value(max))
            return 0;
        return 1;
    }
    if (strcmp(type, "choice") == 0) {
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(q, "passOptions"), i,
                           o) if (json_equal(o, val)) return 1;
        return 0;
    }
    return -1; /* text, photo */
}

void audits_score(json_t *questions, json_t *answers, double pass_threshold_pct,
                  audits_score_t *out)
{
    long long passed_w = 0, scored_w = 0;
    out->incomplete = json_array();
    out->failed = json_array();
    size_t i;
    json_t *q;
    json_array_foreach(questions, i, q)
    {
        const char *id = json_string_value(json_object_get(q, "id"));
        json_t *a = json_object_get(answers, id);
        bool na = a && json_is_true(json_object_get(a, "na"));
        bool missing = json_is_true(json_object_get(q, "required")) && !answered(q, a);
        if (!missing && json_is_true(json_object_get(q, "photoRequired")) && !na &&
            !(a && has_photo(a)))
            missing = true;
        if (missing)
            json_array_append_new(out->incomplete, json_string(id));
        int j = judge(q, a);
        long long w = (long long)json_integer_value(json_object_get(q, "weight"));
        if (j >= 0) {
            scored_w += w;
            if (j == 1)
                passed_w += w;
            else
                json_array_append(out->failed, q);
        }
        if (a)
            json_object_set_new(a, "passed", j < 0 ? json_null() : json_boolean(j == 1));
    }
    out->score10 = scored_w == 0 ? 1000 : (int)((2000 * passed_w + scored_w) / (2 * scored_w));
    out->passed = out->score10 >= (int)llround(pass_threshold_pct * 10);
}

void audits_score_cleanup(audits_score_t *s)
{
    json_decref(s->incomplete);
    json_decref(s->failed);
    s->incomplete = s->failed = NULL;
}
