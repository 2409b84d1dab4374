-- SPDX-License-Identifier: MIT
-- The visits report (reports service, GET /api/reports/visits) filters and pages on
-- reporting.visits.planned_at = the start of the visit's local day as a UTC instant: an
-- expression of two columns, so no index served it and every page of the CSV export scanned the
-- table. The same expression, indexed with id for the keyset (planned_at, id) > ($ts, $id).
-- (timestamp AT TIME ZONE text is immutable in PostgreSQL: the zone is a parameter.)
CREATE INDEX visits_planned_at_idx
    ON visits.visits (((planned_date::timestamp) AT TIME ZONE store_timezone), id);
