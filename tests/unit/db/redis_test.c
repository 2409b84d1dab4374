/* SPDX-License-Identifier: MIT */
/* Runs against a real Redis: REDIS_URL (skipped with a message when unset). The outage tests
 * start their own redis-server on a port of the corelib range, so the shared server is never
 * stopped. */
#include "core/config.h"
#include "core/metrics.h"
#include "core/timeutil.h"
#include "db/redis.h"
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char key[64];

static void setup(void)
{
    const char *url = getenv("REDIS_URL");
    if (!url || !*url)
        cr_skip_test("REDIS_URL is not set: Redis tests skipped");
    dtm_config_load(0, NULL);
    snprintf(key, sizeof key, "dtm:test:%d", (int)getpid());
}

Test(redis, parse_url)
{
    char host[64], pw[64];
    int port, db;
    cr_assert_eq(dtm_redis_parse_url("redis://127.0.0.1:56379/3", host, sizeof host, &port, pw,
                                     sizeof pw, &db),
                 0);
    cr_assert_str_eq(host, "127.0.0.1");
    cr_assert_eq(port, 56379);
    cr_assert_eq(db, 3);
    cr_assert_str_eq(pw, "");
    cr_assert_eq(dtm_redis_parse_url("redis://:s3cr@t@cache/12", host, sizeof host, &port, pw,
                                     sizeof pw, &db),
                 0);
    cr_assert_str_eq(host, "cache");
    cr_assert_str_eq(pw, "s3cr@t");
    cr_assert_eq(port, 6379);
    cr_assert_eq(db, 12);
    cr_assert_eq(
        dtm_redis_parse_url("redis://user:pw@h:1", host, sizeof host, &port, pw, sizeof pw, &db),
        0);
    cr_assert_str_eq(pw, "pw");
    cr_assert_eq(db, 0);
    /* userinfo is percent-encoded in a URL (RFC 3986): "%40" is '@', "%2F" '/', "%3A" ':' */
    cr_assert_eq(dtm_redis_parse_url("redis://:p%40ss%2Fw%3Ard@h:1/2", host, sizeof host, &port, pw,
                                     sizeof pw, &db),
                 0);
    cr_assert_str_eq(pw, "p@ss/w:rd");
    cr_assert_str_eq(host, "h");
    cr_assert_eq(
        dtm_redis_parse_url("redis://:bad%zz@h", host, sizeof host, &port, pw, sizeof pw, &db), -1);
    const char *bad[] = {"http://h",        "redis://",    "redis://h:0",
                         "redis://h:99999", "redis://h:x", "redis://h/abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(dtm_redis_parse_url(bad[i], host, sizeof host, &port, pw, sizeof pw, &db), -1,
                     "%s", bad[i]);
}

Test(redis, commands_replies_and_db_selection, .init = setup)
{
    dtm_redis_init();
    cr_assert(dtm_redis_up());
    dtm_arena_t *a = dtm_arena_new(0);
    redisReply *r = dtm_redis_cmd(a, "SET %s %s EX 60", key, "va lue");
    cr_assert_not_null(r);
    cr_assert_str_eq(r->str, "OK");
    r = dtm_redis_cmd(a, "GET %s", key);
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    cr_assert_str_eq(r->str, "va lue");
    const char *argv[] = {"SET", key, "bin\0ary"};
    size_t lens[] = {3, strlen(key), 7};
    r = dtm_redis_cmdargv(a, 3, argv, lens);
    cr_assert_str_eq(r->str, "OK");
    r = dtm_redis_cmd(a, "STRLEN %s", key);
    cr_assert_eq(r->integer, 7);
    r = dtm_redis_cmd(a, "INCR %s", key); /* not an integer: an error reply, returned as-is */
    cr_assert_not_null(r);
    cr_assert_eq(r->type, REDIS_REPLY_ERROR);
    cr_assert(dtm_redis_up(), "an error reply does not mean Redis is down");
    /* Same key is visible in the URL's db number and nowhere else. */
    char host[64], pw[64];
    int port, db;
    cr_assert_eq(
        dtm_redis_parse_url(getenv("REDIS_URL"), host, sizeof host, &port, pw, sizeof pw, &db), 0);
    redisContext *raw = redisConnect(host, port);
    redisReply *x = redisCommand(raw, "SELECT %d", db);
    freeReplyObject(x);
    x = redisCommand(raw, "EXISTS %s", key);
    cr_assert_eq(x->integer, 1);
    freeReplyObject(x);
    x = redisCommand(raw, "SELECT %d", db == 0 ? 1 : 0);
    freeReplyObject(x);
    x = redisCommand(raw, "EXISTS %s", key);
    cr_assert_eq(x->integer, 0);
    freeReplyObject(x);
    redisFree(raw);
    dtm_redis_cmd(a, "DEL %s", key);
    dtm_arena_free(a);
    /* NULL arena: the caller frees */
    r = dtm_redis_cmd(NULL, "PING");
    cr_assert_str_eq(r->str, "PONG");
    freeReplyObject(r);
    dtm_redis_stats_t s;
    dtm_redis_stats(&s);
    cr_assert(s.up);
    cr_assert_geq(s.commands, 7);
    char *text = dtm_metrics_render(NULL);
    cr_assert(strstr(text, "dtm_redis_up 1\n"), "%s", text);
    cr_assert(strstr(text, "# TYPE dtm_redis_commands_total counter\n"));
    free(text);
    dtm_redis_shutdown();
}

/* ---- a private redis-server for outage tests ---- */

static pid_t server_pid;
static char private_url[64];

/* redis-server on `port`; with `user`, an ACL user with `password` and every right, and the
 * default user disabled (only that user gets in). */
static void start_server_acl(int port, const char *user, const char *password)
{
    char pass_rule[128];
    snprintf(pass_rule, sizeof pass_rule, ">%s", password ? password : "");
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    server_pid = fork();
    if (server_pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        if (user)
            execlp("redis-server", "redis-server", "--port", portstr, "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--user", "default", "off", "--user", user,
                   "on", pass_rule, "~*", "&*", "+@all", (char *)NULL);
        else
            execlp("redis-server", "redis-server", "--port", portstr, "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) { /* wait until it accepts connections */
        redisContext *c = redisConnect("127.0.0.1", port);
        bool ok = c && !c->err;
        if (c)
            redisFree(c);
        if (ok)
            return;
        usleep(20000);
    }
    cr_assert_fail("redis-server did not start on port %d", port);
}

static void start_server(int port)
{
    start_server_acl(port, NULL, NULL);
}

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
}

/* A port of the corelib range (lo..hi) that nobody listens on right now, starting from a
 * pid-dependent offset so parallel test processes rarely even try the same one. */
static int free_port(int lo, int hi)
{
    for (int i = 0; i <= hi - lo; i++) {
        int port = lo + (int)((getpid() + i) % (hi - lo + 1));
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(fd);
        if (ok)
            return port;
    }
    return -1;
}

static int port_in_use;

static int private_port(void)
{
    return port_in_use;
}

static void setup_private(void)
{
    if (system("command -v redis-server >/dev/null 2>&1") != 0)
        cr_skip_test("redis-server is not installed: outage tests skipped");
    int port = port_in_use = free_port(49100, 49899);
    cr_assert_gt(port, 0, "no free port in 49100-49899");
    snprintf(private_url, sizeof private_url, "redis://127.0.0.1:%d/2", port);
    setenv("REDIS_URL", private_url, 1);
    setenv("DTM_REDIS_TIMEOUT_MS", "300", 1);
    dtm_config_load(0, NULL);
    start_server(port);
}

static void *slow_command(void *arg)
{
    (void)arg;
    redisReply *r = dtm_redis_cmd(NULL, "DEBUG SLEEP 0.05");
    if (r)
        freeReplyObject(r);
    return NULL;
}

Test(redis, breaker_fails_fast_and_recovers_after_restart, .init = setup_private,
     .fini = stop_server, .timeout = 30)
{
    dtm_redis_init();
    cr_assert(dtm_redis_up());
    redisReply *r = dtm_redis_cmd(NULL, "SET k v");
    cr_assert_not_null(r);
    freeReplyObject(r);
    /* Several pooled connections, all idle when the server goes away. */
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, slow_command, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);

    stop_server();
    /* The first call notices, the following ones must not wait for a timeout each. */
    cr_assert_null(dtm_redis_cmd(NULL, "GET k"));
    double t0 = dtm_mono_s();
    for (int i = 0; i < 200; i++)
        cr_assert_null(dtm_redis_cmd(NULL, "GET k"));
    double spent = dtm_mono_s() - t0;
    cr_assert_lt(spent, 0.2, "200 calls took %.3f s while Redis was down", spent);
    cr_assert_not(dtm_redis_up());
    dtm_redis_stats_t s;
    dtm_redis_stats(&s);
    cr_assert_not(s.up);
    cr_assert_geq(s.errors, 1);

    start_server(private_port());
    /* Within about one breaker period plus a probe, commands succeed again. */
    double t1 = dtm_mono_s();
    while (dtm_mono_s() - t1 < 5) {
        r = dtm_redis_cmd(NULL, "PING");
        if (r)
            break;
        usleep(50000);
    }
    cr_assert_not_null(r, "no recovery within 5 s");
    freeReplyObject(r);
    cr_assert_lt(dtm_mono_s() - t1, 2.5);
    cr_assert(dtm_redis_up());
    r = dtm_redis_cmd(NULL, "SET k v2");
    cr_assert_not_null(r, "db selection after reconnect");
    freeReplyObject(r);
    dtm_redis_shutdown();
}

Test(redis, unreachable_at_start_is_down_not_fatal, .timeout = 10)
{
    setenv("REDIS_URL", "redis://127.0.0.1:49999/1", 1);
    dtm_config_load(0, NULL);
    double t0 = dtm_mono_s();
    dtm_redis_init();
    cr_assert_not(dtm_redis_up());
    for (int i = 0; i < 100; i++)
        cr_assert_null(dtm_redis_cmd(NULL, "GET x"));
    cr_assert_lt(dtm_mono_s() - t0, 1.0);
    dtm_redis_shutdown();
}

/* ---- pub/sub ---- */

static pthread_mutex_t got_mu = PTHREAD_MUTEX_INITIALIZER;
static char got[64];
static int ngot;

static void on_message(const char *msg, size_t len, void *ud)
{
    (void)ud;
    pthread_mutex_lock(&got_mu);
    snprintf(got, sizeof got, "%.*s", (int)len, msg);
    ngot++;
    pthread_mutex_unlock(&got_mu);
}

/* Publish until the subscriber has seen `want` messages (it may still be (re)connecting). */
static bool publish_until(const char *channel, const char *payload, int want)
{
    for (int i = 0; i < 100; i++) {
        redisReply *r = dtm_redis_cmd(NULL, "PUBLISH %s %s", channel, payload);
        if (r)
            freeReplyObject(r);
        usleep(50000);
        pthread_mutex_lock(&got_mu);
        bool done = ngot >= want && strcmp(got, payload) == 0;
        pthread_mutex_unlock(&got_mu);
        if (done)
            return true;
    }
    return false;
}

Test(redis, subscribe_receives_and_reconnects, .init = setup_private, .fini = stop_server,
     .timeout = 30)
{
    dtm_redis_init();
    char channel[64];
    snprintf(channel, sizeof channel, "dtm:test:events:%d", (int)getpid());
    cr_assert_eq(dtm_redis_subscribe(channel, on_message, NULL), 0);
    cr_assert(publish_until(channel, "first", 1));
    stop_server();
    usleep(200000);
    start_server(private_port());
    pthread_mutex_lock(&got_mu);
    int before = ngot;
    pthread_mutex_unlock(&got_mu);
    cr_assert(publish_until(channel, "after-restart", before + 1),
              "subscriber did not come back after a Redis restart");
    dtm_redis_shutdown(); /* joins the subscriber thread */
}

/* Redis 6+ ACL users (ElastiCache RBAC): `AUTH user password`, with a percent-encoded password. */
Test(redis, acl_user_and_encoded_password, .fini = stop_server, .timeout = 20)
{
    if (system("command -v redis-server >/dev/null 2>&1") != 0)
        cr_skip_test("redis-server is not installed");
    int port = port_in_use = free_port(49100, 49899);
    cr_assert_gt(port, 0);
    start_server_acl(port, "dtm", "p@ss/w:rd");
    snprintf(private_url, sizeof private_url, "redis://dtm:p%%40ss%%2Fw%%3Ard@127.0.0.1:%d/0",
             port);
    setenv("REDIS_URL", private_url, 1);
    dtm_config_load(0, NULL);
    dtm_redis_init();
    redisReply *r = dtm_redis_cmd(NULL, "SET dtm:acl ok");
    cr_assert_not_null(r, "authenticated as the ACL user");
    cr_assert_eq(r->type, REDIS_REPLY_STATUS, "%s", r->str ? r->str : "");
    freeReplyObject(r);
    cr_assert(dtm_redis_up());
    dtm_redis_shutdown();
}
