/* SPDX-License-Identifier: MIT */
#include "services/users/users.h"
#include <criterion/criterion.h>
#include <string.h>

Test(users_email, normalises_valid_addresses_to_lower_case)
{
    dtm_arena_t *a = dtm_arena_new(0);
    cr_assert_str_eq(users_email_normalize(a, "Admin@Example.COM"), "admin@example.com");
    cr_assert_str_eq(users_email_normalize(a, "o'brien+tag@mail.example.co.uk"),
                     "o'brien+tag@mail.example.co.uk");
    cr_assert_str_eq(users_email_normalize(a, "a.b-c_d@x-y.io"), "a.b-c_d@x-y.io");
    dtm_arena_free(a);
}

Test(users_email, rejects_malformed_addresses)
{
    dtm_arena_t *a = dtm_arena_new(0);
    static const char *const bad[] = {
        "",
        "plain",
        "@example.com",
        "a@",
        "a@example",
        "a@@example.com",
        "a@b@example.com",
        "a b@example.com",
        "a@exa mple.com",
        ".a@example.com",
        "a.@example.com",
        "a..b@example.com",
        "a@-example.com",
        "a@example-.com",
        "a@example..com",
        "a@.example.com",
        "a'; DROP TABLE users;--@example.com",
        "a\"b@example.com",
        "a@exam_ple.com",
        "\xc3\xa9@example.com",
        "a@example.com\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_null(users_email_normalize(a, bad[i]), "accepted '%s'", bad[i]);
    char longlocal[80];
    memset(longlocal, 'a', 65);
    strcpy(longlocal + 65, "@example.com");
    cr_expect_null(users_email_normalize(a, longlocal));
    char huge[300];
    memset(huge, 'a', 60);
    huge[60] = '@';
    for (int i = 61; i < 299; i++)
        huge[i] = (i % 10 == 0) ? '.' : 'b';
    strcpy(huge + 290, ".com");
    cr_expect_null(users_email_normalize(a, huge), "more than 254 bytes");
    dtm_arena_free(a);
}

Test(users_password, policy_enforces_length_and_not_the_email)
{
    cr_expect_null(users_password_problem("0123456789", "a@example.com"));
    cr_expect_not_null(users_password_problem("012345678", "a@example.com"));
    cr_expect_not_null(users_password_problem(NULL, NULL));
    /* 10 code points of 2 bytes each are 10 characters, 9 are not */
    cr_expect_null(users_password_problem("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"
                                          "\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
                                          NULL));
    cr_expect_not_null(users_password_problem(
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", NULL));
    char pw[200];
    memset(pw, 'x', 128);
    pw[128] = '\0';
    cr_expect_null(users_password_problem(pw, NULL));
    pw[128] = 'x';
    pw[129] = '\0';
    cr_expect_not_null(users_password_problem(pw, NULL));
    cr_expect_not_null(
        users_password_problem("Long.Person@Example.com", "long.person@example.com"));
}

Test(users_password, argon2id_hash_verifies_and_rejects)
{
    char hash[USERS_HASH_LEN];
    cr_assert_eq(users_password_hash("correct horse battery", hash), DTM_OK);
    cr_expect(strncmp(hash, "$argon2id$", 10) == 0, "hash is %s", hash);
    cr_expect(strstr(hash, "m=19456,t=2,p=1") != NULL, "OWASP minimum parameters: %s", hash);
    cr_expect(users_password_verify(hash, "correct horse battery"));
    cr_expect_not(users_password_verify(hash, "correct horse batterz"));
    cr_expect_not(users_password_verify(NULL, "correct horse battery"));
    cr_expect_not(users_password_verify("", ""));
    cr_expect_not(users_password_needs_rehash(hash));
    char hash2[USERS_HASH_LEN];
    users_password_hash("correct horse battery", hash2);
    cr_expect_str_neq(hash, hash2, "salted");
}
