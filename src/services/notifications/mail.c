/* SPDX-License-Identifier: MIT */
/* The mail queue worker: every DTM_MAIL_POLL_MS (and at once after an enqueue) it sends the due
 * mails one by one, each in its own transaction holding that row (FOR UPDATE SKIP LOCKED, so
 * replicas share the queue and never send one mail twice at once). A failed attempt is retried
 * after DTM_MAIL_RETRY_BASE_MS, doubling up to DTM_MAIL_RETRY_MAX_MS; the 8th failure, or a mail
 * that can never go (no SMTP configured, a bad address), makes it dead. A process killed
 * between the server's acceptance and the commit sends that one mail again: delivery is at
 * least once, the window one SMTP round trip. */
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/ticker.h"
#include "core/timeutil.h"
#include "db/outbox.h"
#include "services/common/smtp.h"
#include "services/notifications/notifications.h"

#define ROUND_MAX                                                                                  \
    100 /* mails per round; the next round follows at once when the batch was full                 \
         */

static dtm_ticker_t *g_ticker;
static dtm_metric_t *g_sent, *g_failed, *g_dead, *g_depth, *g_oldest;

long long notif_mail_backoff_ms(int attempts, long long base_ms, long long max_ms)
{
    long long d = base_ms;
    for (int i = 1; i < attempts && d < max_ms; i++)
        d *= 2;
    return d < max_ms ? d : max_ms;
}

/* One mail: true when one was due (sent or not). */
static bool send_one(dtm_db_t *db)
{
    PGresult *r;
    dtm_err_t err = dtm_db_begin(db);
    if (!err)
        err = notif_db_mail_claim(db, &r);
    if (err || PQntuples(r) == 0) {
        dtm_db_rollback(db);
        return false;
    }
    const char *id = dtm_pg_get(r, 0, "id");
    dtm_mail_t m = {
        .to = dtm_pg_get(r, 0, "to_addr"),
        .to_name = dtm_pg_get(r, 0, "to_name"),
        .subject = dtm_pg_get(r, 0, "subject"),
        .text = dtm_pg_get(r, 0, "text_body"),
        .html = dtm_pg_get(r, 0, "html_body"),
    };
    int attempts = (int)dtm_pg_int(r, 0, "attempts", 0) + 1;
    char msgid[128], why[512];
    dtm_err_t sent = dtm_smtp_send(&m, msgid, why, sizeof why);
    bool dead = false;
    if (sent == DTM_OK) {
        err = notif_db_mail_sent(db, id, msgid);
    } else {
        dead = sent == DTM_EINVAL || attempts >= NOTIF_MAIL_MAX_ATTEMPTS;
        long long delay =
            notif_mail_backoff_ms(attempts, dtm_cfg.mail_retry_base_ms, dtm_cfg.mail_retry_max_ms);
        err = notif_db_mail_failed(db, id, why, delay, dead);
        if (dead)
            dtm_log_error("mail %s is dead after %d attempts: %s", id, attempts, why);
        else
            dtm_log_warn("mail %s: attempt %d failed (%s); retry in %lld ms", id, attempts, why,
                         delay);
    }
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        dtm_log_warn("mail queue: cannot record the attempt on %s (%s)", id, dtm_err_code(err));
        return false;
    }
    if (sent == DTM_OK)
        dtm_metric_inc(g_sent);
    else
        dtm_metric_inc(dead ? g_dead : g_failed);
    return true;
}

/* Once an hour: ids of events processed 30 days ago (no relay retries that long) and mails
 * sent 30 days ago go; dead mails stay for the operator. */
static void housekeeping(dtm_db_t *db)
{
    static double last;
    double now = dtm_mono_s();
    if (last != 0 && now - last < 3600)
        return;
    last = now;
    if (dtm_outbox_processed_purge(db, "notifications", 30) != DTM_OK ||
        notif_db_mail_purge(db, 30) != DTM_OK)
        dtm_log_warn("notifications housekeeping failed; retrying in an hour");
}

static void round_cb(void *ud)
{
    (void)ud;
    for (int batch = 0; batch < 50; batch++) {
        dtm_arena_t *a = dtm_arena_new(0);
        dtm_db_t *db = dtm_db_open(dtm_pg_pool_for("notifications"), a);
        int n = 0;
        while (db && n < ROUND_MAX && send_one(db))
            n++;
        if (db && batch == 0)
            housekeeping(db);
        long long depth;
        double oldest;
        if (db && notif_db_mail_stats(db, &depth, &oldest) == DTM_OK) {
            dtm_metric_set(g_depth, (double)depth);
            dtm_metric_set(g_oldest, oldest);
        }
        dtm_arena_free(a);
        if (n < ROUND_MAX)
            break;
    }
}

void notif_mail_start(void)
{
    g_sent = dtm_counter("dtm_mail_sent_total", "Mails accepted by the SMTP server", NULL);
    g_failed =
        dtm_counter("dtm_mail_failed_total", "Failed mail attempts that will be retried", NULL);
    g_dead = dtm_counter("dtm_mail_dead_total", "Mails given up (dead-lettered)", NULL);
    g_depth = dtm_gauge("dtm_mail_queue_depth", "Mails waiting to be sent", NULL);
    g_oldest = dtm_gauge("dtm_mail_queue_oldest_age_seconds",
                         "Age of the oldest mail waiting to be sent", NULL);
    g_ticker = dtm_ticker_start(dtm_cfg.mail_poll_ms, round_cb, NULL);
    if (!g_ticker)
        dtm_log_error("cannot start the mail queue worker");
}

void notif_mail_kick(void)
{
    dtm_ticker_kick(g_ticker);
}

void notif_mail_stop(void)
{
    dtm_ticker_stop(g_ticker);
    g_ticker = NULL;
}
