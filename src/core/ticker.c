/* SPDX-License-Identifier: MIT */
#include "core/ticker.h"
#include "core/timeutil.h"
#include "core/arena.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct dtm_ticker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    bool kicked; /* dtm_ticker_kick: run the next round now */
    int interval_ms;
    void (*fn)(void *);
    void *ud;
};

static void *ticker_main(void *arg)
{
    dtm_ticker_t *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        pthread_mutex_unlock(&t->mu);
        t->fn(t->ud);
        pthread_mutex_lock(&t->mu);
        struct timespec ts;
        dtm_deadline_after(&ts, CLOCK_MONOTONIC, t->interval_ms);
        while (!t->stop && !t->kicked && pthread_cond_timedwait(&t->cv, &t->mu, &ts) == 0)
            ; /* woken early (spuriously): wait out the rest unless stopping or kicked */
        t->kicked = false;
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

dtm_ticker_t *dtm_ticker_start(int interval_ms, void (*fn)(void *), void *ud)
{
    dtm_ticker_t *t = dtm_calloc(1, sizeof *t);
    t->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    t->fn = fn;
    t->ud = ud;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&t->mu, NULL);
    if (pthread_create(&t->thread, NULL, ticker_main, t) != 0) {
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return NULL;
    }
    return t;
}

void dtm_ticker_kick(dtm_ticker_t *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->kicked = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

void dtm_ticker_stop(dtm_ticker_t *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
