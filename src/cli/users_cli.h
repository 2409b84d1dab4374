/* SPDX-License-Identifier: MIT */
/* Shared by `dtm seed` and `dtm user` (src/cli/user.c implements it). */
#ifndef DTM_CLI_USERS_CLI_H
#define DTM_CLI_USERS_CLI_H

#include "core/arena.h"
#include "db/pg.h"
#include "services/users/users.h"
#include <stdbool.h>

typedef struct {
    dtm_arena_t *arena;
    dtm_db_t *db;
} dtm_users_cli_t;

/** Load config (env file + environment), Redis, and a users-schema connection. Returns 0, or
 *  the exit code (message on stderr). Pair with dtm_users_cli_close. */
int dtm_users_cli_open(dtm_users_cli_t *c);
void dtm_users_cli_close(dtm_users_cli_t *c);

/** 24 random URL-safe characters. */
void dtm_users_cli_generate_password(char out[40]);
/** Operator-facing text for a store error. Static storage. */
const char *dtm_users_cli_errmsg(dtm_err_t err);

/** Make sure `email` (normalised) exists, in one transaction. A new account gets `password`
 *  and `role`. An existing one is left alone unless `update`: then it is made active with
 *  `role`, and its password is replaced when `reset`. *created tells which happened. Deletes
 *  the user's cache key. 0, or 1 with a message on stderr. */
int dtm_users_cli_ensure(dtm_users_cli_t *c, const char *email, const char *password,
                         const char *first, const char *last, const char *role, bool update,
                         bool reset, users_row_t *out, bool *created);

#endif
