/* SPDX-License-Identifier: MIT */
/* Placeholder: replaced by the issue that owns `dtm migrate`. */
#include "cli/cli.h"
#include <stdio.h>

int dtm_cli_migrate(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "dtm migrate: not built yet\n");
    return 2;
}
