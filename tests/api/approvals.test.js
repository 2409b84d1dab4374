// SPDX-License-Identifier: MIT
// Black-box tests of /api/approvals (shared/API.md "Wave 2", Approvals): every call and error
// with all three roles; workflows edited by admins while requests keep the steps they were made
// with; separation of duties (nobody decides their own request, each step only by its role,
// admins included); 20 concurrent approvals of one step (one 200, 19 × 409, the effect applied
// once), also with the row held locked so that every approval passes the checks in C and only
// the conditional UPDATE can pick the winner; the effects on attendance (geofence exception → a record marked exception, correction →
// new times and minutes, overtime → approved minutes), each applied exactly once even when the
// decided event is delivered again. Runs in both topologies (DTM_TEST_TOPOLOGY=micro). The
// restart test (attendance killed between decision and effect) is approvals-restart.test.js.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { assertError, assertFieldNamed, startFieldOps, storeBody } = require('./fieldops-fixtures.js');
const { sleep } = require('./lib/harness.js');
const fs = require('node:fs');
const path = require('node:path');

// approval.requested rows exist only once a service consumes them (the outbox writes one row per
// subscribed consumer): the notifications service.
const NOTIFICATIONS = fs.existsSync(path.join(__dirname, '..', '..', 'src', 'services', 'notifications', 'routes.c'));

const NIL = '00000000-0000-4000-8000-000000000000';
let f; // {dtm, tok, ids, as}
let store; // a UTC store every punch uses

async function until(fn, what, timeoutMs = 15000) {
    const t0 = Date.now();
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
        await sleep(100);
    }
}

/** A new user of `role` with a token under f.tok[name]. */
async function addUser(name, role) {
    const u = await f.dtm.createUser(f.tok.admin, { role, firstName: name, lastName: 'Tester' });
    f.tok[name] = (await f.dtm.login(u.email, u.password)).accessToken;
    f.ids[name] = u.id;
    return u;
}

const iso = (ms) => new Date(ms).toISOString();
const reading = (over = {}) => ({
    storeId: store.id,
    latitude: store.latitude + 0.01, // about 1.1 km north: outside the 100 m geofence
    longitude: store.longitude,
    accuracyM: 15,
    capturedAt: iso(Date.now() - 60000),
    ...over,
});

function assertRequestShape(q) {
    for (const k of ['id', 'type', 'requesterId', 'payload', 'reason', 'status', 'steps', 'currentStep', 'createdAt', 'decidedAt'])
        assert.ok(k in q, `request.${k}: ${JSON.stringify(q)}`);
    assert.ok(['leave', 'attendance_correction', 'overtime', 'geofence_exception'].includes(q.type));
    assert.ok(['pending', 'approved', 'rejected', 'cancelled'].includes(q.status));
    for (const s of q.steps) for (const k of ['role', 'status', 'actorId', 'comment', 'decidedAt']) assert.ok(k in s, `step.${k}`);
}

const file = (role, body) => f.as(role)('POST', '/api/approvals', body);
async function fileOk(role, body) {
    const r = await file(role, body);
    assert.equal(r.status, 201, r.text);
    assertRequestShape(r.json.request);
    return r.json.request;
}
const leave = (over = {}) => ({ type: 'leave', payload: { from: '2027-01-04', to: '2027-01-08', leaveType: 'annual' }, reason: 'holiday', ...over });

async function punchInOut(role) {
    const pin = await f.as(role)('POST', '/api/attendance/punch-in', { storeId: store.id, latitude: store.latitude, longitude: store.longitude, accuracyM: 8 });
    assert.equal(pin.status, 201, pin.text);
    const out = await f.as(role)('POST', '/api/attendance/punch-out', {});
    assert.equal(out.status, 200, out.text);
    return out.json.attendance;
}

before(async () => {
    f = await startFieldOps({ env: { DTM_OUTBOX_POLL_MS: '200', DTM_OUTBOX_RETRY_MAX_MS: '1000' } });
    await addUser('manager2', 'manager');
    await addUser('admin2', 'admin');
    const s = await f.as('admin')('POST', '/api/stores', storeBody());
    assert.equal(s.status, 201, s.text);
    store = s.json.store;
});

after(async () => {
    if (f) await f.dtm.stop();
});

test('workflows: admins read and edit them; defaults per API.md; a request keeps the steps it was created with', async () => {
    let r = await f.as('admin')('GET', '/api/approvals/workflows');
    assert.equal(r.status, 200, r.text);
    const byType = Object.fromEntries(r.json.items.map((w) => [w.type, w.steps.map((s) => s.role)]));
    assert.deepEqual(byType, {
        attendance_correction: ['manager'],
        geofence_exception: ['manager'],
        leave: ['manager', 'admin'],
        overtime: ['manager'],
    });
    for (const role of ['manager', 'merch']) {
        assertError(await f.as(role)('GET', '/api/approvals/workflows'), 403);
        assertError(await f.as(role)('GET', '/api/approvals/workflows/leave'), 403);
        assertError(await f.as(role)('PUT', '/api/approvals/workflows/overtime', { steps: [{ role: 'manager' }] }), 403);
    }
    assertError(await f.as(null)('GET', '/api/approvals/workflows'), 401);
    assertError(await f.as('admin')('GET', '/api/approvals/workflows/holiday'), 404, 'not_found');
    assertError(await f.as('admin')('PUT', '/api/approvals/workflows/holiday', { steps: [{ role: 'admin' }] }), 404);
    for (const steps of [undefined, [], 'manager', [{ role: 'merchandiser' }], [{}], [{ role: 'admin' }, 'x'], Array(6).fill({ role: 'admin' })])
        assertFieldNamed(await f.as('admin')('PUT', '/api/approvals/workflows/overtime', { steps }), 'steps');

    r = await f.as('admin')('GET', '/api/approvals/workflows/overtime');
    assert.equal(r.status, 200);
    const v0 = r.json.workflow.version;
    const before1 = await fileOk('merch', { type: 'overtime', payload: { attendanceId: (await punchInOut('merch')).id, minutes: 30 } });
    assert.deepEqual(before1.steps.map((s) => s.role), ['manager']);
    assert.equal(before1.workflowVersion, v0);

    r = await f.as('admin')('PUT', '/api/approvals/workflows/overtime', { steps: [{ role: 'manager' }, { role: 'admin' }] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.workflow.version, v0 + 1);
    assert.deepEqual(r.json.workflow.steps, [{ role: 'manager' }, { role: 'admin' }]);
    assert.equal(r.json.workflow.updatedBy, f.ids.admin);
    const after1 = await fileOk('merch', { type: 'overtime', payload: { attendanceId: (await punchInOut('merch')).id, minutes: 20 } });
    assert.deepEqual(after1.steps.map((s) => s.role), ['manager', 'admin']);
    assert.equal(after1.workflowVersion, v0 + 1);

    // The earlier request still has one step: the manager's approval decides it.
    r = await f.as('manager')('POST', `/api/approvals/${before1.id}/approve`, {});
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.request.status, 'approved');
    r = await f.as('manager')('POST', `/api/approvals/${after1.id}/approve`, {});
    assert.equal(r.json.request.status, 'pending');
    assert.equal(r.json.request.currentStep, 1);

    assert.equal((await f.as('admin')('PUT', '/api/approvals/workflows/overtime', { steps: [{ role: 'manager' }] })).status, 200);
});

test('POST /api/approvals: every role files; each type payload checked; 404 for attendance not the requester\'s', async () => {
    const q = await fileOk('merch', leave());
    assert.equal(q.status, 'pending');
    assert.equal(q.requesterId, f.ids.merch);
    assert.equal(q.requesterName, 'merch Tester');
    assert.equal(q.currentStep, 0);
    assert.deepEqual(q.steps.map((s) => [s.role, s.status]), [['manager', 'pending'], ['admin', 'waiting']]);
    assert.deepEqual(q.payload, { from: '2027-01-04', to: '2027-01-08', leaveType: 'annual' });
    assert.equal(q.reason, 'holiday');
    assert.equal(q.decidedAt, null);
    await fileOk('manager', leave());
    await fileOk('admin', leave({ reason: undefined }));
    assertError(await file(null, leave()), 401);

    const bad = async (body, field) => assertFieldNamed(await file('merch', body), field);
    await bad({ payload: {} }, 'type');
    await bad({ type: 'holiday', payload: {} }, 'type');
    await bad({ type: 'leave' }, 'payload');
    await bad({ type: 'leave', payload: [] }, 'payload');
    await bad(leave({ reason: 'x'.repeat(2001) }), 'reason');
    await bad({ type: 'leave', payload: { to: '2027-01-01', leaveType: 'annual' } }, 'payload.from');
    await bad({ type: 'leave', payload: { from: '2027-02-30', to: '2027-03-01', leaveType: 'annual' } }, 'payload.from');
    await bad({ type: 'leave', payload: { from: '2027-01-05', to: '2027-01-04', leaveType: 'annual' } }, 'payload.to');
    await bad({ type: 'leave', payload: { from: '2027-01-05', to: '2027-01-06', leaveType: 'beach' } }, 'payload.leaveType');
    const now = Date.now();
    const corr = (p) => ({ type: 'attendance_correction', payload: { attendanceId: NIL, punchInAt: iso(now - 7200e3), punchOutAt: iso(now - 3600e3), ...p } });
    await bad(corr({ attendanceId: 'x' }), 'payload.attendanceId');
    await bad(corr({ punchInAt: 'yesterday' }), 'payload.punchInAt');
    await bad(corr({ punchOutAt: undefined }), 'payload.punchOutAt');
    await bad(corr({ punchOutAt: iso(now - 9000e3) }), 'payload.punchOutAt');
    await bad(corr({ punchInAt: iso(now - 30 * 3600e3) }), 'payload.punchOutAt');
    await bad(corr({ punchOutAt: iso(now + 3600e3) }), 'payload.punchOutAt');
    const ot = (p) => ({ type: 'overtime', payload: { attendanceId: NIL, minutes: 30, ...p } });
    await bad(ot({ minutes: 0 }), 'payload.minutes');
    await bad(ot({ minutes: 1441 }), 'payload.minutes');
    await bad(ot({ minutes: '30' }), 'payload.minutes');
    await bad(ot({ attendanceId: undefined }), 'payload.attendanceId');
    const gx = (p) => ({ type: 'geofence_exception', payload: reading(p) });
    await bad(gx({ storeId: 'x' }), 'payload.storeId');
    await bad(gx({ latitude: 91 }), 'payload.latitude');
    await bad(gx({ longitude: undefined }), 'payload.longitude');
    await bad(gx({ accuracyM: 0 }), 'payload.accuracyM');
    await bad(gx({ accuracyM: 250 }), 'payload.accuracyM');
    await bad(gx({ capturedAt: 'now' }), 'payload.capturedAt');
    await bad(gx({ capturedAt: iso(now - 73 * 3600e3) }), 'payload.capturedAt');
    await bad(gx({ capturedAt: iso(now + 3600e3) }), 'payload.capturedAt');

    // Attendance that is not the requester's looks unknown; so does an unknown store.
    const theirs = await punchInOut('merch2');
    assertError(await file('merch', corr({ attendanceId: theirs.id })), 404, 'not_found');
    assertError(await file('merch', ot({ attendanceId: NIL })), 404, 'not_found');
    assertError(await file('manager', ot({ attendanceId: theirs.id })), 404, 'not_found');
    assertError(await file('merch', gx({ storeId: NIL })), 404, 'not_found');
    const mine = await fileOk('merch2', corr({ attendanceId: theirs.id }));
    assert.equal(mine.payload.attendanceId, theirs.id);
    assert.deepEqual(mine.steps.map((s) => s.role), ['manager']);
});

test('GET /api/approvals: scope mine and inbox, filters, pagination; merchandisers see only their own; GET /:id', async () => {
    await addUser('lister', 'merchandiser');
    const a = await fileOk('lister', leave());
    const b = await fileOk('lister', { type: 'geofence_exception', payload: reading() });
    let r = await f.as('lister')('GET', '/api/approvals');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.items.map((x) => x.id), [b.id, a.id]);
    assert.deepEqual(r.json.pagination, { page: 1, limit: 20, total: 2, pages: 1 });
    r = await f.as('lister')('GET', '/api/approvals?type=leave&limit=1');
    assert.deepEqual(r.json.items.map((x) => x.id), [a.id]);
    r = await f.as('lister')('GET', '/api/approvals?scope=inbox');
    assert.equal(r.status, 200);
    assert.equal(r.json.items.length, 0, 'nothing waits for a merchandiser');

    // The inbox: pending, waiting for my role, never my own.
    const mgrOwn = await fileOk('manager', leave());
    r = await f.as('manager')('GET', '/api/approvals?scope=inbox&limit=100');
    assert.ok(r.json.items.some((x) => x.id === a.id));
    assert.ok(r.json.items.every((x) => x.status === 'pending' && x.currentRole === 'manager' && x.requesterId !== f.ids.manager));
    assert.ok(!r.json.items.some((x) => x.id === mgrOwn.id));
    r = await f.as('manager2')('GET', '/api/approvals?scope=inbox&limit=100');
    assert.ok(r.json.items.some((x) => x.id === mgrOwn.id));
    r = await f.as('admin')('GET', '/api/approvals?scope=inbox&limit=100');
    assert.ok(!r.json.items.some((x) => x.id === a.id), 'a manager step is not in the admins\' inbox');
    r = await f.as('manager')('GET', '/api/approvals?scope=mine&limit=100');
    assert.ok(r.json.items.every((x) => x.requesterId === f.ids.manager));
    r = await f.as('admin')('GET', '/api/approvals?status=pending&type=geofence_exception&limit=100');
    assert.ok(r.json.items.some((x) => x.id === b.id));
    assert.ok(r.json.items.every((x) => x.status === 'pending' && x.type === 'geofence_exception'));

    for (const q of ['status=done', 'type=holiday', 'scope=all', 'limit=500', 'page=0'])
        assertError(await f.as('manager')('GET', `/api/approvals?${q}`), 400);
    assertError(await f.as(null)('GET', '/api/approvals'), 401);

    r = await f.as('lister')('GET', `/api/approvals/${a.id}`);
    assert.equal(r.status, 200);
    assert.equal(r.json.request.id, a.id);
    assert.equal((await f.as('manager')('GET', `/api/approvals/${a.id}`)).status, 200);
    assertError(await f.as('merch')('GET', `/api/approvals/${a.id}`), 404, 'not_found');
    assertError(await f.as('admin')('GET', `/api/approvals/${NIL}`), 404);
    assertError(await f.as('admin')('GET', '/api/approvals/nope'), 404);
});

test('decisions: steps in order, each only by its role (admins too), nobody decides their own; 409 once decided', async () => {
    const q = await fileOk('manager', leave());
    assertError(await f.as('manager')('POST', `/api/approvals/${q.id}/approve`, {}), 403, 'self_approval');
    assertError(await f.as('manager')('POST', `/api/approvals/${q.id}/reject`, {}), 403, 'self_approval');
    assertError(await f.as('admin')('POST', `/api/approvals/${q.id}/approve`, {}), 403, 'forbidden');
    assertError(await f.as('merch')('POST', `/api/approvals/${q.id}/approve`, {}), 403, 'forbidden');
    assertError(await f.as(null)('POST', `/api/approvals/${q.id}/approve`, {}), 401);
    assertError(await f.as('manager2')('POST', `/api/approvals/${NIL}/approve`, {}), 404, 'not_found');
    assertError(await f.as('manager2')('POST', '/api/approvals/x/approve', {}), 404);
    assertFieldNamed(await f.as('manager2')('POST', `/api/approvals/${q.id}/approve`, { comment: 'x'.repeat(2001) }), 'comment');

    let r = await f.as('manager2')('POST', `/api/approvals/${q.id}/approve`, { comment: 'fine by me' });
    assert.equal(r.status, 200, r.text);
    let x = r.json.request;
    assert.equal(x.status, 'pending');
    assert.equal(x.currentStep, 1);
    assert.equal(x.currentRole, 'admin');
    assert.equal(x.steps[0].status, 'approved');
    assert.equal(x.steps[0].actorId, f.ids.manager2);
    assert.equal(x.steps[0].comment, 'fine by me');
    assert.ok(x.steps[0].decidedAt);
    assert.equal(x.steps[1].status, 'pending');
    // The manager step is behind it: late, not wrong.
    assertError(await f.as('manager2')('POST', `/api/approvals/${q.id}/approve`, {}), 409, 'already_decided');
    assertError(await f.as('manager2')('POST', `/api/approvals/${q.id}/reject`, {}), 409, 'already_decided');
    r = await f.as('admin')('POST', `/api/approvals/${q.id}/approve`); // no body at all
    assert.equal(r.status, 200, r.text);
    x = r.json.request;
    assert.equal(x.status, 'approved');
    assert.equal(x.currentStep, null);
    assert.ok(x.decidedAt);
    assert.equal(x.steps[1].actorId, f.ids.admin);
    assertError(await f.as('admin2')('POST', `/api/approvals/${q.id}/approve`, {}), 409, 'already_decided');
    assertError(await f.as('manager')('POST', `/api/approvals/${q.id}/cancel`), 409);

    // A rejection ends it: the later steps are skipped.
    const z = await fileOk('merch', leave());
    r = await f.as('manager')('POST', `/api/approvals/${z.id}/reject`, { comment: 'busy week' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.request.status, 'rejected');
    assert.deepEqual(r.json.request.steps.map((s) => s.status), ['rejected', 'skipped']);
    assertError(await f.as('admin')('POST', `/api/approvals/${z.id}/approve`, {}), 409, 'already_decided');
    // An admin files; the admin step is then someone else's.
    const y = await fileOk('admin', leave());
    assert.equal((await f.as('manager')('POST', `/api/approvals/${y.id}/approve`, {})).status, 200);
    assertError(await f.as('admin')('POST', `/api/approvals/${y.id}/approve`, {}), 403, 'self_approval');
    assert.equal((await f.as('admin2')('POST', `/api/approvals/${y.id}/approve`, {})).json.request.status, 'approved');
});

test('POST /:id/cancel: the requester, while pending; others 403/404; 409 after', async () => {
    const q = await fileOk('merch', leave());
    assertError(await f.as('merch2')('POST', `/api/approvals/${q.id}/cancel`), 404, 'not_found');
    assertError(await f.as('manager')('POST', `/api/approvals/${q.id}/cancel`), 403);
    assertError(await f.as('merch')('POST', `/api/approvals/${NIL}/cancel`), 404);
    let r = await f.as('merch')('POST', `/api/approvals/${q.id}/cancel`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.request.status, 'cancelled');
    assert.deepEqual(r.json.request.steps.map((s) => s.status), ['cancelled', 'cancelled']);
    assertError(await f.as('merch')('POST', `/api/approvals/${q.id}/cancel`), 409);
    assertError(await f.as('manager')('POST', `/api/approvals/${q.id}/approve`, {}), 409, 'already_decided');
    r = await f.as('manager')('GET', '/api/approvals?scope=inbox&limit=100');
    assert.ok(!r.json.items.some((x) => x.id === q.id));
});

async function exceptionRecords(requestId) {
    const rows = await f.dtm.sql(`SELECT id, status, exception FROM attendance.records WHERE exception_request_id = '${requestId}'`);
    return rows;
}

test('geofence exception: a 422 outside_geofence reading, approved → one attendance record at the store marked exception', async () => {
    await addUser('drifter', 'merchandiser');
    const rd = reading({ accuracyM: 12.4 });
    const pin = await f.as('drifter')('POST', '/api/attendance/punch-in', { storeId: rd.storeId, latitude: rd.latitude, longitude: rd.longitude, accuracyM: rd.accuracyM });
    assertError(pin, 422, 'outside_geofence');
    const q = await fileOk('drifter', { type: 'geofence_exception', payload: rd, reason: 'GPS drift in the mall' });
    assert.equal(q.payload.storeId, store.id);
    assert.equal(q.payload.capturedAt, rd.capturedAt);
    assert.equal((await exceptionRecords(q.id)).length, 0, 'nothing before the decision');

    const r = await f.as('manager')('POST', `/api/approvals/${q.id}/approve`, { comment: 'ok' });
    assert.equal(r.status, 200, r.text);
    const [row] = await until(async () => {
        const rows = await exceptionRecords(q.id);
        return rows.length ? rows : null;
    }, 'the exception record');
    const cur = await f.as('drifter')('GET', '/api/attendance/current');
    assert.equal(cur.json.punchedIn, true);
    const a = cur.json.attendance;
    assert.equal(a.id, row[0]);
    assert.equal(a.exception, true);
    assert.equal(a.exceptionRequestId, q.id);
    assert.equal(a.storeId, store.id);
    assert.equal(a.punchInAt, rd.capturedAt);
    assert.equal(a.punchIn.accuracyM, 13);
    assert.ok(a.punchIn.distanceM > 1000, JSON.stringify(a.punchIn));
    // The decided event carries what notifications need.
    const [[payload]] = await f.dtm.sql(`SELECT payload::text FROM approvals.outbox WHERE topic = 'approval.decided' AND payload->>'requestId' = '${q.id}'`);
    const ev = JSON.parse(payload);
    assert.equal(ev.decision, 'approved');
    assert.equal(ev.decidedBy, f.ids.manager);
    assert.equal(ev.requesterId, f.ids.drifter);
    assert.equal(ev.type, 'geofence_exception');
    assert.equal(ev.comment, 'ok');
    // Published like a punch-in: the visits service records the (unplanned) visit.
    await until(async () => {
        const v = await f.as('manager')('GET', `/api/visits?userId=${f.ids.drifter}`);
        return v.json.items.some((x) => x.attendanceId === a.id && x.status === 'unplanned');
    }, 'the visit of the exception');
    // The record is a visit like a punch-in: the merchandiser punches out normally.
    const out = await f.as('drifter')('POST', '/api/attendance/punch-out', {});
    assert.equal(out.status, 200, out.text);
    assert.equal(out.json.attendance.exception, true);
    // A rejected exception creates nothing.
    const no = await fileOk('drifter', { type: 'geofence_exception', payload: reading() });
    assert.equal((await f.as('manager')('POST', `/api/approvals/${no.id}/reject`, {})).status, 200);
    await sleep(800);
    assert.equal((await exceptionRecords(no.id)).length, 0);
});

test('attendance correction and overtime: applied to the record on the final approval, minutes recomputed', async () => {
    await addUser('fixer', 'merchandiser');
    const rec = await punchInOut('fixer');
    const t1 = Math.floor((Date.now() - 5 * 3600e3) / 1000) * 1000;
    const t2 = t1 + 4.5 * 3600e3; // 4 h 30, ending half an hour ago
    const q = await fileOk('fixer', { type: 'attendance_correction', payload: { attendanceId: rec.id, punchInAt: iso(t1), punchOutAt: iso(t2) } });
    assert.equal(q.status, 'pending');
    assert.equal((await f.as('manager')('POST', `/api/approvals/${q.id}/approve`, {})).status, 200);
    const a = await until(async () => {
        const r = await f.as('fixer')('GET', `/api/attendance/${rec.id}`);
        return r.json.attendance.punchInAt === iso(t1) && r.json.attendance;
    }, 'the correction');
    assert.equal(a.punchOutAt, iso(t2));
    assert.equal(a.status, 'closed');
    assert.equal(a.workedMinutes, 270);
    assert.equal(a.netMinutes, 270);
    assert.equal(a.overtimeMinutes, 0);

    const o = await fileOk('fixer', { type: 'overtime', payload: { attendanceId: rec.id, minutes: 45 } });
    assert.equal((await f.as('manager2')('POST', `/api/approvals/${o.id}/approve`, {})).status, 200);
    await until(async () => (await f.as('manager')('GET', `/api/attendance/${rec.id}`)).json.attendance.approvedOvertimeMinutes === 45, 'the overtime');
    const [[n]] = await f.dtm.sql(`SELECT count(*) FROM attendance.applied_approvals WHERE request_id IN ('${q.id}', '${o.id}')`);
    assert.equal(n, '2');

    // GET /api/attendance/:id: own or staff; someone else's looks unknown.
    assertError(await f.as('merch')('GET', `/api/attendance/${rec.id}`), 404, 'not_found');
    assertError(await f.as('fixer')('GET', `/api/attendance/${NIL}`), 404);
    assertError(await f.as('fixer')('GET', '/api/attendance/x'), 404);
});

test('20 concurrent approvals of one step: one 200, 19 × 409, the effect applied once, even when the event is delivered again', async () => {
    await addUser('racer', 'merchandiser');
    const managers = ['manager', 'manager2'];
    for (let i = 0; i < 3; i++) managers.push((await addUser(`mgr${i}`, 'manager')) && `mgr${i}`);
    const q = await fileOk('racer', { type: 'geofence_exception', payload: reading() });
    const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => f.as(managers[i % managers.length])('POST', `/api/approvals/${q.id}/approve`, { comment: `#${i}` }))
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, ...Array(19).fill(409)], results.map((r) => r.text).join('\n'));
    for (const r of results.filter((x) => x.status === 409)) assertError(r, 409, 'already_decided');
    const winner = results.find((r) => r.status === 200).json.request;
    assert.equal(winner.status, 'approved');
    const [[decided]] = await f.dtm.sql(`SELECT count(DISTINCT event_id) FROM approvals.outbox WHERE topic = 'approval.decided' AND payload->>'requestId' = '${q.id}'`);
    assert.equal(decided, '1', 'one decided event');
    await until(async () => (await exceptionRecords(q.id)).length === 1, 'the exception record');

    // Delivered again (the same event), and a second event about the same request: still once.
    await f.dtm.sql(`UPDATE approvals.outbox SET delivered_at = NULL, next_attempt_at = now() WHERE payload->>'requestId' = '${q.id}'`);
    await f.dtm.sql(
        `INSERT INTO approvals.outbox (event_id, consumer, topic, payload)
         SELECT gen_random_uuid(), consumer, topic, payload FROM approvals.outbox WHERE payload->>'requestId' = '${q.id}' AND consumer = 'attendance'`
    );
    await until(async () => {
        const [[pending]] = await f.dtm.sql(`SELECT count(*) FROM approvals.outbox WHERE payload->>'requestId' = '${q.id}' AND delivered_at IS NULL`);
        return pending === '0';
    }, 'the redeliveries');
    assert.equal((await exceptionRecords(q.id)).length, 1, 'one record');
    const [[processed]] = await f.dtm.sql(
        `SELECT count(*) FROM attendance.processed_events p JOIN approvals.outbox o ON o.event_id = p.event_id AND o.consumer = 'attendance' WHERE o.payload->>'requestId' = '${q.id}'`
    );
    assert.equal(processed, '2', 'both events seen, the effect once');
});

async function conflicts() {
    const replica = f.dtm.topology === 'micro' ? f.dtm.replicas('approvals')[0] : null;
    const m = await f.dtm.api('GET', '/metrics', replica ? { base: replica.url } : {});
    const x = /^dtm_approvals_decision_conflicts_total (\S+)$/m.exec(m.text);
    return x ? Number(x[1]) : NaN;
}

test('20 approvals that all read the step as pending: the conditional UPDATE alone picks the one winner', async () => {
    await addUser('racer2', 'merchandiser');
    const q = await fileOk('racer2', { type: 'geofence_exception', payload: reading() });
    const before = await conflicts();
    // Hold the request's row lock: every approval reads "pending", passes the checks in C and
    // queues on its UPDATE; when the lock goes, the first UPDATE wins and each later one finds
    // the step no longer pending (0 rows).
    const holder = f.dtm.sql(`BEGIN; SELECT id FROM approvals.requests WHERE id = '${q.id}' FOR UPDATE; SELECT pg_sleep(2); COMMIT;`);
    await until(async () => {
        const [[n]] = await f.dtm.sql(`SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'requests' AND l.mode = 'RowShareLock' AND l.granted`);
        return Number(n) > 0;
    }, 'the row lock');
    const results = await Promise.all(Array.from({ length: 20 }, () => f.as('manager2')('POST', `/api/approvals/${q.id}/approve`, {})));
    await holder;
    assert.deepEqual(results.map((r) => r.status).sort(), [200, ...Array(19).fill(409)], results.map((r) => r.text).join('\n'));
    const lost = (await conflicts()) - before;
    // As many as there are worker threads to run them at once (the rest arrive after the
    // decision and are refused by the read before it).
    assert.ok(lost >= 3, `losers that passed every check in C and lost at the UPDATE itself: ${lost}`);
    await until(async () => (await exceptionRecords(q.id)).length === 1, 'the exception record');
    const [[decided]] = await f.dtm.sql(`SELECT count(DISTINCT event_id) FROM approvals.outbox WHERE topic = 'approval.decided' AND payload->>'requestId' = '${q.id}'`);
    assert.equal(decided, '1');
    await sleep(500);
    assert.equal((await exceptionRecords(q.id)).length, 1);
});

test('approval.requested names everyone who may decide the current step, in the decision\'s transaction', { skip: !NOTIFICATIONS && 'no consumer of approval.requested in this build (the notifications service)' }, async () => {
    const ids = async (role) => {
        const r = await f.as('admin')('GET', `/api/users?role=${role}&active=true&limit=100`);
        assert.equal(r.status, 200, r.text);
        return r.json.items.map((u) => u.id).sort();
    };
    const requested = async (id) =>
        (await f.dtm.sql(`SELECT payload::text FROM approvals.outbox WHERE topic = 'approval.requested' AND payload->>'requestId' = '${id}' AND consumer = 'notifications' ORDER BY seq`)).map(([p]) => JSON.parse(p));
    const q = await fileOk('manager', leave());
    let [ev] = await requested(q.id);
    assert.equal(ev.step, 0);
    assert.equal(ev.type, 'leave');
    assert.equal(ev.requesterId, f.ids.manager);
    assert.equal(ev.requesterName, 'manager Tester');
    assert.deepEqual([...ev.deciderUserIds].sort(), (await ids('manager')).filter((x) => x !== f.ids.manager), 'every manager but the requester');
    assert.equal((await f.as('manager2')('POST', `/api/approvals/${q.id}/approve`, {})).status, 200);
    const evs = await requested(q.id);
    assert.equal(evs.length, 2);
    ev = evs[1];
    assert.equal(ev.step, 1);
    assert.deepEqual([...ev.deciderUserIds].sort(), await ids('admin'));
    const [[decided]] = await f.dtm.sql(`SELECT count(*) FROM approvals.outbox WHERE topic = 'approval.decided' AND payload->>'requestId' = '${q.id}'`);
    assert.equal(decided, '0', 'not decided before the last step');
});

test('the approvals service answers /health and counts requests, decisions and lost races in /metrics', async () => {
    const replica = f.dtm.topology === 'micro' ? f.dtm.replicas('approvals')[0] : null;
    const base = replica ? { base: replica.url } : {};
    const h = await f.dtm.api('GET', '/health', base);
    assert.equal(h.status, 200, h.text);
    if (replica) assert.equal(h.json.service, 'approvals');
    else assert.ok('approvals' in (h.json.services || {}), h.text);
    const m = await f.dtm.api('GET', '/metrics', base);
    assert.equal(m.status, 200);
    const val = (re) => {
        const x = re.exec(m.text);
        return x ? Number(x[1]) : NaN;
    };
    assert.ok(val(/^dtm_approvals_requests_total (\S+)$/m) >= 10, m.text.slice(0, 300));
    assert.ok(val(/^dtm_approvals_decisions_total\{decision="approved"\} (\S+)$/m) >= 3);
    assert.ok(val(/^dtm_approvals_decisions_total\{decision="rejected"\} (\S+)$/m) >= 2);
    assert.ok(val(/^dtm_approvals_decisions_total\{decision="cancelled"\} (\S+)$/m) >= 1);
    assert.ok(val(/^dtm_approvals_decision_conflicts_total (\S+)$/m) >= 3, "lost races at the UPDATE are counted");
});
