-- SPDX-License-Identifier: MIT
-- Offline-safe writes (API.md "Offline-safe writes"): punch_in_at, punch_out_at and the break
-- times are when the person acted (the client's capturedAt, else the server's clock); the
-- *_received_at columns are when the server got the write. Reports and the team view use the
-- capture times. Existing rows were written online, so both times are the same.
ALTER TABLE attendance.records
    ADD COLUMN punch_in_received_at timestamptz,
    ADD COLUMN punch_out_received_at timestamptz;
UPDATE attendance.records SET punch_in_received_at = punch_in_at,
                              punch_out_received_at = punch_out_at;
ALTER TABLE attendance.records
    ALTER COLUMN punch_in_received_at SET DEFAULT now(),
    ALTER COLUMN punch_in_received_at SET NOT NULL,
    ADD CHECK ((punch_out_at IS NULL) = (punch_out_received_at IS NULL)),
    ADD CHECK (punch_out_at IS NULL OR punch_out_at >= punch_in_at);

ALTER TABLE attendance.breaks
    ADD COLUMN started_received_at timestamptz,
    ADD COLUMN ended_received_at timestamptz;
UPDATE attendance.breaks SET started_received_at = started_at, ended_received_at = ended_at;
ALTER TABLE attendance.breaks
    ALTER COLUMN started_received_at SET DEFAULT now(),
    ALTER COLUMN started_received_at SET NOT NULL,
    ADD CHECK ((ended_at IS NULL) = (ended_received_at IS NULL));

-- records_live selects r.*: recreated so it carries the new columns (its dependant too).
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

-- As in 0002, plus the received times (columns may be added to the reporting contract).
CREATE VIEW reporting.attendance AS
SELECT id, user_id, store_id, status, punch_in_at, punch_out_at,
       punch_in_latitude, punch_in_longitude, punch_in_accuracy_m, punch_in_distance_m,
       punch_out_latitude, punch_out_longitude, punch_out_accuracy_m, punch_out_distance_m,
       note, photo_sha256 IS NOT NULL AS has_photo,
       live_worked_minutes AS worked_minutes, live_break_minutes AS break_minutes,
       live_net_minutes AS net_minutes, live_overtime_minutes AS overtime_minutes,
       (SELECT count(*) FROM attendance.breaks b WHERE b.attendance_id = l.id)::integer
           AS break_count,
       created_at, updated_at, punch_in_received_at, punch_out_received_at
FROM attendance.records_live l;
