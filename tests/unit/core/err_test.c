/* SPDX-License-Identifier: MIT */
#include "core/err.h"
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

Test(err, maps_codes_to_statuses)
{
    cr_assert_eq(dtm_err_status(DTM_OK), 200);
    cr_assert_eq(dtm_err_status(DTM_EINVAL), 400);
    cr_assert_eq(dtm_err_status(DTM_EAUTH), 401);
    cr_assert_eq(dtm_err_status(DTM_EFORBIDDEN), 403);
    cr_assert_eq(dtm_err_status(DTM_ENOTFOUND), 404);
    cr_assert_eq(dtm_err_status(DTM_EMETHOD), 405);
    cr_assert_eq(dtm_err_status(DTM_ECONFLICT), 409);
    cr_assert_eq(dtm_err_status(DTM_ETOOBIG), 413);
    cr_assert_eq(dtm_err_status(DTM_EMEDIA), 415);
    cr_assert_eq(dtm_err_status(DTM_ERULE), 422);
    cr_assert_eq(dtm_err_status(DTM_ELOCKED), 423);
    cr_assert_eq(dtm_err_status(DTM_ERATE), 429);
    cr_assert_eq(dtm_err_status(DTM_EHEADERS), 431);
    cr_assert_eq(dtm_err_status(DTM_EINTERNAL), 500);
    cr_assert_eq(dtm_err_status(DTM_EUPSTREAM), 502);
    cr_assert_eq(dtm_err_status(DTM_EUNAVAIL), 503);
    cr_assert_eq(dtm_err_status(DTM_EDB), 503);
    cr_assert_eq(dtm_err_status(DTM_ETIMEOUT), 504);
}

Test(err, codes_and_messages)
{
    cr_assert_str_eq(dtm_err_code(DTM_EINVAL), "validation_failed");
    cr_assert_str_eq(dtm_err_code(DTM_ENOTFOUND), "not_found");
    cr_assert_str_eq(dtm_err_code(DTM_ERATE), "rate_limited");
    cr_assert_str_eq(dtm_err_code(DTM_EDB), "database_unavailable");
    cr_assert(strlen(dtm_err_message(DTM_ELOCKED)) > 0);
}

Test(err, unknown_code_is_internal)
{
    cr_assert_eq(dtm_err_status((dtm_err_t)-999), 500);
    cr_assert_str_eq(dtm_err_code((dtm_err_t)-999), "internal_error");
}

Test(err, panic_aborts, .signal = SIGABRT)
{
    dtm_panic("test %d", 1);
}
