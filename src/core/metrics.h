/* SPDX-License-Identifier: MIT */
/* Prometheus registry. Every update is thread-safe (atomics); render produces text format
 * 0.0.4. Metric objects live for the whole process: register them once (init time) and keep
 * the pointer. Registering the same name+labels twice returns the same object. */
#ifndef DTM_METRICS_H
#define DTM_METRICS_H

#include <stddef.h>

typedef struct dtm_metric dtm_metric_t;

/** labels: NULL or a Prometheus label body, e.g. "reason=\"outside_geofence\"". */
dtm_metric_t *dtm_counter(const char *name, const char *help, const char *labels);
dtm_metric_t *dtm_gauge(const char *name, const char *help, const char *labels);
/** A gauge whose value is read by calling fn(ud) at render time. */
void dtm_gauge_fn(const char *name, const char *help, const char *labels, double (*fn)(void *),
                  void *ud);

/** A counter whose value is read by calling fn(ud) at render time (totals kept elsewhere). */
void dtm_counter_fn(const char *name, const char *help, const char *labels, double (*fn)(void *),
                    void *ud);
/** Stop rendering every gauge_fn registered with `ud` (call before freeing what ud points to). */
void dtm_gauge_fn_remove(void *ud);
/* Note: fn runs while the registry is locked for reading: it must not register metrics. */

void dtm_metric_inc(dtm_metric_t *m);
void dtm_metric_add(dtm_metric_t *m, double v);
void dtm_metric_set(dtm_metric_t *m, double v);

/** Default latency buckets; histogram of seconds. */
dtm_metric_t *dtm_histogram(const char *name, const char *help, const char *labels);
void dtm_histogram_observe(dtm_metric_t *h, double v);

/** What the HTTP core records per request: http_requests_total{service,method,route,status}
 *  and http_request_duration_seconds{service,method,route}. `route` is the route pattern
 *  ("/api/users/:id"), never the raw path. */
void dtm_metrics_observe_request(const char *service, const char *method, const char *route,
                                 int status, double seconds);

/** Render every metric plus process_* metrics (cpu, rss, fds, start time). malloc'd text. */
char *dtm_metrics_render(size_t *len);
/** Take the process readings from /proc (RSS, open fds) that dtm_metrics_render reports, so
 *  that rendering (on an event loop) does no file I/O. Call periodically from a background
 *  thread (the health probe does, every second); before the first call render reads inline. */
void dtm_metrics_sample_process(void);

#endif
