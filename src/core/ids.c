/* SPDX-License-Identifier: MIT */
#include "core/ids.h"
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void sodium_start(void)
{
    if (sodium_init() < 0)
        abort();
}

/* libsodium wants sodium_init before randombytes; once per process. */
static void random_bytes(void *buf, size_t n)
{
    pthread_once(&sodium_once, sodium_start);
    randombytes_buf(buf, n);
}

/* UUIDs (request ids on every request) take their 16 bytes from a per-thread pool refilled 4 KiB
 * at a time, instead of one getrandom(2) per id. A fork gives the child a copy of the pool:
 * the generation bump makes every thread of the child refill before its next id. */
#define POOL_SIZE 4096
static _Atomic unsigned pool_generation = 1;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void pool_forked(void)
{
    atomic_fetch_add(&pool_generation, 1);
}

static void atfork_start(void)
{
    pthread_atfork(NULL, NULL, pool_forked);
}

static void pool_bytes(unsigned char out[16])
{
    static _Thread_local unsigned char pool[POOL_SIZE];
    static _Thread_local size_t pos = POOL_SIZE;
    static _Thread_local unsigned gen;
    unsigned now = atomic_load_explicit(&pool_generation, memory_order_relaxed);
    if (pos + 16 > POOL_SIZE || gen != now) {
        pthread_once(&atfork_once, atfork_start);
        /* One 32-byte seed from the OS (libsodium's getrandom reads at most 256 bytes a call)
         * expanded with ChaCha20: one syscall per 256 ids. */
        unsigned char seed[randombytes_SEEDBYTES];
        random_bytes(seed, sizeof seed);
        randombytes_buf_deterministic(pool, sizeof pool, seed);
        sodium_memzero(seed, sizeof seed);
        pos = 0;
        gen = atomic_load(&pool_generation);
    }
    memcpy(out, pool + pos, 16);
    sodium_memzero(pool + pos, 16); /* an id's bytes are never handed out twice */
    pos += 16;
}

void dtm_uuid_v4(char out[DTM_UUID_LEN + 1])
{
    unsigned char b[16];
    pool_bytes(b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool dtm_uuid_valid(const char *s)
{
    if (!s)
        return false;
    for (int i = 0; i < DTM_UUID_LEN; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i]))
            return false;
    }
    return s[DTM_UUID_LEN] == '\0';
}

bool dtm_request_id_valid(const char *s)
{
    if (!s)
        return false;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok || n >= 128)
            return false;
    }
    return n >= 1;
}

void dtm_request_id_new(char out[DTM_UUID_LEN + 1])
{
    dtm_uuid_v4(out);
}

void dtm_random_token(char *out, size_t n_bytes)
{
    unsigned char buf[256];
    unsigned char *bin = n_bytes <= sizeof buf ? buf : sodium_malloc(n_bytes);
    random_bytes(bin, n_bytes);
    sodium_bin2base64(out,
                      sodium_base64_ENCODED_LEN(n_bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                      bin, n_bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(bin, n_bytes);
    if (bin != buf)
        sodium_free(bin);
}
