/* SPDX-License-Identifier: MIT */
/* Configuration from the environment only (12-factor), driven by one typed table in config.c
 * (Redis's config.c idea). `dtm_env_file_load` first merges DTM_ENV_FILE (default
 * ./var/dtm.env when it exists) *under* the real environment: real variables always win. */
#ifndef DTM_CONFIG_H
#define DTM_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

typedef struct {
    /* data stores */
    const char *database_url; /* DATABASE_URL (DATABASE_URL_<SERVICE> via dtm_config_db_url) */
    const char *redis_url;    /* REDIS_URL, default redis://127.0.0.1:6379/0 */
    /* REDIS_SENTINELS host:port,...: the master is found through Sentinel (REDIS_MASTER_NAME,
     * default "dtm") and followed across failovers; REDIS_URL then gives only the user,
     * password and db. REDIS_SENTINEL_PASSWORD when the sentinels require AUTH. */
    const char *redis_sentinels, *redis_master_name, *redis_sentinel_password;
    int pg_pool_size;  /* DTM_PG_POOL_SIZE, default 32 (2x threads: dtm_call nests) */
    int pg_timeout_ms; /* DTM_PG_TIMEOUT_MS, connect + acquire timeout, default 2000 */
    /* DTM_PG_STATEMENT_TIMEOUT_MS, statement_timeout of pooled connections, default 30000 */
    int pg_statement_timeout_ms;
    /* DTM_PG_POOLER: what DATABASE_URL points at. none (PostgreSQL itself) or session (a pooler
     * in session mode): named prepared statements per connection and a session
     * statement_timeout. transaction (PgBouncer in transaction mode): unnamed statements only,
     * no session state, the statement timeout enforced by dtm with a cancel request. */
    const char *pg_pooler;
    int redis_timeout_ms; /* DTM_REDIS_TIMEOUT_MS, default 500 */
    /* auth */
    const char *jwt_secret;           /* DTM_JWT_SECRET, >= 32 bytes, required for serve */
    const char *jwt_previous_secrets; /* DTM_JWT_PREVIOUS_SECRETS, comma-separated */
    int access_ttl_s;                 /* DTM_ACCESS_TTL, default 900 */
    int refresh_ttl_s;                /* DTM_REFRESH_TTL, default 2592000 (30 days) */
    int login_limit_per_email;        /* DTM_LOGIN_LIMIT_PER_EMAIL, default 10 / minute */
    int login_limit_per_ip;           /* DTM_LOGIN_LIMIT_PER_IP, default 100 / minute */
    /* HTTP */
    const char *host;     /* DTM_HOST, default 127.0.0.1 */
    int port;             /* DTM_PORT, 0 = the target's default */
    int loops;            /* DTM_LOOPS, event loops, default = number of CPUs */
    int threads;          /* DTM_THREADS, worker pool size, default 16 */
    long max_body_bytes;  /* DTM_MAX_BODY, default 1 MiB */
    int max_header_bytes; /* DTM_MAX_HEADER, default 16 KiB */
    int read_timeout_ms;  /* DTM_READ_TIMEOUT_MS (headers+body), default 15000 */
    int idle_timeout_ms;  /* DTM_IDLE_TIMEOUT_MS (keep-alive), default 60000 */
    int write_timeout_ms; /* DTM_WRITE_TIMEOUT_MS: a streamed response whose client reads
                             nothing for this long is cut off, default 30000 */
    int drain_timeout_ms; /* DTM_DRAIN_TIMEOUT_MS on SIGTERM, default 10000 */
    /* offline-safe writes (src/services/idempotency.c) */
    int idempotency_ttl_s;    /* DTM_IDEMPOTENCY_TTL_S: keys kept, default and minimum 86400 */
    int idempotency_lease_ms; /* DTM_IDEMPOTENCY_LEASE_MS: a running key is the first request's
                                 for this long; then a retry may take over (default 60000) */
    const char *web_dir;      /* DTM_WEB_DIR, default ./web/dist */
    /* gateway */
    int rate_limit_per_ip;           /* DTM_RATE_LIMIT_PER_IP, default 1200 / minute */
    int rate_limit_per_user;         /* DTM_RATE_LIMIT_PER_USER, default 600 / minute */
    int rate_limit_burst_pct;        /* DTM_RATE_LIMIT_BURST_PCT: bucket size, % of the per-minute
                                        limit (default 25: 300 requests for 1200/min) */
    const char *trusted_proxies;     /* DTM_TRUSTED_PROXIES, comma-separated IPs/CIDRs */
    const char *cors_origins;        /* DTM_CORS_ORIGINS, comma-separated */
    const char *balance;             /* DTM_BALANCE: round_robin | least_outstanding */
    int upstream_connect_timeout_ms; /* DTM_UPSTREAM_CONNECT_TIMEOUT_MS, default 2000 */
    int upstream_timeout_ms;         /* DTM_UPSTREAM_TIMEOUT_MS, default 30000 */
    int health_interval_ms;          /* DTM_HEALTH_INTERVAL_MS, default 2000 */
    /* outbox (db/outbox.h) and background jobs */
    int outbox_poll_ms;      /* DTM_OUTBOX_POLL_MS: relay polling fallback, default 1000 */
    int outbox_retry_max_ms; /* DTM_OUTBOX_RETRY_MAX_MS: cap of the retry backoff, default 30000 */
    int outbox_max_attempts; /* DTM_OUTBOX_MAX_ATTEMPTS: dead-lettered after, default 100 */
    int visits_job_ms;       /* DTM_VISITS_JOB_INTERVAL_MS: missed/materialise job, default 60000 */
    /* mail (services/common/smtp.h) and notifications */
    const char
        *smtp_url; /* DTM_SMTP_URL: smtp://host:port or smtps://user:pass@host; unset = no mail */
    const char *mail_from;  /* DTM_MAIL_FROM: "Name <addr>" or addr */
    const char *public_url; /* DTM_PUBLIC_URL: the web client's address, for links in mails */
    int smtp_timeout_ms;    /* DTM_SMTP_TIMEOUT_MS: one SMTP transaction, default 10000 */
    int mail_poll_ms;       /* DTM_MAIL_POLL_MS: mail queue polling, default 1000 */
    int mail_retry_base_ms; /* DTM_MAIL_RETRY_BASE_MS: first retry delay (doubles), default 2000 */
    int mail_retry_max_ms;  /* DTM_MAIL_RETRY_MAX_MS: cap of the retry delay, default 1 h */
    int sse_max_clients;    /* DTM_SSE_MAX_CLIENTS: event streams per process (503 past it) */
    /* files */
    const char *data_dir;   /* DTM_DATA_DIR, default ./var/data */
    const char *backup_dir; /* DTM_BACKUP_DIR, default ./var/backups */
    /* seed / admin */
    const char *admin_email;    /* DTM_ADMIN_EMAIL, default admin@example.com */
    const char *admin_password; /* DTM_ADMIN_PASSWORD, secret */
    /* logging */
    const char *log_level; /* DTM_LOG_LEVEL, default info */
    long log_buffer_bytes; /* DTM_LOG_BUFFER_BYTES: stdout ring, default 4 MiB, 0 = synchronous */
    const char *env_file;  /* DTM_ENV_FILE actually loaded, or NULL */
} dtm_config_t;

/** The process-wide config; valid after dtm_config_load succeeded. */
extern dtm_config_t dtm_cfg;

/** Merge the env file under the environment (setenv with overwrite=0). Returns 0, or -1 when an
 *  explicitly named DTM_ENV_FILE cannot be read (message on stderr). */
int dtm_env_file_load(void);

/** Fill dtm_cfg from the environment. `need` flags say what this command requires
 *  (e.g. a JWT secret for serve). Every problem is written to `errs` (one per line) and the
 *  count returned; 0 means valid. */
#define DTM_NEED_DB  1u
#define DTM_NEED_JWT 2u
int dtm_config_load(unsigned need, FILE *errs);

/** DATABASE_URL_<SERVICE> (service upper-cased) or DATABASE_URL; NULL when neither. */
const char *dtm_config_db_url(const char *service);
/** DTM_UPSTREAM_<SERVICE> or "http://127.0.0.1:<default_port>". Static or env storage. */
const char *dtm_config_upstreams(const char *service, int default_port);

/** A copy of a URL or libpq conninfo with its password replaced by "***" (malloc'd; caller
 *  frees). Use it whenever a connection string is logged or printed. */
char *dtm_config_redact_url(const char *url);

/** Print effective configuration, secrets redacted ("***" / URL passwords masked). */
void dtm_config_print(FILE *out);

#endif
