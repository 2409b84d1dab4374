-- SPDX-License-Identifier: MIT
-- Read-only contract for the reports service (DESIGN.md "Data"): reports reads this view, never
-- visits.* tables. Columns may be added; renaming or removing one is a breaking change.
-- planned_at is the start of the visit's local day (as a UTC instant), the report's time axis.
CREATE SCHEMA IF NOT EXISTS reporting;

CREATE VIEW reporting.visits AS
SELECT id, user_id, store_id, store_timezone, planned_date, planned_start, sequence, status,
       attendance_id, plan_id, notes, started_at, completed_at, created_at, updated_at,
       planned_date::timestamp AT TIME ZONE store_timezone AS planned_at
FROM visits.visits;
