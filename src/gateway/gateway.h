/* SPDX-License-Identifier: MIT */
/* The API gateway (issue 3): proxying of non-local service prefixes to their upstreams. */
#ifndef DTM_GATEWAY_H
#define DTM_GATEWAY_H

#include "core/err.h"

/** Called by `dtm serve` when the target set includes the gateway, after the router is
 *  configured and before the server starts. Registers the proxy with the server. */
dtm_err_t dtm_gateway_init(void);
void dtm_gateway_shutdown(void);

#endif
