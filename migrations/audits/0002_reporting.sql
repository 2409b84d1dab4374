-- SPDX-License-Identifier: MIT
-- Read-only contract for the reports service (DESIGN.md "Data"): reports reads these views,
-- never audits.* tables. Columns may be added; renaming or removing one is a breaking change.
CREATE SCHEMA IF NOT EXISTS reporting;

CREATE VIEW reporting.audits AS
SELECT a.id, a.template_id, a.template_version, v.name AS template_name, a.store_id, a.user_id,
       a.visit_id, a.attendance_id, a.status, a.score_pct, a.passed,
       cardinality(a.corrective_todo_ids) AS corrective_todo_count,
       a.started_at, a.submitted_at
FROM audits.audits a
JOIN audits.template_versions v ON v.template_id = a.template_id AND v.version = a.template_version;
