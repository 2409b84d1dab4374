/* SPDX-License-Identifier: MIT */
/* The visits job (every DTM_VISITS_JOB_INTERVAL_MS on every visits process; the advisory lock
 * in visits_db_job lets one process at a time do the work): planned visits whose local day is
 * over become missed, and active plans are materialised for the next 14 days. */
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/ticker.h"
#include "db/outbox.h"
#include "services/visits/visits.h"

static dtm_ticker_t *g_ticker;
static dtm_metric_t *g_missed, *g_created;

static void job_round(void *ud)
{
    (void)ud;
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(dtm_pg_pool_for("visits"), a);
    bool ran = false;
    long long missed = 0, created = 0;
    dtm_err_t err = db ? dtm_db_begin(db) : DTM_EDB;
    if (!err)
        err = visits_db_job(db, &ran, &missed, &created);
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        if (db)
            dtm_db_rollback(db);
        dtm_log_warn("visits job failed (%s); retrying at the next round", dtm_err_code(err));
    } else if (ran) {
        dtm_metric_add(g_missed, (double)missed);
        dtm_metric_add(g_created, (double)created);
        if (missed)
            dtm_outbox_wake(a, "visits");
        if (missed || created)
            dtm_log_info("visits job: %lld missed, %lld materialised", missed, created);
    }
    dtm_arena_free(a);
}

void visits_job_start(void)
{
    g_missed = dtm_counter("dtm_visits_missed_total", "Planned visits marked missed", NULL);
    g_created =
        dtm_counter("dtm_visits_materialised_total", "Visits materialised from plans", NULL);
    g_ticker = dtm_ticker_start(dtm_cfg.visits_job_ms, job_round, NULL);
    if (!g_ticker)
        dtm_log_error("cannot start the visits job");
}

void visits_job_stop(void)
{
    dtm_ticker_stop(g_ticker);
    g_ticker = NULL;
}
