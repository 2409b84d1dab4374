/* SPDX-License-Identifier: MIT */
/* The photo collector. Uploads are content-addressed files under DTM_DATA_DIR/uploads, shared by
 * punch-ins and audit answers, and stored before the row that names them (so a committed row
 * never points at a missing file); a punch-in refused after that (409) or an audit photo whose
 * save failed leaves a file nothing names. Every DTM_PHOTO_GC_INTERVAL_MS each attendance
 * process tries; a transaction-level advisory lock lets one at a time sweep (the files are
 * shared, so one owner, not one per service). A file goes when it is older than
 * DTM_PHOTO_GC_GRACE_S and neither attendance.records nor reporting.audit_photos (the audits
 * service's published read contract, DESIGN.md "Data") names it; without that view the round
 * is skipped: a reference it cannot see must not become a deletion. docs/operations.md. */
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/ticker.h"
#include "services/attendance/attendance.h"
#include "services/common/photo.h"

#define GC_MAX_FILES 100000 /* per round: a bounded transaction; the next round goes on */

static dtm_ticker_t *g_ticker;
static dtm_metric_t *g_deleted, *g_bytes, *g_errors;

static int photo_used(void *ud, const char *sha)
{
    bool used;
    return attendance_db_photo_used(ud, sha, &used) == DTM_OK ? used : -1;
}

static void gc_round(void *ud)
{
    (void)ud;
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(dtm_pg_pool_for("attendance"), a);
    bool got = false, audits = false;
    dtm_photo_gc_stats_t st = {0};
    dtm_err_t err = db ? dtm_db_begin(db) : DTM_EDB;
    if (!err)
        err = attendance_db_photo_gc_begin(db, &got, &audits);
    if (!err && got && !audits) {
        dtm_log_warn("photo gc: reporting.audit_photos is missing (audits not migrated?); "
                     "nothing is deleted");
    } else if (!err && got) {
        if (dtm_photo_gc(dtm_cfg.data_dir, dtm_cfg.photo_gc_grace_s, GC_MAX_FILES, photo_used, db,
                         &st) != 0)
            err = DTM_EINTERNAL;
    }
    if (db)
        dtm_db_rollback(db); /* read-only: the lock goes with the transaction */
    if (err) {
        dtm_metric_inc(g_errors);
        dtm_log_warn("photo gc failed (%s) after deleting %d; retrying at the next round",
                     dtm_err_code(err), st.deleted);
    }
    dtm_metric_add(g_deleted, st.deleted);
    dtm_metric_add(g_bytes, (double)st.bytes);
    if (st.deleted)
        dtm_log_info("photo gc: %d unreferenced deleted (%lld bytes); %d referenced, %d young",
                     st.deleted, st.bytes, st.referenced, st.young);
    dtm_arena_free(a);
}

void attendance_photo_gc_start(void)
{
    g_deleted = dtm_counter("dtm_photos_gc_deleted_total",
                            "Stored photos no record names, deleted after the grace period", NULL);
    g_bytes = dtm_counter("dtm_photos_gc_deleted_bytes_total", "Bytes of those photos", NULL);
    g_errors =
        dtm_counter("dtm_photos_gc_errors_total", "Photo collector rounds that failed", NULL);
    g_ticker = dtm_ticker_start(dtm_cfg.photo_gc_interval_ms, gc_round, NULL);
    if (!g_ticker)
        dtm_log_error("cannot start the photo collector");
}

void attendance_photo_gc_stop(void)
{
    dtm_ticker_stop(g_ticker);
    g_ticker = NULL;
}
