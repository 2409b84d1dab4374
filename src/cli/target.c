/* SPDX-License-Identifier: MIT */
#include "cli/target.h"
#include <string.h>

/* The static table: composite targets first, then one per service (from the registry). */
static const struct {
    const char *name;
    const char *runs;
    const char *deps;
} composites[] = {
    {"all", "gateway + every service in one process (port 3000)", "postgres, redis"},
    {"gateway", "the API gateway: proxy, balancing, edge limits, web client (port 3000)",
     "redis (rate limits), the services"},
};

static void add_service(dtm_target_set_t *t, const dtm_service_t *s)
{
    for (int i = 0; i < t->nservices; i++)
        if (t->services[i] == s)
            return;
    if (t->nservices < DTM_TARGET_MAX_SERVICES)
        t->services[t->nservices++] = s;
    t->services[t->nservices] = NULL;
}

int dtm_target_parse(const char *spec, dtm_target_set_t *out, FILE *errs)
{
    memset(out, 0, sizeof *out);
    int problems = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec && *spec ? spec : "all");
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (strcmp(tok, "all") == 0) {
            out->gateway = true;
            for (int i = 0; dtm_services[i]; i++)
                add_service(out, dtm_services[i]);
        } else if (strcmp(tok, "gateway") == 0) {
            out->gateway = true;
        } else if (dtm_service_find(tok)) {
            add_service(out, dtm_service_find(tok));
        } else {
            fprintf(errs, "unknown target '%s' (see `dtm help` for the list)\n", tok);
            problems++;
        }
    }
    if (problems)
        return problems;
    int total = 0;
    while (dtm_services[total])
        total++;
    bool everything = out->gateway && out->nservices == total;
    if (everything)
        out->process_name = "dtm";
    else if (out->gateway)
        out->process_name = "api-gateway";
    else
        out->process_name = out->services[0]->name;
    out->default_port = out->gateway ? 3000 : out->services[0]->default_port;
    return 0;
}

void dtm_target_print(FILE *out)
{
    fprintf(out, "Targets (dtm serve --target T[,T...]):\n");
    for (size_t i = 0; i < sizeof composites / sizeof composites[0]; i++)
        fprintf(out, "  %-11s %s; needs %s\n", composites[i].name, composites[i].runs,
                composites[i].deps);
    for (int i = 0; dtm_services[i]; i++)
        fprintf(out, "  %-11s the %s service, %s/* (port %d); needs postgres, redis\n",
                dtm_services[i]->name, dtm_services[i]->name, dtm_services[i]->prefix,
                dtm_services[i]->default_port);
}
