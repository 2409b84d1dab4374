/* SPDX-License-Identifier: MIT */
/* The transactional outbox (see outbox.h for the contract). SQL here names tables by schema;
 * the schema is a checked identifier from code, every value is a parameter. */
#include "db/outbox.h"
#include "core/config.h"
#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/ticker.h"
#include "db/redis.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ISO(c)      "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define RELAY_BATCH 50

typedef struct {
    const char *topic, *consumer;
} sub_t;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static sub_t g_subs[DTM_OUTBOX_MAX_SUBS];
static int g_nsubs;

static bool schema_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 48)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' || (i > 0 && s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

int dtm_outbox_subscribe(const char *topic, const char *consumer)
{
    int rc = 0;
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_nsubs; i++)
        if (strcmp(g_subs[i].topic, topic) == 0 && strcmp(g_subs[i].consumer, consumer) == 0)
            goto out;
    if (g_nsubs == DTM_OUTBOX_MAX_SUBS)
        rc = -1;
    else
        g_subs[g_nsubs++] = (sub_t){topic, consumer};
out:
    pthread_mutex_unlock(&g_mu);
    return rc;
}

void dtm_outbox_subscriptions_clear(void)
{
    pthread_mutex_lock(&g_mu);
    g_nsubs = 0;
    pthread_mutex_unlock(&g_mu);
}

dtm_err_t dtm_outbox_emit(dtm_db_t *db, const char *schema, const char *topic,
                          const json_t *payload, char *event_id)
{
    if (!schema_ok(schema) || !topic || !json_is_object(payload))
        return DTM_EINVAL;
    const char *consumers[DTM_OUTBOX_MAX_SUBS];
    int n = 0;
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_nsubs; i++)
        if (strcmp(g_subs[i].topic, topic) == 0)
            consumers[n++] = g_subs[i].consumer;
    pthread_mutex_unlock(&g_mu);

    char id[DTM_UUID_LEN + 1];
    dtm_uuid_v4(id);
    if (event_id)
        memcpy(event_id, id, sizeof id);
    if (n == 0)
        return DTM_OK;
    char *text = dtm_json_dumps(payload);
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.outbox (event_id, consumer, topic, payload)"
             " VALUES ($1, $2, $3, $4::jsonb)",
             schema);
    dtm_err_t err = DTM_OK;
    for (int i = 0; i < n && err == DTM_OK; i++) {
        const char *p[] = {id, consumers[i], topic, text};
        err = dtm_db_query(db, NULL, sql, 4, p);
    }
    free(text);
    return err;
}

/* ---- relays: one per schema per process, found by name for wake-ups ---- */

struct dtm_outbox_relay {
    char schema[49];
    dtm_pg_pool_t *pool;
    int retry_max_ms;
    dtm_outbox_deliver_fn fn;
    void *ud;
    dtm_ticker_t *ticker;
    dtm_metric_t *delivered, *failed, *dead;
    unsigned rounds;
    dtm_outbox_relay_t *next;
};

static dtm_outbox_relay_t *g_relays; /* under g_mu */
#define MAX_WAKE 16
static char g_wake[MAX_WAKE][49]; /* schemas with a Redis wake-up subscription, under g_mu */

static void kick_schema(const char *schema)
{
    pthread_mutex_lock(&g_mu);
    for (dtm_outbox_relay_t *r = g_relays; r; r = r->next)
        if (strcmp(r->schema, schema) == 0)
            dtm_ticker_kick(r->ticker);
    pthread_mutex_unlock(&g_mu);
}

void dtm_outbox_wake(dtm_arena_t *a, const char *schema)
{
    if (!schema_ok(schema))
        return;
    kick_schema(schema);
    dtm_redis_cmd(a, "PUBLISH dtm:outbox:%s %s", schema, "wake");
}

/* Redis wake-ups name the schema in the channel; ud is unused so that no relay pointer can
 * outlive its relay in the subscriber thread. */
static void on_wake(const char *msg, size_t len, void *ud)
{
    (void)msg;
    (void)len;
    kick_schema((const char *)ud);
}

/* After a delivery: delivered, retried later, or dead-lettered. *dead tells the last. */
static dtm_err_t mark(dtm_db_t *db, const char *schema, const char *seq, int rc, int attempts,
                      int retry_max_ms, bool *dead)
{
    char sql[320];
    *dead = false;
    int max = dtm_cfg.outbox_max_attempts;
    if (rc != 0 && (rc == DTM_OUTBOX_REFUSED || (max > 0 && attempts + 1 >= max))) {
        /* 'infinity' keeps the row out of the pending scan (and its index) without a new
         * predicate; dead_at says why. */
        char err[48];
        snprintf(err, sizeof err,
                 rc == DTM_OUTBOX_REFUSED ? "refused by the consumer" : "deliver returned %d", rc);
        snprintf(sql, sizeof sql,
                 "UPDATE %s.outbox SET attempts = attempts + 1, last_error = $2, dead_at = now(),"
                 " next_attempt_at = 'infinity' WHERE seq = $1",
                 schema);
        const char *p[] = {seq, err};
        *dead = true;
        return dtm_db_query(db, NULL, sql, 2, p);
    }
    if (rc == 0) {
        snprintf(sql, sizeof sql,
                 "UPDATE %s.outbox SET delivered_at = now(), attempts = attempts + 1,"
                 " last_error = NULL WHERE seq = $1",
                 schema);
        const char *p[] = {seq};
        return dtm_db_query(db, NULL, sql, 1, p);
    }
    /* 1 s, 2 s, 4 s ... capped: a consumer that is down is not hammered, and comes back into
     * service within retry_max_ms of its return. */
    long long delay = 1000;
    for (int i = 0; i < attempts && delay < retry_max_ms; i++)
        delay *= 2;
    if (delay > retry_max_ms)
        delay = retry_max_ms;
    char ms[24], err[32];
    snprintf(ms, sizeof ms, "%lld", delay);
    snprintf(err, sizeof err, "deliver returned %d", rc);
    snprintf(sql, sizeof sql,
             "UPDATE %s.outbox SET attempts = attempts + 1, last_error = $2,"
             " next_attempt_at = now() + make_interval(secs => $3::float8 / 1000) WHERE seq = $1",
             schema);
    const char *p[] = {seq, err, ms};
    return dtm_db_query(db, NULL, sql, 3, p);
}

dtm_err_t dtm_outbox_deliver_pending(dtm_pg_pool_t *pool, const char *schema, int max,
                                     int retry_max_ms, dtm_outbox_deliver_fn fn, void *ud,
                                     int *delivered, int *failed, int *dead)
{
    int ok = 0, bad = 0, gone = 0;
    if (dead)
        *dead = 0;
    if (delivered)
        *delivered = 0;
    if (failed)
        *failed = 0;
    if (!schema_ok(schema) || max <= 0)
        return DTM_EINVAL;
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_err_t err = DTM_EDB;
    dtm_db_t *db = dtm_db_open(pool, a);
    if (!db)
        goto out;
    err = dtm_db_begin(db);
    if (err)
        goto out;
    char sql[512], lim[16];
    snprintf(lim, sizeof lim, "%d", max);
    /* Oldest due first; rows another relay holds are skipped, not waited for. */
    snprintf(sql, sizeof sql,
             "SELECT seq, event_id, consumer, topic, payload::text AS payload, attempts, " ISO(
                 "created_at") " AS created_at FROM %s.outbox WHERE delivered_at IS NULL"
                               " AND next_attempt_at <= now() ORDER BY next_attempt_at, seq"
                               " LIMIT $1 FOR UPDATE SKIP LOCKED",
             schema);
    const char *p[] = {lim};
    PGresult *r;
    err = dtm_db_query(db, &r, sql, 1, p);
    if (err)
        goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        int attempts = (int)dtm_pg_int(r, i, "attempts", 0);
        dtm_outbox_event_t ev = {
            .schema = schema,
            .consumer = dtm_pg_get(r, i, "consumer"),
            .topic = dtm_pg_get(r, i, "topic"),
            .event_id = dtm_pg_get(r, i, "event_id"),
            .payload = dtm_pg_get(r, i, "payload"),
            .created_at = dtm_pg_get(r, i, "created_at"),
            .attempts = attempts,
        };
        int rc = fn(&ev, ud);
        if (rc == 0)
            ok++;
        else
            bad++;
        bool dead_now;
        err = mark(db, schema, dtm_pg_get(r, i, "seq"), rc, attempts, retry_max_ms, &dead_now);
        if (err)
            goto out;
        if (dead_now) {
            gone++;
            dtm_log_error("outbox %s: %s event %s to %s dead-lettered after %d attempts (requeue"
                          " with `dtm outbox requeue %s`)",
                          schema, ev.topic, ev.event_id, ev.consumer, attempts + 1, schema);
        }
    }
    err = dtm_db_commit(db);
out:
    if (err && db)
        dtm_db_rollback(db);
    dtm_arena_free(a);
    if (err) /* nothing was marked: every delivery of this round will be repeated */
        ok = bad = gone = 0;
    if (dead)
        *dead = gone;
    if (delivered)
        *delivered = ok;
    if (failed)
        *failed = bad;
    return err;
}

static void relay_round(void *arg)
{
    dtm_outbox_relay_t *r = arg;
    for (int guard = 0; guard < 100; guard++) {
        int ok = 0, bad = 0, dead = 0;
        dtm_err_t err = dtm_outbox_deliver_pending(r->pool, r->schema, RELAY_BATCH, r->retry_max_ms,
                                                   r->fn, r->ud, &ok, &bad, &dead);
        dtm_metric_add(r->delivered, ok);
        dtm_metric_add(r->failed, bad);
        dtm_metric_add(r->dead, dead);
        if (err) {
            dtm_log_warn("outbox %s: relay round failed (%s); retrying at the next poll", r->schema,
                         dtm_err_code(err));
            break;
        }
        if (ok + bad < RELAY_BATCH)
            break;
    }
    /* Delivered rows are kept a week (for inspection), then dropped: about once an hour at the
     * default poll of 1 s. */
    if (r->rounds++ % 3600 == 0) {
        dtm_arena_t *a = dtm_arena_new(0);
        dtm_db_t *db = dtm_db_open(r->pool, a);
        if (db)
            dtm_outbox_purge(db, r->schema, 7);
        dtm_arena_free(a);
    }
}

dtm_outbox_relay_t *dtm_outbox_relay_start(const char *schema, dtm_pg_pool_t *pool, int poll_ms,
                                           int retry_max_ms, dtm_outbox_deliver_fn fn, void *ud)
{
    if (!schema_ok(schema) || !pool || !fn)
        return NULL;
    pthread_mutex_lock(&g_mu);
    for (dtm_outbox_relay_t *x = g_relays; x; x = x->next)
        if (strcmp(x->schema, schema) == 0) {
            pthread_mutex_unlock(&g_mu);
            return NULL;
        }
    pthread_mutex_unlock(&g_mu);

    dtm_outbox_relay_t *r = dtm_calloc(1, sizeof *r);
    snprintf(r->schema, sizeof r->schema, "%s", schema);
    r->pool = pool;
    r->retry_max_ms = retry_max_ms;
    r->fn = fn;
    r->ud = ud;
    char labels[80];
    snprintf(labels, sizeof labels, "schema=\"%s\"", schema);
    r->delivered =
        dtm_counter("dtm_outbox_delivered_total", "Outbox events handed to their consumer", labels);
    r->failed = dtm_counter("dtm_outbox_delivery_failures_total",
                            "Outbox deliveries that failed (retried, or dead-lettered)", labels);
    r->dead = dtm_counter("dtm_outbox_dead_letters_total",
                          "Outbox events given up on: refused, or out of attempts", labels);
    pthread_mutex_lock(&g_mu);
    r->ticker = dtm_ticker_start(poll_ms, relay_round, r);
    if (r->ticker) {
        r->next = g_relays;
        g_relays = r;
    }
    pthread_mutex_unlock(&g_mu);
    if (!r->ticker) {
        free(r);
        return NULL;
    }
    /* Subscriptions live until dtm_redis_shutdown, so their ud is static storage (one slot per
     * schema, reused by a later relay of the same schema); kick_schema finds no relay after a
     * stop, so a late message is harmless. */
    const char *name = NULL;
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < MAX_WAKE && !name; i++) {
        if (!g_wake[i][0]) {
            snprintf(g_wake[i], sizeof g_wake[i], "%s", schema);
            name = g_wake[i];
        } else if (strcmp(g_wake[i], schema) == 0) {
            name = ""; /* already subscribed */
        }
    }
    pthread_mutex_unlock(&g_mu);
    char channel[80];
    snprintf(channel, sizeof channel, "dtm:outbox:%s", schema);
    if (name && *name && dtm_redis_subscribe(channel, on_wake, (void *)name) != 0)
        dtm_log_warn("outbox %s: no Redis wake-ups; polling every %d ms", schema, poll_ms);
    return r;
}

void dtm_outbox_relay_stop(dtm_outbox_relay_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&g_mu);
    for (dtm_outbox_relay_t **pp = &g_relays; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    pthread_mutex_unlock(&g_mu);
    dtm_ticker_stop(r->ticker);
    free(r);
}

dtm_err_t dtm_outbox_claim(dtm_db_t *db, const char *schema, const char *event_id,
                           const char *topic, bool *fresh)
{
    *fresh = false;
    if (!schema_ok(schema) || !event_id || !dtm_uuid_valid(event_id) || !topic)
        return DTM_EINVAL;
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.processed_events (event_id, topic) VALUES ($1, $2)"
             " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
             schema);
    const char *p[] = {event_id, topic};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r, sql, 2, p);
    if (err)
        return err;
    *fresh = PQntuples(r) == 1;
    return DTM_OK;
}

dtm_err_t dtm_outbox_requeue(dtm_db_t *db, const char *schema, const char *topic, long long *n)
{
    if (n)
        *n = 0;
    if (!schema_ok(schema))
        return DTM_EINVAL;
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE %s.outbox SET dead_at = NULL, attempts = 0, next_attempt_at = now()"
             " WHERE dead_at IS NOT NULL AND ($1::text IS NULL OR topic = $1)",
             schema);
    const char *p[] = {topic};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r, sql, 1, p);
    if (err == DTM_OK && n)
        *n = atoll(PQcmdTuples(r));
    return err;
}

static dtm_err_t purge(dtm_db_t *db, const char *table, const char *column, const char *extra,
                       const char *schema, int days)
{
    if (!schema_ok(schema) || days < 0)
        return DTM_EINVAL;
    char sql[256], d[16];
    snprintf(sql, sizeof sql,
             "DELETE FROM %s.%s WHERE %s%s < now() - make_interval(days => $1::int)", schema, table,
             extra, column);
    snprintf(d, sizeof d, "%d", days);
    const char *p[] = {d};
    return dtm_db_query(db, NULL, sql, 1, p);
}

dtm_err_t dtm_outbox_purge(dtm_db_t *db, const char *schema, int days)
{
    return purge(db, "outbox", "delivered_at", "delivered_at IS NOT NULL AND ", schema, days);
}

dtm_err_t dtm_outbox_processed_purge(dtm_db_t *db, const char *schema, int days)
{
    return purge(db, "processed_events", "processed_at", "", schema, days);
}
