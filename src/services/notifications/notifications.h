/* SPDX-License-Identifier: MIT */
/* Notifications service: every user's in-app inbox (pushed live over SSE), their per-type
 * e-mail preferences and the mail queue. Nothing calls it to notify: the other services publish
 * events through their outboxes (db/outbox.h, docs/events.md) and consume.c turns each event,
 * once, into inbox rows and queued mails. mail.c sends the queue through services/common/smtp
 * with exponential backoff and a dead-letter state. store.c holds every SQL statement of the
 * `notifications` schema. */
#ifndef DTM_SERVICES_NOTIFICATIONS_H
#define DTM_SERVICES_NOTIFICATIONS_H

#include "db/pg.h"
#include "http/http.h"
#include <jansson.h>
#include <stdbool.h>

#define NOTIF_MAIL_MAX_ATTEMPTS 8 /* the 8th failed attempt makes a mail dead */
#define NOTIF_REDIS_CHANNEL     "dtm:notifications"

/** Notification types (API.md), NULL-terminated; the keys of the preferences. */
extern const char *const notif_types[];

/* ---- store.c ---- */

/** Insert a notification for `user` (under a per-user advisory lock so that one user's seq
 *  values commit in order: the SSE resume relies on it). *row: the API columns plus seq. */
dtm_err_t notif_db_insert(dtm_db_t *db, const char *user, const char *type, const char *title,
                          const char *body, const char *link, const char *event_id, PGresult **row);
/** One page of `user`'s notifications, newest first (unread only when unread_only). */
dtm_err_t notif_db_list(dtm_db_t *db, const char *user, bool unread_only, int page, int limit,
                        PGresult **rows, long long *total);
dtm_err_t notif_db_unread_count(dtm_db_t *db, const char *user, long long *n);
/** Mark read (a read one stays as it was); DTM_ENOTFOUND when `id` is not `user`'s. */
dtm_err_t notif_db_mark_read(dtm_db_t *db, const char *user, const char *id);
dtm_err_t notif_db_read_all(dtm_db_t *db, const char *user, long long *n);
/** `user`'s notifications with seq > after, oldest first, at most `limit`. */
dtm_err_t notif_db_since(dtm_db_t *db, const char *user, long long after, int limit,
                         PGresult **rows);
/** Rows (channel, type, enabled) that differ from the default. */
dtm_err_t notif_db_prefs(dtm_db_t *db, const char *user, PGresult **rows);
dtm_err_t notif_db_pref_set(dtm_db_t *db, const char *user, const char *channel, const char *type,
                            bool enabled);
/** Whether `user` wants `type` on `channel` (default yes). */
dtm_err_t notif_db_pref_enabled(dtm_db_t *db, const char *user, const char *channel,
                                const char *type, bool *on);

/** One queued mail (strings borrowed). */
typedef struct {
    const char *kind, *user_id, *notification_id, *to, *to_name, *subject, *text, *html;
} notif_mail_t;
dtm_err_t notif_db_mail_enqueue(dtm_db_t *db, const notif_mail_t *m);
/** Claim the oldest due pending mail (FOR UPDATE SKIP LOCKED) inside the caller's
 *  transaction; *row has no rows when none is due. */
dtm_err_t notif_db_mail_claim(dtm_db_t *db, PGresult **row);
dtm_err_t notif_db_mail_sent(dtm_db_t *db, const char *id, const char *message_id);
/** A failed attempt: dead when `dead`, else due again in delay_ms. */
dtm_err_t notif_db_mail_failed(dtm_db_t *db, const char *id, const char *error, long long delay_ms,
                               bool dead);
/** Housekeeping: sent mails older than `days`. */
dtm_err_t notif_db_mail_purge(dtm_db_t *db, int days);
/** Pending mails and the age of the oldest in seconds (0 when none). */
dtm_err_t notif_db_mail_stats(dtm_db_t *db, long long *depth, double *oldest_s);

/** API object of row `i` (new reference). */
json_t *notif_row_json(const PGresult *r, int i);

/* ---- mail.c: the queue worker ---- */
void notif_mail_start(void);
void notif_mail_stop(void);
/** Look at the queue now (after an enqueue committed). */
void notif_mail_kick(void);
/** Delay before the attempt after `attempts` failed ones: base * 2^(attempts-1), capped. */
long long notif_mail_backoff_ms(int attempts, long long base_ms, long long max_ms);

/* ---- live.c: SSE fan-out ---- */
void notif_live_init(void);
/** After the commit: push notification row `i` of `r` to its user's streams, in every process
 *  (Redis pub/sub; this process directly when Redis is down). */
void notif_live_publish(dtm_arena_t *a, const PGresult *r, int i);
/** SSE topic of a user's stream (arena text). */
const char *notif_live_topic(dtm_arena_t *a, const char *user);

/* ---- handlers.c / consume.c ---- */
void notif_list(dtm_req_t *req);
void notif_unread_count(dtm_req_t *req);
void notif_read(dtm_req_t *req);
void notif_read_all(dtm_req_t *req);
void notif_stream(dtm_req_t *req);
void notif_prefs_get(dtm_req_t *req);
void notif_prefs_put(dtm_req_t *req);
void notif_event(dtm_req_t *req);

#endif
