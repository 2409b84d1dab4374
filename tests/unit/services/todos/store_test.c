/* SPDX-License-Identifier: MIT */
/* todos store.c helpers that need no database: the LIKE pattern of ?search= and the API object
 * built from a result row. */
#include "core/arena.h"
#include "services/todos/todos.h"
#include <criterion/criterion.h>
#include <string.h>

Test(todos_store, like_pattern_matches_literally)
{
    dtm_arena_t *a = dtm_arena_new(0);
    cr_assert_str_eq(todos_like_pattern(a, "promo"), "%promo%");
    cr_assert_str_eq(todos_like_pattern(a, "100%"), "%100\\%%");
    cr_assert_str_eq(todos_like_pattern(a, "a_b"), "%a\\_b%");
    cr_assert_str_eq(todos_like_pattern(a, "back\\slash"), "%back\\\\slash%");
    cr_assert_str_eq(todos_like_pattern(a, ""), "%%");
    dtm_arena_free(a);
}
