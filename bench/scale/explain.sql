-- SPDX-License-Identifier: MIT
-- EXPLAIN ANALYZE of the hot queries of the todos and reports services, as the server runs them:
-- prepared statements with a generic plan (what PostgreSQL settles on after five executions).
-- The SQL mirrors src/services/{todos,reports}/store.c (keep in step). psql variables: merch
-- (a merchandiser id), store (a store id).
\set ON_ERROR_STOP 1
SET plan_cache_mode = force_generic_plan;
\pset pager off

-- TODO_COLS of store.c: output columns named like table columns shadow them in a bare ORDER BY.
\set cols 'id, title, description, status, priority, to_char(due_at AT TIME ZONE ''UTC'', ''YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'') AS due_at, assignee_id, created_by, store_id, checklist::text AS checklist, to_char(completed_at AT TIME ZONE ''UTC'', ''YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'') AS completed_at, to_char(created_at AT TIME ZONE ''UTC'', ''YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'') AS created_at, to_char(updated_at AT TIME ZONE ''UTC'', ''YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'') AS updated_at'

\echo '== todos list, staff, default sort: total from the totals table + page'
PREPARE c1 AS SELECT coalesce(sum(n), 0) AS n FROM todos.todo_totals WHERE true;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE c1;
PREPARE l1(int, int) AS SELECT :cols FROM todos.todos WHERE true
    ORDER BY todos.created_at DESC, todos.id DESC LIMIT $1 OFFSET $2;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE l1(20, 0);

\echo '== todos list, staff, ?status=pending&sort=dueAt'
PREPARE l2(text[], int, int) AS SELECT :cols FROM todos.todos WHERE true AND status = ($1::text[])[1]
    ORDER BY todos.due_at ASC NULLS LAST, todos.id LIMIT $2 OFFSET $3;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE l2('{pending}', 20, 0);

\echo '== todos list, staff, ?storeId= (count + page)'
PREPARE c3(uuid) AS SELECT count(*) AS n FROM todos.todos WHERE true AND store_id = $1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE c3(:'store');
PREPARE l3(uuid, int, int) AS SELECT :cols FROM todos.todos WHERE true AND store_id = $1
    ORDER BY todos.created_at DESC, todos.id DESC LIMIT $2 OFFSET $3;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE l3(:'store', 20, 0);

\echo '== todos list, merchandiser (scope = assignee): total from the counters + page'
PREPARE c4(uuid) AS SELECT coalesce(sum(n), 0) AS n FROM todos.todo_counts WHERE true
    AND assignee_id = $1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE c4(:'merch');
PREPARE l4(uuid, int, int) AS SELECT :cols FROM todos.todos WHERE true
    AND assignee_id = $1 ORDER BY todos.created_at DESC, todos.id DESC LIMIT $2 OFFSET $3;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE l4(:'merch', 20, 0);

\echo '== todos list, ?search= (trigram)'
PREPARE c5(text) AS SELECT count(*) AS n FROM todos.todos WHERE true
    AND (title || ' ' || description) ILIKE $1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE c5('%promo stand #4242%');

\echo '== stats, staff (counters + two index range counts)'
PREPARE s1 AS SELECT sum(n) AS total,
    (SELECT count(*) FROM todos.todos WHERE status IN ('pending', 'in_progress')
       AND due_at < now()) AS overdue,
    (SELECT count(*) FROM todos.todos WHERE completed_at >= now() - interval '7 days')
       AS completed_7d FROM todos.todo_totals;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE s1;

\echo '== stats, merchandiser'
PREPARE s2(uuid) AS SELECT sum(n) AS total,
    (SELECT count(*) FROM todos.todos WHERE assignee_id = $1
       AND status IN ('pending', 'in_progress') AND due_at < now()) AS overdue,
    (SELECT count(*) FROM todos.todos WHERE assignee_id = $1 AND status = 'completed'
       AND completed_at >= now() - interval '7 days') AS completed_7d
    FROM todos.todo_counts WHERE assignee_id = $1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE s2(:'merch');

\echo '== reports summary, per store (todos part)'
PREPARE r1(date, uuid) AS
WITH s AS (SELECT id, code, name, timezone, d AS local_date,
    d::timestamp AT TIME ZONE timezone AS day_start, (d + 1)::timestamp AT TIME ZONE timezone AS day_end
    FROM (SELECT st.*, coalesce($1::date, (now() AT TIME ZONE st.timezone)::date) AS d
          FROM reporting.stores st WHERE st.active AND ($2::uuid IS NULL OR st.id = $2)) x)
SELECT s.id,
    (SELECT count(*) FROM reporting.todos t WHERE t.store_id = s.id
       AND t.due_at >= s.day_start AND t.due_at < s.day_end) AS tasks_due,
    (SELECT count(*) FROM reporting.todos t WHERE t.store_id = s.id
       AND t.status IN ('pending', 'in_progress') AND t.due_at < now()) AS tasks_overdue,
    (SELECT count(*) FROM reporting.todos t WHERE t.store_id = s.id
       AND t.completed_at >= s.day_start AND t.completed_at < s.day_end) AS tasks_completed,
    (SELECT count(DISTINCT a.user_id) FROM reporting.attendance a WHERE a.store_id = s.id
       AND a.punch_in_at >= s.day_start AND a.punch_in_at < s.day_end) AS present
FROM s ORDER BY s.name, s.id;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE r1(NULL, NULL);

\echo '== reports summary, people (present today, on break, working now)'
PREPARE r1b(date, uuid) AS
WITH s AS (SELECT id, d::timestamp AT TIME ZONE timezone AS day_start,
    (d + 1)::timestamp AT TIME ZONE timezone AS day_end
    FROM (SELECT st.*, coalesce($1::date, (now() AT TIME ZONE st.timezone)::date) AS d
          FROM reporting.stores st WHERE st.active AND ($2::uuid IS NULL OR st.id = $2)) x),
live AS MATERIALIZED (SELECT a.user_id, a.store_id, a.status FROM reporting.attendance a
    WHERE a.status IN ('open', 'on_break')),
att AS (SELECT DISTINCT a.user_id FROM reporting.attendance a JOIN s ON s.id = a.store_id
    WHERE a.punch_in_at >= s.day_start AND a.punch_in_at < s.day_end
    AND a.punch_in_at >= (SELECT min(day_start) FROM s) AND a.punch_in_at < (SELECT max(day_end) FROM s))
SELECT (SELECT count(*) FROM att) AS present,
    (SELECT count(DISTINCT l.user_id) FROM live l JOIN s ON s.id = l.store_id
     WHERE l.status = 'on_break') AS on_break,
    (SELECT count(DISTINCT l.user_id) FROM live l JOIN s ON s.id = l.store_id) AS working_now;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE r1b(NULL, NULL);

\echo '== reports/todos CSV batch (keyset on created_at, id)'
PREPARE r2(timestamptz, uuid, int, int) AS SELECT t.id, t.title, st.code, t.checklist_done
    FROM reporting.todos t LEFT JOIN reporting.stores st ON st.id = t.store_id
    WHERE true AND (t.created_at, t.id) > ($1::timestamptz, $2::uuid)
    ORDER BY t.created_at, t.id LIMIT $3 OFFSET $4;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON)
    EXECUTE r2(now() - interval '200 days', '00000000-0000-0000-0000-000000000000', 1000, 0);

\echo '== reports/attendance page'
PREPARE r3(int, int) AS SELECT t.id, t.user_id, st.code, t.worked_minutes
    FROM reporting.attendance t LEFT JOIN reporting.stores st ON st.id = t.store_id
    WHERE true ORDER BY t.punch_in_at, t.id LIMIT $1 OFFSET $2;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE r3(20, 0);
