/* SPDX-License-Identifier: MIT */
#include "core/log.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* stdout goes to a temporary file for the test; lines are read back and parsed. */
static FILE *capture;
static int saved_stdout;

static void capture_start(void)
{
    capture = tmpfile();
    cr_assert_not_null(capture);
    fflush(stdout);
    saved_stdout = dup(STDOUT_FILENO);
    dup2(fileno(capture), STDOUT_FILENO);
}

/* Returns the captured lines as a JSON array of parsed objects. */
static json_t *capture_end(void)
{
    dup2(saved_stdout, STDOUT_FILENO);
    close(saved_stdout);
    rewind(capture);
    json_t *lines = json_array();
    char buf[8192];
    while (fgets(buf, sizeof buf, capture)) {
        json_error_t e;
        json_t *j = json_loads(buf, 0, &e);
        cr_assert_not_null(j, "line is not JSON: %s (%s)", buf, e.text);
        json_array_append_new(lines, j);
    }
    fclose(capture);
    return lines;
}

static const char *field(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

Test(log, level_parse)
{
    cr_assert_eq(dtm_log_level_parse("debug"), DTM_LOG_DEBUG);
    cr_assert_eq(dtm_log_level_parse("info"), DTM_LOG_INFO);
    cr_assert_eq(dtm_log_level_parse("warn"), DTM_LOG_WARN);
    cr_assert_eq(dtm_log_level_parse("error"), DTM_LOG_ERROR);
    cr_assert_eq(dtm_log_level_parse("verbose"), -1);
    cr_assert_eq(dtm_log_level_parse(NULL), -1);
}

Test(log, event_lines_and_filtering)
{
    dtm_log_init("auth", DTM_LOG_INFO);
    capture_start();
    dtm_log_debug("hidden");
    dtm_log_info("started on port %d", 3001);
    dtm_log_with(
        DTM_LOG_WARN,
        json_pack("{s:s, s:s, s:i}", "password", "hunter2", "dtmToken", "abc", "attempt", 3),
        "login \"failed\"");
    json_t *lines = capture_end();
    cr_assert_eq(json_array_size(lines), 2);
    json_t *a = json_array_get(lines, 0), *b = json_array_get(lines, 1);
    cr_assert_str_eq(field(a, "level"), "info");
    cr_assert_str_eq(field(a, "message"), "started on port 3001");
    cr_assert_str_eq(field(a, "service"), "auth");
    const char *ts = field(a, "timestamp");
    cr_assert_eq(strlen(ts), 24);
    cr_assert_eq(ts[23], 'Z');
    cr_assert_eq(ts[19], '.');
    cr_assert_str_eq(field(b, "level"), "warn");
    cr_assert_str_eq(field(b, "message"), "login \"failed\"");
    cr_assert_str_eq(field(b, "password"), "[REDACTED]");
    cr_assert_str_eq(field(b, "dtmToken"), "[REDACTED]");
    cr_assert_eq(json_integer_value(json_object_get(b, "attempt")), 3);
    json_decref(lines);
}

Test(log, access_line_fields)
{
    dtm_log_init("api-gateway", DTM_LOG_INFO);
    capture_start();
    dtm_access_t acc = {.method = "POST",
                        .path = "/api/auth/login",
                        .upstream = "http://auth-service:3001",
                        .ip = "10.0.0.7",
                        .user_agent = "curl/8",
                        .request_id = "req-1",
                        .status = 200,
                        .duration_ms = 12.3456789,
                        .bytes_in = 50,
                        .bytes_out = 300};
    dtm_log_access(&acc);
    acc.upstream = NULL;
    acc.path = "/api/\xff\xfe";
    acc.status = 503;
    dtm_log_access(&acc);
    json_t *lines = capture_end();
    cr_assert_eq(json_array_size(lines), 2);
    json_t *a = json_array_get(lines, 0);
    cr_assert_str_eq(field(a, "message"), "POST /api/auth/login -> http://auth-service:3001");
    cr_assert_str_eq(field(a, "level"), "info");
    cr_assert_str_eq(field(a, "service"), "api-gateway");
    cr_assert_str_eq(field(a, "method"), "POST");
    cr_assert_str_eq(field(a, "path"), "/api/auth/login");
    cr_assert_str_eq(field(a, "ip"), "10.0.0.7");
    cr_assert_str_eq(field(a, "userAgent"), "curl/8");
    cr_assert_str_eq(field(a, "requestId"), "req-1");
    cr_assert(json_is_null(json_object_get(a, "userId")));
    cr_assert_eq(json_integer_value(json_object_get(a, "status")), 200);
    cr_assert_float_eq(json_real_value(json_object_get(a, "durationMs")), 12.346, 1e-9);
    cr_assert_eq(json_integer_value(json_object_get(a, "bytesIn")), 50);
    cr_assert_eq(json_integer_value(json_object_get(a, "bytesOut")), 300);
    json_t *b = json_array_get(lines, 1);
    cr_assert_str_eq(field(b, "level"), "error");
    cr_assert_str_eq(field(b, "message"), "POST /api/??");
    json_decref(lines);
}

static void *spam(void *arg)
{
    for (int i = 0; i < 500; i++)
        dtm_log_info("thread %ld line %d %s", (long)(intptr_t)arg, i,
                     "padding padding padding padding padding padding padding padding");
    return NULL;
}

Test(log, concurrent_lines_never_interleave)
{
    dtm_log_init("dtm", DTM_LOG_INFO);
    capture_start();
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, spam, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    json_t *lines = capture_end(); /* asserts each line parses */
    cr_assert_eq(json_array_size(lines), 2000);
    json_decref(lines);
}
