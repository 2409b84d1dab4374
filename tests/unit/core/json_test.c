/* SPDX-License-Identifier: MIT */
#include "core/json.h"
#include <criterion/criterion.h>
#include <string.h>

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, JSON_ALLOW_NUL, &e);
    cr_assert_not_null(j, "parse %s: %s", s, e.text);
    return j;
}

/* The message recorded for `field`, or NULL. */
static const char *problem_for(dtm_valid_t *v, const char *field)
{
    size_t i;
    json_t *d;
    json_array_foreach(v->details, i, d)
    {
        if (strcmp(json_string_value(json_object_get(d, "field")), field) == 0)
            return json_string_value(json_object_get(d, "message"));
    }
    return NULL;
}

Test(json, collects_every_problem)
{
    json_t *o = parse("{\"name\": 5, \"age\": \"x\", \"ok\": 1}");
    dtm_valid_t v;
    dtm_valid_init(&v);
    const char *name;
    int64_t age;
    bool ok;
    cr_assert_not(dtm_jstr(&v, o, "name", true, 1, 10, &name));
    cr_assert_not(dtm_jint(&v, o, "age", true, 0, 200, &age));
    cr_assert_not(dtm_jbool(&v, o, "ok", true, &ok));
    cr_assert_not(dtm_jstr(&v, o, "email", true, 1, 10, &name));
    cr_assert_not(dtm_valid_ok(&v));
    cr_assert_eq(json_array_size(v.details), 4);
    cr_assert_str_eq(problem_for(&v, "name"), "must be a string");
    cr_assert_str_eq(problem_for(&v, "age"), "must be an integer");
    cr_assert_str_eq(problem_for(&v, "ok"), "must be a boolean");
    cr_assert_str_eq(problem_for(&v, "email"), "is required");
    json_t *d = dtm_valid_take(&v);
    cr_assert_null(v.details);
    cr_assert_eq(json_array_size(d), 4);
    json_decref(d);
    dtm_valid_cleanup(&v);
    json_decref(o);
}

Test(json, optional_absent_and_null)
{
    json_t *o = parse("{\"a\": null}");
    dtm_valid_t v;
    dtm_valid_init(&v);
    const char *s = "unchanged";
    cr_assert_not(dtm_jstr(&v, o, "a", false, 0, 10, &s));
    cr_assert_not(dtm_jstr(&v, o, "b", false, 0, 10, &s));
    cr_assert(dtm_valid_ok(&v));
    cr_assert_str_eq(s, "unchanged");
    cr_assert(dtm_jis_null(o, "a"));
    cr_assert_not(dtm_jis_null(o, "b"));
    dtm_valid_cleanup(&v);
    json_decref(o);
}

Test(json, string_length_in_code_points_and_nul)
{
    /* "héllo" is 5 code points, 6 bytes; 5 emoji are 5 code points, 20 bytes */
    json_t *o = parse("{\"a\": \"h\\u00e9llo\", \"b\": \"\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00"
                      "\\ud83d\\ude00\\ud83d\\ude00\", \"c\": \"x\\u0000y\", \"d\": \"\"}");
    dtm_valid_t v;
    dtm_valid_init(&v);
    const char *s;
    cr_assert(dtm_jstr(&v, o, "a", true, 5, 5, &s));
    cr_assert(dtm_jstr(&v, o, "b", true, 1, 5, &s));
    cr_assert_not(dtm_jstr(&v, o, "b", true, 1, 4, &s));
    cr_assert_not(dtm_jstr(&v, o, "c", true, 0, 100, &s));
    cr_assert_str_eq(problem_for(&v, "c"), "must not contain NUL characters");
    cr_assert_not(dtm_jstr(&v, o, "d", true, 1, 100, &s));
    cr_assert_str_eq(problem_for(&v, "d"), "must not be empty");
    dtm_valid_cleanup(&v);
    json_decref(o);
}

Test(json, numbers_and_ranges)
{
    json_t *o = parse("{\"i\": 5, \"big\": 1000, \"f\": 1.5, \"lat\": 91.0, \"n\": 3}");
    dtm_valid_t v;
    dtm_valid_init(&v);
    int64_t i;
    double d;
    cr_assert(dtm_jint(&v, o, "i", true, 1, 10, &i));
    cr_assert_eq(i, 5);
    cr_assert_not(dtm_jint(&v, o, "big", true, 1, 10, &i));
    cr_assert_not(dtm_jint(&v, o, "f", true, 0, 10, &i));
    cr_assert(dtm_jnum(&v, o, "f", true, 0, 10, &d));
    cr_assert_float_eq(d, 1.5, 1e-9);
    cr_assert(dtm_jnum(&v, o, "n", true, 0, 10, &d));
    cr_assert_float_eq(d, 3.0, 1e-9);
    cr_assert_not(dtm_jnum(&v, o, "lat", true, -90, 90, &d));
    cr_assert_eq(json_array_size(v.details), 3);
    dtm_valid_cleanup(&v);
    json_decref(o);
}

Test(json, enum_uuid_time)
{
    json_t *o = parse("{\"role\": \"admin\", \"bad\": \"root\", \"id\": "
                      "\"3F2504E0-4F89-11D3-9A0C-0305E82C3301\", \"nid\": \"3f2504e0\", "
                      "\"t\": \"2026-11-26T09:15:00.250+01:00\", \"nt\": \"yesterday\"}");
    static const char *const roles[] = {"admin", "manager", "merchandiser", NULL};
    dtm_valid_t v;
    dtm_valid_init(&v);
    const char *s;
    int64_t ms;
    cr_assert(dtm_jenum(&v, o, "role", true, roles, &s));
    cr_assert_eq(s, roles[0]);
    cr_assert_not(dtm_jenum(&v, o, "bad", true, roles, &s));
    cr_assert_str_eq(problem_for(&v, "bad"), "must be one of: admin, manager, merchandiser");
    cr_assert(dtm_juuid(&v, o, "id", true, &s));
    cr_assert_not(dtm_juuid(&v, o, "nid", true, &s));
    cr_assert(dtm_jtime(&v, o, "t", true, &ms));
    cr_assert_eq(ms, 1795680900250LL); /* 2026-11-26T08:15:00.250Z */
    cr_assert_not(dtm_jtime(&v, o, "nt", true, &ms));
    cr_assert_eq(json_array_size(v.details), 3);
    dtm_valid_cleanup(&v);
    json_decref(o);
}

Test(json, builders)
{
    json_t *o = json_object();
    json_object_set_new(o, "z", dtm_json_str_or_null(NULL));
    json_object_set_new(o, "a", dtm_json_str_or_null("x\"y"));
    char *s = dtm_json_dumps(o);
    cr_assert_str_eq(s, "{\"z\":null,\"a\":\"x\\\"y\"}");
    free(s);
    json_decref(o);
}
