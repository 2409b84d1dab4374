-- SPDX-License-Identifier: MIT
-- Notifications: the in-app inbox of every user, their e-mail preferences and the mail queue.
-- Events arrive from the other services' outboxes (src/db/outbox.h) and are applied once each
-- (processed_events). user_id belongs to the users service (no foreign key across schemas).
CREATE SCHEMA IF NOT EXISTS notifications;

CREATE TABLE notifications.notifications (
    id uuid PRIMARY KEY,
    -- The SSE event id (Last-Event-ID). Taken under a per-user advisory lock, so that one
    -- user's notifications commit in seq order and "everything after seq N" is well defined.
    seq bigserial NOT NULL UNIQUE,
    user_id uuid NOT NULL,
    type text NOT NULL CHECK (char_length(type) BETWEEN 1 AND 64),
    title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 300),
    body text NOT NULL DEFAULT '' CHECK (char_length(body) <= 4000),
    link text CHECK (char_length(link) <= 1000),
    event_id uuid,
    read_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- The inbox page (newest first), the SSE resume (seq after N) and the unread count.
CREATE INDEX notifications_user_seq_idx ON notifications.notifications (user_id, seq DESC);
CREATE INDEX notifications_unread_idx ON notifications.notifications (user_id, seq DESC)
    WHERE read_at IS NULL;

-- Per-user, per-type channel switches; a missing row means the default (on).
CREATE TABLE notifications.preferences (
    user_id uuid NOT NULL,
    channel text NOT NULL CHECK (channel IN ('email', 'push')),
    type text NOT NULL CHECK (char_length(type) BETWEEN 1 AND 64),
    enabled boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, channel, type)
);

-- Outgoing mail. pending rows are retried with exponential backoff; after 8 failed attempts a
-- row is dead (kept for the operator, counted in /metrics).
CREATE TABLE notifications.mail_queue (
    id uuid PRIMARY KEY,
    kind text NOT NULL CHECK (char_length(kind) BETWEEN 1 AND 64),
    user_id uuid,
    notification_id uuid,
    to_addr text NOT NULL CHECK (char_length(to_addr) BETWEEN 3 AND 320),
    to_name text,
    subject text NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 300),
    text_body text NOT NULL,
    html_body text,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    message_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);
CREATE INDEX mail_queue_pending_idx ON notifications.mail_queue (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX mail_queue_created_idx ON notifications.mail_queue (created_at)
    WHERE status = 'pending';

-- Outbox consumer side: events applied once each.
CREATE TABLE notifications.processed_events (
    event_id uuid PRIMARY KEY,
    topic text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);
