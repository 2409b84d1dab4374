/* SPDX-License-Identifier: MIT */
/* `dtm config`: the effective configuration, secrets redacted, and every problem found. */
#include "cli/cli.h"
#include "core/config.h"
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs("Usage: dtm config [--serve]\n"
          "\n"
          "Prints the effective configuration (environment over DTM_ENV_FILE, default\n"
          "./var/dtm.env) with secrets and URL passwords redacted, then lists every problem.\n"
          "\n"
          "  --serve   also check what `dtm serve` requires (DATABASE_URL, DTM_JWT_SECRET)\n"
          "  --help    this text\n"
          "\n"
          "Exit status: 0 valid, 1 invalid, 2 usage.\n",
          out);
}

int dtm_cli_config(int argc, char **argv)
{
    unsigned need = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--serve") == 0) {
            need = DTM_NEED_DB | DTM_NEED_JWT;
        } else {
            fprintf(stderr, "dtm config: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (dtm_env_file_load() != 0)
        return 1;
    int problems = dtm_config_load(need, stderr);
    dtm_config_print(stdout);
    if (problems) {
        fprintf(stderr, "dtm config: %d problem%s (listed above)\n", problems,
                problems == 1 ? "" : "s");
        return 1;
    }
    return 0;
}
