/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the multipart/form-data parser and the image sniffer.
 *
 * Input layout: the first line is a Content-Type value (boundary extraction is fuzzed too); the
 * rest is the body. Build and run (from the repository root):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *       tests/fuzz/multipart_fuzz.c src/services/common/photo.c src/core/arena.c \
 *       src/core/err.c -lsodium -o build-fuzz/multipart_fuzz
 *   build-fuzz/multipart_fuzz -max_total_time=60 -max_len=65536
 */
#include "services/common/photo.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t ct_len = nl ? (size_t)(nl - data) : size;
    dtm_arena_t *a = dtm_arena_new(0);
    char *ct = dtm_arena_strndup(a, (const char *)data, ct_len);
    const char *boundary = dtm_multipart_boundary(a, ct);
    if (!boundary)
        boundary = "b";
    /* A private copy sized exactly, so ASan catches any read past the end of the body. */
    size_t body_len = nl ? size - ct_len - 1 : 0;
    char *body = malloc(body_len ? body_len : 1);
    if (body_len)
        memcpy(body, nl + 1, body_len);
    dtm_mpart_t *parts;
    int n;
    if (dtm_multipart_parse(a, body, body_len, boundary, &parts, &n) == DTM_OK) {
        if (n < 0 || n > DTM_MULTIPART_MAX_PARTS)
            abort();
        for (int i = 0; i < n; i++) {
            if (!parts[i].name || parts[i].data < body ||
                parts[i].data + parts[i].len > body + body_len)
                abort();
            (void)dtm_image_sniff(parts[i].data, parts[i].len);
            (void)dtm_multipart_find(parts, n, parts[i].name);
        }
    }
    free(body);
    dtm_arena_free(a);
    return 0;
}
