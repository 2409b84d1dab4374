/* SPDX-License-Identifier: MIT */
/* Prometheus registry. Families keep registration order for rendering; series are found by
 * "name{labels}" in a hash table under a read-write lock (lookups are reads, so request threads
 * rarely contend). Values are atomics: a double's bits in an _Atomic uint64_t, updated with CAS. */
#include "core/metrics.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/str.h"
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } mtype_t;

static const double default_buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,   1,    2.5,   5,    10};
#define NBUCKETS (sizeof default_buckets / sizeof default_buckets[0])

typedef struct family family_t;

struct dtm_metric {
    family_t *family;
    char *labels;              /* "" when none */
    char *key;                 /* "name{labels}" */
    _Atomic uint64_t bits;     /* double value (counter/gauge), or histogram sum */
    _Atomic uint64_t count;    /* histogram observations */
    _Atomic uint64_t *buckets; /* histogram: NBUCKETS cumulative-at-render counts */
    double (*fn)(void *);      /* gauge_fn; NULL again once removed */
    void *ud;
    bool is_fn;
    struct dtm_metric *next_in_family;
    struct dtm_metric *next_in_bucket;
};

struct family {
    char *name, *help;
    mtype_t type;
    dtm_metric_t *series, **tail;
    family_t *next;
};

#define HASH_SIZE 4096

static pthread_rwlock_t reg_lock = PTHREAD_RWLOCK_INITIALIZER;
static family_t *families, **families_tail = &families;
static dtm_metric_t *table[HASH_SIZE];

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static double bits_to_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t double_to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static void atomic_add_double(_Atomic uint64_t *slot, double v)
{
    uint64_t old = atomic_load_explicit(slot, memory_order_relaxed);
    while (!atomic_compare_exchange_weak(slot, &old, double_to_bits(bits_to_double(old) + v)))
        ;
}

/* Caller holds reg_lock (either mode). */
static dtm_metric_t *find_locked(const char *key, uint64_t h)
{
    for (dtm_metric_t *m = table[h % HASH_SIZE]; m; m = m->next_in_bucket)
        if (strcmp(m->key, key) == 0)
            return m;
    return NULL;
}

static family_t *family_locked(const char *name, const char *help, mtype_t type)
{
    for (family_t *f = families; f; f = f->next) {
        if (strcmp(f->name, name) != 0)
            continue;
        if (f->type != type)
            dtm_panic("metric %s registered with two types", name);
        return f;
    }
    family_t *f = dtm_calloc(1, sizeof *f);
    f->name = dtm_strdup(name);
    f->help = dtm_strdup(help ? help : name);
    f->type = type;
    f->tail = &f->series;
    *families_tail = f;
    families_tail = &f->next;
    return f;
}

/* Get or create the series name{labels}. */
static dtm_metric_t *series(const char *name, const char *help, const char *labels, mtype_t type)
{
    labels = labels ? labels : "";
    /* The lookup is the per-request path: build the key on the stack when it fits. */
    char stack[512];
    size_t need = strlen(name) + strlen(labels) + 3;
    char *key = need <= sizeof stack ? stack : dtm_alloc(need);
    snprintf(key, need, "%s{%s}", name, labels);
    uint64_t h = hash(key);
    pthread_rwlock_rdlock(&reg_lock);
    dtm_metric_t *m = find_locked(key, h);
    pthread_rwlock_unlock(&reg_lock);
    if (!m) {
        pthread_rwlock_wrlock(&reg_lock);
        m = find_locked(key, h); /* another thread may have won the race */
        if (!m) {
            family_t *f = family_locked(name, help, type);
            m = dtm_calloc(1, sizeof *m);
            m->family = f;
            m->labels = dtm_strdup(labels);
            m->key = dtm_strdup(key);
            if (type == M_HISTOGRAM)
                m->buckets = dtm_calloc(NBUCKETS, sizeof *m->buckets);
            *f->tail = m;
            f->tail = &m->next_in_family;
            m->next_in_bucket = table[h % HASH_SIZE];
            table[h % HASH_SIZE] = m;
        }
        pthread_rwlock_unlock(&reg_lock);
    }
    if (key != stack)
        free(key);
    return m;
}

dtm_metric_t *dtm_counter(const char *name, const char *help, const char *labels)
{
    return series(name, help, labels, M_COUNTER);
}

dtm_metric_t *dtm_gauge(const char *name, const char *help, const char *labels)
{
    return series(name, help, labels, M_GAUGE);
}

dtm_metric_t *dtm_histogram(const char *name, const char *help, const char *labels)
{
    return series(name, help, labels, M_HISTOGRAM);
}

static void set_fn(dtm_metric_t *m, double (*fn)(void *), void *ud)
{
    pthread_rwlock_wrlock(&reg_lock);
    m->fn = fn;
    m->ud = ud;
    m->is_fn = true;
    pthread_rwlock_unlock(&reg_lock);
}

void dtm_gauge_fn(const char *name, const char *help, const char *labels, double (*fn)(void *),
                  void *ud)
{
    set_fn(series(name, help, labels, M_GAUGE), fn, ud);
}

void dtm_counter_fn(const char *name, const char *help, const char *labels, double (*fn)(void *),
                    void *ud)
{
    set_fn(series(name, help, labels, M_COUNTER), fn, ud);
}

void dtm_gauge_fn_remove(void *ud)
{
    pthread_rwlock_wrlock(&reg_lock);
    for (family_t *f = families; f; f = f->next)
        for (dtm_metric_t *m = f->series; m; m = m->next_in_family)
            if (m->fn && m->ud == ud) {
                m->fn = NULL;
                m->ud = NULL;
            }
    pthread_rwlock_unlock(&reg_lock);
}

void dtm_metric_inc(dtm_metric_t *m)
{
    dtm_metric_add(m, 1);
}

void dtm_metric_add(dtm_metric_t *m, double v)
{
    if (m)
        atomic_add_double(&m->bits, v);
}

void dtm_metric_set(dtm_metric_t *m, double v)
{
    if (m)
        atomic_store(&m->bits, double_to_bits(v));
}

void dtm_histogram_observe(dtm_metric_t *h, double v)
{
    if (!h || !h->buckets)
        return;
    for (size_t i = 0; i < NBUCKETS; i++)
        if (v <= default_buckets[i]) {
            atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
            break;
        }
    atomic_add_double(&h->bits, v);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

/* Label values come from route patterns and methods, but escape anyway: a stray quote must
 * never break the exposition format. */
static void escape_label(dtm_buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            dtm_buf_append(b, "\\", 1);
        if (*s == '\n')
            dtm_buf_puts(b, "\\n");
        else
            dtm_buf_append(b, s, 1);
    }
}

void dtm_metrics_observe_request(const char *service, const char *method, const char *route,
                                 int status, double seconds)
{
    dtm_buf_t l;
    dtm_buf_init(&l);
    dtm_buf_puts(&l, "service=\"");
    escape_label(&l, service ? service : "");
    dtm_buf_puts(&l, "\",method=\"");
    escape_label(&l, method ? method : "");
    dtm_buf_puts(&l, "\",route=\"");
    escape_label(&l, route ? route : "");
    dtm_buf_puts(&l, "\"");
    dtm_histogram_observe(
        dtm_histogram("http_request_duration_seconds", "HTTP request latency in seconds", l.data),
        seconds);
    dtm_buf_printf(&l, ",status=\"%d\"", status); /* same labels plus status */
    dtm_metric_inc(dtm_counter("http_requests_total", "HTTP requests handled", l.data));
    dtm_buf_free(&l);
}

/* ---- process metrics ---- */

static double process_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double process_rss(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (double)rss * (double)sysconf(_SC_PAGESIZE);
}

static double process_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory stream itself */
}

/* Boot time plus the process start offset from /proc; falls back to the first render. */
static double start_time;
static pthread_once_t start_once = PTHREAD_ONCE_INIT;

static void read_start_time(void)
{
    double btime = 0;
    unsigned long long start_ticks = 0;
    char line[512];
    FILE *f = fopen("/proc/stat", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "btime %lf", &btime) == 1)
            break;
    if (f)
        fclose(f);
    f = fopen("/proc/self/stat", "r");
    if (f && fgets(line, sizeof line, f)) {
        const char *p = strrchr(line, ')'); /* comm may contain spaces */
        if (p)
            sscanf(p + 2,
                   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
                   "%*d %*d %llu",
                   &start_ticks);
    }
    if (f)
        fclose(f);
    start_time =
        btime > 0 ? btime + (double)start_ticks / (double)sysconf(_SC_CLK_TCK) : (double)time(NULL);
}

static double process_start(void)
{
    pthread_once(&start_once, read_start_time);
    return start_time;
}

/* The /proc readings (RSS, open fds, start time) are taken by dtm_metrics_sample_process on a
 * background thread, because /metrics is rendered on an event loop: walking /proc/self/fd is
 * O(open fds), 10,000 entries on a busy gateway. Until the first sample, render reads inline. */
static pthread_mutex_t proc_mu = PTHREAD_MUTEX_INITIALIZER;
static bool proc_sampled;
static double proc_rss_v, proc_fds_v;

void dtm_metrics_sample_process(void)
{
    double rss = process_rss(), fds = process_fds();
    (void)process_start(); /* reads /proc/stat once */
    pthread_mutex_lock(&proc_mu);
    proc_rss_v = rss;
    proc_fds_v = fds;
    proc_sampled = true;
    pthread_mutex_unlock(&proc_mu);
}

static void process_sample(double *rss, double *fds)
{
    pthread_mutex_lock(&proc_mu);
    bool have = proc_sampled;
    *rss = proc_rss_v;
    *fds = proc_fds_v;
    pthread_mutex_unlock(&proc_mu);
    if (!have) {
        *rss = process_rss();
        *fds = process_fds();
    }
}

/* ---- rendering ---- */

static void put_value(dtm_buf_t *b, double v)
{
    if (isnan(v))
        dtm_buf_puts(b, "NaN");
    else if (isinf(v))
        dtm_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        dtm_buf_printf(b, "%.0f", v);
    else
        dtm_buf_printf(b, "%.17g", v);
}

static void put_header(dtm_buf_t *b, const char *name, const char *help, const char *type)
{
    dtm_buf_printf(b, "# HELP %s ", name);
    for (const char *s = help; *s; s++) {
        if (*s == '\\')
            dtm_buf_puts(b, "\\\\");
        else if (*s == '\n')
            dtm_buf_puts(b, "\\n");
        else
            dtm_buf_append(b, s, 1);
    }
    dtm_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

static void put_sample(dtm_buf_t *b, const char *name, const char *suffix, const char *labels,
                       const char *extra, double v)
{
    dtm_buf_puts(b, name);
    dtm_buf_puts(b, suffix);
    if (*labels || extra) {
        dtm_buf_printf(b, "{%s%s%s}", labels, *labels && extra ? "," : "", extra ? extra : "");
    }
    dtm_buf_append(b, " ", 1);
    put_value(b, v);
    dtm_buf_append(b, "\n", 1);
}

static void render_histogram(dtm_buf_t *b, const family_t *f, dtm_metric_t *m)
{
    uint64_t cum = 0;
    char le[48];
    for (size_t i = 0; i < NBUCKETS; i++) {
        cum += atomic_load(&m->buckets[i]);
        snprintf(le, sizeof le, "le=\"%g\"", default_buckets[i]);
        put_sample(b, f->name, "_bucket", m->labels, le, (double)cum);
    }
    uint64_t count = atomic_load(&m->count);
    put_sample(b, f->name, "_bucket", m->labels, "le=\"+Inf\"",
               (double)(count > cum ? count : cum));
    put_sample(b, f->name, "_sum", m->labels, NULL, bits_to_double(atomic_load(&m->bits)));
    put_sample(b, f->name, "_count", m->labels, NULL, (double)(count > cum ? count : cum));
}

static void render_family(dtm_buf_t *b, const family_t *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    bool any = false;
    for (dtm_metric_t *m = f->series; m; m = m->next_in_family)
        any = any || !m->is_fn || m->fn;
    if (!any)
        return; /* every series was a removed gauge_fn */
    put_header(b, f->name, f->help, types[f->type]);
    for (dtm_metric_t *m = f->series; m; m = m->next_in_family) {
        if (f->type == M_HISTOGRAM)
            render_histogram(b, f, m);
        else if (m->fn)
            put_sample(b, f->name, "", m->labels, NULL, m->fn(m->ud));
        else if (!m->is_fn)
            put_sample(b, f->name, "", m->labels, NULL, bits_to_double(atomic_load(&m->bits)));
    }
}

char *dtm_metrics_render(size_t *len)
{
    dtm_buf_t b;
    dtm_buf_init(&b);
    pthread_rwlock_rdlock(&reg_lock);
    for (family_t *f = families; f; f = f->next)
        render_family(&b, f);
    pthread_rwlock_unlock(&reg_lock);
    put_header(&b, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds",
               "counter");
    put_sample(&b, "process_cpu_seconds_total", "", "", NULL, process_cpu());
    double rss, fds;
    process_sample(&rss, &fds);
    put_header(&b, "process_resident_memory_bytes", "Resident memory size in bytes", "gauge");
    put_sample(&b, "process_resident_memory_bytes", "", "", NULL, rss);
    put_header(&b, "process_open_fds", "Number of open file descriptors", "gauge");
    put_sample(&b, "process_open_fds", "", "", NULL, fds);
    put_header(&b, "process_start_time_seconds",
               "Start time of the process since unix epoch in seconds", "gauge");
    put_sample(&b, "process_start_time_seconds", "", "", NULL, process_start());
    if (len)
        *len = b.len;
    return b.data;
}
