// SPDX-License-Identifier: MIT
// A restart between a decision and its effect applies the effect exactly once (issue 13): in the
// microservices topology the attendance process is killed (SIGKILL: no drain) before the final
// approval of a geofence exception; the decision commits with its approval.decided event in the
// approvals outbox, whose deliveries fail while attendance is down. After the restart the
// exception's attendance record exists once, the event is processed once, and a later round
// redelivers nothing.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startFieldOps, storeBody } = require('./fieldops-fixtures.js');
const { sleep } = require('./lib/harness.js');

const ENV = { DTM_OUTBOX_POLL_MS: '200', DTM_OUTBOX_RETRY_MAX_MS: '500' };

async function until(fn, what, timeoutMs = 20000) {
    const t0 = Date.now();
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
        await sleep(100);
    }
}

async function assertAppliedOnce(f, requestId) {
    const rows = await until(async () => {
        const r = await f.dtm.sql(`SELECT id, user_id, exception FROM attendance.records WHERE exception_request_id = '${requestId}'`);
        return r.length ? r : null;
    }, 'the exception record');
    assert.equal(rows.length, 1, 'one record');
    assert.equal(rows[0][1], f.ids.merch);
    const [[all]] = await f.dtm.sql(`SELECT count(*) FROM attendance.records WHERE user_id = '${f.ids.merch}'`);
    assert.equal(all, '1', 'no duplicate record of the merchandiser');
    const [[applied]] = await f.dtm.sql(`SELECT count(*) FROM attendance.applied_approvals WHERE request_id = '${requestId}'`);
    assert.equal(applied, '1');
    const [[processed]] = await f.dtm.sql(
        `SELECT count(*) FROM attendance.processed_events p JOIN approvals.outbox o ON o.event_id = p.event_id
         WHERE o.payload->>'requestId' = '${requestId}' AND o.consumer = 'attendance'`
    );
    assert.equal(processed, '1', 'the decided event applied once');
}

test('attendance killed between the final approval and its effect: applied exactly once after restart', async () => {
    const keep = setInterval(() => {}, 1000); // dtm children are unref'd: keep the loop alive
    const f = await startFieldOps({ topology: 'micro', env: ENV });
    try {
        const s = await f.as('admin')('POST', '/api/stores', storeBody());
        assert.equal(s.status, 201, s.text);
        const store = s.json.store;
        const q = await f.as('merch')('POST', '/api/approvals', {
            type: 'geofence_exception',
            payload: { storeId: store.id, latitude: store.latitude + 0.01, longitude: store.longitude, accuracyM: 20, capturedAt: new Date(Date.now() - 60000).toISOString() },
            reason: 'GPS drift',
        });
        assert.equal(q.status, 201, q.text);
        const id = q.json.request.id;

        const [ap] = f.dtm.replicas('attendance');
        ap.kill('SIGKILL');
        await ap.exited;
        const d = await f.as('manager')('POST', `/api/approvals/${id}/approve`, {});
        assert.equal(d.status, 200, d.text);
        assert.equal(d.json.request.status, 'approved');
        await until(async () => {
            const [[attempts, delivered]] = await f.dtm.sql(
                `SELECT attempts, delivered_at IS NOT NULL FROM approvals.outbox WHERE payload->>'requestId' = '${id}' AND consumer = 'attendance'`
            );
            return Number(attempts) >= 2 && delivered === 'f';
        }, 'failed deliveries');
        const [[none]] = await f.dtm.sql(`SELECT count(*) FROM attendance.records WHERE exception_request_id = '${id}'`);
        assert.equal(none, '0');

        ap.start();
        await ap.waitHealthy();
        await assertAppliedOnce(f, id);
        await sleep(1000);
        await assertAppliedOnce(f, id);
        const cur = await f.as('merch')('GET', '/api/attendance/current');
        assert.equal(cur.json.punchedIn, true);
        assert.equal(cur.json.attendance.exception, true);
    } finally {
        await f.dtm.stop();
        clearInterval(keep);
    }
});
