-- SPDX-License-Identifier: MIT
-- Transactional outbox of the audits service (src/db/outbox.h): audit.failed events are written
-- here in the submit's own transaction, one row per subscribed consumer, and a relay delivers
-- them at least once. Delivered rows are purged after 7 days.
CREATE TABLE audits.outbox (
    seq bigserial PRIMARY KEY,
    event_id uuid NOT NULL,
    consumer text NOT NULL CHECK (char_length(consumer) BETWEEN 1 AND 64),
    topic text NOT NULL CHECK (char_length(topic) BETWEEN 1 AND 128),
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    last_error text,
    UNIQUE (event_id, consumer)
);
-- The relay's claim query: due, undelivered rows, oldest first.
CREATE INDEX outbox_pending_idx ON audits.outbox (next_attempt_at, seq)
    WHERE delivered_at IS NULL;
CREATE INDEX outbox_delivered_idx ON audits.outbox (delivered_at)
    WHERE delivered_at IS NOT NULL;
