/* SPDX-License-Identifier: MIT */
/* Wiring of the outbox (db/outbox.h) to the services: subscriptions come from the service
 * table, and a relay delivers each event to its consumer's internal route through dtm_call, so
 * the same code serves `all` (in-process) and the microservices topology (HTTP to
 * DTM_UPSTREAM_<CONSUMER>, retried until that process is back). */
#include "core/config.h"
#include "core/ids.h"
#include "core/log.h"
#include "db/outbox.h"
#include "services/service.h"
#include <string.h>

#define MAX_RELAYS 16
static dtm_outbox_relay_t *g_relays[MAX_RELAYS];
static int g_nrelays;

static const char *consumer_path(const char *consumer, const char *topic)
{
    const dtm_service_t *s = dtm_service_find(consumer);
    if (!s || !s->subscriptions)
        return NULL;
    for (const dtm_subscription_t *sub = s->subscriptions; sub->topic; sub++)
        if (strcmp(sub->topic, topic) == 0)
            return sub->path;
    return NULL;
}

static int deliver(const dtm_outbox_event_t *ev, void *ud)
{
    (void)ud;
    const char *path = consumer_path(ev->consumer, ev->topic);
    if (!path) {
        dtm_log_warn("outbox %s: no route of %s takes %s", ev->schema, ev->consumer, ev->topic);
        return -1;
    }
    json_t *payload = json_loads(ev->payload, 0, NULL);
    if (!payload)
        return -1;
    dtm_arena_t *a = dtm_arena_new(0);
    dtm_req_t *req = dtm_arena_calloc(a, sizeof *req);
    char rid[DTM_UUID_LEN + 1];
    dtm_request_id_new(rid);
    req->arena = a;
    req->request_id = dtm_arena_strdup(a, rid);
    req->client_ip = "127.0.0.1";
    req->method = "POST";
    req->path = path;
    /* The relay acts for nobody: the nil user. */
    snprintf(req->auth.sub, sizeof req->auth.sub, "00000000-0000-0000-0000-000000000000");
    json_t *body = json_pack("{s:s, s:s, s:s, s:o}", "eventId", ev->event_id, "topic", ev->topic,
                             "createdAt", ev->created_at, "payload", payload);
    int status = 0;
    json_t *out = NULL;
    dtm_err_t err = dtm_call(req, "POST", path, body, &status, &out);
    json_decref(body);
    int rc = err == DTM_OK && status >= 200 && status < 300 ? 0 : (err != DTM_OK ? -2 : status);
    /* The consumer read the event and refused its content: no retry will change that. (404 is
     * not final: during a rolling deploy an old replica may not have the route yet.) */
    if (rc == 400 || rc == 422) {
        dtm_log_error("outbox %s: %s event %s refused by %s (%d)", ev->schema, ev->topic,
                      ev->event_id, ev->consumer, status);
        rc = DTM_OUTBOX_REFUSED;
    } else if (rc != 0)
        dtm_log_warn("outbox %s: %s event %s to %s: %s %d (attempt %d, will retry)", ev->schema,
                     ev->topic, ev->event_id, ev->consumer, err ? dtm_err_code(err) : "status",
                     status, ev->attempts + 1);
    dtm_arena_free(a);
    return rc;
}

int dtm_services_events_start(const dtm_service_t *const *local, int nlocal)
{
    for (int i = 0; dtm_services[i]; i++) {
        const dtm_subscription_t *sub = dtm_services[i]->subscriptions;
        for (; sub && sub->topic; sub++)
            if (dtm_outbox_subscribe(sub->topic, dtm_services[i]->name) != 0) {
                dtm_log_error("too many outbox subscriptions");
                return -1;
            }
    }
    for (int i = 0; i < nlocal; i++) {
        if (!local[i]->outbox)
            continue;
        dtm_outbox_relay_t *r =
            g_nrelays < MAX_RELAYS
                ? dtm_outbox_relay_start(local[i]->name, dtm_pg_pool_for(local[i]->name),
                                         dtm_cfg.outbox_poll_ms, dtm_cfg.outbox_retry_max_ms,
                                         deliver, NULL)
                : NULL;
        if (!r) {
            dtm_log_error("cannot start the outbox relay of %s", local[i]->name);
            return -1;
        }
        g_relays[g_nrelays++] = r;
    }
    return 0;
}

void dtm_services_events_stop(void)
{
    while (g_nrelays > 0)
        dtm_outbox_relay_stop(g_relays[--g_nrelays]);
}
