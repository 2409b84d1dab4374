/* SPDX-License-Identifier: MIT */
#ifndef DTM_TIMEUTIL_H
#define DTM_TIMEUTIL_H

#include <stdint.h>

/** Wall clock, milliseconds since the epoch. */
int64_t dtm_now_ms(void);
/** Monotonic seconds (for durations). */
double dtm_mono_s(void);
/** "2026-11-26T09:15:00.000Z" into out[25]. */
void dtm_iso8601(int64_t ms, char out[32]);
/** Parse ISO-8601 (date-time with Z or ±hh:mm offset, or a plain YYYY-MM-DD = midnight UTC).
 *  0 on success, -1 when malformed. */
int dtm_parse_iso8601(const char *s, int64_t *ms);

#endif
