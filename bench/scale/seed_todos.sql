-- SPDX-License-Identifier: MIT
-- Bench data for the stores and todos schemas (run by bench/scale/run.sh after `dtm migrate`).
-- psql variables: stores (200), users (2000), todos (1000000). Todos are spread over every
-- merchandiser of users.users and the stores. Fast: one INSERT ... SELECT generate_series each.
\set ON_ERROR_STOP 1
SET synchronous_commit = off;

INSERT INTO stores.stores (id, code, name, address, latitude, longitude, geofence_radius_m, timezone)
SELECT gen_random_uuid(), 'B' || lpad(g::text, 5, '0'), 'Bench store ' || g, g || ' Market Street',
       40 + (g % 100) * 0.05, -3 + (g / 100) * 0.05, 100 + (g % 5) * 50,
       (ARRAY['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Tokyo'])[1 + g % 4]
FROM generate_series(1, :stores) g;

-- The 2,000 merchandisers the todos and attendance are spread over (bench only: the password
-- hash is unusable, so they cannot log in; run.sh creates its own merchandiser through the API).
INSERT INTO users.users (email, first_name, last_name, role, password_hash)
SELECT 'bench-merch-' || g || '@bench.example', 'Bench', 'Merch ' || g, 'merchandiser', '!'
FROM generate_series(1, :users) g;
ANALYZE users.users;

-- Bulk load without the secondary indexes, then rebuild them from their own definitions (as
-- the migrations made them): sorted builds are several times faster than a million inserts
-- into a dozen indexes, the trigram GIN above all.
SET maintenance_work_mem = '256MB';
CREATE TEMP TABLE bench_idx AS
    SELECT indexname, indexdef FROM pg_indexes
    WHERE schemaname = 'todos' AND tablename = 'todos' AND indexname <> 'todos_pkey';
DO $$ DECLARE r record; BEGIN
    FOR r IN SELECT * FROM bench_idx LOOP EXECUTE format('DROP INDEX todos.%I', r.indexname); END LOOP;
END $$;

-- Todos over the last 400 days. Like a live system, old tasks are mostly done: beyond two weeks
-- 92% completed, 6% cancelled, 2% still pending (overdue); the last two weeks are a mix.
INSERT INTO todos.todos (id, title, description, status, priority, due_at, assignee_id, created_by,
                         store_id, checklist, completed_at, created_at, updated_at)
SELECT gen_random_uuid(),
       (ARRAY['Restock shelf', 'Check price tags', 'Photo of the display', 'Count inventory',
              'Clean the fridge', 'Set up promo stand'])[1 + g % 6] || ' #' || g,
       CASE WHEN g % 3 = 0 THEN 'Aisle ' || (g % 40) || ', bay ' || (g % 7) ELSE '' END,
       st, (ARRAY['low', 'medium', 'high', 'urgent'])[1 + (g / 7) % 4],
       c + interval '3 days',
       u.ids[1 + g % u.n], u.ids[1 + (g / 3) % u.n], s.ids[1 + g % s.n],
       CASE WHEN g % 4 = 0 THEN jsonb_build_array(
           jsonb_build_object('id', gen_random_uuid(), 'text', 'Step one', 'done', true),
           jsonb_build_object('id', gen_random_uuid(), 'text', 'Step two', 'done', false))
       ELSE '[]'::jsonb END,
       CASE WHEN st = 'completed' THEN least(now(), c + interval '1 day') END, c, c
FROM generate_series(1, :todos) g
CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM users.users
            WHERE role = 'merchandiser') u
CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM stores.stores) s
CROSS JOIN LATERAL (SELECT now() - (g % 400) * interval '1 day' - (g % 1440) * interval '1 minute'
                           AS c, g % 400 AS age) a
CROSS JOIN LATERAL (SELECT CASE
       WHEN a.age >= 14 THEN CASE WHEN g % 50 = 0 THEN 'pending'
                                  WHEN g % 50 < 4 THEN 'cancelled' ELSE 'completed' END
       ELSE (ARRAY['pending', 'pending', 'pending', 'pending', 'in_progress', 'in_progress',
                   'completed', 'completed', 'completed', 'cancelled'])[1 + g % 10] END AS st) x;

DO $$ DECLARE r record; BEGIN
    FOR r IN SELECT * FROM bench_idx LOOP EXECUTE r.indexdef; END LOOP;
END $$;

ANALYZE stores.stores;
VACUUM ANALYZE todos.todos;
VACUUM ANALYZE todos.todo_counts;
