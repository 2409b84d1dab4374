/* SPDX-License-Identifier: MIT */
/* Placeholder: replaced by the issue that owns `dtm backup`. */
#include "cli/cli.h"
#include <stdio.h>

int dtm_cli_backup(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "dtm backup: not built yet\n");
    return 2;
}
