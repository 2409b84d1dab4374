-- SPDX-License-Identifier: MIT
-- Bench data for the attendance schema (run after seed_todos.sql, which makes the stores).
-- psql variable: attendance (200000). Visits are spread over the merchandisers of users.users
-- and the stores, over the last 365 days, 8-9 hours each with a lunch break on half of them;
-- every fifth merchandiser is still punched in today (one open visit per user, as the partial
-- unique index requires), some of them on a break.
\set ON_ERROR_STOP 1
SET synchronous_commit = off;

INSERT INTO attendance.records (id, user_id, store_id, status, punch_in_at, punch_in_latitude,
                                punch_in_longitude, punch_in_accuracy_m, punch_in_distance_m,
                                punch_out_at, punch_out_latitude, punch_out_longitude,
                                punch_out_accuracy_m, punch_out_distance_m, worked_minutes,
                                break_minutes, net_minutes, overtime_minutes, created_at,
                                updated_at)
SELECT gen_random_uuid(), u.ids[1 + g % u.n], s.ids[1 + (g / 7) % s.n], 'closed', t,
       45.0, 2.0, 5 + g % 40, g % 90, t + w * interval '1 minute', 45.0, 2.0, 8, g % 90,
       w, b, w - b, greatest(w - b - 480, 0), t, t + w * interval '1 minute'
FROM generate_series(1, :attendance) g
CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM users.users
            WHERE role = 'merchandiser') u
CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM stores.stores) s
CROSS JOIN LATERAL (SELECT
       date_trunc('day', now()) - (1 + g % 365) * interval '1 day'
           + (7 * 60 + g % 180) * interval '1 minute' AS t,
       480 + g % 75 AS w,
       CASE WHEN g % 2 = 0 THEN 30 + g % 31 ELSE 0 END AS b) x;

-- Lunch breaks of the visits that have break minutes (ids are random: pick by break_minutes).
INSERT INTO attendance.breaks (id, attendance_id, type, started_at, ended_at)
SELECT gen_random_uuid(), r.id, 'lunch', r.punch_in_at + interval '4 hours',
       r.punch_in_at + interval '4 hours' + r.break_minutes * interval '1 minute'
FROM attendance.records r
WHERE r.break_minutes > 0;

-- Today: every fifth merchandiser is on site right now; a third of those on a coffee break.
WITH today AS (
    INSERT INTO attendance.records (id, user_id, store_id, status, punch_in_at,
                                    punch_in_latitude, punch_in_longitude, punch_in_accuracy_m,
                                    punch_in_distance_m)
    SELECT gen_random_uuid(), m.id, s.ids[1 + m.k % s.n],
           CASE WHEN m.k % 15 = 0 THEN 'on_break' ELSE 'open' END,
           now() - (30 + m.k % 200) * interval '1 minute', 45.0, 2.0, 10, m.k % 90
    FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM users.users
          WHERE role = 'merchandiser' AND active) m
    CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n
                FROM stores.stores) s
    WHERE m.k % 5 = 0
    RETURNING id, status, punch_in_at)
INSERT INTO attendance.breaks (id, attendance_id, type, started_at)
SELECT gen_random_uuid(), id, 'coffee', greatest(punch_in_at, now() - interval '10 minutes')
FROM today WHERE status = 'on_break';

VACUUM ANALYZE attendance.records;
VACUUM ANALYZE attendance.breaks;
