/* SPDX-License-Identifier: MIT */
/* Migrations are migrations/<service>/NNNN_description.sql, embedded at build time into a
 * generated table. Each runs in its own transaction and is recorded in
 * <schema>.schema_migrations(version, name, applied_at). Forward-only. */
#ifndef DTM_MIGRATE_H
#define DTM_MIGRATE_H

#include <stdio.h>

typedef struct {
    const char *service; /* folder name == schema name */
    int version;         /* NNNN */
    const char *name;    /* file name */
    const char *sql;
} dtm_migration_t;

/** Generated: every embedded migration, sorted by service then version; NULL-sql terminated. */
extern const dtm_migration_t dtm_migrations[];

/** Apply pending migrations of `service` (NULL = every service) using its database URL.
 *  Serialised across processes with an advisory lock. Progress on `log` (may be NULL).
 *  0 on success, -1 on failure (message logged). */
int dtm_migrate_run(const char *service, FILE *log);

/** Applied versions as text "service:version,..." for config snapshots (malloc'd). */
char *dtm_migrate_status(void);

/** Print a table of applied / latest / pending versions per service (or just `service`).
 *  Returns the number of pending migrations, or -1 when a database cannot be reached. */
int dtm_migrate_print_status(const char *service, FILE *out);

#endif
