// SPDX-License-Identifier: MIT
// Restarts lose no visit transition (issue 12): in the microservices topology the visits process
// is killed (SIGKILL: no drain) between a punch-in and its consumption, and separately Redis is
// stopped; after the restart the planned visit reaches in_progress exactly once — one processed
// event, one visit carrying the attendance, no unplanned duplicate.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startFieldOps, storeBody } = require('./fieldops-fixtures.js');
const { startRedis, sleep } = require('./lib/harness.js');

const ENV = { DTM_OUTBOX_POLL_MS: '200', DTM_OUTBOX_RETRY_MAX_MS: '500', DTM_VISITS_JOB_INTERVAL_MS: '1000' };

async function until(fn, what, timeoutMs = 20000) {
    const t0 = Date.now();
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
        await sleep(100);
    }
}

async function plannedVisit(f) {
    const s = await f.as('admin')('POST', '/api/stores', storeBody());
    assert.equal(s.status, 201, s.text);
    const store = s.json.store;
    const today = new Date().toISOString().slice(0, 10);
    const v = await f.as('manager')('POST', '/api/visits', { userId: f.ids.merch, storeId: store.id, plannedDate: today });
    assert.equal(v.status, 201, v.text);
    return { store, visit: v.json.visit };
}

const punchIn = (f, store) =>
    f.as('merch')('POST', '/api/attendance/punch-in', { storeId: store.id, latitude: store.latitude, longitude: store.longitude, accuracyM: 8 });

async function assertExactlyOnce(f, visitId, att) {
    const v = await until(async () => {
        const [row] = await f.dtm.sql(`SELECT status, attendance_id FROM visits.visits WHERE id = '${visitId}'`);
        return row[0] === 'in_progress' && row;
    }, 'the visit in_progress');
    assert.equal(v[1], att);
    const [[n]] = await f.dtm.sql(`SELECT count(*) FROM visits.visits WHERE attendance_id = '${att}'`);
    assert.equal(n, '1', 'one visit carries the punch-in');
    const [[mine]] = await f.dtm.sql(`SELECT count(*) FROM visits.visits WHERE user_id = '${f.ids.merch}'`);
    assert.equal(mine, '1', 'no unplanned duplicate');
    const [[processed]] = await f.dtm.sql(
        `SELECT count(*) FROM visits.processed_events p JOIN attendance.outbox o ON o.event_id = p.event_id
         WHERE o.payload->>'attendanceId' = '${att}' AND o.consumer = 'visits'`
    );
    assert.equal(processed, '1', 'the punch-in event applied once');
}

test('visits killed between a punch-in and its consumption: in_progress exactly once after restart', async () => {
    const keep = setInterval(() => {}, 1000); // dtm children are unref'd: keep the loop alive
    const f = await startFieldOps({ topology: 'micro', env: ENV });
    try {
        const { store, visit } = await plannedVisit(f);
        const [vp] = f.dtm.replicas('visits');
        vp.kill('SIGKILL');
        await vp.exited;

        const p = await punchIn(f, store);
        assert.equal(p.status, 201, p.text);
        const att = p.json.attendance.id;
        // The event waits in attendance's outbox; deliveries fail while visits is down.
        await until(async () => {
            const [[attempts, delivered]] = await f.dtm.sql(
                `SELECT attempts, delivered_at IS NOT NULL FROM attendance.outbox WHERE payload->>'attendanceId' = '${att}'`
            );
            return Number(attempts) >= 2 && delivered === 'f';
        }, 'failed deliveries');
        const [[status]] = await f.dtm.sql(`SELECT status FROM visits.visits WHERE id = '${visit.id}'`);
        assert.equal(status, 'planned');

        vp.start();
        await vp.waitHealthy();
        await assertExactlyOnce(f, visit.id, att);
        // A later round redelivers nothing.
        await sleep(1000);
        await assertExactlyOnce(f, visit.id, att);
    } finally {
        await f.dtm.stop();
        clearInterval(keep);
    }
});

test('Redis stopped between a punch-in and its consumption: in_progress exactly once, and after Redis returns', async () => {
    const keep = setInterval(() => {}, 1000);
    const redis = await startRedis();
    const f = await startFieldOps({ topology: 'micro', redis, env: ENV });
    try {
        const { store, visit } = await plannedVisit(f);
        await redis.stop();
        const p = await punchIn(f, store);
        assert.equal(p.status, 201, p.text);
        const att = p.json.attendance.id;
        await assertExactlyOnce(f, visit.id, att);
        await redis.start();
        await sleep(1500);
        await assertExactlyOnce(f, visit.id, att);
        const out = await f.as('merch')('POST', '/api/attendance/punch-out', {});
        assert.equal(out.status, 200, out.text);
        await until(async () => {
            const [[s]] = await f.dtm.sql(`SELECT status FROM visits.visits WHERE id = '${visit.id}'`);
            return s === 'completed';
        }, 'completed');
    } finally {
        await f.dtm.stop();
        await redis.stop();
        clearInterval(keep);
    }
});
