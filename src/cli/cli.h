/* SPDX-License-Identifier: MIT */
/* Operator subcommands. Each takes argv after the subcommand name (argv[0] = subcommand) and
 * returns the process exit code. `--help` is handled by each. */
#ifndef DTM_CLI_H
#define DTM_CLI_H

int dtm_cli_serve(int argc, char **argv);   /* src/http (server) */
int dtm_cli_migrate(int argc, char **argv); /* src/cli/migrate.c */
int dtm_cli_seed(int argc, char **argv);    /* src/cli/seed.c */
int dtm_cli_user(int argc, char **argv);    /* src/cli/user.c */
int dtm_cli_backup(int argc, char **argv);  /* src/cli/backup.c */
int dtm_cli_health(int argc, char **argv);  /* src/cli/health.c */
int dtm_cli_config(int argc, char **argv);  /* src/cli/config.c */
int dtm_cli_outbox(int argc, char **argv);  /* src/cli/outbox.c */

#endif
