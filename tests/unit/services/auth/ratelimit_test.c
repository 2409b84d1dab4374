/* SPDX-License-Identifier: MIT */
#include "services/auth/auth.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test(auth_rl, counts_within_a_window_and_resets_after_it)
{
    auth_rl_t *rl = auth_rl_new(16);
    int retry = 0;
    int64_t t0 = 1000000;
    for (long i = 1; i <= 5; i++)
        cr_assert_eq(auth_rl_hit(rl, "ip:1.2.3.4", 60, t0 + i * 1000, &retry), i);
    cr_expect_eq(retry, 56, "window started at the first hit: %d", retry);
    cr_expect_eq(auth_rl_hit(rl, "ip:5.6.7.8", 60, t0 + 5000, &retry), 1, "separate key");
    cr_expect_eq(retry, 60);
    cr_expect_eq(auth_rl_hit(rl, "ip:1.2.3.4", 60, t0 + 1000 + 59999, &retry), 6);
    cr_expect_eq(retry, 1, "at least one second");
    cr_expect_eq(auth_rl_hit(rl, "ip:1.2.3.4", 60, t0 + 1000 + 60000, &retry), 1, "new window");
    auth_rl_free(rl);
}

Test(auth_rl, full_table_evicts_instead_of_failing)
{
    auth_rl_t *rl = auth_rl_new(64);
    int retry;
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert_eq(auth_rl_hit(rl, key, 60, 1000 + i, &retry), 1);
    }
    /* the newest keys are still counted */
    cr_expect_eq(auth_rl_hit(rl, "k4999", 60, 7000, &retry), 2);
    auth_rl_free(rl);
}

Test(auth_token, hash_is_hex_sha256)
{
    char out[AUTH_TOKEN_HASH_LEN + 1];
    auth_token_hash("abc", out);
    cr_expect_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(auth_device, names_browser_and_platform)
{
    char out[100];
    auth_device_name("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", out,
                     sizeof out);
    cr_expect_str_eq(out, "Firefox on Linux");
    auth_device_name("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                     "Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
                     out, sizeof out);
    cr_expect_str_eq(out, "Edge on Windows");
    auth_device_name("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like "
                     "Gecko) Chrome/120.0 Mobile Safari/537.36",
                     out, sizeof out);
    cr_expect_str_eq(out, "Chrome on Android");
    auth_device_name("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                     "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
                     out, sizeof out);
    cr_expect_str_eq(out, "Safari on iOS");
    auth_device_name("curl/8.5.0", out, sizeof out);
    cr_expect_str_eq(out, "curl");
    auth_device_name(NULL, out, sizeof out);
    cr_expect_str_eq(out, "Unknown device");
    auth_device_name("Firefox/1 Linux", out, 8);
    cr_expect_str_eq(out, "Firefox", "cut to the buffer");
}
