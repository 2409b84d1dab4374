/* SPDX-License-Identifier: MIT */
#include "core/arena.h"
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

static char order[16];
static int norder;

static void record(void *arg)
{
    order[norder++] = *(const char *)arg;
}

Test(arena, defers_run_in_reverse_order)
{
    norder = 0;
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_arena_defer(a, record, "a");
    dtm_arena_defer(a, record, "b");
    dtm_arena_defer(a, record, "c");
    cr_assert_eq(norder, 0);
    dtm_arena_free(a);
    cr_assert_eq(norder, 3);
    cr_assert_eq(memcmp(order, "cba", 3), 0);
}

Test(arena, allocations_are_aligned_and_distinct)
{
    dtm_arena_t *a = dtm_arena_new(128);
    char *prev = NULL;
    for (int i = 0; i < 200; i++) {
        char *p = dtm_arena_alloc(a, (size_t)(i % 13) + 1);
        cr_assert_eq((uintptr_t)p % _Alignof(max_align_t), 0);
        memset(p, 'x', (size_t)(i % 13) + 1); /* ASan catches overlap/overflow */
        cr_assert_neq(p, prev);
        prev = p;
    }
    dtm_arena_free(a);
}

Test(arena, big_allocation_and_used)
{
    dtm_arena_t *a = dtm_arena_new(64);
    char *small = dtm_arena_alloc(a, 8);
    char *big = dtm_arena_alloc(a, 100000);
    memset(big, 1, 100000);
    char *small2 = dtm_arena_alloc(a, 8);
    cr_assert_neq(small, small2);
    cr_assert_eq(dtm_arena_used(a), 100016);
    dtm_arena_free(a);
}

Test(arena, strings)
{
    dtm_arena_t *a = dtm_arena_new(0);
    cr_assert_str_eq(dtm_arena_strdup(a, "hello"), "hello");
    cr_assert_null(dtm_arena_strdup(a, NULL));
    cr_assert_str_eq(dtm_arena_strndup(a, "hello", 3), "hel");
    cr_assert_str_eq(dtm_arena_strndup(a, "hi", 10), "hi");
    cr_assert_str_eq(dtm_arena_sprintf(a, "%s-%d", "x", 42), "x-42");
    char *z = dtm_arena_calloc(a, 64);
    for (int i = 0; i < 64; i++)
        cr_assert_eq(z[i], 0);
    char big[10000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cr_assert_eq(strlen(dtm_arena_sprintf(a, "%s", big)), sizeof big - 1);
    dtm_arena_free(a);
}

Test(arena, free_null_is_safe)
{
    dtm_arena_free(NULL);
}

Test(arena, heap_helpers)
{
    char *s = dtm_strdup("abc");
    cr_assert_str_eq(s, "abc");
    s = dtm_realloc(s, 100);
    cr_assert_str_eq(s, "abc");
    free(s);
    int *z = dtm_calloc(4, sizeof(int));
    cr_assert_eq(z[3], 0);
    free(z);
}
