/* SPDX-License-Identifier: MIT */
/* Every SQL statement of the notifications schema (migrations/notifications). */
#include "core/ids.h"
#include "core/json.h"
#include "services/notifications/notifications.h"
#include <stdio.h>
#include <string.h>

#define ISO(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* clang-format off */
#define NOTIF_COLS                                                                                 \
    "id, seq, user_id, type, title, body, link, " ISO("read_at") " AS read_at, "                  \
    ISO("created_at") " AS created_at"
/* clang-format on */

const char *const notif_types[] = {"todo_assigned",
                                   "approval_requested",
                                   "approval_decided",
                                   "audit_failed",
                                   "visit_missed",
                                   "password_changed",
                                   NULL};

dtm_err_t notif_db_insert(dtm_db_t *db, const char *user, const char *type, const char *title,
                          const char *body, const char *link, const char *event_id, PGresult **row)
{
    PGresult *r;
    const char *u[] = {user};
    dtm_err_t err = dtm_db_query(
        db, &r, "SELECT pg_advisory_xact_lock(hashtextextended('dtm.notif:' || $1, 0))", 1, u);
    if (err)
        return err;
    char id[DTM_UUID_LEN + 1];
    dtm_uuid_v4(id);
    const char *p[] = {id, user, type, title, body ? body : "", link, event_id};
    return dtm_db_query(db, row,
                        "INSERT INTO notifications.notifications"
                        " (id, user_id, type, title, body, link, event_id)"
                        " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING " NOTIF_COLS,
                        7, p);
}

dtm_err_t notif_db_list(dtm_db_t *db, const char *user, bool unread_only, int page, int limit,
                        PGresult **rows, long long *total)
{
    char lim[16], off[24];
    snprintf(lim, sizeof lim, "%d", limit);
    snprintf(off, sizeof off, "%lld", (long long)(page - 1) * limit);
    const char *p[] = {user, unread_only ? "t" : "f", lim, off};
    PGresult *c;
    dtm_err_t err = dtm_db_query(db, &c,
                                 "SELECT count(*) AS n FROM notifications.notifications"
                                 " WHERE user_id = $1 AND (NOT $2::boolean OR read_at IS NULL)",
                                 2, p);
    if (err)
        return err;
    *total = dtm_pg_int(c, 0, "n", 0);
    return dtm_db_query(db, rows,
                        "SELECT " NOTIF_COLS " FROM notifications.notifications"
                        " WHERE user_id = $1 AND (NOT $2::boolean OR read_at IS NULL)"
                        " ORDER BY seq DESC LIMIT $3 OFFSET $4",
                        4, p);
}

dtm_err_t notif_db_unread_count(dtm_db_t *db, const char *user, long long *n)
{
    const char *p[] = {user};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "SELECT count(*) AS n FROM notifications.notifications"
                                 " WHERE user_id = $1 AND read_at IS NULL",
                                 1, p);
    if (!err)
        *n = dtm_pg_int(r, 0, "n", 0);
    return err;
}

dtm_err_t notif_db_mark_read(dtm_db_t *db, const char *user, const char *id)
{
    const char *p[] = {id, user};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "UPDATE notifications.notifications"
                                 " SET read_at = coalesce(read_at, now())"
                                 " WHERE id = $1 AND user_id = $2 RETURNING id",
                                 2, p);
    if (!err && PQntuples(r) == 0)
        err = DTM_ENOTFOUND;
    return err;
}

dtm_err_t notif_db_read_all(dtm_db_t *db, const char *user, long long *n)
{
    const char *p[] = {user};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "WITH u AS (UPDATE notifications.notifications SET read_at = now()"
                                 " WHERE user_id = $1 AND read_at IS NULL RETURNING 1)"
                                 " SELECT count(*) AS n FROM u",
                                 1, p);
    if (!err)
        *n = dtm_pg_int(r, 0, "n", 0);
    return err;
}

dtm_err_t notif_db_since(dtm_db_t *db, const char *user, long long after, int limit,
                         PGresult **rows)
{
    char a[24], l[16];
    snprintf(a, sizeof a, "%lld", after);
    snprintf(l, sizeof l, "%d", limit);
    const char *p[] = {user, a, l};
    return dtm_db_query(db, rows,
                        "SELECT " NOTIF_COLS " FROM notifications.notifications"
                        " WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                        3, p);
}

dtm_err_t notif_db_prefs(dtm_db_t *db, const char *user, PGresult **rows)
{
    const char *p[] = {user};
    return dtm_db_query(db, rows,
                        "SELECT channel, type, enabled FROM notifications.preferences"
                        " WHERE user_id = $1",
                        1, p);
}

dtm_err_t notif_db_pref_set(dtm_db_t *db, const char *user, const char *channel, const char *type,
                            bool enabled)
{
    const char *p[] = {user, channel, type, enabled ? "t" : "f"};
    PGresult *r;
    return dtm_db_query(db, &r,
                        "INSERT INTO notifications.preferences (user_id, channel, type, enabled)"
                        " VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, channel, type)"
                        " DO UPDATE SET enabled = excluded.enabled, updated_at = now()",
                        4, p);
}

dtm_err_t notif_db_pref_enabled(dtm_db_t *db, const char *user, const char *channel,
                                const char *type, bool *on)
{
    const char *p[] = {user, channel, type};
    PGresult *r;
    dtm_err_t err = dtm_db_query(db, &r,
                                 "SELECT enabled FROM notifications.preferences"
                                 " WHERE user_id = $1 AND channel = $2 AND type = $3",
                                 3, p);
    if (!err)
        *on = PQntuples(r) == 0 || dtm_pg_bool(r, 0, "enabled");
    return err;
}

dtm_err_t notif_db_mail_enqueue(dtm_db_t *db, const notif_mail_t *m)
{
    char id[DTM_UUID_LEN + 1];
    dtm_uuid_v4(id);
    const char *p[] = {id,         m->kind, m->user_id, m->notification_id, m->to, m->to_name,
                       m->subject, m->text, m->html};
    PGresult *r;
    return dtm_db_query(db, &r,
                        "INSERT INTO notifications.mail_queue (id, kind, user_id, notification_id,"
                        " to_addr, to_name, subject, text_body, html_body)"
                        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        9, p);
}

dtm_err_t notif_db_mail_claim(dtm_db_t *db, PGresult **row)
{
    return dtm_db_query(db, row,
                        "SELECT id, to_addr, to_name, subject, text_body, html_body, attempts"
                        " FROM notifications.mail_queue"
                        " WHERE status = 'pending' AND next_attempt_at <= now()"
                        " ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                        0, NULL);
}

dtm_err_t notif_db_mail_sent(dtm_db_t *db, const char *id, const char *message_id)
{
    const char *p[] = {id, message_id};
    PGresult *r;
    return dtm_db_query(db, &r,
                        "UPDATE notifications.mail_queue SET status = 'sent', sent_at = now(),"
                        " attempts = attempts + 1, message_id = $2, last_error = NULL"
                        " WHERE id = $1",
                        2, p);
}

dtm_err_t notif_db_mail_failed(dtm_db_t *db, const char *id, const char *error, long long delay_ms,
                               bool dead)
{
    char d[24];
    snprintf(d, sizeof d, "%lld", delay_ms);
    const char *p[] = {id, error, d, dead ? "t" : "f"};
    PGresult *r;
    return dtm_db_query(db, &r,
                        "UPDATE notifications.mail_queue SET attempts = attempts + 1,"
                        " last_error = left($2, 1000),"
                        " status = CASE WHEN $4::boolean THEN 'dead' ELSE 'pending' END,"
                        " next_attempt_at = now() + make_interval(secs => $3::bigint / 1000.0)"
                        " WHERE id = $1",
                        4, p);
}

dtm_err_t notif_db_mail_purge(dtm_db_t *db, int days)
{
    char d[16];
    snprintf(d, sizeof d, "%d", days);
    const char *p[] = {d};
    PGresult *r;
    return dtm_db_query(db, &r,
                        "DELETE FROM notifications.mail_queue WHERE status = 'sent'"
                        " AND sent_at < now() - make_interval(days => $1::int)",
                        1, p);
}

dtm_err_t notif_db_mail_stats(dtm_db_t *db, long long *depth, double *oldest_s)
{
    PGresult *r;
    dtm_err_t err = dtm_db_query(
        db, &r,
        "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8"
        " AS oldest FROM notifications.mail_queue WHERE status = 'pending'",
        0, NULL);
    if (!err) {
        *depth = dtm_pg_int(r, 0, "n", 0);
        *oldest_s = dtm_pg_double(r, 0, "oldest", 0);
    }
    return err;
}

json_t *notif_row_json(const PGresult *r, int i)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s}", "id", dtm_pg_get(r, i, "id"),
                     "userId", dtm_pg_get(r, i, "user_id"), "type", dtm_pg_get(r, i, "type"),
                     "title", dtm_pg_get(r, i, "title"), "body", dtm_pg_get(r, i, "body"), "link",
                     dtm_json_str_or_null(dtm_pg_get(r, i, "link")), "readAt",
                     dtm_json_str_or_null(dtm_pg_get(r, i, "read_at")), "createdAt",
                     dtm_pg_get(r, i, "created_at"));
}
