/* SPDX-License-Identifier: MIT */
#include "core/metrics.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int count_substr(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

Test(metrics, counters_and_gauges_render)
{
    dtm_metric_t *c = dtm_counter("dtm_logins_total", "Logins", "result=\"ok\"");
    dtm_metric_t *c2 = dtm_counter("dtm_logins_total", "Logins", "result=\"failed\"");
    cr_assert_eq(c, dtm_counter("dtm_logins_total", "Logins", "result=\"ok\""));
    dtm_metric_inc(c);
    dtm_metric_inc(c);
    dtm_metric_add(c2, 3);
    dtm_metric_t *g = dtm_gauge("dtm_users", "Users", NULL);
    dtm_metric_set(g, 42.5);
    char *text = dtm_metrics_render(NULL);
    cr_assert(strstr(text, "# HELP dtm_logins_total Logins\n# TYPE dtm_logins_total counter\n"));
    cr_assert(strstr(text, "dtm_logins_total{result=\"ok\"} 2\n"), "%s", text);
    cr_assert(strstr(text, "dtm_logins_total{result=\"failed\"} 3\n"));
    cr_assert(strstr(text, "# TYPE dtm_users gauge\ndtm_users 42.5\n"), "%s", text);
    cr_assert_eq(count_substr(text, "# TYPE dtm_logins_total"), 1);
    free(text);
}

static double seven(void *ud)
{
    return *(double *)ud;
}

Test(metrics, gauge_fn_and_removal)
{
    static double v = 7;
    dtm_gauge_fn("dtm_db_pool_connections", "Pool", "state=\"idle\"", seven, &v);
    char *text = dtm_metrics_render(NULL);
    cr_assert(strstr(text, "dtm_db_pool_connections{state=\"idle\"} 7\n"), "%s", text);
    free(text);
    dtm_gauge_fn_remove(&v);
    text = dtm_metrics_render(NULL);
    cr_assert_null(strstr(text, "dtm_db_pool_connections"), "%s", text);
    free(text);
}

Test(metrics, request_histogram)
{
    dtm_metrics_observe_request("users", "GET", "/api/users/:id", 200, 0.003);
    dtm_metrics_observe_request("users", "GET", "/api/users/:id", 200, 0.2);
    dtm_metrics_observe_request("users", "GET", "/api/users/:id", 404, 20);
    char *text = dtm_metrics_render(NULL);
    const char *l = "service=\"users\",method=\"GET\",route=\"/api/users/:id\"";
    char want[512];
    snprintf(want, sizeof want, "http_requests_total{%s,status=\"200\"} 2\n", l);
    cr_assert(strstr(text, want), "%s", text);
    snprintf(want, sizeof want, "http_requests_total{%s,status=\"404\"} 1\n", l);
    cr_assert(strstr(text, want));
    snprintf(want, sizeof want, "http_request_duration_seconds_bucket{%s,le=\"0.005\"} 1\n", l);
    cr_assert(strstr(text, want), "%s", text);
    snprintf(want, sizeof want, "http_request_duration_seconds_bucket{%s,le=\"0.25\"} 2\n", l);
    cr_assert(strstr(text, want));
    snprintf(want, sizeof want, "http_request_duration_seconds_bucket{%s,le=\"10\"} 2\n", l);
    cr_assert(strstr(text, want));
    snprintf(want, sizeof want, "http_request_duration_seconds_bucket{%s,le=\"+Inf\"} 3\n", l);
    cr_assert(strstr(text, want));
    snprintf(want, sizeof want, "http_request_duration_seconds_count{%s} 3\n", l);
    cr_assert(strstr(text, want));
    snprintf(want, sizeof want, "http_request_duration_seconds_sum{%s} 20.2", l);
    cr_assert(strstr(text, want));
    cr_assert_eq(count_substr(text, "# TYPE http_request_duration_seconds histogram"), 1);
    cr_assert_eq(count_substr(text, "# HELP http_requests_total"), 1);
    free(text);
}

Test(metrics, process_metrics)
{
    size_t len;
    char *text = dtm_metrics_render(&len);
    cr_assert_eq(len, strlen(text));
    cr_assert(strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
    cr_assert(strstr(text, "\nprocess_resident_memory_bytes "));
    cr_assert(strstr(text, "\nprocess_open_fds "));
    const char *st = strstr(text, "\nprocess_start_time_seconds ");
    cr_assert_not_null(st);
    double start = strtod(st + 28, NULL);
    cr_assert_gt(start, 1.6e9);
    const char *rss = strstr(text, "\nprocess_resident_memory_bytes ");
    cr_assert_gt(strtod(rss + 31, NULL), 1e5);
    free(text);
}

static double sample_value(const char *text, const char *name)
{
    char key[96];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(text, key);
    cr_assert_not_null(p, "%s missing", name);
    return strtod(p + strlen(key), NULL);
}

/* /metrics is rendered on an event loop: the /proc reads (open fds, RSS) happen in
 * dtm_metrics_sample_process (a background thread calls it), and rendering uses that sample. */
Test(metrics, render_uses_the_process_sample)
{
    dtm_metrics_sample_process();
    char *text = dtm_metrics_render(NULL);
    double fds = sample_value(text, "process_open_fds");
    cr_assert_gt(sample_value(text, "process_resident_memory_bytes"), 1e5);
    free(text);
    int extra[64];
    for (int i = 0; i < 64; i++)
        extra[i] = dup(0);
    text = dtm_metrics_render(NULL);
    cr_assert_float_eq(sample_value(text, "process_open_fds"), fds, 0.5,
                       "render must not walk /proc/self/fd itself");
    free(text);
    dtm_metrics_sample_process();
    text = dtm_metrics_render(NULL);
    cr_assert_geq(sample_value(text, "process_open_fds"), fds + 64);
    free(text);
    for (int i = 0; i < 64; i++)
        close(extra[i]);
}

static void *hammer(void *arg)
{
    for (int i = 0; i < 20000; i++) {
        dtm_metric_inc((dtm_metric_t *)arg);
        dtm_metrics_observe_request("s", "GET", "/x", 200, 0.01);
    }
    return NULL;
}

Test(metrics, concurrent_updates_are_exact)
{
    dtm_metric_t *c = dtm_counter("dtm_race_total", "race", NULL);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, c);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char *text = dtm_metrics_render(NULL);
    cr_assert(strstr(text, "dtm_race_total 80000\n"), "%s", text);
    cr_assert(strstr(text, "route=\"/x\",status=\"200\"} 80000\n"));
    free(text);
}

Test(metrics, label_values_escaped)
{
    dtm_metrics_observe_request("s", "GET", "/a\"b\\c\nd", 200, 0.01);
    char *text = dtm_metrics_render(NULL);
    cr_assert(strstr(text, "route=\"/a\\\"b\\\\c\\nd\""), "%s", text);
    free(text);
}
