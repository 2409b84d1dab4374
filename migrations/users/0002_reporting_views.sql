-- SPDX-License-Identifier: MIT
-- The users service's public read contract for reports (DESIGN.md "Data"): the reports service
-- queries this view, never users.users. No password hashes or login state.
CREATE SCHEMA IF NOT EXISTS reporting;

CREATE OR REPLACE VIEW reporting.users AS
SELECT id, email, first_name, last_name, role, active, created_at
FROM users.users;
