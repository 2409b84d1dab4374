/* SPDX-License-Identifier: MIT */
/* A session's device name for people, from its User-Agent: the first browser or client and the
 * first platform that the text names. Not fingerprinting, only a label for "is this me?". */
#include "services/auth/auth.h"
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *needle, *name;
} ua_rule_t;

/* Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari", Android says "Linux". */
static const ua_rule_t clients[] = {
    {"Edg/", "Edge"},
    {"OPR/", "Opera"},
    {"Firefox/", "Firefox"},
    {"Chrome/", "Chrome"},
    {"Safari/", "Safari"},
    {"curl/", "curl"},
    {"node", "Node.js"},
    {"okhttp", "Android app"},
    {"Dart/", "Flutter app"},
    {"python", "Python"},
    {NULL, NULL},
};
static const ua_rule_t platforms[] = {
    {"Android", "Android"}, {"iPhone", "iOS"},    {"iPad", "iPadOS"}, {"Windows", "Windows"},
    {"Mac OS X", "macOS"},  {"CrOS", "ChromeOS"}, {"Linux", "Linux"}, {NULL, NULL},
};

static const char *first_match(const char *ua, const ua_rule_t *rules)
{
    for (const ua_rule_t *r = rules; r->needle; r++)
        if (strstr(ua, r->needle))
            return r->name;
    return NULL;
}

void auth_device_name(const char *user_agent, char *out, size_t cap)
{
    const char *ua = user_agent ? user_agent : "";
    const char *c = first_match(ua, clients), *p = first_match(ua, platforms);
    if (c && p)
        snprintf(out, cap, "%s on %s", c, p);
    else if (c || p)
        snprintf(out, cap, "%s", c ? c : p);
    else
        snprintf(out, cap, "Unknown device");
}
