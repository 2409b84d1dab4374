/* SPDX-License-Identifier: MIT */
#include "core/config.h"
#include "services/common/smtp.h"
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void setup(void)
{
    cr_assert_geq(sodium_init(), 0);
    dtm_cfg.mail_from = "dtm <no-reply@dtm.test>";
    dtm_cfg.smtp_url = NULL;
}

TestSuite(smtp_format, .init = setup);
TestSuite(smtp_send, .init = setup);

/* The base64 body of the part whose Content-Type starts with `type`, decoded. */
static char *part(const char *msg, const char *type)
{
    const char *p = strstr(msg, type);
    cr_assert_not_null(p, "no %s part", type);
    p = strstr(p, "\r\n\r\n");
    cr_assert_not_null(p);
    p += 4;
    const char *end = strstr(p, "\r\n--");
    cr_assert_not_null(end);
    size_t cap = (size_t)(end - p) + 1;
    unsigned char *out = calloc(1, cap);
    size_t n = 0;
    cr_assert_eq(sodium_base642bin(out, cap, p, (size_t)(end - p), "\r\n", &n, NULL,
                                   sodium_base64_VARIANT_ORIGINAL),
                 0);
    return (char *)out;
}

Test(smtp_format, multipart_alternative_with_both_parts)
{
    dtm_mail_t m = {.to = "a@example.com",
                    .to_name = "Ann \"A\" Smith",
                    .subject = "Hello",
                    .text = "plain ü",
                    .html = "<p>html</p>"};
    char *msg = dtm_smtp_format(&m, "<id@dtm.test>", "=_b1");
    cr_assert_not_null(msg);
    cr_assert(strstr(msg, "From: dtm <no-reply@dtm.test>\r\n"));
    cr_assert(strstr(msg, "To: \"Ann \\\"A\\\" Smith\" <a@example.com>\r\n"), "%s", msg);
    cr_assert(strstr(msg, "Subject: Hello\r\n"));
    cr_assert(strstr(msg, "Message-ID: <id@dtm.test>\r\n"));
    cr_assert(strstr(msg, "MIME-Version: 1.0\r\n"));
    cr_assert(strstr(msg, "Content-Type: multipart/alternative; boundary=\"=_b1\"\r\n"));
    cr_assert(strstr(msg, "--=_b1--\r\n"));
    cr_assert(strstr(msg, "Date: "));
    char *t = part(msg, "Content-Type: text/plain"), *h = part(msg, "Content-Type: text/html");
    cr_assert_str_eq(t, "plain ü");
    cr_assert_str_eq(h, "<p>html</p>");
    cr_assert_lt(strstr(msg, "text/plain"), strstr(msg, "text/html"), "plain text first");
    free(t);
    free(h);
    free(msg);
}

Test(smtp_format, non_ascii_headers_are_encoded_words)
{
    dtm_mail_t m = {.to = "a@example.com",
                    .to_name = "Émile",
                    .subject = "Tâche: réassort du rayon fromages et crèmerie, urgent avant midi",
                    .text = "x"};
    char *msg = dtm_smtp_format(&m, "<i@d>", "b");
    cr_assert_not_null(msg);
    cr_assert(strstr(msg, "To: =?UTF-8?B?w4ltaWxl?= <a@example.com>\r\n"), "%s", msg);
    cr_assert(strstr(msg, "Subject: =?UTF-8?B?"));
    cr_assert(strstr(msg, "?=\r\n =?UTF-8?B?"), "long subjects fold into several words");
    cr_assert(strstr(msg, "Content-Type: text/plain; charset=utf-8\r\n"),
              "text only: no multipart");
    for (const char *l = msg; *l;) { /* no header line over 78 characters */
        const char *e = strstr(l, "\r\n");
        if (!e || e == l)
            break;
        cr_assert_leq(e - l, 78, "%.*s", (int)(e - l), l);
        l = e + 2;
    }
    free(msg);
}

Test(smtp_format, header_injection_is_refused)
{
    dtm_mail_t m = {.to = "a@example.com", .subject = "Hi\r\nBcc: evil@example.com", .text = "x"};
    cr_assert_null(dtm_smtp_format(&m, "<i@d>", "b"));
    m.subject = "Hi";
    m.to_name = "A\nB";
    cr_assert_null(dtm_smtp_format(&m, "<i@d>", "b"));
    m.to_name = NULL;
    m.to = "a@example.com>, <b@example.com";
    cr_assert_null(dtm_smtp_format(&m, "<i@d>", "b"));
    m.to = "";
    cr_assert_null(dtm_smtp_format(&m, "<i@d>", "b"));
}

Test(smtp_send, without_a_server_it_is_a_permanent_error)
{
    dtm_mail_t m = {.to = "a@example.com", .subject = "Hi", .text = "x"};
    char why[128];
    cr_assert_eq(dtm_smtp_send(&m, NULL, why, sizeof why), DTM_EINVAL);
    cr_assert(strstr(why, "DTM_SMTP_URL"));
}

Test(smtp_send, an_unreachable_server_is_worth_a_retry)
{
    dtm_cfg.smtp_url = "smtp://127.0.0.1:1"; /* nothing listens on port 1 */
    dtm_cfg.smtp_timeout_ms = 2000;
    dtm_mail_t m = {.to = "a@example.com", .subject = "Hi", .text = "x"};
    char why[256];
    cr_assert_eq(dtm_smtp_send(&m, NULL, why, sizeof why), DTM_EUNAVAIL);
    cr_assert_neq(why[0], '\0');
}
