/* SPDX-License-Identifier: MIT */
#include "core/timeutil.h"
#include <criterion/criterion.h>

static int64_t parse_ok(const char *s)
{
    int64_t ms = -42;
    cr_assert_eq(dtm_parse_iso8601(s, &ms), 0, "should parse: %s", s);
    return ms;
}

Test(timeutil, formats_utc_with_millis)
{
    char out[32];
    dtm_iso8601(0, out);
    cr_assert_str_eq(out, "1970-01-01T00:00:00.000Z");
    dtm_iso8601(1795684500123LL, out);
    cr_assert_str_eq(out, "2026-11-26T09:15:00.123Z");
    dtm_iso8601(-1, out);
    cr_assert_str_eq(out, "1969-12-31T23:59:59.999Z");
}

Test(timeutil, parses_forms)
{
    cr_assert_eq(parse_ok("2026-11-26T09:15:00.123Z"), 1795684500123LL);
    cr_assert_eq(parse_ok("2026-11-26T09:15:00Z"), 1795684500000LL);
    cr_assert_eq(parse_ok("2026-11-26T09:15Z"), 1795684500000LL);
    cr_assert_eq(parse_ok("2026-11-26T10:15:00+01:00"), 1795684500000LL);
    cr_assert_eq(parse_ok("2026-11-26T04:15:00-0500"), 1795684500000LL);
    cr_assert_eq(parse_ok("2026-11-26"), 1795651200000LL);
    cr_assert_eq(parse_ok("2024-02-29T00:00:00Z"), 1709164800000LL);
    cr_assert_eq(parse_ok("1970-01-01T00:00:00.5Z"), 500);
}

Test(timeutil, years_below_1000_round_trip)
{
    const char *in[] = {"0001-01-01T00:00:00.000Z", "0099-06-15T12:00:00.000Z",
                        "0999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char out[32];
        dtm_iso8601(parse_ok(in[i]), out);
        cr_assert_str_eq(out, in[i]);
    }
    cr_assert_eq(parse_ok("0001-01-01"), DTM_TIME_MIN_MS);
}

Test(timeutil, rejects_outside_supported_range)
{
    /* Year 0 does not exist in PostgreSQL; an offset can push 0001-01-01 or 9999-12-31 out. */
    const char *bad[] = {"0000-01-01", "0000-12-31T23:59:59Z", "0001-01-01T00:30:00+01:00",
                         "9999-12-31T23:59:59-01:00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        cr_assert_eq(dtm_parse_iso8601(bad[i], &ms), -1, "should reject: %s", bad[i]);
    }
}

Test(timeutil, rejects_malformed)
{
    const char *bad[] = {"",
                         "2026-13-01",
                         "2026-02-30",
                         "2023-02-29",
                         "2026-11-26T25:00:00Z",
                         "2026-11-26T09:15:00",
                         "2026-11-26T09:15:00Zjunk",
                         "26-11-26",
                         "2026-11-26T09:15:00.Z",
                         "yesterday",
                         "2026-11-26T09:15:00+1:00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        cr_assert_eq(dtm_parse_iso8601(bad[i], &ms), -1, "should reject: %s", bad[i]);
    }
    int64_t ms;
    cr_assert_eq(dtm_parse_iso8601(NULL, &ms), -1);
}

Test(timeutil, round_trip_and_clocks)
{
    int64_t now = dtm_now_ms();
    cr_assert_gt(now, 1700000000000LL);
    char out[32];
    dtm_iso8601(now, out);
    cr_assert_eq(parse_ok(out), now);
    double a = dtm_mono_s(), b = dtm_mono_s();
    cr_assert_geq(b, a);
}
