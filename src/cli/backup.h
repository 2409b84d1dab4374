/* SPDX-License-Identifier: MIT */
/* Backups (issue 5): a catalogue of backups under DTM_BACKUP_DIR, one folder per backup with a
 * manifest.json written last, so that a folder without a complete manifest is never taken for
 * a good backup. Artefacts: db-<name>.dump (pg_dump custom format), files.tar.zst (uploads,
 * full or incremental against the last full), files-manifest.json (the complete file list at
 * backup time with size, mtime and SHA-256), config.json, and for full/archive backups
 * pitr-base.tar (pg_basebackup) for point-in-time recovery with the WAL archive. */
#ifndef DTM_BACKUP_H
#define DTM_BACKUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The newest complete backup in `dir`: its id and age in seconds. 0, or -1 when none. */
int dtm_backup_latest_complete(const char *dir, char *id, size_t idlen, double *age_s);

/** Register the backup gauges (dtm_backup_last_success_timestamp_seconds,
 *  dtm_backup_duration_seconds) and start a thread that re-reads the catalogue every 10 s, so
 *  that a scrape (on an event loop) never touches the disk. */
void dtm_backup_metrics_register(void);
/** Stop the thread dtm_backup_metrics_register started (shutdown). */
void dtm_backup_metrics_stop(void);

/* ---- progress (bytes, rate, ETA on a terminal; JSON log lines otherwise) ---- */
typedef struct {
    const char *what;
    uint64_t total, done;
    double started, last;
    bool tty;
} dtm_progress_t;
void dtm_progress_begin(dtm_progress_t *p, const char *what, uint64_t total);
void dtm_progress_add(dtm_progress_t *p, uint64_t n);
void dtm_progress_end(dtm_progress_t *p);

/* ---- helpers shared by the backup files ---- */
/** SHA-256 of a file as 64 hex chars into out[65]; bytes read added to *size. 0 or -1. */
int dtm_sha256_file(const char *path, char out[65], uint64_t *size);
/** Run argv (execvp) and wait; when as_postgres and we are root, runs it as the postgres
 *  user. Returns the exit status (0 = success) or -1; stderr of the child passes through. */
int dtm_run(char *const argv[], bool as_postgres);
/** dtm_run(argv, false) with PGPASSWORD=password in the child's environment only (none when
 *  password is NULL): how database passwords reach the PostgreSQL client tools, never argv. */
int dtm_run_with_password(char *const argv[], const char *password);
/** mkdir -p. 0 or -1. */
int dtm_mkdirs(const char *path, unsigned mode);
/** rm -rf (refuses "/" and ""). */
int dtm_rmtree(const char *path);
/** True when the directory does not exist or holds nothing. */
bool dtm_dir_empty(const char *path);

/* ---- files (backup_files.c) ---- */
/** Walk `root` into a JSON object {"relative/path": {"size", "mtime", "sha256"}}; entries of
 *  `previous` with equal size and mtime reuse its hash instead of reading the file again. */
json_t *dtm_files_scan(const char *root, const json_t *previous);
/** Write the files of `manifest` whose entry differs from `base` (all of them when base is
 *  NULL) into a tar.zst at `out`. *count and *bytes get what was archived. 0 or -1. */
int dtm_files_archive(const char *root, const json_t *manifest, const json_t *base, const char *out,
                      long *count, uint64_t *bytes);
/** Extract a tar.zst into `dest` (paths are checked: no absolute paths, no ".."). 0 or -1. */
int dtm_files_extract(const char *archive, const char *dest);

/* ---- database (backup_db.c) ---- */
/** Consistent dump of `url` into `out` (custom format, compressed) plus the per-table row
 *  counts and checksums taken in the same snapshot ({"schema.table": {"rows", "checksum"}}).
 *  0 or -1. */
int dtm_db_dump(const char *url, const char *out, json_t **tables);
/** Checksums of every table in `url` ({"schema.table": {"rows", "checksum"}}), or NULL. */
json_t *dtm_db_checksums(const char *url);
/** Restore a dump into `url`. `clean` drops the dumped objects first. 0 or -1. */
int dtm_db_restore(const char *url, const char *dump, bool clean);
/** True when `url` has any table outside the system schemas. -1 on connection failure. */
int dtm_db_has_tables(const char *url);
/** Create / drop a scratch database next to `url`; returns its URL (malloc'd) or NULL. */
char *dtm_db_scratch_create(const char *url);
void dtm_db_scratch_drop(const char *url, const char *scratch_url);
/** pg_basebackup (tar format: base.tar + pg_wal.tar) of the server behind `url` into the
 *  directory `out_dir`. 0 or -1. */
int dtm_db_basebackup(const char *url, const char *out_dir);
/** Point-in-time recovery: start a temporary server (under work_dir, on a private socket)
 *  from the base backup in `base_dir`, replaying the WAL archive `wal_dir` up to `target_time`
 *  (a PostgreSQL timestamp), then dump database `dbname` into `dump_out`. 0 or -1. */
int dtm_db_pitr_dump(const char *base_dir, const char *wal_dir, const char *target_time,
                     const char *dbname, const char *work_dir, const char *dump_out);
/** The database name in a URL/conninfo (malloc'd) or NULL. */
char *dtm_db_name_of(const char *url);

/* ---- S3-compatible object storage (backup_s3.c) ---- */
/** True when DTM_BACKUP_S3_URL is configured. */
bool dtm_s3_configured(void);
/** PUT a file to <DTM_BACKUP_S3_URL>/<key> signed with AWS SigV4 (libcurl). 0 or -1. */
int dtm_s3_put(const char *key, const char *path);

#endif
