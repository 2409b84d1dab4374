-- SPDX-License-Identifier: MIT
-- Visits: journey plans (recurring routes) and the visits they materialise, plus one-off visits.
-- user_id and store_id belong to the users and stores services (no foreign keys across
-- schemas); store_timezone is the store's zone when the visit was planned, so that the local
-- day of a visit (DESIGN: local dates are in the store's timezone) needs no call per row.
CREATE SCHEMA IF NOT EXISTS visits;

CREATE TABLE visits.plans (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    weekdays smallint[] NOT NULL CHECK (cardinality(weekdays) BETWEEN 1 AND 7
        AND weekdays <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[]),
    store_ids uuid[] NOT NULL CHECK (cardinality(store_ids) BETWEEN 1 AND 50),
    store_timezones text[] NOT NULL CHECK (cardinality(store_timezones) = cardinality(store_ids)),
    valid_from date NOT NULL,
    valid_to date CHECK (valid_to IS NULL OR valid_to >= valid_from),
    active boolean NOT NULL DEFAULT true,
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX plans_user_idx ON visits.plans (user_id, created_at DESC, id DESC);
CREATE INDEX plans_created_idx ON visits.plans (created_at DESC, id DESC);
CREATE INDEX plans_active_idx ON visits.plans (id) WHERE active;

CREATE TABLE visits.visits (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    store_id uuid NOT NULL,
    store_timezone text NOT NULL DEFAULT 'UTC',
    planned_date date NOT NULL,
    planned_start time,
    sequence integer NOT NULL DEFAULT 0 CHECK (sequence BETWEEN 0 AND 1000),
    status text NOT NULL DEFAULT 'planned' CHECK (status IN
        ('planned', 'in_progress', 'completed', 'missed', 'cancelled', 'unplanned')),
    attendance_id uuid,
    plan_id uuid REFERENCES visits.plans (id),
    plan_date date, -- the plan's slot this visit was made for (kept when a manager moves it)
    edited boolean NOT NULL DEFAULT false, -- changed by hand: plan updates leave it alone
    notes text NOT NULL DEFAULT '' CHECK (char_length(notes) <= 2000),
    created_by uuid,
    started_at timestamptz,
    completed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((plan_id IS NULL) = (plan_date IS NULL))
);
-- One planned visit per user, store and day (409 duplicate_visit); a cancelled one frees the
-- day; unplanned visits (one per punch-in) are outside it.
CREATE UNIQUE INDEX visits_user_store_day_key ON visits.visits (user_id, store_id, planned_date)
    WHERE status NOT IN ('cancelled', 'unplanned');
-- A plan materialises each (day, store) slot once, whatever happened to that visit since.
CREATE UNIQUE INDEX visits_plan_slot_key ON visits.visits (plan_id, plan_date, store_id)
    WHERE plan_id IS NOT NULL;
-- A punch-in moves at most one visit.
CREATE UNIQUE INDEX visits_attendance_key ON visits.visits (attendance_id)
    WHERE attendance_id IS NOT NULL;
-- GET /today and the list by user; the list by store; by day; the missed job.
CREATE INDEX visits_user_day_idx ON visits.visits (user_id, planned_date, sequence);
CREATE INDEX visits_store_day_idx ON visits.visits (store_id, planned_date);
CREATE INDEX visits_day_idx ON visits.visits (planned_date, id);
CREATE INDEX visits_planned_idx ON visits.visits (planned_date) WHERE status = 'planned';

-- Outbox consumer side (src/db/outbox.h): attendance events applied once each.
CREATE TABLE visits.processed_events (
    event_id uuid PRIMARY KEY,
    topic text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

-- Outbox publisher side: visits.visit_missed (for notifications).
CREATE TABLE visits.outbox (
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
CREATE INDEX outbox_pending_idx ON visits.outbox (next_attempt_at, seq) WHERE delivered_at IS NULL;
CREATE INDEX outbox_delivered_idx ON visits.outbox (delivered_at) WHERE delivered_at IS NOT NULL;
