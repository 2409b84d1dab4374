/* SPDX-License-Identifier: MIT */
#include "core/str.h"
#include <criterion/criterion.h>
#include <string.h>

Test(str, buffer_grows)
{
    dtm_buf_t b;
    dtm_buf_init(&b);
    for (int i = 0; i < 1000; i++)
        dtm_buf_printf(&b, "%d,", i);
    cr_assert(dtm_str_startswith(b.data, "0,1,2,"));
    cr_assert_eq(b.len, strlen(b.data));
    dtm_buf_reset(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_str_eq(b.data, "");
    dtm_buf_puts(&b, "x");
    dtm_buf_append(&b, "yz", 2);
    cr_assert_str_eq(b.data, "xyz");
    dtm_buf_free(&b);
    cr_assert_null(b.data);
}

static void csv(const char *in, const char *want)
{
    dtm_buf_t b;
    dtm_buf_init(&b);
    dtm_buf_csv_field(&b, in);
    cr_assert_str_eq(b.data ? b.data : "", want, "csv(%s)", in ? in : "NULL");
    dtm_buf_free(&b);
}

Test(str, csv_quoting_rfc4180)
{
    csv("plain", "plain");
    csv("a,b", "\"a,b\"");
    csv("say \"hi\"", "\"say \"\"hi\"\"\"");
    csv("line\nbreak", "\"line\nbreak\"");
    csv("cr\rhere", "\"cr\rhere\"");
    csv("", "");
    csv(NULL, "");
}

Test(str, csv_neutralises_formulas)
{
    csv("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
    csv("=2*3", "'=2*3");
    csv("+x", "'+x");
    csv("@SUM(1)", "'@SUM(1)");
    csv("-2+3", "'-2+3");
    csv("\tx", "'\tx");
    csv("\rx", "\"'\rx\"");
    csv("a=b", "a=b");
    csv("2-3", "2-3");
}

Test(str, case_insensitive)
{
    cr_assert(dtm_streq_ci("Content-Type", "content-type"));
    cr_assert_not(dtm_streq_ci("Content-Type", "content-typ"));
    cr_assert_not(dtm_streq_ci("a", NULL));
    cr_assert(dtm_str_startswith("/api/users", "/api"));
    cr_assert_not(dtm_str_startswith("/ap", "/api"));
}

Test(str, url_decode)
{
    char out[64];
    cr_assert_eq(dtm_url_decode("a%20b+c", 7, out, false), 5);
    cr_assert_str_eq(out, "a b+c");
    cr_assert_eq(dtm_url_decode("a%20b+c", 7, out, true), 5);
    cr_assert_str_eq(out, "a b c");
    cr_assert_eq(dtm_url_decode("%C3%A9", 6, out, false), 2);
    cr_assert_str_eq(out, "\xc3\xa9");
    cr_assert_eq(dtm_url_decode("%zz", 3, out, false), -1);
    cr_assert_eq(dtm_url_decode("%4", 2, out, false), -1);
    cr_assert_eq(dtm_url_decode("abc%", 4, out, false), -1);
    cr_assert_eq(dtm_url_decode("a%00b", 5, out, false), -1);
    cr_assert_eq(dtm_url_decode("%41%42", 6, out, false), 2);
    cr_assert_str_eq(out, "AB");
}
