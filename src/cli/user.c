/* SPDX-License-Identifier: MIT */
/* `dtm user create-admin --email E [--password P]` and `dtm user list`: account administration
 * straight against the users schema (through the users store, which holds all its SQL), for
 * the first admin and for recovering access. */
#include "cli/cli.h"
#include "cli/users_cli.h"
#include "services/auth/revoke.h"
#include "services/common/audit.h"
#include "core/config.h"
#include "core/ids.h"
#include "core/log.h"
#include "db/redis.h"
#include "services/users/users.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dtm_users_cli_open(dtm_users_cli_t *c)
{
    if (dtm_env_file_load() != 0)
        return 2;
    if (dtm_config_load(DTM_NEED_DB, stderr) != 0) {
        fprintf(stderr, "dtm: invalid configuration (see above)\n");
        return 2;
    }
    dtm_log_init("dtm", DTM_LOG_WARN);
    dtm_redis_init();
    c->arena = dtm_arena_new(0);
    dtm_pg_pool_t *pool = dtm_pg_pool_for("users");
    c->db = pool ? dtm_db_open(pool, c->arena) : NULL;
    if (!c->db) {
        fprintf(stderr, "dtm: cannot reach PostgreSQL for the users service\n");
        dtm_arena_free(c->arena);
        dtm_redis_shutdown();
        return 1;
    }
    return 0;
}

void dtm_users_cli_close(dtm_users_cli_t *c)
{
    dtm_arena_free(c->arena);
    dtm_pg_pools_shutdown();
    dtm_redis_shutdown();
}

void dtm_users_cli_generate_password(char out[40])
{
    dtm_random_token(out, 18); /* 24 characters, 144 bits */
}

const char *dtm_users_cli_errmsg(dtm_err_t err)
{
    if (err == DTM_EDB)
        return "database unavailable";
    if (err == DTM_EINTERNAL)
        return "database error (is the database migrated? run `dtm migrate`)";
    return dtm_err_message(err);
}

int dtm_users_cli_ensure(dtm_users_cli_t *c, const char *email, const char *password,
                         const char *first, const char *last, const char *role, bool update,
                         bool reset, users_row_t *out, bool *created)
{
    char hash[USERS_HASH_LEN];
    users_row_t cur;
    bool revoke = false;
    int64_t valid_after = 0;
    *created = false;
    dtm_err_t err = dtm_db_begin(c->db);
    if (!err) {
        err = users_store_get_by_email_secret(c->db, c->arena, email, &cur);
        if (err == DTM_ENOTFOUND) {
            err = users_password_hash(password, hash);
            if (!err)
                err =
                    users_store_insert(c->db, c->arena, email, hash, first, last, role, true, out);
            *created = err == DTM_OK;
        } else if (!err && !update) {
            *out = cur;
            out->password_hash = NULL;
        } else if (!err) {
            /* Existing account: make sure it has the role and is active; its password only
             * changes when asked to (create-admin --password). */
            err = users_store_update(c->db, c->arena, cur.id, NULL, NULL, NULL, role, 1, out);
            if (!err && reset) {
                err = users_password_hash(password, hash);
                if (!err)
                    err = users_store_set_password(c->db, cur.id, hash);
            }
            /* A new role or password takes effect on outstanding tokens at once, as through
             * the API; recorded in the audit log with the CLI as the actor. */
            revoke = !err && (reset || strcmp(cur.role, role) != 0 || !cur.active);
            if (revoke)
                err = dtm_auth_revoke_user(c->db, cur.id, &valid_after);
            if (revoke && !err)
                err = dtm_audit_append(c->db, NULL, "user.update", "user", cur.id,
                                       json_pack("{s:{s:s, s:s}, s:{s:b, s:b}, s:b}", "role",
                                                 "from", cur.role, "to", role, "active", "from",
                                                 cur.active, "to", 1, "passwordReset", reset));
        }
    }
    if (!err)
        err = dtm_db_commit(c->db);
    if (err) {
        dtm_db_rollback(c->db);
        fprintf(stderr, "dtm: cannot save %s: %s\n", email, dtm_users_cli_errmsg(err));
        return 1;
    }
    if (revoke)
        dtm_auth_revoke_user_published(out->id, valid_after);
    users_cache_del(c->arena, out->id);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: dtm user create-admin [--email E] [--password P] [--first-name F] "
            "[--last-name L]\n"
            "       dtm user list [--role admin|manager|merchandiser]\n\n"
            "create-admin creates an admin, or makes an existing account an active admin.\n"
            "Without --email it ensures DTM_ADMIN_EMAIL (default admin@example.com), with the\n"
            "password DTM_ADMIN_PASSWORD when that is set. Otherwise a new account gets a\n"
            "generated password, printed once, and an existing account keeps its password\n"
            "unless --password is given. Passwords: 10..128 characters, not the e-mail.\n");
}

static int create_admin(int argc, char **argv)
{
    static const struct option opts[] = {
        {"email", required_argument, NULL, 'e'},
        {"password", required_argument, NULL, 'p'},
        {"first-name", required_argument, NULL, 'f'},
        {"last-name", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *email = NULL, *password = NULL, *first = "Admin", *last = "User";
    const char *source = "--password";
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "e:p:f:l:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'e':
            email = optarg;
            break;
        case 'p':
            password = optarg;
            break;
        case 'f':
            first = optarg;
            break;
        case 'l':
            last = optarg;
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
    /* The configured admin (what `dtm seed` ensures) unless told otherwise; its configured
     * password applies only to it, never to an account named with --email. */
    if (!email) {
        email =
            dtm_cfg.admin_email && *dtm_cfg.admin_email ? dtm_cfg.admin_email : "admin@example.com";
        if (!password && dtm_cfg.admin_password && *dtm_cfg.admin_password) {
            password = dtm_cfg.admin_password;
            source = "DTM_ADMIN_PASSWORD";
        }
    }
    char *norm = users_email_normalize(c.arena, email);
    if (!norm) {
        fprintf(stderr, "dtm user create-admin: '%s' is not a valid e-mail address\n", email);
        goto out;
    }
    const char *problem = password ? users_password_problem(password, norm) : NULL;
    if (problem) {
        fprintf(stderr, "dtm user create-admin: the password (%s) %s\n", source, problem);
        goto out;
    }
    if (!first || !*first || strlen(first) > USERS_NAME_MAX || !last || !*last ||
        strlen(last) > USERS_NAME_MAX) {
        fprintf(stderr, "dtm user create-admin: names must be 1..100 characters\n");
        goto out;
    }
    char generated[40];
    if (!password) {
        dtm_users_cli_generate_password(generated);
        password = generated;
    }
    users_row_t u;
    bool created;
    rc = dtm_users_cli_ensure(&c, norm, password, first, last, "admin", true, password != generated,
                              &u, &created);
    if (!rc) {
        printf("admin %s (%s) %s\n", u.email, u.id, created ? "created" : "is an active admin");
        if (password == generated && created)
            printf("generated password (shown once): %s\n", generated);
        else if (password != generated)
            printf("password set from %s\n", source);
        else
            printf("password unchanged (use --password to reset it)\n");
    }
out:
    dtm_users_cli_close(&c);
    return rc;
}

static int list(int argc, char **argv)
{
    static const struct option opts[] = {
        {"role", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    users_filter_t f = {.active = -1, .page = 1, .limit = 100};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "r:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'r':
            f.role = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (f.role && strcmp(f.role, "admin") != 0 && strcmp(f.role, "manager") != 0 &&
        strcmp(f.role, "merchandiser") != 0) {
        usage(stderr);
        return 2;
    }
    dtm_users_cli_t c;
    int rc = dtm_users_cli_open(&c);
    if (rc)
        return rc;
    printf("%-36s  %-32s  %-12s  %-6s  %s\n", "ID", "EMAIL", "ROLE", "ACTIVE", "NAME");
    for (;; f.page++) {
        users_row_t *rows;
        int n;
        long long total;
        dtm_err_t err = users_store_list(c.db, c.arena, &f, &rows, &n, &total);
        if (err) {
            fprintf(stderr, "dtm user list: %s\n", dtm_users_cli_errmsg(err));
            rc = 1;
            break;
        }
        for (int i = 0; i < n; i++)
            printf("%-36s  %-32s  %-12s  %-6s  %s %s\n", rows[i].id, rows[i].email, rows[i].role,
                   rows[i].active ? "yes" : "no", rows[i].first_name, rows[i].last_name);
        if ((long long)f.page * f.limit >= total)
            break;
    }
    dtm_users_cli_close(&c);
    return rc;
}

int dtm_cli_user(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "create-admin") == 0)
        return create_admin(argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0)
        return list(argc - 1, argv + 1);
    fprintf(stderr, "dtm user: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
