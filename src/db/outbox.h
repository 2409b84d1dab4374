/* SPDX-License-Identifier: MIT */
/* The transactional outbox: how one service tells others that something happened, without
 * losing it to a crash, a restart or a Redis outage (DESIGN.md "Data").
 *
 * Publisher: inside the transaction that makes the change, dtm_outbox_emit writes one row per
 * subscribed consumer into <schema>.outbox (the publishing service's own schema; its migration
 * creates the table, see migrations/attendance/0003_outbox.sql). The change and its event
 * commit or roll back together. After the commit, dtm_outbox_wake asks the relays to look now.
 *
 * Relay: wherever the publishing service runs, a relay thread (dtm_outbox_relay_start) claims
 * pending rows (FOR UPDATE SKIP LOCKED, so replicas share the work), hands each to a deliver
 * callback and marks it delivered on success, or retries it later with a capped exponential
 * backoff. An event the consumer refuses for good (DTM_OUTBOX_REFUSED), or that failed
 * DTM_OUTBOX_MAX_ATTEMPTS times, is dead-lettered: kept with dead_at set and never tried again
 * until an operator requeues it (dtm_outbox_requeue, `dtm outbox requeue`), counted in
 * dtm_outbox_dead_letters_total and logged at error level. It wakes on dtm_outbox_wake in this
 * process, on the Redis channel "dtm:outbox:<schema>" (other replicas), and every
 * DTM_OUTBOX_POLL_MS in any case: Redis is only a wake-up, the rows are the copy. Delivery is at
 * least once.
 *
 * Consumer: handles each event inside its own transaction and first calls dtm_outbox_claim,
 * which records the event id in <schema>.processed_events (the consumer's schema); a repeat of
 * an event already processed is answered as done without applying it again. Exactly-once effect
 * = at-least-once delivery + this dedupe in the same transaction as the effect.
 *
 * Schema names are identifiers from code ([a-z_][a-z0-9_]*, at most 48), never request input. */
#ifndef DTM_OUTBOX_H
#define DTM_OUTBOX_H

#include "db/pg.h"
#include <jansson.h>
#include <stdbool.h>

#define DTM_OUTBOX_MAX_SUBS 64

/** Declare that `consumer` wants events of `topic` (both static strings). Process-wide; call at
 *  start, before any emit (every process declares every subscription of the binary, whichever
 *  services it serves, so a publisher knows its consumers). Duplicates are ignored. Returns 0,
 *  or -1 when the table is full. */
int dtm_outbox_subscribe(const char *topic, const char *consumer);
/** Forget every subscription (tests). */
void dtm_outbox_subscriptions_clear(void);

/** Inside the caller's open transaction on `db`: one row per consumer of `topic` in
 *  <schema>.outbox carrying `payload` (borrowed; a JSON object). event_id (may be NULL) gets the
 *  new event's id. No consumer: nothing is written, DTM_OK. Errors as dtm_db_query (the caller
 *  rolls back); DTM_EINVAL for a bad schema name. */
dtm_err_t dtm_outbox_emit(dtm_db_t *db, const char *schema, const char *topic,
                          const json_t *payload, char *event_id);

/** After the commit of an emit: wake the relay of `schema` in this process and, through Redis
 *  (when up), those of other processes. Never blocks long; failing it only delays delivery to the
 *  next poll. `a` holds the Redis reply. */
void dtm_outbox_wake(dtm_arena_t *a, const char *schema);

/** One pending event as the deliver callback sees it (strings valid during the call). */
typedef struct {
    const char *schema, *consumer, *topic, *event_id;
    const char *payload;    /* JSON text */
    const char *created_at; /* ISO-8601 */
    int attempts;           /* earlier failed attempts */
} dtm_outbox_event_t;

/** A deliver callback's answer when the consumer will never take the event (it refused its
 *  payload): the event is dead-lettered at once instead of retried. */
#define DTM_OUTBOX_REFUSED 1

/** 0 when the consumer has the event (it is then marked delivered), DTM_OUTBOX_REFUSED to
 *  dead-letter it, anything else to retry later (dead-lettered after dtm_cfg.outbox_max_attempts
 *  failures; 0 there means never). Called on the relay thread, with the claiming transaction open
 * on another connection. */
typedef int (*dtm_outbox_deliver_fn)(const dtm_outbox_event_t *ev, void *ud);

/** Deliver up to `max` due events of <schema>.outbox, synchronously, on a connection of `pool`.
 *  *delivered / *failed / *dead (may be NULL) get the counts (dead: dead-lettered this round,
 *  also counted in failed). retry_max_ms caps the backoff
 *  (1 s, 2 s, 4 s, ... per failed attempt). DTM_EDB when PostgreSQL is unreachable. */
dtm_err_t dtm_outbox_deliver_pending(dtm_pg_pool_t *pool, const char *schema, int max,
                                     int retry_max_ms, dtm_outbox_deliver_fn fn, void *ud,
                                     int *delivered, int *failed, int *dead);

typedef struct dtm_outbox_relay dtm_outbox_relay_t;

/** Start the relay thread of `schema` (see the top of this file): rounds every poll_ms and on
 *  every wake; a round repeats while it finds full batches. One relay per schema per process.
 *  NULL when the thread cannot start or one already runs. */
dtm_outbox_relay_t *dtm_outbox_relay_start(const char *schema, dtm_pg_pool_t *pool, int poll_ms,
                                           int retry_max_ms, dtm_outbox_deliver_fn fn, void *ud);
/** Stop and free (a running round finishes first). NULL-safe. */
void dtm_outbox_relay_stop(dtm_outbox_relay_t *r);

/** Consumer side, inside the consumer's open transaction on `db`: record `event_id` (a UUID) of
 *  `topic` in <schema>.processed_events. *fresh = true the first time (apply the event, then
 *  commit), false when it was already processed (do nothing more). A concurrent duplicate
 *  waits on the first one's row lock, so two deliveries at once still apply once. */
dtm_err_t dtm_outbox_claim(dtm_db_t *db, const char *schema, const char *event_id,
                           const char *topic, bool *fresh);

/** Operator: give every dead-lettered event of <schema>.outbox (all when topic is NULL, else
 *  that topic's) a fresh start: due now, attempts 0. *n (may be NULL) gets the count. */
dtm_err_t dtm_outbox_requeue(dtm_db_t *db, const char *schema, const char *topic, long long *n);

/** Housekeeping: delete delivered outbox rows / processed-event ids older than `days`. */
dtm_err_t dtm_outbox_purge(dtm_db_t *db, const char *schema, int days);
dtm_err_t dtm_outbox_processed_purge(dtm_db_t *db, const char *schema, int days);

#endif
