/* SPDX-License-Identifier: MIT */
/* JSON-lines logging on stdout: {"timestamp","level","message","service",...}. Thread-safe;
 * each line is written with one write(2) so lines never interleave. */
#ifndef DTM_LOG_H
#define DTM_LOG_H

#include <jansson.h>
#include <stddef.h>

typedef enum { DTM_LOG_DEBUG = 0, DTM_LOG_INFO, DTM_LOG_WARN, DTM_LOG_ERROR } dtm_log_level_t;

/** Set the service name stamped on every line ("dtm", "api-gateway", "auth"...) and level. */
void dtm_log_init(const char *service, dtm_log_level_t level);
/** Parse "debug|info|warn|error"; -1 when unknown. */
int dtm_log_level_parse(const char *s);
dtm_log_level_t dtm_log_level(void);

/** An event line. */
void dtm_log(dtm_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** An event line with extra fields; `fields` (an object, may be NULL) is stolen. */
void dtm_log_with(dtm_log_level_t level, json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define dtm_log_debug(...) dtm_log(DTM_LOG_DEBUG, __VA_ARGS__)
#define dtm_log_info(...)  dtm_log(DTM_LOG_INFO, __VA_ARGS__)
#define dtm_log_warn(...)  dtm_log(DTM_LOG_WARN, __VA_ARGS__)
#define dtm_log_error(...) dtm_log(DTM_LOG_ERROR, __VA_ARGS__)

/** One access-log line (the HTTP core calls this once per request). Strings may be NULL. */
typedef struct {
    const char *method, *path, *upstream; /* upstream: "http://127.0.0.1:3001" when proxied */
    const char *ip, *user_agent, *request_id, *user_id;
    int status;
    double duration_ms;
    long long bytes_in, bytes_out;
} dtm_access_t;
void dtm_log_access(const dtm_access_t *a);

/** From here on, lines go through a ring of `bytes` that one writer thread drains to stdout, so
 * a stalled stdout never blocks the caller; a line that does not fit is dropped and counted.
 * 0 bytes keeps logging synchronous. Returns 0, or -1 when memory or the thread is refused. */
int dtm_log_async_start(size_t bytes);
/** Drain the ring (waiting at most timeout_ms) and go back to synchronous writes. Returns 0, or
 * -1 when stdout stayed stalled (the writer thread is then detached, its lines lost). */
int dtm_log_async_stop(int timeout_ms);
/** Lines dropped because the ring was full, since start. */
unsigned long long dtm_log_dropped(void);
/** Bytes waiting in the ring now. */
size_t dtm_log_buffered(void);

#endif
