/* SPDX-License-Identifier: MIT */
/* jansson helpers: field validation that collects every problem, and small builders. */
#ifndef DTM_JSON_H
#define DTM_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* A validator collects problems as details [{"field": "...", "message": "..."}]. */
typedef struct {
    json_t *details; /* array, owned; NULL until the first problem */
} dtm_valid_t;

void dtm_valid_init(dtm_valid_t *v);
void dtm_valid_cleanup(dtm_valid_t *v);
bool dtm_valid_ok(const dtm_valid_t *v);
void dtm_valid_fail(dtm_valid_t *v, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Takes the details array out of the validator (caller owns the reference). */
json_t *dtm_valid_take(dtm_valid_t *v);

/* Field readers. Each returns true when the field is present and valid (value in *out);
 * false when absent (no problem recorded unless required) or invalid (problem recorded).
 * JSON null counts as absent, except where `nullable` is given: *is_null is then set. */
bool dtm_jstr(dtm_valid_t *v, json_t *obj, const char *field, bool required, size_t min_len,
              size_t max_len, const char **out); /* UTF-8 length in code points; rejects NUL */
bool dtm_jbool(dtm_valid_t *v, json_t *obj, const char *field, bool required, bool *out);
bool dtm_jint(dtm_valid_t *v, json_t *obj, const char *field, bool required, int64_t min,
              int64_t max, int64_t *out);
bool dtm_jnum(dtm_valid_t *v, json_t *obj, const char *field, bool required, double min, double max,
              double *out); /* integers accepted too; rejects NaN/inf */
/** One of a NULL-terminated list of allowed strings. */
bool dtm_jenum(dtm_valid_t *v, json_t *obj, const char *field, bool required,
               const char *const *allowed, const char **out);
/** A UUID string (lower or upper case). */
bool dtm_juuid(dtm_valid_t *v, json_t *obj, const char *field, bool required, const char **out);
/** An ISO-8601 timestamp; *out_ms is milliseconds since the epoch. */
bool dtm_jtime(dtm_valid_t *v, json_t *obj, const char *field, bool required, int64_t *out_ms);
/** True when the field is present with JSON null. */
bool dtm_jis_null(json_t *obj, const char *field);

/** json_string, or json_null when s is NULL. New reference. */
json_t *dtm_json_str_or_null(const char *s);

/** Serialize compactly into a malloc'd string (caller frees). Keys in insertion order. */
char *dtm_json_dumps(const json_t *j);

#endif
