// SPDX-License-Identifier: MIT
// The hot queries of the visits service use an index (checked, not assumed): 100,000 visits over
// 500 users and 200 stores seeded straight into a fresh database, then each query EXPLAINed the
// way the server runs it (a prepared statement with a generic plan). The SQL mirrors
// src/services/visits/store.c.
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
        CREATE TEMP TABLE s AS SELECT gen_random_uuid() AS id FROM generate_series(1, 200);
        INSERT INTO visits.visits (id, user_id, store_id, store_timezone, planned_date, sequence, status)
        SELECT gen_random_uuid(), us.ids[1 + g % 500], ss.ids[1 + (g / 500) % 200],
               (ARRAY['UTC', 'Europe/Paris', 'Asia/Tokyo'])[1 + g % 3],
               current_date - 150 + (g / 500) % 200, g % 7,
               (ARRAY['planned', 'completed', 'completed', 'missed', 'cancelled', 'unplanned'])[1 + g % 6]
        FROM generate_series(1, 100000) g
        CROSS JOIN (SELECT array_agg(id) AS ids FROM u) us
        CROSS JOIN (SELECT array_agg(id) AS ids FROM s) ss
        ON CONFLICT DO NOTHING;
        UPDATE visits.visits SET status = 'completed' WHERE status = 'planned' AND planned_date < current_date - 2;`);
    await dtm.sql('VACUUM ANALYZE visits.visits');
    user = (await dtm.sql('SELECT user_id FROM visits.visits LIMIT 1'))[0][0];
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
    const seq = nodes.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'visits');
    assert.equal(seq.length, 0, `${what}: no sequential scan of visits: ${text}`);
    assert.ok(nodes.some((n) => index.test(n['Index Name'] || '')), `${what}: uses ${index}: ${text}`);
}

const COLS = `v.id, v.user_id, v.store_id, v.planned_date::text AS planned_date, v.sequence, v.status`;

test('GET /today: the (user_id, planned_date) index', async () => {
    assertIndexed(
        await plan(
            `SELECT ${COLS} FROM visits.visits v WHERE v.user_id = $1
             AND v.planned_date BETWEEN (now() AT TIME ZONE 'UTC')::date - 1 AND (now() AT TIME ZONE 'UTC')::date + 1
             AND v.planned_date = (now() AT TIME ZONE v.store_timezone)::date AND v.status <> 'cancelled'
             ORDER BY v.sequence, v.planned_start NULLS LAST, v.id LIMIT 200`,
            `'${user}'`
        ),
        /^visits_user_day_idx$/,
        'today'
    );
});

test('list by user and by store, with a date range', async () => {
    const L = `SELECT ${COLS} FROM visits.visits v WHERE true`;
    const ORDER = 'ORDER BY v.planned_date, v.sequence, v.planned_start NULLS LAST, v.id LIMIT $3 OFFSET $4';
    assertIndexed(await plan(`${L} AND v.user_id = $1 ${ORDER.replace('$3', '$2').replace('$4', '$3')}`, `'${user}', 20, 0`), /^visits_user_day_idx$/, 'by user');
    assertIndexed(await plan(`SELECT count(*) AS n FROM visits.visits v WHERE true AND v.user_id = $1`, `'${user}'`), /^visits_user_day_idx$/, 'count by user');
    const store = (await dtm.sql('SELECT store_id FROM visits.visits LIMIT 1'))[0][0];
    assertIndexed(
        await plan(`${L} AND v.store_id = $1 AND v.planned_date >= $2::date AND v.planned_date <= $3::date ORDER BY v.planned_date, v.sequence, v.planned_start NULLS LAST, v.id LIMIT $4 OFFSET $5`, `'${store}', current_date - 7, current_date, 20, 0`),
        /^visits_store_day_idx$/,
        'by store'
    );
});

test('coverage over a week and the missed job use indexes', async () => {
    assertIndexed(
        await plan(
            `SELECT user_id, count(*) FROM visits.visits WHERE planned_date BETWEEN $1::date AND $2::date GROUP BY GROUPING SETS ((), (user_id), (store_id))`,
            `current_date - 6, current_date`
        ),
        /^visits_(day|user_day|store_day)_idx$/,
        'coverage'
    );
    assertIndexed(
        await plan(
            `SELECT id FROM visits.visits WHERE status = 'planned' AND planned_date <= (now() AT TIME ZONE 'UTC')::date + 1
             AND ((planned_date + 1)::timestamp AT TIME ZONE store_timezone) <= now() ORDER BY planned_date LIMIT 1000`
        ),
        /^visits_planned_idx$/,
        'missed job'
    );
    assertIndexed(
        await plan(`SELECT id FROM visits.visits WHERE attendance_id = $1`, `'${user}'`),
        /^visits_attendance_key$/,
        'punch-in consumer'
    );
});

// The reports service's visits report (src/services/reports/store.c, reports_db_visits): its time
// axis is reporting.visits.planned_at, an expression over the view; a date range and the CSV's
// keyset pages must not scan the table.
test('GET /api/reports/visits: the planned_at expression index, for the range and the keyset', async () => {
    const R = 'SELECT t.id, t.planned_at FROM reporting.visits t WHERE true AND t.planned_at >= $1 AND t.planned_at < $2';
    assertIndexed(
        await plan(`${R} ORDER BY t.planned_at, t.id LIMIT $3`, `now() - interval '7 days', now(), 500`),
        /^visits_planned_at_idx$/,
        'report page'
    );
    assertIndexed(
        await plan(`${R} AND (t.planned_at, t.id) > ($3::timestamptz, $4::uuid) ORDER BY t.planned_at, t.id LIMIT $5`, `now() - interval '7 days', now(), now() - interval '3 days', '${user}', 500`),
        /^visits_planned_at_idx$/,
        'report keyset batch'
    );
    assertIndexed(await plan(`SELECT count(*) FROM reporting.visits t WHERE true AND t.planned_at >= $1 AND t.planned_at < $2`, `now() - interval '7 days', now()`), /^visits_planned_at_idx$/, 'report count');
});
