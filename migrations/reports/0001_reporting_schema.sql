-- SPDX-License-Identifier: MIT
-- The reports service owns no tables. It reads the read-only views that the other services
-- publish in the `reporting` schema (each service's own migrations create and own its views):
--   reporting.stores      (migrations/stores)      reporting.todos      (migrations/todos)
--   reporting.users       (migrations/users)       reporting.attendance (migrations/attendance)
-- This migration only makes sure the schemas exist, whatever order the services migrate in.
CREATE SCHEMA IF NOT EXISTS reports;
CREATE SCHEMA IF NOT EXISTS reporting;
