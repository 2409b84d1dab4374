/* SPDX-License-Identifier: MIT */
/* The ticker: first round at once, then every interval; stop is prompt even mid-wait. */
#include "core/ticker.h"
#include "core/timeutil.h"

#include <criterion/criterion.h>
#include <stdatomic.h>
#include <unistd.h>

static atomic_int calls;

static void count(void *ud)
{
    (void)ud;
    atomic_fetch_add(&calls, 1);
}

Test(ticker, runs_at_once_then_every_interval)
{
    atomic_store(&calls, 0);
    dtm_ticker_t *t = dtm_ticker_start(50, count, NULL);
    cr_assert_not_null(t);
    usleep(20000);
    cr_assert_eq(atomic_load(&calls), 1, "first round runs immediately");
    usleep(300000);
    int n = atomic_load(&calls);
    dtm_ticker_stop(t);
    cr_assert(n >= 4 && n <= 8, "about one round per 50 ms, got %d in 320 ms", n);
}

Test(ticker, stop_does_not_wait_for_the_interval)
{
    atomic_store(&calls, 0);
    dtm_ticker_t *t = dtm_ticker_start(60000, count, NULL);
    usleep(20000);
    double t0 = dtm_mono_s();
    dtm_ticker_stop(t);
    cr_assert_lt(dtm_mono_s() - t0, 0.5);
    cr_assert_eq(atomic_load(&calls), 1);
    dtm_ticker_stop(NULL);
}

Test(ticker, kick_runs_the_next_round_early)
{
    atomic_store(&calls, 0);
    dtm_ticker_t *t = dtm_ticker_start(60000, count, NULL);
    usleep(20000);
    cr_assert_eq(atomic_load(&calls), 1);
    dtm_ticker_kick(t);
    usleep(50000);
    cr_assert_eq(atomic_load(&calls), 2, "a kick runs one round without waiting the interval");
    usleep(50000);
    cr_assert_eq(atomic_load(&calls), 2, "and only one");
    dtm_ticker_stop(t);
    dtm_ticker_kick(NULL);
}
