/* SPDX-License-Identifier: MIT */
/* The scoring formula (score.c) and template normalisation (template.c), without a server. */
#include "services/audits/audits.h"
#include <criterion/criterion.h>

static json_t *questions(const char *text)
{
    dtm_valid_t v;
    dtm_valid_init(&v);
    json_t *in = json_loads(text, 0, NULL);
    cr_assert_not_null(in);
    json_t *q = audits_questions_parse(&v, in);
    cr_assert(dtm_valid_ok(&v), "template invalid: %s", v.details ? json_dumps(v.details, 0) : "");
    json_decref(in);
    dtm_valid_cleanup(&v);
    return q;
}

static audits_score_t score(json_t *qs, const char *answers, double threshold, json_t **out)
{
    json_t *a = json_loads(answers, 0, NULL);
    cr_assert_not_null(a);
    audits_score_t s;
    audits_score(qs, a, threshold, &s);
    *out = a;
    return s;
}

Test(score, weights_na_and_unscored_types)
{
    json_t *qs = questions(
        "[{\"id\":\"a\",\"text\":\"A\",\"type\":\"yes_no\",\"weight\":30},"
        " {\"id\":\"b\",\"text\":\"B\",\"type\":\"yes_no\",\"weight\":20,\"allowNa\":true},"
        " {\"id\":\"c\",\"text\":\"C\",\"type\":\"number\",\"weight\":25,\"min\":0,\"max\":5},"
        " {\"id\":\"d\",\"text\":\"D\",\"type\":\"choice\",\"weight\":25,"
        "  \"options\":[\"x\",\"y\"],\"passOptions\":[\"x\"]},"
        " {\"id\":\"e\",\"text\":\"E\",\"type\":\"text\",\"weight\":100}]");
    json_t *a;
    audits_score_t s = score(qs,
                             "{\"a\":{\"value\":false},\"b\":{\"na\":true},\"c\":{\"value\":5},"
                             " \"d\":{\"value\":\"x\"},\"e\":{\"value\":\"hi\"}}",
                             80, &a);
    cr_assert_eq(s.score10, 625); /* (25 + 25) / (30 + 25 + 25) */
    cr_assert(!s.passed);
    cr_assert_eq(json_array_size(s.failed), 1);
    cr_assert(json_is_false(json_object_get(json_object_get(a, "a"), "passed")));
    cr_assert(json_is_null(json_object_get(json_object_get(a, "b"), "passed")));
    cr_assert(json_is_true(json_object_get(json_object_get(a, "c"), "passed")));
    cr_assert(json_is_null(json_object_get(json_object_get(a, "e"), "passed")));
    audits_score_cleanup(&s);
    json_decref(a);
    json_decref(qs);
}

Test(score, rounds_half_up_and_nothing_scored_is_100)
{
    json_t *qs = questions("[{\"id\":\"a\",\"text\":\"A\",\"type\":\"yes_no\",\"weight\":1},"
                           " {\"id\":\"b\",\"text\":\"B\",\"type\":\"yes_no\",\"weight\":7}]");
    json_t *a;
    audits_score_t s = score(qs, "{\"a\":{\"value\":true},\"b\":{\"value\":false}}", 12.5, &a);
    cr_assert_eq(s.score10, 125); /* 1/8 = 12.5 % exactly */
    cr_assert(s.passed, "12.5 >= 12.5");
    audits_score_cleanup(&s);
    json_decref(a);
    s = score(qs, "{}", 100, &a);
    cr_assert_eq(s.score10, 1000);
    cr_assert(s.passed);
    audits_score_cleanup(&s);
    json_decref(a);
    json_decref(qs);
}

Test(score, incomplete_lists_required_and_photo_required)
{
    json_t *qs =
        questions("[{\"id\":\"a\",\"text\":\"A\",\"type\":\"yes_no\",\"required\":true},"
                  " {\"id\":\"p\",\"text\":\"P\",\"type\":\"photo\",\"required\":true},"
                  " {\"id\":\"c\",\"text\":\"C\",\"type\":\"yes_no\",\"photoRequired\":true,"
                  "  \"allowNa\":true},"
                  " {\"id\":\"d\",\"text\":\"D\",\"type\":\"yes_no\",\"photoRequired\":true,"
                  "  \"allowNa\":true}]");
    json_t *a;
    audits_score_t s = score(qs,
                             "{\"p\":{\"photoUrls\":[]},\"c\":{\"value\":true},"
                             " \"d\":{\"na\":true}}",
                             80, &a);
    char *ids = json_dumps(s.incomplete, JSON_COMPACT);
    cr_assert_str_eq(ids, "[\"a\",\"p\",\"c\"]");
    free(ids);
    audits_score_cleanup(&s);
    json_decref(a);
    json_decref(qs);
}

Test(template, defaults_and_problems)
{
    json_t *qs = questions("[{\"text\":\"T\",\"type\":\"yes_no\"}]");
    json_t *q = json_array_get(qs, 0);
    cr_assert_eq(json_integer_value(json_object_get(q, "weight")), 1);
    cr_assert(json_is_true(json_object_get(q, "passValue")));
    cr_assert(json_is_null(json_object_get(q, "failCreatesTask")));
    cr_assert_eq(strlen(json_string_value(json_object_get(q, "id"))), 36);
    json_decref(qs);

    dtm_valid_t v;
    dtm_valid_init(&v);
    json_t *in = json_loads("[{\"text\":\"n\",\"type\":\"number\",\"min\":3,\"max\":1},"
                            " {\"text\":\"t\",\"type\":\"text\",\"failCreatesTask\":{}}]",
                            0, NULL);
    cr_assert_null(audits_questions_parse(&v, in));
    char *d = json_dumps(v.details, JSON_COMPACT);
    cr_assert(strstr(d, "questions[0].max") && strstr(d, "questions[1].failCreatesTask"), "%s", d);
    free(d);
    json_decref(in);
    dtm_valid_cleanup(&v);
}

Test(template, value_checks)
{
    json_t *qs = questions("[{\"id\":\"c\",\"text\":\"C\",\"type\":\"choice\","
                           "  \"options\":[\"x\",\"y\"],\"passOptions\":[\"x\"]},"
                           " {\"id\":\"p\",\"text\":\"P\",\"type\":\"photo\"}]");
    json_t *c = audits_question_find(qs, "c"), *p = audits_question_find(qs, "p");
    json_t *x = json_string("x"), *z = json_string("z");
    cr_assert_null(audits_value_check(c, x));
    cr_assert_not_null(audits_value_check(c, z));
    cr_assert_not_null(audits_value_check(p, x));
    json_decref(x);
    json_decref(z);
    json_decref(qs);
}
