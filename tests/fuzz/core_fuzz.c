/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the core parsers that see untrusted bytes: JWT verification (every
 * bearer token), ISO-8601 timestamps and percent-decoding (paths, queries, JSON fields).
 * The first byte picks the target. Build and run (from the repository root):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *       tests/fuzz/core_fuzz.c src/core/{jwt,timeutil,str,arena,err,config,log}.c \
 *       $(pkg-config --cflags --libs jansson libsodium) -o build-fuzz/core_fuzz
 *   build-fuzz/core_fuzz -max_total_time=60 -max_len=4096
 */
#include "core/jwt.h"
#include "core/str.h"
#include "core/timeutil.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_jwt(const char *s)
{
    static const dtm_keyset_t keys = {
        {"fuzz-secret-0123456789abcdef0123456789", "second-key-0123456789abcdef0123456789"}, 2};
    dtm_claims_t c;
    if (dtm_jwt_verify(s, &keys, 1795684500, &c) == DTM_OK) {
        /* Without the key, accepting a token means a forged MAC: impossible unless broken. */
        if (strcmp(c.iss, "dtm") != 0 || c.exp <= 1795684500)
            abort();
    }
}

static void fuzz_time(const char *s)
{
    int64_t ms, again;
    if (dtm_parse_iso8601(s, &ms) != 0)
        return;
    if (ms < 0 || ms > 253402300799999LL)
        return; /* outside what the four-digit formatter can round-trip */
    char out[32];
    dtm_iso8601(ms, out);
    if (dtm_parse_iso8601(out, &again) != 0 || again != ms)
        abort();
}

static void fuzz_url(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    long len = dtm_url_decode(s, n, out, n % 2 == 0);
    if (len > (long)n || (len >= 0 && strlen(out) != (size_t)len))
        abort();
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *s = malloc(size); /* exact size: ASan sees any overread */
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0:
        fuzz_jwt(s);
        break;
    case 1:
        fuzz_time(s);
        break;
    default:
        fuzz_url(s, strnlen(s, size - 1));
        break;
    }
    free(s);
    return 0;
}
