/* SPDX-License-Identifier: MIT */
/* Placeholder: replaced by the issue that owns `dtm config`. */
#include "cli/cli.h"
#include <stdio.h>

int dtm_cli_config(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "dtm config: not built yet\n");
    return 2;
}
