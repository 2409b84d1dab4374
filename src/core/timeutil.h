/* SPDX-License-Identifier: MIT */
#ifndef DTM_TIMEUTIL_H
#define DTM_TIMEUTIL_H

#include <stdint.h>
#include <time.h>

/** Wall clock, milliseconds since the epoch. */
int64_t dtm_now_ms(void);
/** Monotonic seconds (for durations). */
double dtm_mono_s(void);
/** `ms` milliseconds from now on `clock`, for pthread_cond_timedwait (whose condition must use
 *  the same clock). */
void dtm_deadline_after(struct timespec *ts, clockid_t clock, long ms);
/** The supported range of instants: 0001-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z
 *  (four-digit years; PostgreSQL has no year 0). */
#define DTM_TIME_MIN_MS (-62135596800000LL)
#define DTM_TIME_MAX_MS 253402300799999LL

/** "2026-11-26T09:15:00.000Z" into out[25]; the year always has four digits ("0001-..."). */
void dtm_iso8601(int64_t ms, char out[32]);
/** Parse ISO-8601 (date-time with Z or ±hh:mm offset, or a plain YYYY-MM-DD = midnight UTC).
 *  0 on success, -1 when malformed or outside DTM_TIME_MIN_MS..DTM_TIME_MAX_MS. */
int dtm_parse_iso8601(const char *s, int64_t *ms);

#endif
