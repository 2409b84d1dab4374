/* SPDX-License-Identifier: MIT */
#include "core/ids.h"
#include <criterion/criterion.h>
#include <string.h>

Test(ids, uuid_v4_shape)
{
    char a[DTM_UUID_LEN + 1], b[DTM_UUID_LEN + 1];
    dtm_uuid_v4(a);
    dtm_uuid_v4(b);
    cr_assert_eq(strlen(a), 36);
    cr_assert(dtm_uuid_valid(a));
    cr_assert_str_neq(a, b);
    cr_assert_eq(a[14], '4');
    cr_assert(strchr("89ab", a[19]));
    for (int i = 0; a[i]; i++)
        cr_assert(a[i] == '-' || (a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
}

Test(ids, uuid_valid)
{
    cr_assert(dtm_uuid_valid("3F2504E0-4F89-11D3-9A0C-0305E82C3301"));
    cr_assert_not(dtm_uuid_valid("3F2504E0-4F89-11D3-9A0C-0305E82C330"));
    cr_assert_not(dtm_uuid_valid("3F2504E0-4F89-11D3-9A0C-0305E82C33011"));
    cr_assert_not(dtm_uuid_valid("3F2504E0x4F89-11D3-9A0C-0305E82C3301"));
    cr_assert_not(dtm_uuid_valid("3G2504E0-4F89-11D3-9A0C-0305E82C3301"));
    cr_assert_not(dtm_uuid_valid("' OR 1=1 --"));
    cr_assert_not(dtm_uuid_valid(""));
    cr_assert_not(dtm_uuid_valid(NULL));
}

Test(ids, request_id)
{
    char id[DTM_UUID_LEN + 1];
    dtm_request_id_new(id);
    cr_assert(dtm_request_id_valid(id));
    cr_assert(dtm_request_id_valid("abc.DEF_1:2-3"));
    cr_assert_not(dtm_request_id_valid(""));
    cr_assert_not(dtm_request_id_valid("has space"));
    cr_assert_not(dtm_request_id_valid("new\nline"));
    char long_id[200];
    memset(long_id, 'a', sizeof long_id);
    long_id[128] = 0;
    cr_assert(dtm_request_id_valid(long_id));
    long_id[128] = 'a';
    long_id[129] = 0;
    cr_assert_not(dtm_request_id_valid(long_id));
}

Test(ids, random_token)
{
    char a[64], b[64];
    dtm_random_token(a, 32);
    dtm_random_token(b, 32);
    cr_assert_eq(strlen(a), 43);
    cr_assert_str_neq(a, b);
    cr_assert_eq(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
    char big[500];
    dtm_random_token(big, 300);
    cr_assert_eq(strlen(big), 400);
}
