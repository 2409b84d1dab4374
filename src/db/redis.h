/* SPDX-License-Identifier: MIT */
/* Redis: a small pool of blocking hiredis connections with connect and command timeouts, and a
 * circuit breaker, so that when Redis is down callers get NULL at once (no stall per request)
 * and fall back to PostgreSQL. Redis is never the only copy of anything. */
#ifndef DTM_REDIS_H
#define DTM_REDIS_H

#include "core/arena.h"
#include <hiredis/hiredis.h>
#include <stdbool.h>

/** Initialise from dtm_cfg.redis_url. Never fails: an unreachable Redis is "down". */
void dtm_redis_init(void);
void dtm_redis_shutdown(void);

/** Run one command (hiredis printf-style format with %s/%b arguments, never user text
 *  interpolated into the format). Reply attached to the arena (may be NULL arena: then the caller
 *  frees with freeReplyObject). Returns NULL when Redis is down or the command failed; a
 *  REDIS_REPLY_ERROR reply is returned as-is. */
redisReply *dtm_redis_cmd(dtm_arena_t *a, const char *fmt, ...);
/** argv form. */
redisReply *dtm_redis_cmdargv(dtm_arena_t *a, int argc, const char **argv, const size_t *lens);

/** True when the last contact succeeded (for /health: "ok" vs "degraded"). Pings if the last
 *  contact is over 1 s old, so it may block up to DTM_REDIS_TIMEOUT_MS: not on an event loop.
 *  After a failure every call returns NULL at once for 1 s; then one caller probes. */
bool dtm_redis_up(void);

/** Subscribe to a channel on a background thread (reconnects by itself). cb runs on that
 *  thread for every message. Call before or after init; returns 0 or -1. */
int dtm_redis_subscribe(const char *channel, void (*cb)(const char *msg, size_t len, void *ud),
                        void *ud);

/** Split redis://[[user]:password@]host[:port][/db] (defaults port 6379, db 0). 0 or -1. */
int dtm_redis_parse_url(const char *url, char *host, size_t host_cap, int *port, char *password,
                        size_t pw_cap, int *db);
/** The same, with the ACL user name ("" when the URL has none). User and password are
 *  percent-decoded (RFC 3986 userinfo); a malformed escape is an error. */
int dtm_redis_parse_url_user(const char *url, char *host, size_t host_cap, int *port, char *user,
                             size_t user_cap, char *password, size_t pw_cap, int *db);

/** Gauges for /metrics: up, commands, errors, pool size. */
typedef struct {
    bool up;
    unsigned long long commands, errors;
} dtm_redis_stats_t;
void dtm_redis_stats(dtm_redis_stats_t *out);

#endif
