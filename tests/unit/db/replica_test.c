/* SPDX-License-Identifier: MIT */
/* Read replicas: LSN parsing and which replica URL a service gets. */
#include "core/config.h"
#include "db/pg.h"
#include <criterion/criterion.h>
#include <stdlib.h>

Test(replica, lsn_parse)
{
    cr_assert_eq(dtm_pg_lsn_parse("0/0"), 0);
    cr_assert_eq(dtm_pg_lsn_parse("0/16B3748"), 0x16B3748ULL);
    cr_assert_eq(dtm_pg_lsn_parse("16/B374D848"), 0x16B374D848ULL);
    cr_assert_eq(dtm_pg_lsn_parse("FFFFFFFF/FFFFFFFF"), UINT64_MAX);
    /* Ordering is numeric, not textual: "9/..." is below "10/...". */
    cr_assert_lt(dtm_pg_lsn_parse("9/FFFFFFFF"), dtm_pg_lsn_parse("A/0"));
    cr_assert_eq(dtm_pg_lsn_parse(NULL), 0);
    cr_assert_eq(dtm_pg_lsn_parse(""), 0);
    cr_assert_eq(dtm_pg_lsn_parse("16B3748"), 0);
    cr_assert_eq(dtm_pg_lsn_parse("1/2x"), 0);
    cr_assert_eq(dtm_pg_lsn_parse("100000000/0"), 0);
}

Test(replica, url_per_service)
{
    unsetenv("DATABASE_URL_REPLICA");
    unsetenv("DATABASE_URL_TODOS");
    unsetenv("DATABASE_URL_TODOS_REPLICA");
    unsetenv("DATABASE_URL_USERS");
    cr_assert_null(dtm_config_db_replica_url("todos"));
    setenv("DATABASE_URL_REPLICA", "postgresql://r/dtm", 1);
    cr_assert_str_eq(dtm_config_db_replica_url("todos"), "postgresql://r/dtm");
    cr_assert_str_eq(dtm_config_db_replica_url(NULL), "postgresql://r/dtm");
    setenv("DATABASE_URL_TODOS_REPLICA", "postgresql://rt/todos", 1);
    cr_assert_str_eq(dtm_config_db_replica_url("todos"), "postgresql://rt/todos");
    /* A service on its own database is not replicated by the shared replica. */
    setenv("DATABASE_URL_USERS", "postgresql://u/users", 1);
    cr_assert_null(dtm_config_db_replica_url("users"));
    unsetenv("DATABASE_URL_REPLICA");
    unsetenv("DATABASE_URL_TODOS_REPLICA");
    unsetenv("DATABASE_URL_USERS");
}
