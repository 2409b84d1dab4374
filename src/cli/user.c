/* SPDX-License-Identifier: MIT */
/* Placeholder: replaced by the issue that owns `dtm user`. */
#include "cli/cli.h"
#include <stdio.h>

int dtm_cli_user(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "dtm user: not built yet\n");
    return 2;
}
