-- SPDX-License-Identifier: MIT
-- Password reset by e-mail (issue 14): single-use tokens, stored as SHA-256, valid 1 h.
CREATE TABLE auth.password_resets (
    token_hash text PRIMARY KEY CHECK (length(token_hash) = 64),
    user_id    uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX password_resets_user_idx ON auth.password_resets (user_id);
CREATE INDEX password_resets_expires_idx ON auth.password_resets (expires_at);

-- Transactional outbox of the auth service (src/db/outbox.h): auth.password_reset_requested and
-- auth.password_changed, written in the transaction that makes the change; the notifications
-- service mails them. Same shape as migrations/attendance/0003_outbox.sql.
CREATE TABLE auth.outbox (
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
CREATE INDEX outbox_pending_idx ON auth.outbox (next_attempt_at, seq)
    WHERE delivered_at IS NULL;
CREATE INDEX outbox_delivered_idx ON auth.outbox (delivered_at)
    WHERE delivered_at IS NOT NULL;
