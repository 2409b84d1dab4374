-- SPDX-License-Identifier: MIT
-- Read-only contract for the reports service (DESIGN.md "Data"): reports reads this view, never
-- todos.todos. Columns may be added; renaming or removing one is a breaking change.
CREATE SCHEMA IF NOT EXISTS reporting;

CREATE VIEW reporting.todos AS
SELECT id, title, description, status, priority, due_at, assignee_id, created_by, store_id,
       jsonb_array_length(checklist) AS checklist_total,
       (SELECT count(*) FROM jsonb_array_elements(checklist) e WHERE (e ->> 'done')::boolean)
           AS checklist_done,
       completed_at, created_at, updated_at
FROM todos.todos;
