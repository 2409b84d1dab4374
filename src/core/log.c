/* SPDX-License-Identifier: MIT */
/* JSON lines on stdout. A line is built completely in memory and written with one write(2)
 * under a mutex, so concurrent threads never interleave and a reader never sees half a line. */
#include "core/log.h"
#include "core/str.h"
#include "core/timeutil.h"
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char log_service[64] = "dtm";
static _Atomic int log_min_level = DTM_LOG_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void dtm_log_init(const char *service, dtm_log_level_t level)
{
    pthread_mutex_lock(&log_mu);
    snprintf(log_service, sizeof log_service, "%s", service ? service : "dtm");
    pthread_mutex_unlock(&log_mu);
    atomic_store(&log_min_level, (int)level);
}

int dtm_log_level_parse(const char *s)
{
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    if (s && strcmp(s, "warning") == 0)
        return DTM_LOG_WARN;
    return -1;
}

dtm_log_level_t dtm_log_level(void)
{
    return (dtm_log_level_t)atomic_load(&log_min_level);
}

/* Keys whose values must never reach a log line, whatever a caller passes. */
static bool secret_key(const char *key)
{
    static const char *const bad[] = {"password", "secret", "token", "authorization", "cookie"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (strcasestr(key, bad[i]))
            return true;
    return false;
}

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* stdout gone: nothing sensible left to do */
        p += w;
        n -= (size_t)w;
    }
}

/* A JSON string even for invalid UTF-8 (client-supplied paths, truncated messages): bytes
 * outside ASCII are replaced by '?' when the text does not validate. */
static json_t *safe_string(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char *copy = strdup(s);
    if (!copy)
        return json_string("");
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

/* Header fields first (timestamp, level, message, service), then `extra` (stolen). */
static void emit(dtm_log_level_t level, const char *message, json_t *extra)
{
    char ts[32];
    dtm_iso8601(dtm_now_ms(), ts);
    json_t *line = json_object();
    json_object_set_new(line, "timestamp", json_string(ts));
    json_object_set_new(line, "level", json_string(level_names[level]));
    json_object_set_new(line, "message", safe_string(message));
    pthread_mutex_lock(&log_mu);
    json_object_set_new(line, "service", json_string(log_service));
    pthread_mutex_unlock(&log_mu);
    if (json_is_object(extra)) {
        const char *key;
        json_t *val;
        json_object_foreach(extra, key, val)
        {
            if (json_object_get(line, key))
                continue;
            json_object_set_new(line, key,
                                secret_key(key) ? json_string("[REDACTED]") : json_incref(val));
        }
    }
    json_decref(extra);
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(line);
    if (!text)
        return;
    size_t n = strlen(text);
    text[n] = '\n'; /* replaces the NUL: the buffer is written by length */
    pthread_mutex_lock(&log_mu);
    write_all(text, n + 1);
    pthread_mutex_unlock(&log_mu);
    free(text);
}

static void vlog(dtm_log_level_t level, json_t *fields, const char *fmt, va_list ap)
{
    if ((int)level < atomic_load(&log_min_level) || (int)level < 0 || level > DTM_LOG_ERROR) {
        json_decref(fields);
        return;
    }
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    emit(level, msg, fields);
}

void dtm_log(dtm_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, NULL, fmt, ap);
    va_end(ap);
}

void dtm_log_with(dtm_log_level_t level, json_t *fields, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fields, fmt, ap);
    va_end(ap);
}

static void set_str(json_t *o, const char *key, const char *val)
{
    json_object_set_new(o, key, val ? safe_string(val) : json_null());
}

void dtm_log_access(const dtm_access_t *a)
{
    dtm_log_level_t level = a->status >= 500 ? DTM_LOG_ERROR : DTM_LOG_INFO;
    if ((int)level < atomic_load(&log_min_level))
        return;
    char msg[1024];
    const char *method = a->method ? a->method : "-", *path = a->path ? a->path : "-";
    if (a->upstream)
        snprintf(msg, sizeof msg, "%s %s -> %s", method, path, a->upstream);
    else
        snprintf(msg, sizeof msg, "%s %s", method, path);
    json_t *f = json_object();
    set_str(f, "method", a->method);
    set_str(f, "path", a->path);
    if (a->upstream)
        set_str(f, "upstream", a->upstream);
    set_str(f, "ip", a->ip);
    set_str(f, "userAgent", a->user_agent);
    set_str(f, "requestId", a->request_id);
    set_str(f, "userId", a->user_id);
    json_object_set_new(f, "status", json_integer(a->status));
    /* microsecond precision is plenty and keeps lines short */
    json_object_set_new(f, "durationMs", json_real((double)llround(a->duration_ms * 1000) / 1000));
    json_object_set_new(f, "bytesIn", json_integer(a->bytes_in));
    json_object_set_new(f, "bytesOut", json_integer(a->bytes_out));
    emit(level, msg, f);
}
