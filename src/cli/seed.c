/* SPDX-License-Identifier: MIT */
/* Placeholder: replaced by the issue that owns `dtm seed`. */
#include "cli/cli.h"
#include <stdio.h>

int dtm_cli_seed(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "dtm seed: not built yet\n");
    return 2;
}
