-- SPDX-License-Identifier: MIT
-- Tasks. assignee_id, created_by and store_id name rows of other services (users, stores): they
-- are checked through those services' APIs, not with foreign keys across schemas.
CREATE SCHEMA IF NOT EXISTS todos;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE todos.todos (
    id uuid PRIMARY KEY,
    title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'in_progress', 'completed', 'cancelled')),
    priority text NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
    -- sort key for ?sort=priority (most urgent first)
    priority_rank smallint GENERATED ALWAYS AS (
        CASE priority WHEN 'urgent' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END
    ) STORED,
    due_at timestamptz,
    assignee_id uuid NOT NULL,
    created_by uuid NOT NULL,
    store_id uuid,
    -- [{"id": uuid, "text": "...", "done": bool}] in display order
    checklist jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(checklist) = 'array'),
    completed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'completed') = (completed_at IS NOT NULL))
);

-- One index per list filter and sort (DESIGN.md: every list query is backed by an index).
CREATE INDEX todos_assignee_status_idx ON todos.todos (assignee_id, status);
CREATE INDEX todos_created_by_idx ON todos.todos (created_by);
-- ?storeId= and the per-store counts of the reports summary (due today, overdue, completed).
CREATE INDEX todos_store_due_idx ON todos.todos (store_id, due_at);
CREATE INDEX todos_store_status_due_idx ON todos.todos (store_id, status, due_at);
CREATE INDEX todos_store_completed_idx ON todos.todos (store_id, completed_at)
    WHERE completed_at IS NOT NULL;
CREATE INDEX todos_due_idx ON todos.todos (due_at, id);
CREATE INDEX todos_due_desc_idx ON todos.todos (due_at DESC NULLS LAST, id DESC);
CREATE INDEX todos_created_idx ON todos.todos (created_at, id);
CREATE INDEX todos_priority_idx ON todos.todos (priority_rank DESC, due_at, id);
CREATE INDEX todos_status_idx ON todos.todos (status);
-- completedLast7Days and the report's completed-today counts.
CREATE INDEX todos_completed_idx ON todos.todos (completed_at) WHERE completed_at IS NOT NULL;
-- ?search= (ILIKE '%...%' over title and description).
CREATE INDEX todos_search_trgm_idx ON todos.todos
    USING gin ((title || ' ' || description) gin_trgm_ops);
