/* SPDX-License-Identifier: MIT */
/* The outbox against a real PostgreSQL (DATABASE_URL; skipped when unset): an event commits or
 * rolls back with its transaction, is delivered until a delivery succeeds (backoff between
 * failures), is consumed once however often it is delivered, and a wake-up makes the relay
 * deliver without waiting for its poll. */
#include "core/config.h"
#include "core/ids.h"
#include "db/redis.h"
#include "core/timeutil.h"
#include "db/outbox.h"
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *url;
static char schema[64];
static dtm_pg_pool_t *pool;

static void exec_ok(const char *sql)
{
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(pool, a);
    cr_assert_not_null(db);
    cr_assert_eq(dtm_db_query(db, NULL, sql, 0, NULL), DTM_OK, "%s: %s", sql,
                 PQerrorMessage(dtm_db_conn(db)));
    dtm_arena_free(a);
}

/* count(*) of <schema>.<table> with an optional WHERE clause. */
static long long count(const char *table, const char *where)
{
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(pool, a);
    cr_assert_not_null(db);
    PGresult *r;
    cr_assert_eq(dtm_db_query(db, &r,
                              dtm_arena_sprintf(a, "SELECT count(*) AS n FROM %s.%s %s", schema,
                                                table, where),
                              0, NULL),
                 DTM_OK);
    long long n = dtm_pg_int(r, 0, "n", -1);
    dtm_arena_free(a);
    return n;
}

/* The same DDL as migrations/attendance/0003_outbox.sql and the consumer's processed_events. */
static void setup(void)
{
    url = getenv("DATABASE_URL");
    if (!url || !*url)
        cr_skip_test("DATABASE_URL is not set: PostgreSQL tests skipped");
    snprintf(schema, sizeof schema, "outbox_test_%d", (int)getpid());
    /* Nothing listens on port 1: wake-ups through Redis fail fast, the local kick remains. */
    dtm_cfg.redis_url = "redis://127.0.0.1:1/0";
    pool = dtm_pg_pool_new(url, 4, 2000);
    dtm_arena_t *a = dtm_arena_new(0);
    exec_ok(dtm_arena_sprintf(a, "DROP SCHEMA IF EXISTS %s CASCADE", schema));
    exec_ok(dtm_arena_sprintf(a, "CREATE SCHEMA %s", schema));
    exec_ok(dtm_arena_sprintf(
        a,
        "CREATE TABLE %s.outbox (seq bigserial PRIMARY KEY, event_id uuid NOT NULL,"
        " consumer text NOT NULL, topic text NOT NULL, payload jsonb NOT NULL,"
        " created_at timestamptz NOT NULL DEFAULT now(), attempts integer NOT NULL DEFAULT 0,"
        " next_attempt_at timestamptz NOT NULL DEFAULT now(), delivered_at timestamptz,"
        " last_error text, dead_at timestamptz, UNIQUE (event_id, consumer))",
        schema));
    exec_ok(dtm_arena_sprintf(a,
                              "CREATE TABLE %s.processed_events (event_id uuid PRIMARY KEY,"
                              " topic text NOT NULL, processed_at timestamptz NOT NULL"
                              " DEFAULT now())",
                              schema));
    dtm_arena_free(a);
    dtm_outbox_subscriptions_clear();
    cr_assert_eq(dtm_outbox_subscribe("thing.happened", "alpha"), 0);
    cr_assert_eq(dtm_outbox_subscribe("thing.happened", "beta"), 0);
    cr_assert_eq(dtm_outbox_subscribe("thing.happened", "beta"), 0, "duplicates are ignored");
    cr_assert_eq(dtm_outbox_subscribe("other.thing", "alpha"), 0);
}

static void teardown(void)
{
    if (!pool)
        return;
    dtm_arena_t *a = dtm_arena_new(0);
    exec_ok(dtm_arena_sprintf(a, "DROP SCHEMA IF EXISTS %s CASCADE", schema));
    dtm_arena_free(a);
    dtm_pg_pool_free(pool);
    pool = NULL;
    dtm_redis_shutdown();
    dtm_outbox_subscriptions_clear();
}

/* Emits one event in its own transaction, committed or not. */
static void emit(const char *topic, bool commit, char event_id[37])
{
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(pool, a);
    cr_assert_eq(dtm_db_begin(db), DTM_OK);
    json_t *payload = json_pack("{s:s, s:i}", "what", "x", "n", 7);
    cr_assert_eq(dtm_outbox_emit(db, schema, topic, payload, event_id), DTM_OK);
    json_decref(payload);
    if (commit)
        cr_assert_eq(dtm_db_commit(db), DTM_OK);
    else
        dtm_db_rollback(db);
    dtm_arena_free(a);
}

Test(outbox, event_commits_and_rolls_back_with_its_transaction, .init = setup, .fini = teardown)
{
    char id[37];
    emit("thing.happened", false, id);
    cr_assert_eq(count("outbox", ""), 0, "rolled back with the change");
    emit("thing.happened", true, id);
    cr_assert(dtm_uuid_valid(id));
    cr_assert_eq(count("outbox", ""), 2, "one row per consumer");
    emit("nobody.listens", true, id);
    cr_assert_eq(count("outbox", ""), 2, "no consumer, no row");
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(pool, a);
    json_t *p = json_object();
    cr_assert_eq(dtm_outbox_emit(db, "bad-schema; DROP", "thing.happened", p, NULL), DTM_EINVAL);
    json_decref(p);
    dtm_arena_free(a);
}

typedef struct {
    atomic_int calls;
    int fail_first; /* fail this many calls */
    char last_payload[256], last_consumer[32];
} sink_t;

static int sink(const dtm_outbox_event_t *ev, void *ud)
{
    sink_t *s = ud;
    int n = atomic_fetch_add(&s->calls, 1);
    snprintf(s->last_payload, sizeof s->last_payload, "%s", ev->payload);
    snprintf(s->last_consumer, sizeof s->last_consumer, "%s", ev->consumer);
    return n < s->fail_first ? 503 : 0;
}

Test(outbox, failed_delivery_is_retried_after_backoff_then_not_again, .init = setup,
     .fini = teardown)
{
    char id[37];
    emit("other.thing", true, id);
    sink_t s = {.fail_first = 1};
    int ok, bad;
    cr_assert_eq(dtm_outbox_deliver_pending(pool, schema, 10, 60000, sink, &s, &ok, &bad, NULL),
                 DTM_OK);
    cr_assert_eq(ok, 0);
    cr_assert_eq(bad, 1);
    cr_assert(strstr(s.last_payload, "\"n\": 7") || strstr(s.last_payload, "\"n\":7"));
    cr_assert_str_eq(s.last_consumer, "alpha");
    /* Backing off: not due again yet. */
    cr_assert_eq(dtm_outbox_deliver_pending(pool, schema, 10, 60000, sink, &s, &ok, &bad, NULL),
                 DTM_OK);
    cr_assert_eq(ok + bad, 0);
    cr_assert_eq(count("outbox", "WHERE attempts = 1 AND next_attempt_at"
                                 " > now() + interval '0.5 s' AND last_error IS NOT NULL"),
                 1);
    dtm_arena_t *a = dtm_arena_new(0);
    exec_ok(dtm_arena_sprintf(a, "UPDATE %s.outbox SET next_attempt_at = now()", schema));
    dtm_arena_free(a);
    cr_assert_eq(dtm_outbox_deliver_pending(pool, schema, 10, 60000, sink, &s, &ok, &bad, NULL),
                 DTM_OK);
    cr_assert_eq(ok, 1);
    cr_assert_eq(dtm_outbox_deliver_pending(pool, schema, 10, 60000, sink, &s, &ok, &bad, NULL),
                 DTM_OK);
    cr_assert_eq(ok + bad, 0, "delivered once, never again");
    cr_assert_eq(atomic_load(&s.calls), 2);
    cr_assert_eq(count("outbox", "WHERE delivered_at IS NOT NULL"), 1);
}

static int refuse(const dtm_outbox_event_t *ev, void *ud)
{
    (void)ev;
    atomic_fetch_add(&((sink_t *)ud)->calls, 1);
    return DTM_OUTBOX_REFUSED;
}

Test(outbox, refused_or_out_of_attempts_is_dead_lettered_until_requeued, .init = setup,
     .fini = teardown)
{
    char id[37];
    dtm_arena_t *a = dtm_arena_new(0);
    const char *due = dtm_arena_sprintf(a,
                                        "UPDATE %s.outbox SET next_attempt_at = now()"
                                        " WHERE dead_at IS NULL",
                                        schema);
    dtm_cfg.outbox_max_attempts = 3;
    emit("other.thing", true, id); /* alpha only */
    sink_t s = {.fail_first = 1000};
    int ok, bad, dead;
    for (int i = 1; i <= 3; i++) {
        cr_assert_eq(
            dtm_outbox_deliver_pending(pool, schema, 10, 60000, sink, &s, &ok, &bad, &dead),
            DTM_OK);
        cr_assert_eq(bad, 1);
        cr_assert_eq(dead, i == 3 ? 1 : 0, "dead at the third failure, not before (round %d)", i);
        exec_ok(due);
    }
    cr_assert_eq(count("outbox", "WHERE dead_at IS NOT NULL AND attempts = 3"
                                 " AND next_attempt_at = 'infinity' AND delivered_at IS NULL"),
                 1);
    cr_assert_eq(dtm_outbox_deliver_pending(pool, schema, 10, 60000, sink, &s, &ok, &bad, &dead),
                 DTM_OK);
    cr_assert_eq(ok + bad, 0, "a dead letter is not tried again");

    /* Refused for good: dead at once, whatever the attempts left. */
    emit("thing.happened", true, id); /* alpha and beta */
    sink_t r = {0};
    cr_assert_eq(dtm_outbox_deliver_pending(pool, schema, 10, 60000, refuse, &r, &ok, &bad, &dead),
                 DTM_OK);
    cr_assert_eq(dead, 2);
    cr_assert_eq(atomic_load(&r.calls), 2);
    cr_assert_eq(count("outbox", "WHERE dead_at IS NOT NULL"), 3);

    /* Requeued (one topic, then the rest): delivered by a consumer that is back. */
    dtm_db_t *db = dtm_db_open(pool, a);
    long long n = -1;
    cr_assert_eq(dtm_outbox_requeue(db, schema, "other.thing", &n), DTM_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(dtm_outbox_requeue(db, schema, NULL, &n), DTM_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(dtm_outbox_requeue(db, "bad-schema; DROP", NULL, &n), DTM_EINVAL);
    sink_t good = {0};
    cr_assert_eq(dtm_outbox_deliver_pending(pool, schema, 10, 60000, sink, &good, &ok, &bad, &dead),
                 DTM_OK);
    cr_assert_eq(ok, 3);
    cr_assert_eq(count("outbox", "WHERE delivered_at IS NOT NULL AND dead_at IS NULL"), 3);
    dtm_cfg.outbox_max_attempts = 0;
    dtm_arena_free(a);
}

Test(outbox, claim_applies_an_event_once, .init = setup, .fini = teardown)
{
    char id[37];
    dtm_uuid_v4(id);
    for (int round = 0; round < 3; round++) {
        dtm_arena_t *a = dtm_arena_new(0);
        dtm_db_t *db = dtm_db_open(pool, a);
        cr_assert_eq(dtm_db_begin(db), DTM_OK);
        bool fresh = true;
        cr_assert_eq(dtm_outbox_claim(db, schema, id, "thing.happened", &fresh), DTM_OK);
        cr_assert_eq(fresh, round == 0, "round %d", round);
        /* The first attempt rolls back (the consumer failed): the event is not consumed. */
        if (round == 0) {
            dtm_db_rollback(db);
            dtm_arena_free(a);
            a = dtm_arena_new(0);
            db = dtm_db_open(pool, a);
            cr_assert_eq(dtm_db_begin(db), DTM_OK);
            cr_assert_eq(dtm_outbox_claim(db, schema, id, "thing.happened", &fresh), DTM_OK);
            cr_assert(fresh, "a rolled-back claim leaves the event unprocessed");
        }
        cr_assert_eq(dtm_db_commit(db), DTM_OK);
        dtm_arena_free(a);
    }
    cr_assert_eq(count("processed_events", ""), 1);
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_db_t *db = dtm_db_open(pool, a);
    bool fresh;
    cr_assert_eq(dtm_outbox_claim(db, schema, "not-a-uuid", "t", &fresh), DTM_EINVAL);
    cr_assert_eq(dtm_outbox_processed_purge(db, schema, 0), DTM_OK);
    cr_assert_eq(dtm_outbox_purge(db, schema, 0), DTM_OK);
    dtm_arena_free(a);
    cr_assert_eq(count("processed_events", ""), 0);
}

Test(outbox, wake_makes_the_relay_deliver_before_its_poll, .init = setup, .fini = teardown)
{
    sink_t s = {0};
    /* A 60 s poll: only the first round (at start) and wake-ups run within this test. */
    dtm_outbox_relay_t *r = dtm_outbox_relay_start(schema, pool, 60000, 1000, sink, &s);
    cr_assert_not_null(r);
    cr_assert_null(dtm_outbox_relay_start(schema, pool, 60000, 1000, sink, &s),
                   "one relay per schema");
    usleep(200000);
    char id[37];
    emit("thing.happened", true, id);
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_outbox_wake(a, schema); /* no Redis configured here: the local kick alone */
    dtm_arena_free(a);
    double t0 = dtm_mono_s();
    while (atomic_load(&s.calls) < 2 && dtm_mono_s() - t0 < 3)
        usleep(10000);
    dtm_outbox_relay_stop(r);
    cr_assert_eq(atomic_load(&s.calls), 2, "both consumers' rows delivered after the wake");
    cr_assert_eq(count("outbox", "WHERE delivered_at IS NULL"), 0);
}
