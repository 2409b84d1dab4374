/* SPDX-License-Identifier: MIT */
/* Per-request arena: a chain of blocks plus a stack of cleanup hooks. Large allocations get a
 * block of their own so the common small case stays a pointer bump. */
#include "core/arena.h"
#include "core/err.h"
#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_DEFAULT_BLOCK 4096
#define ARENA_ALIGN         alignof(max_align_t)

typedef struct block {
    struct block *next;
    size_t size, used;
    alignas(max_align_t) unsigned char data[];
} block_t;

typedef struct defer {
    struct defer *next;
    void (*fn)(void *);
    void *arg;
} defer_t;

struct dtm_arena {
    block_t *blocks;
    defer_t *defers; /* most recent first: freeing walks in reverse registration order */
    size_t block_size;
    size_t used;
};

void *dtm_alloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        dtm_panic("out of memory allocating %zu bytes", n);
    return p;
}

void *dtm_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        dtm_panic("out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *dtm_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        dtm_panic("out of memory reallocating %zu bytes", n);
    return q;
}

char *dtm_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(dtm_alloc(n), s, n);
}

/* Default-size blocks are kept in a small per-thread cache when an arena is freed, so the next
 * request on that thread reuses them instead of going through malloc (blocks of this size miss
 * glibc's tcache). The cache is freed by a thread-exit destructor. Off under AddressSanitizer,
 * which must see every block freed to catch a use after free. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_CACHE 0
#endif
#endif
#ifndef ARENA_CACHE
#define ARENA_CACHE 8
#endif

#if ARENA_CACHE
typedef struct {
    block_t *free[ARENA_CACHE];
    int n;
    bool registered;
} block_cache_t;

static _Thread_local block_cache_t t_blocks;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_release(void *p)
{
    block_cache_t *c = p;
    while (c->n > 0)
        free(c->free[--c->n]);
}

static void cache_key_init(void)
{
    if (pthread_key_create(&cache_key, cache_release) != 0)
        cache_key = (pthread_key_t)-1;
}

/* True when b was kept for reuse. */
static bool cache_put(block_t *b)
{
    block_cache_t *c = &t_blocks;
    if (b->size != ARENA_DEFAULT_BLOCK || c->n == ARENA_CACHE)
        return false;
    if (!c->registered) {
        pthread_once(&cache_once, cache_key_init);
        if (cache_key == (pthread_key_t)-1 || pthread_setspecific(cache_key, c) != 0)
            return false;
        c->registered = true;
    }
    c->free[c->n++] = b;
    return true;
}

static block_t *cache_get(size_t size)
{
    block_cache_t *c = &t_blocks;
    return size == ARENA_DEFAULT_BLOCK && c->n > 0 ? c->free[--c->n] : NULL;
}
#else
static bool cache_put(block_t *b)
{
    (void)b;
    return false;
}

static block_t *cache_get(size_t size)
{
    (void)size;
    return NULL;
}
#endif

static block_t *block_new(size_t size, block_t *next)
{
    block_t *b = cache_get(size);
    if (b) {
        b->next = next;
        b->used = 0;
        return b;
    }
    b = dtm_alloc(sizeof *b + size);
    b->next = next;
    b->size = size;
    b->used = 0;
    return b;
}

dtm_arena_t *dtm_arena_new(size_t block_size)
{
    dtm_arena_t *a = dtm_calloc(1, sizeof *a);
    a->block_size = block_size ? block_size : ARENA_DEFAULT_BLOCK;
    return a;
}

void dtm_arena_free(dtm_arena_t *a)
{
    if (!a)
        return;
    /* Hooks may still read arena memory (e.g. a key string), so they run before blocks go. */
    while (a->defers) {
        defer_t *d = a->defers;
        a->defers = d->next;
        d->fn(d->arg);
    }
    for (block_t *b = a->blocks, *next; b; b = next) {
        next = b->next;
        if (!cache_put(b))
            free(b);
    }
    free(a);
}

static size_t align_up(size_t n)
{
    return (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

void *dtm_arena_alloc(dtm_arena_t *a, size_t n)
{
    size_t need = align_up(n ? n : 1);
    if (need < n)
        dtm_panic("arena allocation overflow (%zu bytes)", n);
    block_t *b = a->blocks;
    if (!b || b->size - b->used < need) {
        if (need > a->block_size / 4) {
            /* Big: its own block, kept behind the current one so the current stays usable. */
            block_t *big = block_new(need, NULL);
            if (b) {
                big->next = b->next;
                b->next = big;
            } else {
                a->blocks = big;
            }
            big->used = need;
            a->used += n;
            return big->data;
        }
        b = a->blocks = block_new(a->block_size, a->blocks);
    }
    void *p = b->data + b->used;
    b->used += need;
    a->used += n;
    return p;
}

void *dtm_arena_calloc(dtm_arena_t *a, size_t n)
{
    return memset(dtm_arena_alloc(a, n), 0, n);
}

char *dtm_arena_strdup(dtm_arena_t *a, const char *s)
{
    if (!s)
        return NULL;
    return dtm_arena_strndup(a, s, strlen(s));
}

char *dtm_arena_strndup(dtm_arena_t *a, const char *s, size_t n)
{
    if (!s)
        return NULL;
    size_t len = strnlen(s, n);
    char *p = dtm_arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *dtm_arena_vsprintf(dtm_arena_t *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        dtm_panic("arena sprintf: bad format");
    char *p = dtm_arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *dtm_arena_sprintf(dtm_arena_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = dtm_arena_vsprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

void dtm_arena_defer(dtm_arena_t *a, void (*fn)(void *), void *arg)
{
    /* Records live in the arena itself: hooks run before any block is freed. */
    defer_t *d = dtm_arena_alloc(a, sizeof *d);
    d->fn = fn;
    d->arg = arg;
    d->next = a->defers;
    a->defers = d;
}

size_t dtm_arena_used(const dtm_arena_t *a)
{
    return a->used;
}
