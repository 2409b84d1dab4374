-- SPDX-License-Identifier: MIT
-- Attendance: one record per store visit (punch-in .. punch-out) and its breaks. user_id and
-- store_id belong to the users and stores services (no foreign keys across schemas).
CREATE SCHEMA IF NOT EXISTS attendance;

CREATE TABLE attendance.records (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    store_id uuid NOT NULL,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'on_break', 'closed')),
    punch_in_at timestamptz NOT NULL DEFAULT now(),
    punch_in_latitude double precision NOT NULL CHECK (punch_in_latitude BETWEEN -90 AND 90),
    punch_in_longitude double precision NOT NULL
        CHECK (punch_in_longitude BETWEEN -180 AND 180),
    punch_in_accuracy_m integer NOT NULL CHECK (punch_in_accuracy_m BETWEEN 1 AND 200),
    punch_in_distance_m integer NOT NULL CHECK (punch_in_distance_m >= 0),
    punch_out_at timestamptz,
    punch_out_latitude double precision CHECK (punch_out_latitude BETWEEN -90 AND 90),
    punch_out_longitude double precision CHECK (punch_out_longitude BETWEEN -180 AND 180),
    punch_out_accuracy_m integer CHECK (punch_out_accuracy_m >= 0),
    punch_out_distance_m integer CHECK (punch_out_distance_m >= 0),
    note text CHECK (char_length(note) <= 1000),
    photo_sha256 text CHECK (photo_sha256 ~ '^[0-9a-f]{64}$'),
    photo_type text CHECK (photo_type IN ('image/jpeg', 'image/png', 'image/webp')),
    photo_bytes bigint CHECK (photo_bytes >= 0),
    worked_minutes integer,
    break_minutes integer,
    net_minutes integer,
    overtime_minutes integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'closed') = (punch_out_at IS NOT NULL)),
    CHECK ((photo_sha256 IS NULL) = (photo_type IS NULL))
);

-- One open (or on-break) visit per user, enforced by the database: concurrent punch-ins by
-- one user race on this index and all but one get a unique violation (409).
CREATE UNIQUE INDEX records_one_open_per_user ON attendance.records (user_id)
    WHERE status <> 'closed';
-- History filters (?userId, ?storeId, ?from/?to), newest first.
CREATE INDEX records_user_time_idx ON attendance.records (user_id, punch_in_at DESC, id DESC);
CREATE INDEX records_store_time_idx ON attendance.records (store_id, punch_in_at DESC, id DESC);
CREATE INDEX records_time_idx ON attendance.records (punch_in_at DESC, id DESC);
-- Photo access checks: who may see photo X.
CREATE INDEX records_photo_idx ON attendance.records (photo_sha256, user_id)
    WHERE photo_sha256 IS NOT NULL;

CREATE TABLE attendance.breaks (
    id uuid PRIMARY KEY,
    attendance_id uuid NOT NULL REFERENCES attendance.records (id),
    type text NOT NULL CHECK (type IN ('lunch', 'coffee', 'rest', 'other')),
    started_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX breaks_attendance_idx ON attendance.breaks (attendance_id, started_at);
-- At most one running break per visit.
CREATE UNIQUE INDEX breaks_one_open ON attendance.breaks (attendance_id) WHERE ended_at IS NULL;

-- Records with their minute totals: stored once closed, computed up to now() while open.
-- Net minutes are worked minus break minutes; overtime is net beyond 8 hours.
CREATE VIEW attendance.records_live AS
SELECT x.*,
       greatest(x.live_worked_minutes - x.live_break_minutes, 0) AS live_net_minutes,
       greatest(x.live_worked_minutes - x.live_break_minutes - 480, 0) AS live_overtime_minutes
FROM (
    SELECT r.*,
           CASE WHEN r.status = 'closed' THEN r.worked_minutes
                ELSE greatest(floor(extract(epoch FROM now() - r.punch_in_at) / 60), 0)::integer
           END AS live_worked_minutes,
           CASE WHEN r.status = 'closed' THEN r.break_minutes
                ELSE (SELECT floor(coalesce(sum(extract(epoch FROM
                                 coalesce(b.ended_at, now()) - b.started_at)), 0) / 60)::integer
                      FROM attendance.breaks b WHERE b.attendance_id = r.id)
           END AS live_break_minutes
    FROM attendance.records r
) x;
