/* SPDX-License-Identifier: MIT */
#include "services/auth/auth.h"
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

static const unsigned char rfc_key[] = "12345678901234567890"; /* RFC 6238 appendix B, SHA-1 */

Test(auth_totp, rfc6238_vectors_last_six_digits)
{
    static const struct {
        int64_t t;
        const char *code;
    } v[] = {{59, "287082"},         {1111111109, "081804"}, {1111111111, "050471"},
             {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char c[7];
        auth_totp_code(rfc_key, 20, (uint64_t)(v[i].t / 30), c);
        cr_expect_str_eq(c, v[i].code, "t=%lld", (long long)v[i].t);
    }
}

Test(auth_totp, window_of_one_step_and_once_only)
{
    char c[7];
    int64_t now = 1234567890, step = now / 30;
    auth_totp_code(rfc_key, 20, (uint64_t)step, c);
    cr_expect_eq(auth_totp_match(rfc_key, 20, c, now, 0), step);
    cr_expect_eq(auth_totp_match(rfc_key, 20, c, now + 30, 0), step, "one step late: accepted");
    cr_expect_eq(auth_totp_match(rfc_key, 20, c, now - 30, 0), step, "one step early: accepted");
    cr_expect_eq(auth_totp_match(rfc_key, 20, c, now + 90, 0), -1, "three steps: refused");
    cr_expect_eq(auth_totp_match(rfc_key, 20, c, now, step), -1, "already used");
    cr_expect_eq(auth_totp_match(rfc_key, 20, "12345", now, 0), -1);
    cr_expect_eq(auth_totp_match(rfc_key, 20, "12345a", now, 0), -1);
    cr_expect_eq(auth_totp_match(rfc_key, 20, NULL, now, 0), -1);
}

Test(auth_totp, base32_round_trip_and_rfc4648)
{
    char out[64];
    cr_expect_eq(auth_base32_encode((const unsigned char *)"foobar", 6, out, sizeof out), 10);
    cr_expect_str_eq(out, "MZXW6YTBOI");
    unsigned char back[32];
    cr_expect_eq(auth_base32_decode("mzxw 6ytb-oi==", back, sizeof back), 6);
    cr_expect(memcmp(back, "foobar", 6) == 0);
    cr_expect_eq(auth_base32_decode("MZ1W", back, sizeof back), -1, "1 is not base32");
    cr_expect_eq(auth_base32_encode((const unsigned char *)"foobar", 6, out, 5), 0, "too small");
}

Test(auth_totp, uri_escapes_the_label)
{
    dtm_arena_t *a = dtm_arena_new(0);
    char *u = auth_totp_uri(a, "dtm", "ann+x@example.com", "JBSWY3DPEHPK3PXP");
    cr_expect_str_eq(u, "otpauth://totp/dtm:ann%2Bx@example.com?secret=JBSWY3DPEHPK3PXP&issuer=dtm"
                        "&algorithm=SHA1&digits=6&period=30");
    char *svg = auth_qr_svg(a, u);
    cr_assert_not_null(svg);
    cr_expect(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
    cr_expect(strstr(svg, "</svg>") != NULL);
    dtm_arena_free(a);
}

Test(auth_totp, recovery_codes_are_random_and_normalised)
{
    cr_assert(sodium_init() >= 0);
    char a[AUTH_RECOVERY_LEN + 1], b[AUTH_RECOVERY_LEN + 1];
    auth_recovery_code_new(a);
    auth_recovery_code_new(b);
    cr_expect_neq(strcmp(a, b), 0);
    cr_expect_eq(strlen(a), 19);
    cr_expect_eq(a[4], '-');
    char h1[AUTH_TOKEN_HASH_LEN + 1], h2[AUTH_TOKEN_HASH_LEN + 1];
    cr_assert(auth_recovery_code_hash(a, h1));
    char upper[32];
    size_t n = 0;
    for (const char *p = a; *p; p++)
        if (*p != '-')
            upper[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    upper[n] = '\0';
    cr_assert(auth_recovery_code_hash(upper, h2));
    cr_expect_str_eq(h1, h2, "case and dashes do not matter");
    cr_expect_not(auth_recovery_code_hash("short", h1));
    cr_expect_not(auth_recovery_code_hash("0000-0000-0000-0000", h1), "0 is not base32");
}
