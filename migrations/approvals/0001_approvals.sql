-- SPDX-License-Identifier: MIT
-- Approvals: requests (leave, attendance correction, overtime, geofence exception) that go
-- through a per-type workflow of ordered role steps. A request copies its workflow's steps when
-- it is created (approvals.steps), so editing a workflow never changes a request in flight.
-- requester_id belongs to the users service (no foreign key across schemas).
CREATE SCHEMA IF NOT EXISTS approvals;

CREATE TABLE approvals.workflows (
    type text PRIMARY KEY
        CHECK (type IN ('leave', 'attendance_correction', 'overtime', 'geofence_exception')),
    version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    roles text[] NOT NULL CHECK (cardinality(roles) BETWEEN 1 AND 5
        AND roles <@ ARRAY['admin', 'manager']::text[]),
    updated_by uuid,
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- API.md defaults: leave → manager, then admin; the others → manager.
INSERT INTO approvals.workflows (type, roles) VALUES
    ('leave', ARRAY['manager', 'admin']),
    ('attendance_correction', ARRAY['manager']),
    ('overtime', ARRAY['manager']),
    ('geofence_exception', ARRAY['manager']);

CREATE TABLE approvals.requests (
    id uuid PRIMARY KEY,
    type text NOT NULL REFERENCES approvals.workflows (type),
    requester_id uuid NOT NULL,
    requester_name text NOT NULL DEFAULT '',
    payload jsonb NOT NULL,
    reason text NOT NULL DEFAULT '' CHECK (char_length(reason) <= 2000),
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'rejected', 'cancelled')),
    workflow_version integer NOT NULL,
    nsteps integer NOT NULL CHECK (nsteps BETWEEN 1 AND 5),
    -- The step waiting for a decision (0-based) and its role; both null once decided. A decision
    -- is the conditional UPDATE ... WHERE current_step = $n AND status = 'pending': of two
    -- concurrent decisions of one step exactly one matches.
    current_step integer CHECK (current_step >= 0 AND current_step < nsteps),
    pending_role text CHECK (pending_role IN ('admin', 'manager')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz,
    CHECK ((status = 'pending') = (current_step IS NOT NULL)),
    CHECK ((current_step IS NULL) = (pending_role IS NULL)),
    CHECK ((status = 'pending') = (decided_at IS NULL))
);
-- scope=mine; the inbox (what waits for a role); the staff's full list.
CREATE INDEX requests_requester_idx ON approvals.requests (requester_id, created_at DESC, id DESC);
CREATE INDEX requests_inbox_idx ON approvals.requests (pending_role, created_at DESC, id DESC)
    WHERE status = 'pending';
CREATE INDEX requests_created_idx ON approvals.requests (created_at DESC, id DESC);

CREATE TABLE approvals.steps (
    request_id uuid NOT NULL REFERENCES approvals.requests (id),
    position integer NOT NULL CHECK (position >= 0),
    role text NOT NULL CHECK (role IN ('admin', 'manager')),
    status text NOT NULL DEFAULT 'waiting'
        CHECK (status IN ('waiting', 'pending', 'approved', 'rejected', 'skipped', 'cancelled')),
    actor_id uuid,
    comment text CHECK (char_length(comment) <= 2000),
    decided_at timestamptz,
    PRIMARY KEY (request_id, position)
);

-- Outbox publisher side (src/db/outbox.h): approval.requested, approval.decided.
CREATE TABLE approvals.outbox (
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
CREATE INDEX outbox_pending_idx ON approvals.outbox (next_attempt_at, seq)
    WHERE delivered_at IS NULL;
CREATE INDEX outbox_delivered_idx ON approvals.outbox (delivered_at)
    WHERE delivered_at IS NOT NULL;
