/* SPDX-License-Identifier: MIT */
/* `dtm seed [--demo]`: idempotent. Ensures the admin named by DTM_ADMIN_EMAIL (default
 * admin@example.com) with DTM_ADMIN_PASSWORD, or a generated password printed once when the
 * account is created. With --demo (what `make run` uses) it also ensures a demo organisation:
 * 2 managers and 10 merchandisers sharing the demo password (DTM_DEMO_PASSWORD, default
 * "dtm-demo-password", documented in the README). Production seeds only the admin. Accounts
 * that already exist are never changed (their passwords, roles and active flags stay). */
#include "cli/cli.h"
#include "cli/users_cli.h"
#include "core/config.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEMO_PASSWORD_DEFAULT "dtm-demo-password"

typedef struct {
    const char *email, *first, *last, *role;
} demo_user_t;

static const demo_user_t demo_users[] = {
    {"manager1@example.com", "Maria", "Garcia", "manager"},
    {"manager2@example.com", "James", "Okafor", "manager"},
    {"merch01@example.com", "Aisha", "Khan", "merchandiser"},
    {"merch02@example.com", "Lukas", "Schmidt", "merchandiser"},
    {"merch03@example.com", "Sofia", "Rossi", "merchandiser"},
    {"merch04@example.com", "Daniel", "Nguyen", "merchandiser"},
    {"merch05@example.com", "Emma", "Johansson", "merchandiser"},
    {"merch06@example.com", "Mateo", "Silva", "merchandiser"},
    {"merch07@example.com", "Chloe", "Martin", "merchandiser"},
    {"merch08@example.com", "Noah", "Williams", "merchandiser"},
    {"merch09@example.com", "Priya", "Patel", "merchandiser"},
    {"merch10@example.com", "Yuki", "Tanaka", "merchandiser"},
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: dtm seed [--demo]\n\n"
        "Ensure the admin account DTM_ADMIN_EMAIL (default admin@example.com). Its password is\n"
        "DTM_ADMIN_PASSWORD, or generated and printed once when the account is created.\n"
        "--demo also ensures 2 managers (manager1..2@example.com) and 10 merchandisers\n"
        "(merch01..10@example.com) with the password DTM_DEMO_PASSWORD (default \"%s\").\n"
        "Existing accounts are left unchanged, so running it again is harmless.\n",
        DEMO_PASSWORD_DEFAULT);
}

int dtm_cli_seed(int argc, char **argv)
{
    static const struct option opts[] = {
        {"demo", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    bool demo = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "dh", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            demo = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    dtm_users_cli_t c;
    int rc = dtm_users_cli_open(&c);
    if (rc)
        return rc;

    rc = 2;
    const char *raw =
        dtm_cfg.admin_email && *dtm_cfg.admin_email ? dtm_cfg.admin_email : "admin@example.com";
    char *email = users_email_normalize(c.arena, raw);
    if (!email) {
        fprintf(stderr, "dtm seed: DTM_ADMIN_EMAIL '%s' is not a valid e-mail address\n", raw);
        goto out;
    }
    const char *password =
        dtm_cfg.admin_password && *dtm_cfg.admin_password ? dtm_cfg.admin_password : NULL;
    const char *problem = password ? users_password_problem(password, email) : NULL;
    if (problem) {
        fprintf(stderr, "dtm seed: DTM_ADMIN_PASSWORD %s\n", problem);
        goto out;
    }
    const char *demo_pw = getenv("DTM_DEMO_PASSWORD");
    if (!demo_pw || !*demo_pw)
        demo_pw = DEMO_PASSWORD_DEFAULT;
    if (demo && (problem = users_password_problem(demo_pw, NULL))) {
        fprintf(stderr, "dtm seed: DTM_DEMO_PASSWORD %s\n", problem);
        goto out;
    }
    char generated[40];
    if (!password) {
        dtm_users_cli_generate_password(generated);
        password = generated;
    }

    users_row_t u;
    bool created;
    rc = dtm_users_cli_ensure(&c, email, password, "Admin", "User", "admin", false, false, &u,
                              &created);
    if (rc)
        goto out;
    if (created)
        printf("admin %s created; password %s\n", u.email,
               password == generated
                   ? dtm_arena_sprintf(c.arena, "(generated, shown once): %s", generated)
                   : "from DTM_ADMIN_PASSWORD");
    else
        printf("admin %s already exists (%s, %s); left unchanged\n", u.email, u.role,
               u.active ? "active" : "inactive");

    if (demo) {
        int made = 0;
        for (size_t i = 0; i < sizeof demo_users / sizeof demo_users[0]; i++) {
            const demo_user_t *d = &demo_users[i];
            rc = dtm_users_cli_ensure(&c, d->email, demo_pw, d->first, d->last, d->role, false,
                                      false, &u, &created);
            if (rc)
                goto out;
            made += created;
        }
        printf("demo organisation: 2 managers (manager1..2@example.com), 10 merchandisers "
               "(merch01..10@example.com); %d created now; demo password: %s\n",
               made, demo_pw);
    }
    rc = 0;
out:
    dtm_users_cli_close(&c);
    return rc;
}
