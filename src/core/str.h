/* SPDX-License-Identifier: MIT */
/* Growable byte buffer (heap owned; the caller frees with dtm_buf_free). */
#ifndef DTM_STR_H
#define DTM_STR_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *data; /* always NUL-terminated when len > 0 or after any append */
    size_t len;
    size_t cap;
} dtm_buf_t;

void dtm_buf_init(dtm_buf_t *b);
void dtm_buf_free(dtm_buf_t *b);
void dtm_buf_reset(dtm_buf_t *b); /* len = 0, keeps capacity */
void dtm_buf_append(dtm_buf_t *b, const void *data, size_t n);
void dtm_buf_puts(dtm_buf_t *b, const char *s);
void dtm_buf_printf(dtm_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Append s as one RFC 4180 CSV field (quoted when it holds , " CR or LF). NULL appends nothing.
 *  A value starting with = + - @ TAB or CR gets a leading ' so that spreadsheets read it as text,
 *  not as a formula (OWASP CSV injection); "-2+3" becomes '-2+3. */
void dtm_buf_csv_field(dtm_buf_t *b, const char *s);

/** ASCII case-insensitive equality / prefix test. */
bool dtm_streq_ci(const char *a, const char *b);
bool dtm_str_startswith(const char *s, const char *prefix);

/** Percent-decode (and '+' -> ' ' when form is true) into out (size >= strlen(in)+1).
 *  Returns the decoded length or -1 on a malformed escape or an embedded NUL. */
long dtm_url_decode(const char *in, size_t n, char *out, bool form);

#endif
