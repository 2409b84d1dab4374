-- SPDX-License-Identifier: MIT
-- Totals per (status, priority) beside the per-assignee counters: the staff-wide list total and
-- /stats then sum 16 rows instead of one row per assignee (about 30,000 with 2,000 users:
-- ~10 ms per request on the 1M-row bench). Same statement-level triggers, same key order.
CREATE TABLE todos.todo_totals (
    status text NOT NULL,
    priority text NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (status, priority)
);

INSERT INTO todos.todo_totals (status, priority, n)
SELECT status, priority, count(*) FROM todos.todos GROUP BY 1, 2;

-- One statement per event: the delta grouped once, applied to both tables in key order.
CREATE OR REPLACE FUNCTION todos.todo_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH d AS (SELECT assignee_id, status, priority, count(*) AS k FROM new_rows GROUP BY 1, 2, 3),
        c AS (INSERT INTO todos.todo_counts AS c (assignee_id, status, priority, n)
              SELECT assignee_id, status, priority, k FROM d ORDER BY 1, 2, 3
              ON CONFLICT (assignee_id, status, priority) DO UPDATE SET n = c.n + excluded.n)
        INSERT INTO todos.todo_totals AS t (status, priority, n)
        SELECT status, priority, sum(k) FROM d GROUP BY 1, 2 HAVING sum(k) <> 0 ORDER BY 1, 2
        ON CONFLICT (status, priority) DO UPDATE SET n = t.n + excluded.n;
    ELSIF TG_OP = 'DELETE' THEN
        WITH d AS (SELECT assignee_id, status, priority, -count(*) AS k FROM old_rows GROUP BY 1, 2, 3),
        c AS (INSERT INTO todos.todo_counts AS c (assignee_id, status, priority, n)
              SELECT assignee_id, status, priority, k FROM d ORDER BY 1, 2, 3
              ON CONFLICT (assignee_id, status, priority) DO UPDATE SET n = c.n + excluded.n)
        INSERT INTO todos.todo_totals AS t (status, priority, n)
        SELECT status, priority, sum(k) FROM d GROUP BY 1, 2 HAVING sum(k) <> 0 ORDER BY 1, 2
        ON CONFLICT (status, priority) DO UPDATE SET n = t.n + excluded.n;
    ELSE
        WITH d AS (SELECT assignee_id, status, priority, sum(k) AS k FROM (
                SELECT assignee_id, status, priority, 1 AS k FROM new_rows
                UNION ALL
                SELECT assignee_id, status, priority, -1 FROM old_rows) x
            GROUP BY 1, 2, 3 HAVING sum(k) <> 0),
        c AS (INSERT INTO todos.todo_counts AS c (assignee_id, status, priority, n)
              SELECT assignee_id, status, priority, k FROM d ORDER BY 1, 2, 3
              ON CONFLICT (assignee_id, status, priority) DO UPDATE SET n = c.n + excluded.n)
        INSERT INTO todos.todo_totals AS t (status, priority, n)
        SELECT status, priority, sum(k) FROM d GROUP BY 1, 2 HAVING sum(k) <> 0 ORDER BY 1, 2
        ON CONFLICT (status, priority) DO UPDATE SET n = t.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$;

-- A merchandiser's list and stats are the todos assigned to them (scope = assignee): their total
-- comes from todo_counts, their newest page from (assignee_id, created_at), and overdue /
-- completed-in-7-days are index-only counts on (assignee_id, status, due_at) INCLUDE
-- (completed_at), which still serves every (assignee_id, status) lookup.
DROP INDEX todos.todos_assignee_status_idx;
CREATE INDEX todos_assignee_status_idx ON todos.todos (assignee_id, status, due_at)
    INCLUDE (completed_at);
CREATE INDEX todos_assignee_created_idx ON todos.todos (assignee_id, created_at DESC, id DESC);
-- No list or count filters on the creator any more.
DROP INDEX todos.todos_created_by_idx;
