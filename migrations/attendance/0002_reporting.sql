-- SPDX-License-Identifier: MIT
-- Read-only contract for the reports service (DESIGN.md "Data"): reports reads these views,
-- never attendance.* tables. Columns may be added; renaming or removing one is a breaking change.
-- Minutes of visits still open are computed up to now().
CREATE SCHEMA IF NOT EXISTS reporting;

CREATE VIEW reporting.attendance AS
SELECT id, user_id, store_id, status, punch_in_at, punch_out_at,
       punch_in_latitude, punch_in_longitude, punch_in_accuracy_m, punch_in_distance_m,
       punch_out_latitude, punch_out_longitude, punch_out_accuracy_m, punch_out_distance_m,
       note, photo_sha256 IS NOT NULL AS has_photo,
       live_worked_minutes AS worked_minutes, live_break_minutes AS break_minutes,
       live_net_minutes AS net_minutes, live_overtime_minutes AS overtime_minutes,
       (SELECT count(*) FROM attendance.breaks b WHERE b.attendance_id = l.id)::integer
           AS break_count,
       created_at, updated_at
FROM attendance.records_live l;

CREATE VIEW reporting.attendance_breaks AS
SELECT id, attendance_id, type, started_at, ended_at,
       floor(extract(epoch FROM coalesce(ended_at, now()) - started_at) / 60)::integer AS minutes
FROM attendance.breaks;
