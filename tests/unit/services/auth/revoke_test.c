/* SPDX-License-Identifier: MIT */
/* The revocation cache in memory (no Redis, no PostgreSQL: what a process knows after it applied
 * its own revocations or messages). The poll and pub/sub paths are covered by
 * tests/api/revocation.test.js. */
#include "services/auth/revoke.h"
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
}

TestSuite(auth_revoke, .init = setup);

Test(auth_revoke, denied_jti_is_refused_and_others_are_not)
{
    cr_expect_not(dtm_auth_token_revoked("jti-a", "user-1", 100));
    dtm_auth_deny_published("jti-a", 4000000000LL);
    cr_expect(dtm_auth_token_revoked("jti-a", "user-1", 100));
    cr_expect_not(dtm_auth_token_revoked("jti-b", "user-1", 100));
    cr_expect_not(dtm_auth_token_revoked("jti-a-longer", "user-1", 100), "exact match only");
}

Test(auth_revoke, epoch_refuses_tokens_issued_at_or_before_it)
{
    dtm_auth_revoke_user_published("user-2", 1000);
    cr_expect(dtm_auth_token_revoked("j1", "user-2", 999));
    cr_expect(dtm_auth_token_revoked("j1", "user-2", 1000), "same second: refused");
    cr_expect_not(dtm_auth_token_revoked("j1", "user-2", 1001));
    cr_expect_not(dtm_auth_token_revoked("j1", "user-3", 10), "another user");
    cr_expect_eq(dtm_auth_valid_after("user-2"), 1000);
    /* A late, older message never lowers the epoch. */
    dtm_auth_revoke_user_published("user-2", 900);
    cr_expect_eq(dtm_auth_valid_after("user-2"), 1000);
    dtm_auth_revoke_user_published("user-2", 2000);
    cr_expect(dtm_auth_token_revoked("j1", "user-2", 1500));
}

Test(auth_revoke, grows_past_its_first_table)
{
    char id[40];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "u-%d", i);
        dtm_auth_revoke_user_published(id, 5000 + i);
    }
    for (int i = 0; i < 20000; i += 997) {
        snprintf(id, sizeof id, "u-%d", i);
        cr_assert_eq(dtm_auth_valid_after(id), 5000 + i, "%s", id);
        cr_assert(dtm_auth_token_revoked("x", id, 5000 + i));
        cr_assert_not(dtm_auth_token_revoked("x", id, 5001 + i));
    }
    cr_expect_eq(dtm_auth_valid_after("u-missing"), 0);
}
