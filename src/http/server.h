/* SPDX-License-Identifier: MIT */
/* The connection layer: libuv loops (one per core, each with its own SO_REUSEPORT listener),
 * llhttp (strict), keep-alive, pipelining, limits, timeouts, streamed responses, SSE and the
 * SIGTERM drain. What a request means is decided by the router (internal.h); this layer only
 * moves bytes. */
#ifndef DTM_HTTP_SERVER_H
#define DTM_HTTP_SERVER_H

#include "http/http.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uv_loop_s;

typedef struct {
    const char *host;     /* listen address; NULL = dtm_cfg.host, else 127.0.0.1 */
    int port;             /* 0 = an ephemeral port (see on_ready / dtm_server_port) */
    int loops;            /* event loops; 0 = dtm_cfg.loops, else the number of CPUs */
    int threads;          /* worker pool size; 0 = dtm_cfg.threads, else 16 */
    int max_header_bytes; /* 0 = dtm_cfg.max_header_bytes, else 16 KiB */
    int read_timeout_ms;  /* headers + body of one request; 0 = dtm_cfg, else 15000 */
    int idle_timeout_ms;  /* keep-alive idle; 0 = dtm_cfg, else 60000 */
    int drain_timeout_ms; /* bound on the SIGTERM drain; 0 = dtm_cfg, else 10000 */
    bool signals;         /* handle SIGTERM/SIGINT by draining (dtm serve sets it) */
    /** Called once from the control thread when every listener is bound and the loops run.
     *  `port` is the bound port (useful with port 0). May be NULL. */
    void (*on_ready)(void *ud, int port);
    void *ud;
} dtm_server_opts_t;

/** Serve until a drain completes (SIGTERM/SIGINT when o->signals, or dtm_server_stop).
 *  Blocks the calling thread. Returns 0 after a clean drain, or a negative libuv error code
 *  when the listeners could not be set up (message logged). One server per process at a time.
 *  Sets UV_THREADPOOL_SIZE from the thread count unless already set in the environment. */
int dtm_server_run(const dtm_server_opts_t *o);

/** Begin the drain: stop accepting, finish in-flight requests (bounded by the drain timeout),
 *  close idle connections, stop the loops; dtm_server_run then returns 0. Safe from any thread
 *  and from a signal handler; a no-op when no server runs. */
void dtm_server_stop(void);

/** Bound port of the running server, 0 when none. */
int dtm_server_port(void);

/** Gauges (also exported on /metrics as http_requests_in_flight, http_connections_open). */
long dtm_server_inflight(void);
long dtm_server_connections(void);

/** The socket peer's address (req->client_ip may be rewritten from X-Forwarded-For). */
const char *dtm_server_req_peer(const dtm_req_t *req);

/** The original request-target in origin form ("/api/x%20y?q=1"), undecoded, for proxying. */
const char *dtm_server_req_target(const dtm_req_t *req);

/** Called on each loop's thread when it stops (drain done): close the handles you keep on it
 *  (the gateway's idle upstream connections), or the loop cannot end. */
typedef void (*dtm_loop_stop_fn)(struct uv_loop_s *loop);
void dtm_server_set_loop_stop(dtm_loop_stop_fn fn);

/** The gateway's proxy entry (issue 3). Called on the loop thread at message completion for
 *  DTM_DISPATCH_PROXY. It must eventually call dtm_server_resp_ready(req) on the same loop
 *  after setting the response; when NULL the core answers 503. */
typedef void (*dtm_proxy_fn)(dtm_req_t *req);
void dtm_server_set_proxy(dtm_proxy_fn fn);

/** From the loop thread that owns req: the response of an asynchronously handled request
 *  (proxy) is set; write it when its turn comes. */
void dtm_server_resp_ready(dtm_req_t *req);

/** True when the client of an asynchronously handled request (proxy) has gone; the handler
 *  still calls dtm_server_resp_ready, which then only frees the request. */
bool dtm_server_req_gone(const dtm_req_t *req);

/* ---- loop-side streamed responses (the gateway relays upstream bodies as they arrive) ----
 * On the loop thread that owns req, for a request held with busy (proxy): begin
 * (content_length < 0 = chunked), any number of writes, end, then dtm_server_resp_ready.
 * Writes never block: they return the bytes queued for the client; above
 * DTM_SERVER_STREAM_HIGH the producer should pause, and on_drain(ud) is called once the queue
 * has fallen below half of it. abort cuts the client connection (the upstream died mid-body):
 * the client sees a truncated response, never a wrong one. */
#define DTM_SERVER_STREAM_HIGH (256 * 1024)
void dtm_server_stream_begin(dtm_req_t *req, int status, const char *content_type,
                             long long content_length);
size_t dtm_server_stream_write(dtm_req_t *req, const void *data, size_t len);
void dtm_server_stream_end(dtm_req_t *req);
void dtm_server_stream_abort(dtm_req_t *req);
void dtm_server_stream_on_drain(dtm_req_t *req, void (*fn)(void *), void *ud);

/** The libuv loop that owns req (for asynchronous handlers on the loop). The loop's `data`
 *  field belongs to the gateway (its per-loop upstream pools). */
struct uv_loop_s *dtm_server_req_loop(const dtm_req_t *req);

/** Testing only (tests/fuzz/http_parse_fuzz.c): runs `data` through a connection on a private
 *  loop over a socketpair, cut into reads of a size picked by the first byte. The router seam
 *  (internal.h) must be provided by the caller's build. */
int dtm_server_fuzz_input(const uint8_t *data, size_t len);

#endif
