-- SPDX-License-Identifier: MIT
-- Offline-safe writes (API.md "Offline-safe writes"): the stored outcome of every POST/PATCH
-- sent with an Idempotency-Key, kept per caller (scope = the caller's user id) for at least
-- DTM_IDEMPOTENCY_TTL_S (24 h by default). Owned by the request layer (src/db/idempotency.c),
-- shared by every service; no service reads it.
CREATE SCHEMA IF NOT EXISTS idempotency;

CREATE TABLE idempotency.keys (
    scope text NOT NULL CHECK (char_length(scope) BETWEEN 1 AND 64),
    key text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    -- SHA-256 (hex) of the method, the path with its query and the body (multipart part by
    -- part, so a retry with a new boundary is the same request).
    fingerprint text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    method text NOT NULL,
    path text NOT NULL,
    state text NOT NULL CHECK (state IN ('running', 'done')),
    -- While running: until when the first request owns the key. A process that died holding it
    -- lets a retry take over after this time.
    lease_until timestamptz NOT NULL,
    status integer CHECK (status BETWEEN 200 AND 499),
    content_type text,
    location text,
    body text,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (scope, key),
    CHECK ((state = 'done') = (status IS NOT NULL))
);
-- The purge job deletes by age.
CREATE INDEX keys_created_idx ON idempotency.keys (created_at);
