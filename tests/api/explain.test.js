// SPDX-License-Identifier: MIT
// The hot queries of todos and reports use an index (issue 4: checked, not assumed). Seeds
// 60,000 todos over 100 stores and 400 users straight into a fresh database (big enough that
// the planner prefers indexes), then EXPLAINs each query the way the server runs it: a prepared
// statement with a generic plan. The SQL mirrors src/services/{todos,reports}/store.c.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startDtm } = require('./lib/harness.js');

let dtm;
let store;
let user;

before(async () => {
    dtm = await startDtm({ seed: false });
    await dtm.sql(`
        INSERT INTO stores.stores (id, code, name, latitude, longitude, timezone)
        SELECT gen_random_uuid(), 'E' || g, 'Explain store ' || g, 45, 2,
               (ARRAY['UTC', 'Asia/Tokyo'])[1 + g % 2]
        FROM generate_series(1, 100) g;
        CREATE TEMP TABLE u AS SELECT gen_random_uuid() AS id FROM generate_series(1, 400);
        INSERT INTO todos.todos (id, title, description, status, priority, due_at, assignee_id,
                                 created_by, store_id, completed_at, created_at)
        SELECT gen_random_uuid(), 'Task ' || g || (ARRAY[' restock', ' promo stand', ' fridge'])[1 + g % 3],
               '', st, (ARRAY['low', 'medium', 'high', 'urgent'])[1 + g % 4], c + interval '3 days',
               us.ids[1 + g % 400], us.ids[1 + (g / 7) % 400], ss.ids[1 + g % 100],
               CASE WHEN st = 'completed' THEN least(now(), c + interval '1 day') END, c
        FROM generate_series(1, 60000) g
        CROSS JOIN (SELECT array_agg(id) AS ids FROM u) us
        CROSS JOIN (SELECT array_agg(id) AS ids FROM stores.stores) ss
        CROSS JOIN LATERAL (SELECT now() - (g % 300) * interval '1 day' AS c) a
        CROSS JOIN LATERAL (SELECT CASE WHEN g % 300 > 14 AND g % 20 <> 0 THEN 'completed'
                                        ELSE (ARRAY['pending', 'in_progress', 'completed', 'cancelled'])[1 + g % 4]
                                   END AS st) x;`);
    for (const t of ['todos.todos', 'todos.todo_counts', 'stores.stores']) await dtm.sql(`VACUUM ANALYZE ${t}`);
    store = (await dtm.sql('SELECT id FROM stores.stores ORDER BY code LIMIT 1'))[0][0];
    user = (await dtm.sql('SELECT assignee_id FROM todos.todos LIMIT 1'))[0][0];
});
after(async () => {
    if (dtm) await dtm.stop();
});

// The select list of src/services/todos/store.c (TODO_COLS): it matters, because output columns
// named like table columns shadow them in ORDER BY (sorting by the formatted text can use no
// index), and a wide list changes what the planner prefers.
const ISO = (c) => `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const TODO_COLS =
    `id, title, description, status, priority, ${ISO('due_at')} AS due_at, assignee_id, created_by, store_id, ` +
    `checklist::text AS checklist, ${ISO('completed_at')} AS completed_at, ${ISO('created_at')} AS created_at, ${ISO('updated_at')} AS updated_at, source_ref`;
const LIST = `SELECT ${TODO_COLS} FROM todos.todos WHERE true`;

/** Generic plan of `prepare` executed with `args`, as a flat list of plan nodes. */
async function plan(query, args, types) {
    const rows = await dtm.sql(
        `SET plan_cache_mode = force_generic_plan; PREPARE q${types ? `(${types})` : ''} AS ${query}; EXPLAIN (FORMAT JSON) EXECUTE q${args ? `(${args})` : ''}`
    );
    const doc = JSON.parse(rows.map((r) => r.join('\t')).join('\n'));
    const nodes = [];
    const walk = (n) => {
        nodes.push(n);
        for (const c of n.Plans || []) walk(c);
    };
    walk(doc[0].Plan);
    return nodes;
}

/** No sequential scan of todos, and (when given) an index whose name matches `index`. */
function assertIndexed(nodes, index, what) {
    const text = JSON.stringify(nodes.map((n) => [n['Node Type'], n['Relation Name'], n['Index Name']]));
    const seq = nodes.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'todos');
    assert.equal(seq.length, 0, `${what}: no sequential scan of todos: ${text}`);
    const re = index instanceof RegExp ? index : new RegExp(`^${index}$`);
    if (index) assert.ok(nodes.some((n) => re.test(n['Index Name'] || '')), `${what}: uses ${index}: ${text}`);
}

test('list: default sort walks todos_created_idx', async () => {
    assertIndexed(await plan(`${LIST} ORDER BY todos.created_at DESC, todos.id DESC LIMIT $1 OFFSET $2`, '20, 0'), 'todos_created_idx', 'default list');
});

test('list: sort=dueAt and sort=-dueAt and sort=priority', async () => {
    assertIndexed(await plan(`${LIST} ORDER BY todos.due_at ASC NULLS LAST, todos.id LIMIT $1 OFFSET $2`, '20, 0'), 'todos_due_idx', 'dueAt');
    assertIndexed(await plan(`${LIST} ORDER BY todos.due_at DESC NULLS LAST, todos.id DESC LIMIT $1 OFFSET $2`, '20, 0'), 'todos_due_desc_idx', '-dueAt');
    assertIndexed(await plan(`${LIST} ORDER BY todos.priority_rank DESC, todos.due_at ASC NULLS LAST, todos.id LIMIT $1 OFFSET $2`, '20, 0'), 'todos_priority_idx', 'priority');
});

test('list: storeId filter and its count', async () => {
    assertIndexed(await plan('SELECT count(*) AS n FROM todos.todos WHERE true AND store_id = $1', `'${store}'`), /^todos_store_/, 'store count');
    assertIndexed(await plan(`${LIST} AND store_id = $1 ORDER BY todos.created_at DESC, todos.id DESC LIMIT $2 OFFSET $3`, `'${store}', 20, 0`), 'todos_store_created_idx', 'store page');
});

test('list and stats: a merchandiser (scope = assignee) is served by the assignee indexes', async () => {
    assertIndexed(await plan(`${LIST} AND assignee_id = $1 ORDER BY todos.created_at DESC, todos.id DESC LIMIT $2 OFFSET $3`, `'${user}', 20, 0`), 'todos_assignee_created_idx', 'merchandiser page');
    const overdue = await plan("SELECT count(*) FROM todos.todos WHERE assignee_id = $1 AND status IN ('pending', 'in_progress') AND due_at < now()", `'${user}'`);
    assertIndexed(overdue, 'todos_assignee_status_idx', 'merchandiser overdue');
    // Index-only when the visibility map is fresh; a transaction open anywhere in the shared test
    // cluster holds back VACUUM's horizon, so a plain index scan of the same index is accepted.
    const INDEX_NODE = /^(Index Only Scan|Index Scan|Bitmap Index Scan)$/;
    const c7 = await plan("SELECT count(*) FROM todos.todos WHERE assignee_id = $1 AND status = 'completed' AND completed_at >= now() - interval '7 days'", `'${user}'`);
    assert.ok(c7.some((n) => INDEX_NODE.test(n['Node Type']) && /^todos_assignee_status_idx|todos_completed_idx$/.test(n['Index Name'])), JSON.stringify(c7.map((n) => n['Index Name'])));
    const counts = await plan('SELECT coalesce(sum(n), 0) FROM todos.todo_counts WHERE true AND assignee_id = $1', `'${user}'`);
    assert.ok(counts.some((n) => n['Index Name'] === 'todo_counts_pkey'), 'merchandiser total from the counters by primary key');
});

test('list: assigneeId + status filter uses (assignee_id, status)', async () => {
    assertIndexed(await plan('SELECT count(*) AS n FROM todos.todos WHERE true AND status = ANY ($1::text[]) AND assignee_id = $2 AND store_id IS NOT NULL', `'{pending}', '${user}'`), /^todos_assignee_/, 'assignee+status');
});

test('list: search uses the trigram index', async () => {
    assertIndexed(await plan("SELECT count(*) AS n FROM todos.todos WHERE true AND (title || ' ' || description) ILIKE $1", "'%promo stand%4242%'"), 'todos_search_trgm_idx', 'search');
});

test('list: one status, sorted by due date, is read in order from (status, due_at)', async () => {
    assertIndexed(await plan(`${LIST} AND status = ($1::text[])[1] ORDER BY todos.due_at ASC NULLS LAST, todos.id LIMIT $2 OFFSET $3`, "'{pending}', 20, 0"), 'todos_status_due_idx', 'status=pending&sort=dueAt');
});

test('list: dueBefore uses the due index', async () => {
    assertIndexed(await plan(`${LIST} AND due_at < $1 ORDER BY todos.due_at ASC NULLS LAST, todos.id LIMIT 20`, "now() - interval '250 days'"), 'todos_due_idx', 'dueBefore');
});

test('stats (staff): overdue and completed-in-7-days are index range counts', async () => {
    const nodes = await plan(
        "SELECT sum(n), (SELECT count(*) FROM todos.todos WHERE status IN ('pending', 'in_progress') AND due_at < now()) AS overdue, (SELECT count(*) FROM todos.todos WHERE completed_at >= now() - interval '7 days') AS c7 FROM todos.todo_counts"
    );
    assertIndexed(nodes, 'todos_status_due_idx', 'overdue');
    assertIndexed(nodes, 'todos_completed_idx', 'completed 7 days');
});

test('reports: per-store summary counts and the CSV keyset batch use indexes', async () => {
    const nodes = await plan(
        `WITH s AS (SELECT id, d::timestamp AT TIME ZONE timezone AS day_start, (d + 1)::timestamp AT TIME ZONE timezone AS day_end
           FROM (SELECT st.*, coalesce($1::date, (now() AT TIME ZONE st.timezone)::date) AS d FROM reporting.stores st
                 WHERE st.active AND ($2::uuid IS NULL OR st.id = $2)) x)
         SELECT s.id,
           (SELECT count(*) FROM reporting.todos t WHERE t.store_id = s.id AND t.due_at >= s.day_start AND t.due_at < s.day_end),
           (SELECT count(*) FROM reporting.todos t WHERE t.store_id = s.id AND t.status IN ('pending', 'in_progress') AND t.due_at < now()),
           (SELECT count(*) FROM reporting.todos t WHERE t.store_id = s.id AND t.completed_at >= s.day_start AND t.completed_at < s.day_end)
         FROM s`,
        'NULL, NULL',
        'date, uuid'
    );
    assertIndexed(nodes, 'todos_store_due_idx', 'due today per store');
    assertIndexed(nodes, 'todos_store_status_due_idx', 'overdue per store');
    assertIndexed(nodes, 'todos_store_completed_idx', 'completed today per store');

    const kn = await plan(
        `SELECT t.id, st.code FROM reporting.todos t LEFT JOIN reporting.stores st ON st.id = t.store_id
         WHERE true AND (t.created_at, t.id) > ($1::timestamptz, $2::uuid) ORDER BY t.created_at, t.id LIMIT $3 OFFSET $4`,
        "now() - interval '100 days', '00000000-0000-0000-0000-000000000000', 1000, 0",
        'timestamptz, uuid, int, int'
    );
    assertIndexed(kn, 'todos_created_idx', 'CSV keyset batch');
    const scan = kn.find((n) => n['Index Name'] === 'todos_created_idx');
    assert.match(scan['Index Cond'] || '', /created_at/, 'the keyset is an index condition, not a filter');
});
