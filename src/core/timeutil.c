/* SPDX-License-Identifier: MIT */
#include "core/timeutil.h"
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t dtm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double dtm_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void dtm_deadline_after(struct timespec *ts, clockid_t clock, long ms)
{
    clock_gettime(clock, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Floor division, so times before 1970 format correctly. */
static int64_t floordiv(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Writes v (0 <= v < 10^n, else its last n digits) as exactly n digits. */
static char *put_digits(char *p, int v, int n)
{
    unsigned u = (unsigned)(v < 0 ? -v : v);
    for (int i = n - 1; i >= 0; i--, u /= 10)
        p[i] = (char)('0' + u % 10);
    return p + n;
}

void dtm_iso8601(int64_t ms, char out[32])
{
    time_t secs = (time_t)floordiv(ms, 1000);
    int milli = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    /* By hand: strftime's %Y does not zero-pad, and PostgreSQL reads "1-01-01" as a two-digit
     * year (2001). Callers keep ms inside DTM_TIME_MIN_MS..DTM_TIME_MAX_MS. */
    char *p = out;
    p = put_digits(p, tm.tm_year + 1900, 4);
    *p++ = '-';
    p = put_digits(p, tm.tm_mon + 1, 2);
    *p++ = '-';
    p = put_digits(p, tm.tm_mday, 2);
    *p++ = 'T';
    p = put_digits(p, tm.tm_hour, 2);
    *p++ = ':';
    p = put_digits(p, tm.tm_min, 2);
    *p++ = ':';
    p = put_digits(p, tm.tm_sec, 2);
    *p++ = '.';
    p = put_digits(p, milli % 1000, 3);
    *p++ = 'Z';
    *p = '\0';
}

/* Reads exactly n digits; -1 when any is missing. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floordiv(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Parses the part after 'T': hh:mm[:ss[.fff]] then Z or ±hh:mm. Fills seconds of day, ms,
 * offset in minutes. */
static int parse_clock(const char *p, int *sod, int *milli, int *offset_min)
{
    int hh = digits(&p, 2), mm, ss = 0, frac = 0;
    if (hh < 0 || *p++ != ':' || (mm = digits(&p, 2)) < 0)
        return -1;
    if (*p == ':') {
        p++;
        if ((ss = digits(&p, 2)) < 0)
            return -1;
        if (*p == '.' || *p == ',') {
            p++;
            int n = 0, scale = 100;
            while (isdigit((unsigned char)*p)) {
                frac += (*p - '0') * scale;
                scale /= 10;
                p++;
                n++;
            }
            if (n == 0)
                return -1;
        }
    }
    if (hh > 23 || mm > 59 || ss > 60)
        return -1;
    if (*p == 'Z' || *p == 'z') {
        *offset_min = 0;
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int oh = digits(&p, 2), om;
        if (oh < 0)
            return -1;
        if (*p == ':')
            p++;
        if ((om = digits(&p, 2)) < 0 || oh > 23 || om > 59)
            return -1;
        *offset_min = sign * (oh * 60 + om);
    } else {
        return -1; /* a timestamp without a zone is ambiguous */
    }
    if (*p)
        return -1;
    *sod = hh * 3600 + mm * 60 + (ss == 60 ? 59 : ss);
    *milli = frac;
    return 0;
}

int dtm_parse_iso8601(const char *s, int64_t *ms)
{
    if (!s)
        return -1;
    const char *p = s;
    int y = digits(&p, 4), m, d;
    if (y < 0 || *p++ != '-' || (m = digits(&p, 2)) < 0 || *p++ != '-' || (d = digits(&p, 2)) < 0)
        return -1;
    if (m < 1 || m > 12 || d < 1 || d > month_days(y, m))
        return -1;
    int sod = 0, milli = 0, offset = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        if (parse_clock(p + 1, &sod, &milli, &offset) < 0)
            return -1;
    } else if (*p) {
        return -1;
    }
    int64_t secs = days_from_civil(y, m, d) * 86400 + sod - (int64_t)offset * 60;
    int64_t v = secs * 1000 + milli;
    /* PostgreSQL has no year 0 and we format four-digit years: an offset must not push the
     * instant out of 0001..9999 UTC. */
    if (v < DTM_TIME_MIN_MS || v > DTM_TIME_MAX_MS)
        return -1;
    *ms = v;
    return 0;
}
