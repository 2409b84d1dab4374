/* SPDX-License-Identifier: MIT */
/* JSON lines on stdout. A line is built completely in memory, then either written with one
 * write(2) under a mutex (synchronous mode, before dtm_log_async_start) or copied into a bounded
 * byte ring that one writer thread drains (async mode). In async mode a blocked stdout (a full
 * pipe, a stalled collector) never blocks a request: when the ring is full the line is dropped
 * and counted (dtm_log_dropped), as nginx's buffered access_log and Envoy's access-log flusher
 * bound their memory instead of the request path. Lines are copied whole, so a reader never
 * sees half a line or two interleaved. */
#include "core/log.h"
#include "core/arena.h"
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
#include <time.h>
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

/* ---- the ring: [head, head+used) modulo cap holds whole lines waiting for the writer ---- */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t more;    /* signalled when bytes are added or stop is asked */
    pthread_cond_t drained; /* signalled when the writer emptied the ring */
    char *buf;
    size_t cap, head, used;
    bool active, stopping, writing;
    pthread_t thread;
} ring = {.mu = PTHREAD_MUTEX_INITIALIZER,
          .more = PTHREAD_COND_INITIALIZER,
          .drained = PTHREAD_COND_INITIALIZER};
static _Atomic unsigned long long ring_dropped;
static _Atomic bool ring_on; /* read without the lock on the hot path */

static void *ring_writer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&ring.mu);
    for (;;) {
        while (ring.used == 0 && !ring.stopping)
            pthread_cond_wait(&ring.more, &ring.mu);
        if (ring.used == 0) /* stopping and drained */
            break;
        /* the contiguous part from head; the wrapped rest goes on the next turn */
        size_t n = ring.used < ring.cap - ring.head ? ring.used : ring.cap - ring.head;
        const char *p = ring.buf + ring.head;
        ring.writing = true;
        pthread_mutex_unlock(&ring.mu);
        write_all(p, n); /* may block for as long as stdout is stalled: only this thread waits */
        pthread_mutex_lock(&ring.mu);
        ring.writing = false;
        ring.head = (ring.head + n) % ring.cap;
        ring.used -= n;
        if (ring.used == 0)
            pthread_cond_broadcast(&ring.drained);
    }
    pthread_cond_broadcast(&ring.drained);
    pthread_mutex_unlock(&ring.mu);
    return NULL;
}

int dtm_log_async_start(size_t bytes)
{
    if (bytes == 0 || atomic_load(&ring_on))
        return 0;
    char *buf = malloc(bytes);
    if (!buf)
        return -1;
    pthread_mutex_lock(&ring.mu);
    ring.buf = buf;
    ring.cap = bytes;
    ring.head = ring.used = 0;
    ring.stopping = false;
    if (pthread_create(&ring.thread, NULL, ring_writer, NULL) != 0) {
        ring.buf = NULL;
        pthread_mutex_unlock(&ring.mu);
        free(buf);
        return -1;
    }
    ring.active = true;
    atomic_store(&ring_on, true);
    pthread_mutex_unlock(&ring.mu);
    return 0;
}

int dtm_log_async_stop(int timeout_ms)
{
    pthread_mutex_lock(&ring.mu);
    if (!ring.active) {
        pthread_mutex_unlock(&ring.mu);
        return 0;
    }
    ring.stopping = true;
    pthread_cond_signal(&ring.more);
    struct timespec until;
    dtm_deadline_after(&until, CLOCK_REALTIME, timeout_ms);
    int rc = 0;
    while (ring.used > 0 || ring.writing)
        if (pthread_cond_timedwait(&ring.drained, &ring.mu, &until) == ETIMEDOUT) {
            rc = -1;
            break;
        }
    /* From here on lines go straight to stdout again. */
    atomic_store(&ring_on, false);
    ring.active = false;
    pthread_mutex_unlock(&ring.mu);
    if (rc == 0) {
        pthread_join(ring.thread, NULL);
        pthread_mutex_lock(&ring.mu);
        free(ring.buf);
        ring.buf = NULL;
        pthread_mutex_unlock(&ring.mu);
    } else {
        /* stdout is stalled: the writer stays blocked in write(2) on the ring's memory, which
         * is therefore left allocated; the process is about to exit anyway. */
        pthread_detach(ring.thread);
    }
    return rc;
}

unsigned long long dtm_log_dropped(void)
{
    return atomic_load(&ring_dropped);
}

size_t dtm_log_buffered(void)
{
    pthread_mutex_lock(&ring.mu);
    size_t n = ring.used;
    pthread_mutex_unlock(&ring.mu);
    return n;
}

/* One whole line out: into the ring when it runs, else straight to stdout. */
static void output(const char *p, size_t n)
{
    if (atomic_load(&ring_on)) {
        pthread_mutex_lock(&ring.mu);
        if (ring.active) {
            if (ring.cap - ring.used < n) {
                pthread_mutex_unlock(&ring.mu);
                atomic_fetch_add(&ring_dropped, 1);
                return;
            }
            size_t tail = (ring.head + ring.used) % ring.cap;
            size_t first = n < ring.cap - tail ? n : ring.cap - tail;
            memcpy(ring.buf + tail, p, first);
            memcpy(ring.buf, p + first, n - first);
            bool was_empty = ring.used == 0;
            ring.used += n;
            if (was_empty)
                pthread_cond_signal(&ring.more);
            pthread_mutex_unlock(&ring.mu);
            return;
        }
        pthread_mutex_unlock(&ring.mu);
    }
    pthread_mutex_lock(&log_mu);
    write_all(p, n);
    pthread_mutex_unlock(&log_mu);
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
    output(text, n + 1);
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

/* ---- access lines: the hot path, written directly without building a jansson tree ---- */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n = (p[0] & 0xE0) == 0xC0   ? 2
               : (p[0] & 0xF0) == 0xE0 ? 3
               : (p[0] & 0xF8) == 0xF0 ? 4
                                       : 0;
    if (n == 0 || (n == 2 && p[0] < 0xC2) || (n == 4 && p[0] > 0xF4))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if (n == 3 && ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0)))
        return 0; /* overlong or surrogate */
    if (n == 4 && ((p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90)))
        return 0;
    return n;
}

static bool plain_ascii(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* The escaped body of a JSON string (no quotes); invalid UTF-8 bytes become '?'. Runs of plain
 * ASCII are copied in one append: this runs for every request. */
#define APPEND_LIT(b, lit) dtm_buf_append((b), (lit), sizeof(lit) - 1)

static void put_escaped(dtm_buf_t *b, const char *val)
{
    const unsigned char *p = (const unsigned char *)val;
    while (*p) {
        const unsigned char *run = p;
        while (plain_ascii(*p))
            p++;
        if (p > run)
            dtm_buf_append(b, run, (size_t)(p - run));
        if (!*p)
            break;
        size_t n = utf8_seq(p);
        if (n == 0) {
            APPEND_LIT(b, "?");
            p++;
        } else if (*p == '"' || *p == '\\') {
            APPEND_LIT(b, "\\");
            dtm_buf_append(b, p++, 1);
        } else if (*p < 0x20) {
            dtm_buf_printf(b, "\\u%04x", *p++);
        } else {
            dtm_buf_append(b, p, n);
            p += n;
        }
    }
}

/* "key":"escaped value" (or null). */
static void put_str(dtm_buf_t *b, const char *key, const char *val)
{
    APPEND_LIT(b, ",\"");
    dtm_buf_puts(b, key);
    if (!val) {
        APPEND_LIT(b, "\":null");
        return;
    }
    APPEND_LIT(b, "\":\"");
    put_escaped(b, val);
    APPEND_LIT(b, "\"");
}

static void put_ll(dtm_buf_t *b, long long v)
{
    char tmp[24], *p = tmp + sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    dtm_buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

/* %.3f without printf for the usual durations (non-negative, finite, below 1e12 ms). */
static void put_ms(dtm_buf_t *b, double ms)
{
    if (!(ms >= 0 && ms < 1e12)) {
        dtm_buf_printf(b, "%.3f", ms);
        return;
    }
    long long thousandths = llround(ms * 1000.0);
    put_ll(b, thousandths / 1000);
    char frac[4] = {'.', (char)('0' + thousandths / 100 % 10), (char)('0' + thousandths / 10 % 10),
                    (char)('0' + thousandths % 10)};
    dtm_buf_append(b, frac, 4);
}

/* "2026-01-02T03:04:05.678Z": the part up to the seconds is formatted once a second per thread. */
static void put_timestamp(dtm_buf_t *b)
{
    static _Thread_local char head[24];
    static _Thread_local long long head_s = -1;
    long long ms = (long long)dtm_now_ms();
    long long sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int milli = (int)(ms - sec * 1000);
    if (sec != head_s) {
        char full[32];
        dtm_iso8601((int64_t)sec * 1000, full);
        memcpy(head, full, 19); /* YYYY-MM-DDTHH:MM:SS */
        head_s = sec;
    }
    dtm_buf_append(b, head, 19);
    char tail[5] = {'.', (char)('0' + milli / 100), (char)('0' + milli / 10 % 10),
                    (char)('0' + milli % 10), 'Z'};
    dtm_buf_append(b, tail, 5);
}

void dtm_log_access(const dtm_access_t *a)
{
    dtm_log_level_t level = a->status >= 500 ? DTM_LOG_ERROR : DTM_LOG_INFO;
    if ((int)level < atomic_load(&log_min_level))
        return;
    const char *method = a->method ? a->method : "-", *path = a->path ? a->path : "-";
    dtm_buf_t b;
    dtm_buf_init(&b);
    b.data = dtm_alloc(b.cap = 512); /* one allocation for a typical line */
    b.data[0] = '\0';
    APPEND_LIT(&b, "{\"timestamp\":\"");
    put_timestamp(&b);
    APPEND_LIT(&b, "\",\"level\":\"");
    dtm_buf_puts(&b, level_names[level]);
    APPEND_LIT(&b, "\"");
    size_t mlen = strlen(method) + 1 + strlen(path) + (a->upstream ? 4 + strlen(a->upstream) : 0);
    if (mlen < 1000) {
        /* the message is "METHOD PATH[ -> UPSTREAM]", escaped in place */
        APPEND_LIT(&b, ",\"message\":\"");
        put_escaped(&b, method);
        APPEND_LIT(&b, " ");
        put_escaped(&b, path);
        if (a->upstream) {
            APPEND_LIT(&b, " -> ");
            put_escaped(&b, a->upstream);
        }
        APPEND_LIT(&b, "\"");
    } else {
        char msg[1024]; /* truncated like any other log message */
        if (a->upstream)
            snprintf(msg, sizeof msg, "%s %s -> %s", method, path, a->upstream);
        else
            snprintf(msg, sizeof msg, "%s %s", method, path);
        put_str(&b, "message", msg);
    }
    pthread_mutex_lock(&log_mu);
    put_str(&b, "service", log_service);
    pthread_mutex_unlock(&log_mu);
    put_str(&b, "method", a->method);
    put_str(&b, "path", a->path);
    if (a->upstream)
        put_str(&b, "upstream", a->upstream);
    put_str(&b, "ip", a->ip);
    put_str(&b, "userAgent", a->user_agent);
    put_str(&b, "requestId", a->request_id);
    put_str(&b, "userId", a->user_id);
    APPEND_LIT(&b, ",\"status\":");
    put_ll(&b, a->status);
    APPEND_LIT(&b, ",\"durationMs\":");
    put_ms(&b, a->duration_ms);
    APPEND_LIT(&b, ",\"bytesIn\":");
    put_ll(&b, a->bytes_in);
    APPEND_LIT(&b, ",\"bytesOut\":");
    put_ll(&b, a->bytes_out);
    APPEND_LIT(&b, "}\n");
    output(b.data, b.len);
    dtm_buf_free(&b);
}
