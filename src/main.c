/* SPDX-License-Identifier: MIT */
/* dtm: subcommand dispatch only (placeholder until the CLI lands). */
#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    puts("dtm " DTM_VERSION);
    return 0;
}
