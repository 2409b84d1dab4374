/* SPDX-License-Identifier: MIT */
/* `dtm migrate [--service NAME] [--status]`: apply (or list) the embedded migrations. */
#include "cli/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "db/migrate.h"
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs(
        "Usage: dtm migrate [--service NAME] [--status]\n"
        "\n"
        "Applies pending migrations (migrations/<service>/NNNN_name.sql, embedded in this\n"
        "binary), each in its own transaction, recorded in <service>.schema_migrations.\n"
        "Concurrent runs are serialised with a PostgreSQL advisory lock.\n"
        "\n"
        "  --service NAME   only this service's schema (default: every service)\n"
        "  --status         list applied/latest/pending versions and change nothing\n"
        "  --help           this text\n"
        "\n"
        "Database: DATABASE_URL_<SERVICE>, else DATABASE_URL.\n"
        "Exit status: 0 success (with --status: nothing pending), 1 failure or pending, 2 usage.\n",
        out);
}

static bool known_service(const char *name)
{
    for (const dtm_migration_t *m = dtm_migrations; m->sql; m++)
        if (strcmp(m->service, name) == 0)
            return true;
    return false;
}

/* Every service to migrate needs DATABASE_URL_<SERVICE> or DATABASE_URL; lists the gaps. */
static int missing_urls(const char *only)
{
    int missing = 0;
    const char *prev = NULL;
    for (const dtm_migration_t *m = dtm_migrations; m->sql; m++) {
        if ((prev && strcmp(prev, m->service) == 0) || (only && strcmp(only, m->service) != 0))
            continue;
        prev = m->service;
        if (!dtm_config_db_url(m->service)) {
            fprintf(stderr,
                    "dtm migrate: %s: neither DATABASE_URL_<SERVICE> nor DATABASE_URL is set\n",
                    m->service);
            missing++;
        }
    }
    return missing;
}

int dtm_cli_migrate(int argc, char **argv)
{
    const char *service = NULL;
    bool status = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--status") == 0) {
            status = true;
        } else if (strcmp(argv[i], "--service") == 0 && i + 1 < argc) {
            service = argv[++i];
        } else if (strncmp(argv[i], "--service=", 10) == 0) {
            service = argv[i] + 10;
        } else {
            fprintf(stderr, "dtm migrate: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (service && !known_service(service)) {
        fprintf(stderr, "dtm migrate: no migrations for service '%s'\n", service);
        return 2;
    }
    if (dtm_env_file_load() != 0)
        return 2;
    if (dtm_config_load(0, stderr) != 0) {
        fprintf(stderr, "dtm migrate: invalid configuration (see above)\n");
        return 2;
    }
    int level = dtm_log_level_parse(dtm_cfg.log_level);
    /* Progress goes to stdout as plain lines; only warnings reach the JSON log. */
    dtm_log_init("migrate", level > DTM_LOG_WARN ? (dtm_log_level_t)level : DTM_LOG_WARN);
    if (missing_urls(service) > 0)
        return 2;
    if (status) {
        int pending = dtm_migrate_print_status(service, stdout);
        return pending == 0 ? 0 : 1;
    }
    return dtm_migrate_run(service, stdout) == 0 ? 0 : 1;
}
