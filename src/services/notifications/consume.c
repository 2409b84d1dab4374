/* SPDX-License-Identifier: MIT */
/* POST /api/notifications/events: one outbox event (db/outbox.h; topics and payloads in
 * docs/events.md) becomes, exactly once, inbox rows for its recipients and queued mails for
 * those who want them (security mails always). Who the recipients are and their addresses
 * come from the users service, asked before a connection of our own is taken (see todos'
 * handlers.c for why). A users service that cannot answer makes the event fail (503): the
 * relay retries it later. An unknown topic is acknowledged and ignored. */
#include "core/config.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "db/outbox.h"
#include "services/common/call.h"
#include "services/notifications/notifications.h"
#include <stdio.h>
#include <string.h>

#define MAX_RECIPIENTS 1000

typedef struct {
    const char *id, *email, *name;
    bool active;
} person_t;

typedef struct {
    const char *type; /* notification type; NULL = mail only (security mail) */
    const char *title, *body, *link;
    person_t to[MAX_RECIPIENTS];
    int n;
    /* security mail */
    const char *mail_subject, *mail_text;
} plan_t;

static void person_from_user(dtm_arena_t *a, json_t *u, person_t *p)
{
    const char *first = json_string_value(json_object_get(u, "firstName"));
    const char *last = json_string_value(json_object_get(u, "lastName"));
    p->id = dtm_arena_strdup(a, json_string_value(json_object_get(u, "id")));
    p->email = dtm_arena_strdup(a, json_string_value(json_object_get(u, "email")));
    p->name = dtm_arena_sprintf(a, "%s %s", first ? first : "", last ? last : "");
    p->active = json_is_true(json_object_get(u, "active"));
}

/* The user `id`: DTM_OK with *found; DTM_EUNAVAIL when the users service did not answer. */
static dtm_err_t lookup_user(dtm_req_t *req, const char *id, person_t *p, bool *found)
{
    int status;
    json_t *out;
    *found = false;
    dtm_err_t err = dtm_svc_call(req, "GET", dtm_arena_sprintf(req->arena, "/api/users/%s", id),
                                 NULL, &status, &out);
    if (err)
        return err;
    if (status == 404 || status == 400)
        return DTM_OK; /* gone: nobody to tell */
    json_t *u = json_object_get(out, "user");
    if (status != 200 || !json_is_object(u) || !json_is_string(json_object_get(u, "id")))
        return DTM_EUNAVAIL;
    person_from_user(req->arena, u, p);
    *found = true;
    return DTM_OK;
}

static dtm_err_t add_user(dtm_req_t *req, plan_t *pl, const char *id)
{
    if (!id || pl->n >= MAX_RECIPIENTS)
        return DTM_OK;
    for (int i = 0; i < pl->n; i++)
        if (strcmp(pl->to[i].id, id) == 0)
            return DTM_OK;
    bool found;
    dtm_err_t err = lookup_user(req, id, &pl->to[pl->n], &found);
    if (!err && found)
        pl->n++;
    return err;
}

/* Every active manager (pages of 100 from the users service). */
static dtm_err_t add_managers(dtm_req_t *req, plan_t *pl)
{
    for (int page = 1; page <= MAX_RECIPIENTS / 100; page++) {
        int status;
        json_t *out;
        dtm_err_t err = dtm_svc_call(
            req, "GET",
            dtm_arena_sprintf(req->arena, "/api/users?role=manager&active=true&limit=100&page=%d",
                              page),
            NULL, &status, &out);
        if (err)
            return err;
        json_t *items = json_object_get(out, "items");
        if (status != 200 || !json_is_array(items))
            return DTM_EUNAVAIL;
        size_t i;
        json_t *u;
        json_array_foreach(items, i, u)
        {
            if (pl->n < MAX_RECIPIENTS && json_is_string(json_object_get(u, "id")))
                person_from_user(req->arena, u, &pl->to[pl->n++]);
        }
        if (json_array_size(items) < 100)
            break;
    }
    return DTM_OK;
}

static const char *str(json_t *p, const char *k)
{
    return json_string_value(json_object_get(p, k));
}

static const char *type_label(const char *t)
{
    if (!t)
        return "approval";
    if (strcmp(t, "leave") == 0)
        return "leave";
    if (strcmp(t, "attendance_correction") == 0)
        return "attendance correction";
    if (strcmp(t, "overtime") == 0)
        return "overtime";
    if (strcmp(t, "geofence_exception") == 0)
        return "geofence exception";
    return t;
}

/* What to tell whom, per topic. DTM_EINVAL: a malformed payload (400, the relay retries until
 * someone looks: better than losing it silently). */
static dtm_err_t plan_event(dtm_req_t *req, const char *topic, json_t *p, plan_t *pl, bool *known)
{
    dtm_arena_t *a = req->arena;
    *known = true;
    if (strcmp(topic, "todo.assigned") == 0) {
        const char *todo = str(p, "todoId"), *title = str(p, "title"), *due = str(p, "dueDate");
        if (!todo || !title || !str(p, "assigneeId"))
            return DTM_EINVAL;
        person_t by = {0};
        bool found = false;
        if (str(p, "assignedBy")) {
            dtm_err_t err = lookup_user(req, str(p, "assignedBy"), &by, &found);
            if (err)
                return err;
        }
        pl->type = "todo_assigned";
        pl->title = dtm_arena_sprintf(a, "New task: %s", title);
        pl->body = dtm_arena_sprintf(a, "%s assigned you \"%s\"%s%s.", found ? by.name : "Someone",
                                     title, due ? ", due " : "", due ? due : "");
        pl->link = dtm_arena_sprintf(a, "/tasks/%s", todo);
        return add_user(req, pl, str(p, "assigneeId"));
    }
    if (strcmp(topic, "approval.requested") == 0) {
        json_t *deciders = json_object_get(p, "deciderUserIds");
        const char *id = str(p, "requestId");
        if (!id || !json_is_array(deciders))
            return DTM_EINVAL;
        json_t *step = json_object_get(p, "step");
        pl->type = "approval_requested";
        pl->title = dtm_arena_sprintf(a, "Approval needed: %s", type_label(str(p, "type")));
        pl->body = dtm_arena_sprintf(
            a, "%s is waiting for your decision on a %s request%s.",
            str(p, "requesterName") ? str(p, "requesterName") : "Someone",
            type_label(str(p, "type")),
            json_is_integer(step)
                ? dtm_arena_sprintf(a, " (step %lld)", (long long)json_integer_value(step))
                : "");
        pl->link = dtm_arena_sprintf(a, "/approvals/%s", id);
        size_t i;
        json_t *d;
        json_array_foreach(deciders, i, d)
        {
            const char *uid = json_string_value(d);
            if (uid && str(p, "requesterId") && strcmp(uid, str(p, "requesterId")) == 0)
                continue; /* nobody decides their own request */
            dtm_err_t err = add_user(req, pl, uid);
            if (err)
                return err;
        }
        return DTM_OK;
    }
    if (strcmp(topic, "approval.decided") == 0) {
        const char *id = str(p, "requestId"), *decision = str(p, "decision");
        if (!id || !decision || !str(p, "requesterId"))
            return DTM_EINVAL;
        const char *comment = str(p, "comment");
        pl->type = "approval_decided";
        pl->title =
            dtm_arena_sprintf(a, "Your %s request was %s", type_label(str(p, "type")), decision);
        pl->body = comment && *comment ? dtm_arena_sprintf(a, "Comment: %s", comment) : "";
        pl->link = dtm_arena_sprintf(a, "/approvals/%s", id);
        return add_user(req, pl, str(p, "requesterId"));
    }
    if (strcmp(topic, "audit.failed") == 0) {
        const char *id = str(p, "auditId");
        if (!id)
            return DTM_EINVAL;
        json_t *score = json_object_get(p, "scorePct");
        pl->type = "audit_failed";
        pl->title = json_is_number(score)
                        ? dtm_arena_sprintf(a, "Audit failed (%.1f%%)", json_number_value(score))
                        : "Audit failed";
        pl->body = dtm_arena_sprintf(a, "A store audit scored below its pass threshold%s%s.",
                                     str(p, "storeName") ? " at " : "",
                                     str(p, "storeName") ? str(p, "storeName") : "");
        pl->link = dtm_arena_sprintf(a, "/audits/%s", id);
        return add_managers(req, pl);
    }
    if (strcmp(topic, "visits.visit_missed") == 0) {
        const char *date = str(p, "plannedDate");
        if (!str(p, "visitId") || !date)
            return DTM_EINVAL;
        person_t who = {0};
        bool found = false;
        if (str(p, "userId")) {
            dtm_err_t err = lookup_user(req, str(p, "userId"), &who, &found);
            if (err)
                return err;
        }
        pl->type = "visit_missed";
        pl->title = dtm_arena_sprintf(a, "Visit missed on %s", date);
        pl->body = dtm_arena_sprintf(a, "%s did not visit a planned store on %s.",
                                     found ? who.name : "A merchandiser", date);
        pl->link = "/visits";
        return add_managers(req, pl);
    }
    if (strcmp(topic, "auth.password_changed") == 0 ||
        strcmp(topic, "auth.password_reset_requested") == 0) {
        const char *email = str(p, "email"), *name = str(p, "name");
        if (!email || !str(p, "userId"))
            return DTM_EINVAL;
        person_t *to = &pl->to[pl->n++];
        *to = (person_t){.id = str(p, "userId"), .email = email, .name = name, .active = true};
        const char *hello = dtm_arena_sprintf(a, "Hello %s,\n\n", name ? name : "");
        if (strcmp(topic, "auth.password_changed") == 0) {
            pl->mail_subject = "Your dtm password was changed";
            pl->mail_text = dtm_arena_sprintf(
                a,
                "%sthe password of your dtm account was changed%s%s.\n\nIf this was not you, "
                "reset it now at %s/forgot-password and tell your administrator.",
                hello, str(p, "at") ? " at " : "", str(p, "at") ? str(p, "at") : "",
                dtm_cfg.public_url);
        } else {
            const char *url = str(p, "resetUrl");
            if (!url)
                return DTM_EINVAL;
            pl->mail_subject = "Reset your dtm password";
            pl->mail_text = dtm_arena_sprintf(
                a,
                "%ssomeone (we hope you) asked to reset the password of your dtm account.\n\n"
                "Open this link to choose a new one%s%s:\n%s\n\nIf you did not ask, ignore "
                "this mail: your password stays as it is.",
                hello, str(p, "expiresAt") ? " before " : "",
                str(p, "expiresAt") ? str(p, "expiresAt") : "", url);
        }
        return DTM_OK;
    }
    *known = false;
    return DTM_OK;
}

static void html_escape(dtm_buf_t *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            dtm_buf_puts(b, "&lt;");
            break;
        case '>':
            dtm_buf_puts(b, "&gt;");
            break;
        case '&':
            dtm_buf_puts(b, "&amp;");
            break;
        case '"':
            dtm_buf_puts(b, "&quot;");
            break;
        case '\'':
            dtm_buf_puts(b, "&#39;");
            break;
        case '\n':
            dtm_buf_puts(b, "<br>");
            break;
        default:
            dtm_buf_append(b, s, 1);
        }
    }
}

/* Plain text and HTML of one mail; `url` (may be NULL) becomes a link. */
static void mail_bodies(dtm_arena_t *a, const char *heading, const char *text, const char *url,
                        const char **plain, const char **html)
{
    *plain = url ? dtm_arena_sprintf(a, "%s\n\n%s\n\nOpen: %s\n", heading, text, url)
                 : dtm_arena_sprintf(a, "%s\n", text);
    dtm_buf_t b;
    dtm_buf_init(&b);
    dtm_buf_puts(&b, "<!doctype html><html><body style=\"font-family:sans-serif\">");
    if (url) {
        dtm_buf_puts(&b, "<h2>");
        html_escape(&b, heading);
        dtm_buf_puts(&b, "</h2>");
    }
    dtm_buf_puts(&b, "<p>");
    html_escape(&b, text);
    dtm_buf_puts(&b, "</p>");
    if (url) {
        dtm_buf_puts(&b, "<p><a href=\"");
        html_escape(&b, url);
        dtm_buf_puts(&b, "\">Open in dtm</a></p>");
    }
    dtm_buf_puts(&b, "</body></html>");
    *html = dtm_arena_strdup(a, b.data);
    dtm_buf_free(&b);
}

/* Inside the transaction: the rows and mails of a fresh event. *rows collects the inserted
 * notifications for the live push after the commit. */
static dtm_err_t apply(dtm_req_t *req, dtm_db_t *db, const plan_t *pl, const char *event_id,
                       PGresult **rows, int *nrows, bool *mailed)
{
    dtm_arena_t *a = req->arena;
    for (int i = 0; i < pl->n; i++) {
        const person_t *to = &pl->to[i];
        notif_mail_t m = {.kind = pl->type ? pl->type : "security",
                          .user_id = to->id,
                          .to = to->email,
                          .to_name = to->name};
        if (!pl->type) {
            m.subject = pl->mail_subject;
            mail_bodies(a, pl->mail_subject, pl->mail_text, NULL, &m.text, &m.html);
        } else {
            PGresult *r;
            dtm_err_t err =
                notif_db_insert(db, to->id, pl->type, pl->title, pl->body, pl->link, event_id, &r);
            if (err)
                return err;
            rows[(*nrows)++] = r;
            bool on = true;
            err = notif_db_pref_enabled(db, to->id, "email", pl->type, &on);
            if (err)
                return err;
            if (!on || !to->active || !to->email || !*to->email)
                continue;
            m.notification_id = dtm_pg_get(r, 0, "id");
            m.subject = pl->title;
            mail_bodies(a, pl->title, pl->body,
                        dtm_arena_sprintf(a, "%s%s", dtm_cfg.public_url, pl->link), &m.text,
                        &m.html);
        }
        dtm_err_t err = notif_db_mail_enqueue(db, &m);
        if (err)
            return err;
        *mailed = true;
    }
    return DTM_OK;
}

void notif_event(dtm_req_t *req)
{
    json_t *body = dtm_req_json(req);
    if (!body)
        return;
    dtm_valid_t *v = dtm_req_validator(req);
    const char *event_id, *topic;
    dtm_juuid(v, body, "eventId", true, &event_id);
    dtm_jstr(v, body, "topic", true, 1, 128, &topic);
    json_t *p = json_object_get(body, "payload");
    if (!json_is_object(p))
        dtm_valid_fail(v, "payload", "must be an object");
    if (!dtm_valid_ok(v)) {
        dtm_resp_invalid(req, "Malformed event", v);
        return;
    }
    plan_t *pl = dtm_arena_calloc(req->arena, sizeof *pl);
    bool known;
    dtm_err_t err = plan_event(req, topic, p, pl, &known);
    if (err == DTM_EINVAL) {
        dtm_log_warn("notifications: malformed %s event %s", topic, event_id);
        dtm_resp_error(req, 400, "validation_failed", "Malformed event payload", NULL);
        return;
    }
    if (err) {
        dtm_svc_resp_upstream(req, err, 0, "users service");
        return;
    }
    if (!known) {
        dtm_resp_json(req, 200, json_pack("{s:b}", "applied", false));
        return;
    }
    dtm_db_t *db = dtm_svc_db(req, "notifications", req->arena);
    if (!db)
        return;
    PGresult **rows = dtm_arena_calloc(req->arena, sizeof *rows * (size_t)(pl->n + 1));
    int nrows = 0;
    bool fresh = false, mailed = false;
    err = dtm_db_begin(db);
    if (!err)
        err = dtm_outbox_claim(db, "notifications", event_id, topic, &fresh);
    if (!err && fresh)
        err = apply(req, db, pl, event_id, rows, &nrows, &mailed);
    if (!err)
        err = dtm_db_commit(db);
    if (err) {
        dtm_db_rollback(db);
        dtm_resp_err(req, err, NULL);
        return;
    }
    for (int i = 0; i < nrows; i++)
        notif_live_publish(req->arena, rows[i], 0);
    if (mailed)
        notif_mail_kick();
    dtm_resp_json(req, 200, json_pack("{s:b, s:i}", "applied", fresh, "notified", nrows));
}
