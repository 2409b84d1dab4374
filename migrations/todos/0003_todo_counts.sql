-- SPDX-License-Identifier: MIT
-- Exact counts per (assignee, status, priority), maintained by statement-level triggers, so the
-- staff-wide /stats and the list total of an unfiltered (or status/priority/assignee-filtered)
-- list read a few thousand counter rows instead of counting a million todos.
CREATE TABLE todos.todo_counts (
    assignee_id uuid NOT NULL,
    status text NOT NULL,
    priority text NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (assignee_id, status, priority)
);

INSERT INTO todos.todo_counts (assignee_id, status, priority, n)
SELECT assignee_id, status, priority, count(*) FROM todos.todos GROUP BY 1, 2, 3;

-- One aggregated upsert per statement (a bulk insert or bulk assign touches each counter row
-- once), in key order so concurrent statements lock counter rows in the same order.
CREATE FUNCTION todos.todo_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO todos.todo_counts AS c (assignee_id, status, priority, n)
        SELECT assignee_id, status, priority, count(*) FROM new_rows
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (assignee_id, status, priority) DO UPDATE SET n = c.n + excluded.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO todos.todo_counts AS c (assignee_id, status, priority, n)
        SELECT assignee_id, status, priority, -count(*) FROM old_rows
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (assignee_id, status, priority) DO UPDATE SET n = c.n + excluded.n;
    ELSE
        INSERT INTO todos.todo_counts AS c (assignee_id, status, priority, n)
        SELECT assignee_id, status, priority, sum(k) FROM (
            SELECT assignee_id, status, priority, 1 AS k FROM new_rows
            UNION ALL
            SELECT assignee_id, status, priority, -1 FROM old_rows) d
        GROUP BY 1, 2, 3 HAVING sum(k) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (assignee_id, status, priority) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER todo_counts_insert AFTER INSERT ON todos.todos
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION todos.todo_counts_apply();
CREATE TRIGGER todo_counts_update AFTER UPDATE ON todos.todos
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION todos.todo_counts_apply();
CREATE TRIGGER todo_counts_delete AFTER DELETE ON todos.todos
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION todos.todo_counts_apply();

-- Overdue = open and due before now: a range of this index per open status.
DROP INDEX todos.todos_status_idx;
CREATE INDEX todos_status_due_idx ON todos.todos (status, due_at);
