-- SPDX-License-Identifier: MIT
-- Read-only contract for the reports service (DESIGN.md "Data"): reports reads this view,
-- never stores.stores. Columns may be added; renaming or removing one is a breaking change.
CREATE SCHEMA IF NOT EXISTS reporting;

CREATE VIEW reporting.stores AS
SELECT id, code, name, address, latitude, longitude, geofence_radius_m, timezone, active,
       created_at, updated_at
FROM stores.stores;
