/* SPDX-License-Identifier: MIT */
/* Placeholder: replaced by the issue that owns `dtm health`. */
#include "cli/cli.h"
#include <stdio.h>

int dtm_cli_health(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "dtm health: not built yet\n");
    return 2;
}
