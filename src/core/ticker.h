/* SPDX-License-Identifier: MIT */
/* A background thread that runs one function at once and then every interval, until stopped
 * (health probes, the gateway's upstream checks, rate-limit sync, backup gauges). Waits on
 * CLOCK_MONOTONIC, so a wall-clock jump neither stalls nor hurries it. */
#ifndef DTM_TICKER_H
#define DTM_TICKER_H

typedef struct dtm_ticker dtm_ticker_t;

/** Start: fn(ud) runs on the new thread immediately, then every interval_ms (measured from
 *  the end of one round to the start of the next). NULL when the thread cannot be created. */
dtm_ticker_t *dtm_ticker_start(int interval_ms, void (*fn)(void *), void *ud);

/** Run the next round as soon as the current one (if any) ends, instead of at the end of the
 *  interval; kicks during a round coalesce into one extra round. Any thread; NULL-safe. */
void dtm_ticker_kick(dtm_ticker_t *t);

/** Wake the thread, let a running round finish, join it and free the ticker. NULL-safe. */
void dtm_ticker_stop(dtm_ticker_t *t);

#endif
