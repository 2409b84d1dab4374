/* SPDX-License-Identifier: MIT */
/* Per-request memory pool with cleanup hooks (nginx's ngx_pool_t idea). Not thread-safe:
 * one arena belongs to one request, which is handled by one thread at a time. */
#ifndef DTM_ARENA_H
#define DTM_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct dtm_arena dtm_arena_t;

/** Allocation that never returns NULL (aborts via dtm_panic on OOM). */
void *dtm_alloc(size_t n);
void *dtm_calloc(size_t n, size_t size);
void *dtm_realloc(void *p, size_t n);
char *dtm_strdup(const char *s);

/** New arena; block_size 0 means the default (4 KiB). Caller owns it: dtm_arena_free. */
dtm_arena_t *dtm_arena_new(size_t block_size);

/** Runs the defer hooks in reverse order of registration, then frees every block. NULL-safe. */
void dtm_arena_free(dtm_arena_t *a);

/** Memory owned by the arena, aligned for any type; never NULL. */
void *dtm_arena_alloc(dtm_arena_t *a, size_t n);
void *dtm_arena_calloc(dtm_arena_t *a, size_t n);
char *dtm_arena_strdup(dtm_arena_t *a, const char *s); /* NULL in, NULL out */
char *dtm_arena_strndup(dtm_arena_t *a, const char *s, size_t n);
char *dtm_arena_sprintf(dtm_arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *dtm_arena_vsprintf(dtm_arena_t *a, const char *fmt, va_list ap);

/** Register fn(arg) to run when the arena is freed (PQclear, freeReplyObject, json_decref...). */
void dtm_arena_defer(dtm_arena_t *a, void (*fn)(void *), void *arg);

/** Bytes handed out so far (for tests and metrics). */
size_t dtm_arena_used(const dtm_arena_t *a);

#endif
