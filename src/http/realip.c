/* SPDX-License-Identifier: MIT */
#include "http/realip.h"

#include "core/config.h"
#include "core/log.h"
#include "core/str.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TRUSTED 32

typedef struct {
    int family;
    unsigned char addr[16];
    int bits;
} cidr_t;

static cidr_t g_trusted[MAX_TRUSTED];
static int g_ntrusted;

static bool parse_ip(const char *s, int *family, unsigned char out[16])
{
    if (inet_pton(AF_INET, s, out) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

bool dtm_realip_trusted(const char *ip)
{
    int fam;
    unsigned char a[16];
    if (!g_ntrusted || !ip || !parse_ip(ip, &fam, a))
        return false;
    for (int i = 0; i < g_ntrusted; i++) {
        const cidr_t *c = &g_trusted[i];
        if (c->family != fam)
            continue;
        int bits = c->bits, k = 0;
        while (bits >= 8 && a[k] == c->addr[k]) {
            bits -= 8;
            k++;
        }
        if (bits >= 8)
            continue;
        if (bits == 0 || ((a[k] ^ c->addr[k]) & (0xff << (8 - bits))) == 0)
            return true;
    }
    return false;
}

int dtm_realip_init(void)
{
    int problems = 0;
    g_ntrusted = 0;
    if (dtm_cfg.trusted_proxies) {
        char *copy = dtm_strdup(dtm_cfg.trusted_proxies), *save = NULL;
        for (char *t = strtok_r(copy, ", ", &save); t && g_ntrusted < MAX_TRUSTED;
             t = strtok_r(NULL, ", ", &save)) {
            cidr_t *c = &g_trusted[g_ntrusted];
            char *slash = strchr(t, '/');
            if (slash)
                *slash = '\0';
            int max = 0;
            if (parse_ip(t, &c->family, c->addr))
                max = c->family == AF_INET ? 32 : 128;
            c->bits = slash ? atoi(slash + 1) : max;
            if (!max || c->bits < 0 || c->bits > max) {
                dtm_log_error("DTM_TRUSTED_PROXIES: \"%s\" is not an IP address or CIDR", t);
                problems++;
                continue;
            }
            g_ntrusted++;
        }
        free(copy);
    }
    return problems ? -1 : 0;
}

void dtm_realip(dtm_req_t *req)
{
    const char *peer = req->client_ip;
    if (!dtm_realip_trusted(peer))
        return;
    const char *proto = dtm_req_header(req, "x-forwarded-proto");
    req->via_tls = proto && strcmp(proto, "https") == 0;
    const char *xff = dtm_req_header(req, "x-forwarded-for");
    if (!xff)
        return;
    /* the right-most address that is not one of our proxies */
    char *copy = dtm_arena_strdup(req->arena, xff);
    for (;;) {
        char *comma = strrchr(copy, ',');
        char *ip = comma ? comma + 1 : copy;
        while (*ip == ' ' || *ip == '\t')
            ip++;
        char *end = ip + strlen(ip);
        while (end > ip && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        int fam;
        unsigned char a[16];
        if (!*ip || !parse_ip(ip, &fam, a))
            return;
        if (!dtm_realip_trusted(ip) || !comma) {
            req->client_ip = ip;
            return;
        }
        *comma = '\0';
    }
}
