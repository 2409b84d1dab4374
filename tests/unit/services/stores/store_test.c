/* SPDX-License-Identifier: MIT */
/* stores store.c helpers that need no database. */
#include "core/arena.h"
#include "services/stores/stores.h"
#include <criterion/criterion.h>

Test(stores_store, like_pattern_matches_literally)
{
    dtm_arena_t *a = dtm_arena_new(0);
    cr_assert_str_eq(stores_like_pattern(a, "Zebra Mart"), "%Zebra Mart%");
    cr_assert_str_eq(stores_like_pattern(a, "50%_off"), "%50\\%\\_off%");
    dtm_arena_free(a);
}
