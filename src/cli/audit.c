/* SPDX-License-Identifier: MIT */
/* `dtm audit verify`: walk the audit log's hash chain (services/common/audit.h) and name the
 * first row that was altered or whose predecessor was deleted. Exit 0 intact, 1 broken, 2 on a
 * usage, configuration or database error. */
#include "cli/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "db/pg.h"
#include "services/common/audit.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "Usage: dtm audit verify\n\n"
                 "Checks the audit log's hash chain: each row's hash over its content and the\n"
                 "previous row's hash. Reports the first broken link (exit 1), else the number\n"
                 "of entries checked (exit 0).\n");
}

int dtm_cli_audit(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "verify") != 0 || argc > 2) {
        usage(stderr);
        return 2;
    }
    if (dtm_env_file_load() != 0)
        return 2;
    if (dtm_config_load(DTM_NEED_DB, stderr) != 0) {
        fprintf(stderr, "dtm: invalid configuration (see above)\n");
        return 2;
    }
    dtm_log_init("dtm", DTM_LOG_WARN);
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_pg_pool_t *pool = dtm_pg_pool_for("audit");
    dtm_db_t *db = pool ? dtm_db_open(pool, a) : NULL;
    dtm_audit_check_t c;
    dtm_err_t err = db ? dtm_audit_verify(db, &c) : DTM_EDB;
    int rc;
    if (err) {
        fprintf(stderr, "dtm audit verify: %s\n",
                err == DTM_EDB ? "cannot reach PostgreSQL"
                               : "cannot read the audit log (migrated?)");
        rc = 2;
    } else if (c.broken_id) {
        printf("audit log: BROKEN at row %lld: %s (%lld rows checked)\n", c.broken_id, c.reason,
               c.entries);
        rc = 1;
    } else {
        printf("audit log: intact, %lld entries\n", c.entries);
        rc = 0;
    }
    dtm_arena_free(a);
    dtm_pg_pools_shutdown();
    return rc;
}
