/* SPDX-License-Identifier: MIT */
#include "services/notifications/notifications.h"
#include <criterion/criterion.h>

Test(backoff, doubles_from_the_base_up_to_the_cap)
{
    cr_assert_eq(notif_mail_backoff_ms(1, 2000, 3600000), 2000);
    cr_assert_eq(notif_mail_backoff_ms(2, 2000, 3600000), 4000);
    cr_assert_eq(notif_mail_backoff_ms(3, 2000, 3600000), 8000);
    cr_assert_eq(notif_mail_backoff_ms(7, 2000, 3600000), 128000);
    cr_assert_eq(notif_mail_backoff_ms(40, 2000, 3600000), 3600000, "capped, no overflow");
    cr_assert_eq(notif_mail_backoff_ms(5, 200, 800), 800);
}
