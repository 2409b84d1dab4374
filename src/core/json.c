/* SPDX-License-Identifier: MIT */
/* Field readers that record every problem, so a 400 lists all bad fields at once. */
#include "core/json.h"
#include "core/ids.h"
#include "core/timeutil.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void dtm_valid_init(dtm_valid_t *v)
{
    v->details = NULL;
}

void dtm_valid_cleanup(dtm_valid_t *v)
{
    json_decref(v->details);
    v->details = NULL;
}

bool dtm_valid_ok(const dtm_valid_t *v)
{
    return v->details == NULL || json_array_size(v->details) == 0;
}

void dtm_valid_fail(dtm_valid_t *v, const char *field, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!v->details)
        v->details = json_array();
    json_array_append_new(v->details, json_pack("{s:s, s:s}", "field", field, "message", msg));
}

json_t *dtm_valid_take(dtm_valid_t *v)
{
    json_t *d = v->details ? v->details : json_array();
    v->details = NULL;
    return d;
}

/* The field's value, or NULL when absent or JSON null (recording "is required" if needed). */
static json_t *field_get(dtm_valid_t *v, json_t *obj, const char *field, bool required)
{
    json_t *j = json_is_object(obj) ? json_object_get(obj, field) : NULL;
    if (j && !json_is_null(j))
        return j;
    if (required)
        dtm_valid_fail(v, field, "is required");
    return NULL;
}

/* Code points in valid UTF-8 (jansson has already rejected invalid sequences). */
static size_t utf8_len(const char *s, size_t bytes)
{
    size_t n = 0;
    for (size_t i = 0; i < bytes; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

bool dtm_jstr(dtm_valid_t *v, json_t *obj, const char *field, bool required, size_t min_len,
              size_t max_len, const char **out)
{
    json_t *j = field_get(v, obj, field, required);
    if (!j)
        return false;
    if (!json_is_string(j)) {
        dtm_valid_fail(v, field, "must be a string");
        return false;
    }
    const char *s = json_string_value(j);
    size_t bytes = json_string_length(j);
    if (memchr(s, '\0', bytes)) {
        dtm_valid_fail(v, field, "must not contain NUL characters");
        return false;
    }
    size_t n = utf8_len(s, bytes);
    if (n < min_len || n > max_len) {
        if (min_len == max_len)
            dtm_valid_fail(v, field, "must be %zu characters long", min_len);
        else if (n < min_len && min_len == 1)
            dtm_valid_fail(v, field, "must not be empty");
        else
            dtm_valid_fail(v, field, "must be %zu to %zu characters long", min_len, max_len);
        return false;
    }
    *out = s;
    return true;
}

bool dtm_jbool(dtm_valid_t *v, json_t *obj, const char *field, bool required, bool *out)
{
    json_t *j = field_get(v, obj, field, required);
    if (!j)
        return false;
    if (!json_is_boolean(j)) {
        dtm_valid_fail(v, field, "must be a boolean");
        return false;
    }
    *out = json_is_true(j);
    return true;
}

bool dtm_jint(dtm_valid_t *v, json_t *obj, const char *field, bool required, int64_t min,
              int64_t max, int64_t *out)
{
    json_t *j = field_get(v, obj, field, required);
    if (!j)
        return false;
    if (!json_is_integer(j)) {
        dtm_valid_fail(v, field, "must be an integer");
        return false;
    }
    int64_t n = (int64_t)json_integer_value(j);
    if (n < min || n > max) {
        dtm_valid_fail(v, field, "must be between %lld and %lld", (long long)min, (long long)max);
        return false;
    }
    *out = n;
    return true;
}

bool dtm_jnum(dtm_valid_t *v, json_t *obj, const char *field, bool required, double min, double max,
              double *out)
{
    json_t *j = field_get(v, obj, field, required);
    if (!j)
        return false;
    if (!json_is_number(j)) {
        dtm_valid_fail(v, field, "must be a number");
        return false;
    }
    double d = json_number_value(j);
    if (!isfinite(d) || d < min || d > max) {
        dtm_valid_fail(v, field, "must be between %g and %g", min, max);
        return false;
    }
    *out = d;
    return true;
}

bool dtm_jenum(dtm_valid_t *v, json_t *obj, const char *field, bool required,
               const char *const *allowed, const char **out)
{
    json_t *j = field_get(v, obj, field, required);
    if (!j)
        return false;
    const char *s = json_string_value(j);
    for (int i = 0; s && allowed[i]; i++) {
        if (strcmp(s, allowed[i]) == 0 && strlen(s) == json_string_length(j)) {
            *out = allowed[i];
            return true;
        }
    }
    char list[200] = "";
    size_t used = 0;
    for (int i = 0; allowed[i] && used < sizeof list; i++)
        used +=
            (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", allowed[i]);
    dtm_valid_fail(v, field, "must be one of: %s", list);
    return false;
}

bool dtm_juuid(dtm_valid_t *v, json_t *obj, const char *field, bool required, const char **out)
{
    json_t *j = field_get(v, obj, field, required);
    if (!j)
        return false;
    const char *s = json_string_value(j);
    if (!s || !dtm_uuid_valid(s)) {
        dtm_valid_fail(v, field, "must be a UUID");
        return false;
    }
    *out = s;
    return true;
}

bool dtm_jtime(dtm_valid_t *v, json_t *obj, const char *field, bool required, int64_t *out_ms)
{
    json_t *j = field_get(v, obj, field, required);
    if (!j)
        return false;
    const char *s = json_string_value(j);
    int64_t ms;
    if (!s || strlen(s) != json_string_length(j) || dtm_parse_iso8601(s, &ms) < 0) {
        dtm_valid_fail(v, field, "must be an ISO-8601 timestamp");
        return false;
    }
    *out_ms = ms;
    return true;
}

bool dtm_jis_null(json_t *obj, const char *field)
{
    json_t *j = json_is_object(obj) ? json_object_get(obj, field) : NULL;
    return j && json_is_null(j);
}

json_t *dtm_json_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

char *dtm_json_dumps(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}
