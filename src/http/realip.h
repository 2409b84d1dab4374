/* SPDX-License-Identifier: MIT */
/* Client-IP trust (nginx's realip module): X-Forwarded-For and X-Forwarded-Proto are believed
 * only from a peer in DTM_TRUSTED_PROXIES. `dtm serve` registers dtm_realip as the router's
 * realip phase hook in every process: at the edge (the client may come through a load
 * balancer) and in a service behind the gateway (the gateway is the trusted peer). */
#ifndef DTM_HTTP_REALIP_H
#define DTM_HTTP_REALIP_H

#include "http/http.h"
#include <stdbool.h>

/** Parse DTM_TRUSTED_PROXIES (dtm_cfg.trusted_proxies). 0, or -1 with each bad entry logged. */
int dtm_realip_init(void);

/** True when ip (text) is inside one of the trusted proxy ranges. */
bool dtm_realip_trusted(const char *ip);

/** Replace req->client_ip with the right-most forwarded address that is not a trusted proxy,
 *  and set req->via_tls from X-Forwarded-Proto, when the peer is trusted. */
void dtm_realip(dtm_req_t *req);

#endif
