-- SPDX-License-Identifier: MIT
-- Approved requests applied to attendance (API.md "Approvals"), as a consumer of the approvals
-- service's approval.decided events (src/db/outbox.h): each event once (processed_events), and
-- each request's effect once whatever the events (applied_approvals, keyed by request id).
-- A geofence exception becomes a record marked exception, naming its request (unique).
CREATE TABLE attendance.processed_events (
    event_id uuid PRIMARY KEY,
    topic text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE attendance.applied_approvals (
    request_id uuid PRIMARY KEY,
    type text NOT NULL,
    attendance_id uuid REFERENCES attendance.records (id),
    applied_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE attendance.records
    ADD COLUMN exception boolean NOT NULL DEFAULT false,
    ADD COLUMN exception_request_id uuid UNIQUE,
    ADD COLUMN approved_overtime_minutes integer CHECK (approved_overtime_minutes >= 0),
    ADD CHECK (exception = (exception_request_id IS NOT NULL));

-- records_live selects r.*: recreated so it carries the new columns (its dependant too), as in
-- 0004.
DROP VIEW reporting.attendance;
DROP VIEW attendance.records_live;
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
                                 greatest(coalesce(b.ended_at, now()), b.started_at)
                                 - b.started_at)), 0) / 60)::integer
                      FROM attendance.breaks b WHERE b.attendance_id = r.id)
           END AS live_break_minutes
    FROM attendance.records r
) x;

CREATE VIEW reporting.attendance AS
SELECT id, user_id, store_id, status, punch_in_at, punch_out_at,
       punch_in_latitude, punch_in_longitude, punch_in_accuracy_m, punch_in_distance_m,
       punch_out_latitude, punch_out_longitude, punch_out_accuracy_m, punch_out_distance_m,
       note, photo_sha256 IS NOT NULL AS has_photo,
       live_worked_minutes AS worked_minutes, live_break_minutes AS break_minutes,
       live_net_minutes AS net_minutes, live_overtime_minutes AS overtime_minutes,
       (SELECT count(*) FROM attendance.breaks b WHERE b.attendance_id = l.id)::integer
           AS break_count,
       created_at, updated_at, punch_in_received_at, punch_out_received_at,
       exception, approved_overtime_minutes
FROM attendance.records_live l;
