// SPDX-License-Identifier: MIT
// The hot queries of the approvals service use an index (checked, not assumed): 100,000 requests
// of 500 users, most of them decided, seeded straight into a fresh database, then each query
// EXPLAINed the way the server runs it (a prepared statement with a generic plan). The SQL
// mirrors src/services/approvals/store.c.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startDtm } = require('./lib/harness.js');

let dtm;
let user;

before(async () => {
    dtm = await startDtm({ seed: false });
    await dtm.sql(`
        CREATE TEMP TABLE u AS SELECT gen_random_uuid() AS id FROM generate_series(1, 500);
        INSERT INTO approvals.requests (id, type, requester_id, payload, status, workflow_version, nsteps,
                                        current_step, pending_role, created_at, decided_at)
        SELECT gen_random_uuid(),
               (ARRAY['leave', 'attendance_correction', 'overtime', 'geofence_exception'])[1 + g % 4],
               us.ids[1 + g % 500], '{}', x.status, 1, 1,
               CASE WHEN x.status = 'pending' THEN 0 END,
               CASE WHEN x.status = 'pending' THEN (ARRAY['manager', 'admin'])[1 + g % 2] END,
               now() - make_interval(mins => g),
               CASE WHEN x.status <> 'pending' THEN now() - make_interval(mins => g) END
        FROM generate_series(1, 100000) g
        CROSS JOIN (SELECT array_agg(id) AS ids FROM u) us
        CROSS JOIN LATERAL (SELECT CASE WHEN g % 20 = 0 THEN 'pending'
                                        ELSE (ARRAY['approved', 'rejected', 'cancelled'])[1 + g % 3] END AS status) x;
        INSERT INTO approvals.steps (request_id, position, role, status)
        SELECT id, 0, coalesce(pending_role, 'manager'), CASE WHEN status = 'pending' THEN 'pending' ELSE status END
        FROM approvals.requests;`);
    await dtm.sql('VACUUM ANALYZE approvals.requests');
    await dtm.sql('VACUUM ANALYZE approvals.steps');
    user = (await dtm.sql('SELECT requester_id FROM approvals.requests LIMIT 1'))[0][0];
});
after(async () => {
    if (dtm) await dtm.stop();
});

async function plan(query, args) {
    const rows = await dtm.sql(
        `SET plan_cache_mode = force_generic_plan; PREPARE q AS ${query}; EXPLAIN (FORMAT JSON) EXECUTE q${args ? `(${args})` : ''}`
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

function assertIndexed(nodes, index, what) {
    const text = JSON.stringify(nodes.map((n) => [n['Node Type'], n['Relation Name'], n['Index Name']]));
    const seq = nodes.filter((n) => n['Node Type'] === 'Seq Scan' && ['requests', 'steps'].includes(n['Relation Name']));
    assert.equal(seq.length, 0, `${what}: no sequential scan: ${text}`);
    assert.ok(nodes.some((n) => index.test(n['Index Name'] || '')), `${what}: uses ${index}: ${text}`);
}

// REQUEST_COLS in store.c: the steps come along per row, through the steps' primary key.
const COLS = `q.id, q.type, q.status, q.current_step, q.pending_role,
    (SELECT json_agg(json_build_object('role', s.role, 'status', s.status) ORDER BY s.position)
     FROM approvals.steps s WHERE s.request_id = q.id) AS steps`;
const ORDER = 'ORDER BY q.created_at DESC, q.id DESC';

test('scope=mine: the (requester_id, created_at) index, count and page', async () => {
    assertIndexed(await plan(`SELECT ${COLS} FROM approvals.requests q WHERE true AND q.requester_id = $1 ${ORDER} LIMIT $2 OFFSET $3`, `'${user}', 20, 0`), /^requests_requester_idx$/, 'mine');
    assertIndexed(await plan(`SELECT ${COLS} FROM approvals.requests q WHERE true AND q.requester_id = $1 ${ORDER} LIMIT $2 OFFSET $3`, `'${user}', 20, 0`), /^steps_pkey$/, 'steps per row');
    assertIndexed(await plan(`SELECT count(*) AS n FROM approvals.requests q WHERE true AND q.requester_id = $1`, `'${user}'`), /^requests_requester_idx$/, 'count mine');
});

test('scope=inbox: the partial index of pending requests by role', async () => {
    const W = `WHERE true AND q.status = 'pending' AND q.pending_role = $1 AND q.requester_id <> $2`;
    assertIndexed(await plan(`SELECT ${COLS} FROM approvals.requests q ${W} ${ORDER} LIMIT $3 OFFSET $4`, `'manager', '${user}', 20, 0`), /^requests_inbox_idx$/, 'inbox');
    assertIndexed(await plan(`SELECT count(*) AS n FROM approvals.requests q ${W}`, `'manager', '${user}'`), /^requests_inbox_idx$/, 'count inbox');
});

test('the staff list and the decision use indexes', async () => {
    assertIndexed(await plan(`SELECT ${COLS} FROM approvals.requests q WHERE true ${ORDER} LIMIT $1 OFFSET $2`, `20, 0`), /^requests_created_idx$/, 'all');
    assertIndexed(
        await plan(`UPDATE approvals.requests q SET updated_at = now() WHERE q.id = $1 AND q.current_step = $2::int AND q.status = 'pending' RETURNING q.status`, `'${user}', 0`),
        /^requests_pkey$/,
        'decision'
    );
});
