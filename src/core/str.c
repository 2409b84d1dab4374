/* SPDX-License-Identifier: MIT */
#include "core/str.h"
#include "core/arena.h"
#include "core/err.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dtm_buf_init(dtm_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void dtm_buf_free(dtm_buf_t *b)
{
    free(b->data);
    dtm_buf_init(b);
}

void dtm_buf_reset(dtm_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Make room for n more bytes plus the terminating NUL. */
static void buf_reserve(dtm_buf_t *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1) {
        if (cap > SIZE_MAX / 2)
            dtm_panic("buffer too large");
        cap *= 2;
    }
    b->data = dtm_realloc(b->data, cap);
    b->cap = cap;
}

void dtm_buf_append(dtm_buf_t *b, const void *data, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void dtm_buf_puts(dtm_buf_t *b, const char *s)
{
    dtm_buf_append(b, s, strlen(s));
}

void dtm_buf_printf(dtm_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        dtm_panic("buf printf: bad format");
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void dtm_buf_csv_field(dtm_buf_t *b, const char *s)
{
    if (!s)
        return;
    /* OWASP "CSV injection": a spreadsheet runs a cell that starts with one of these as a
     * formula; a leading apostrophe makes it text. */
    bool formula = strchr("=+-@\t\r", s[0]) && s[0];
    if (!formula && !strpbrk(s, ",\"\r\n")) {
        dtm_buf_puts(b, s);
        return;
    }
    if (!strpbrk(s, ",\"\r\n")) {
        dtm_buf_append(b, "'", 1);
        dtm_buf_puts(b, s);
        return;
    }
    dtm_buf_append(b, "\"", 1);
    if (formula)
        dtm_buf_append(b, "'", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            dtm_buf_append(b, "\"\"", 2);
        else
            dtm_buf_append(b, p, 1);
    }
    dtm_buf_append(b, "\"", 1);
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

bool dtm_streq_ci(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    for (; *a && *b; a++, b++)
        if (lower((unsigned char)*a) != lower((unsigned char)*b))
            return false;
    return *a == *b;
}

bool dtm_str_startswith(const char *s, const char *prefix)
{
    return s && prefix && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

long dtm_url_decode(const char *in, size_t n, char *out, bool form)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval((unsigned char)in[i + 1]) : -1;
            int lo = i + 2 < n ? hexval((unsigned char)in[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+' && form) {
            c = ' ';
        }
        if (c == 0)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (long)o;
}
