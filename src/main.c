/* SPDX-License-Identifier: MIT */
/* dtm: one binary, many personalities. Subcommand dispatch only. */
#include "cli/cli.h"
#include "cli/target.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} command_t;

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("dtm %s\n", DTM_VERSION);
    return 0;
}

static int cmd_help(int argc, char **argv);

static const command_t commands[] = {
    {"serve", dtm_cli_serve, "serve HTTP for a target set (gateway, services, or all)"},
    {"migrate", dtm_cli_migrate, "apply pending database migrations"},
    {"seed", dtm_cli_seed, "ensure the admin (and with --demo a demo organisation)"},
    {"user", dtm_cli_user, "user administration (create-admin, ...)"},
    {"backup", dtm_cli_backup, "backups: run, list, show, verify, restore, prune"},
    {"health", dtm_cli_health, "comprehensive health check (exit 0 ok, 1 degraded, 2 down)"},
    {"outbox", dtm_cli_outbox, "outbox status; requeue dead letters"},
    {"config", dtm_cli_config, "print the effective configuration, secrets redacted"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "this text"},
    {NULL, NULL, NULL},
};

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("dtm %s: the Digital Tracking Merchandising platform\n\n"
           "Usage: dtm <command> [options]   (dtm <command> --help for details)\n\n",
           DTM_VERSION);
    for (const command_t *c = commands; c->name; c++)
        printf("  %-8s %s\n", c->name, c->help);
    printf("\n");
    dtm_target_print(stdout);
    printf("\nConfiguration comes from the environment (and DTM_ENV_FILE, default ./var/dtm.env);\n"
           "`dtm config` shows the effective values.\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cmd_help(0, NULL);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        name = "help";
    if (strcmp(name, "--version") == 0)
        name = "version";
    for (const command_t *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "dtm: unknown command '%s' (try `dtm help`)\n", name);
    return 2;
}
