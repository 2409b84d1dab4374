/* SPDX-License-Identifier: MIT */
/* Targets (Grafana Loki's -target): what one `dtm serve` process runs. "all" is the gateway
 * plus every service in one process; "gateway" is the edge alone; a service name (or a
 * comma-separated list) runs those services. */
#ifndef DTM_CLI_TARGET_H
#define DTM_CLI_TARGET_H

#include "services/service.h"
#include <stdbool.h>
#include <stdio.h>

#define DTM_TARGET_MAX_SERVICES 16

typedef struct {
    bool gateway;
    const dtm_service_t *services[DTM_TARGET_MAX_SERVICES + 1]; /* NULL-terminated */
    int nservices;
    const char *process_name; /* "dtm" (all), "api-gateway", or the single service's name */
    int default_port;         /* 3000 with the gateway, else the first service's port */
} dtm_target_set_t;

/** Parse "all", "gateway", "auth,users"... Unknown names are written to errs; returns the
 *  number of problems (0 = ok). Duplicates are ignored. */
int dtm_target_parse(const char *spec, dtm_target_set_t *out, FILE *errs);

/** Print the target table (name, what it runs, port, dependencies) for `dtm help`. */
void dtm_target_print(FILE *out);

#endif
