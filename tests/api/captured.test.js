// SPDX-License-Identifier: MIT
// capturedAt on the offline-capable writes (shared/API.md "Offline-safe writes"): punch-in (JSON
// and multipart), punch-out, break start/end and checklist ticks keep the client's capture time
// beside the server's receipt time; the skew rules (72 h back, 5 min ahead) and "a capture never
// precedes the record it closes" are 422 invalid_captured_at; a malformed time is a 400; the
// minute totals, the team view and the reports use the capture times.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { assertError, assertFieldNamed, startFieldOps, storeBody } = require('./fieldops-fixtures.js');

let dtm, as, ids, store;
const H = 3600 * 1000;
const iso = (msAgo) => new Date(Date.now() - msAgo).toISOString();
const at = (extra = {}) => ({
    storeId: store.id,
    latitude: store.latitude,
    longitude: store.longitude,
    accuracyM: 10,
    ...extra,
});

before(async () => {
    ({ dtm, as, ids } = await startFieldOps());
    const r = await as('admin')('POST', '/api/stores', storeBody());
    assert.equal(r.status, 201, r.text);
    store = r.json.store;
});
after(() => dtm && dtm.stop());

test('a punch-in captured offline keeps both times; minutes count from the capture', async () => {
    const t0 = Date.now();
    const ago = (ms) => new Date(t0 - ms).toISOString();
    const captured = ago(2 * H);
    const r = await as('merch')('POST', '/api/attendance/punch-in', at({ capturedAt: captured }));
    assert.equal(r.status, 201, r.text);
    const a = r.json.attendance;
    assert.equal(a.punchInAt, captured);
    assert.equal(a.punchIn.capturedAt, captured);
    const received = Date.parse(a.punchIn.receivedAt);
    assert.ok(Math.abs(received - Date.now()) < 60000, `receivedAt is the server's time: ${a.punchIn.receivedAt}`);
    assert.ok(a.workedMinutes >= 119 && a.workedMinutes <= 121, `worked ${a.workedMinutes}`);

    // A break taken 90 minutes ago for 30 minutes, then a punch-out an hour ago, all offline.
    let b = await as('merch')('POST', '/api/attendance/breaks/start', { type: 'lunch', capturedAt: ago(1.5 * H) });
    assert.equal(b.status, 201, b.text);
    b = await as('merch')('POST', '/api/attendance/breaks/end', { capturedAt: ago(1 * H) });
    assert.equal(b.status, 200, b.text);
    const brk = b.json.attendance.breaks[0];
    assert.equal(Date.parse(brk.endedAt) - Date.parse(brk.startedAt), 0.5 * H);
    assert.ok(Date.parse(brk.endedReceivedAt) > Date.parse(brk.endedAt));

    const out = await as('merch')('POST', '/api/attendance/punch-out', { capturedAt: ago(0.5 * H) });
    assert.equal(out.status, 200, out.text);
    const c = out.json.attendance;
    assert.equal(c.status, 'closed');
    assert.ok(Math.abs(c.workedMinutes - 90) <= 1, `worked ${c.workedMinutes}`);
    assert.ok(Math.abs(c.breakMinutes - 30) <= 1, `break ${c.breakMinutes}`);
    assert.ok(Math.abs(c.netMinutes - 60) <= 1, `net ${c.netMinutes}`);
    assert.ok(Date.parse(c.punchOut.receivedAt) - Date.parse(c.punchOut.capturedAt) >= 0.5 * H - 60000);

    // The history and the reports carry the capture time, not the receipt.
    const list = await as('merch')('GET', `/api/attendance?userId=${ids.merch}`);
    assert.equal(list.status, 200, list.text);
    assert.equal(list.json.items[0].punchInAt, captured);
    const rep = await as('manager')('GET', `/api/reports/attendance?userId=${ids.merch}&format=csv`);
    assert.equal(rep.status, 200, rep.text);
    assert.ok(rep.text.includes(captured.slice(0, 16)), rep.text);
});

test('skew rules: more than 72 h back or 5 min ahead is 422 invalid_captured_at', async () => {
    for (const bad of [iso(73 * H), iso(-6 * 60 * 1000)]) {
        const r = await as('merch2')('POST', '/api/attendance/punch-in', at({ capturedAt: bad }));
        assertError(r, 422, 'invalid_captured_at');
        assert.equal(r.json.error.details.capturedAt, bad);
        assert.ok(r.json.error.details.earliest && r.json.error.details.latest, r.text);
    }
    const cur = await as('merch2')('GET', '/api/attendance/current');
    assert.equal(cur.json.punchedIn, false, 'a refused capture wrote nothing');
    // Just inside both bounds.
    let r = await as('merch2')('POST', '/api/attendance/punch-in', at({ capturedAt: iso(-4 * 60 * 1000) }));
    assert.equal(r.status, 201, r.text);
    r = await as('merch2')('POST', '/api/attendance/punch-out', {});
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.attendance.workedMinutes, 0, 'punch-out now after a punch-in a little ahead');
    r = await as('merch2')('POST', '/api/attendance/punch-in', at({ capturedAt: iso(71 * H) }));
    assert.equal(r.status, 201, r.text);
    r = await as('merch2')('POST', '/api/attendance/punch-out', {});
    assert.equal(r.status, 200, r.text);
});

test('a capture never precedes the record it closes or extends', async () => {
    const tok = await dtm.createUser((await dtm.loginAdmin()).accessToken, { role: 'merchandiser' });
    const t = (await dtm.login(tok.email, tok.password)).accessToken;
    const call = (p, body) => dtm.api('POST', p, { token: t, body });
    let r = await call('/api/attendance/punch-in', at({ capturedAt: iso(3 * H) }));
    assert.equal(r.status, 201, r.text);
    r = await call('/api/attendance/breaks/start', { type: 'coffee', capturedAt: iso(4 * H) });
    assertError(r, 422, 'invalid_captured_at');
    assert.match(r.json.error.message, /precedes/);
    r = await call('/api/attendance/breaks/start', { type: 'coffee', capturedAt: iso(2 * H) });
    assert.equal(r.status, 201, r.text);
    r = await call('/api/attendance/breaks/end', { capturedAt: iso(2.5 * H) });
    assertError(r, 422, 'invalid_captured_at');
    r = await call('/api/attendance/breaks/end', { capturedAt: iso(1.9 * H) });
    assert.equal(r.status, 200, r.text);
    r = await call('/api/attendance/punch-out', { capturedAt: iso(1.95 * H) });
    assertError(r, 422, 'invalid_captured_at');
    const cur = await dtm.api('GET', '/api/attendance/current', { token: t });
    assert.equal(cur.json.attendance.status, 'open', 'the refused punch-out left the record open');
    r = await call('/api/attendance/punch-out', { capturedAt: iso(1 * H) });
    assert.equal(r.status, 200, r.text);
    assert.ok(Math.abs(r.json.attendance.netMinutes - 114) <= 1, r.text);
});

test('malformed capturedAt is a 400 naming the field, on JSON and multipart', async () => {
    for (const bad of ['yesterday', 12345, '2026-13-01T00:00:00Z', '']) {
        const r = await as('merch2')('POST', '/api/attendance/punch-in', at({ capturedAt: bad }));
        assertFieldNamed(r, 'capturedAt');
    }
    const fd = new FormData();
    for (const [k, v] of Object.entries(at({ capturedAt: 'soon' }))) fd.append(k, String(v));
    const r = await as('merch2')('POST', '/api/attendance/punch-in', fd);
    assertFieldNamed(r, 'capturedAt');
    for (const p of ['/api/attendance/punch-out', '/api/attendance/breaks/start', '/api/attendance/breaks/end']) {
        const x = await as('merch2')('POST', p, { type: 'lunch', capturedAt: 'x' });
        assertFieldNamed(x, 'capturedAt');
    }
});

test('multipart punch-in takes capturedAt as a form field', async () => {
    const captured = iso(10 * 60 * 1000);
    const fd = new FormData();
    for (const [k, v] of Object.entries(at({ capturedAt: captured }))) fd.append(k, String(v));
    const tok = await dtm.createUser((await dtm.loginAdmin()).accessToken, { role: 'merchandiser' });
    const t = (await dtm.login(tok.email, tok.password)).accessToken;
    const r = await dtm.api('POST', '/api/attendance/punch-in', { token: t, body: fd });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.attendance.punchIn.capturedAt, captured);
    // The team view shows the captured time too.
    const team = await as('manager')('GET', `/api/attendance/team?storeId=${store.id}`);
    assert.equal(team.status, 200, team.text);
    const m = team.json.members.find((x) => x.user.id === tok.id);
    assert.ok(m && m.attendance, team.text);
    assert.equal(m.attendance.punchInAt, captured);
});

test('checklist ticks keep doneAt (the capture) and doneReceivedAt; skew rules apply', async () => {
    const c = await as('manager')('POST', '/api/todos', {
        title: 'Face the shelf',
        assigneeId: ids.merch,
        checklist: ['front row', 'back row'],
    });
    assert.equal(c.status, 201, c.text);
    const todo = c.json.todo;
    const item = todo.checklist[0].id;
    const captured = iso(20 * 60 * 1000);
    let r = await as('merch')('PATCH', `/api/todos/${todo.id}/checklist/${item}`, { done: true, capturedAt: captured });
    assert.equal(r.status, 200, r.text);
    const it = r.json.todo.checklist[0];
    assert.equal(it.done, true);
    assert.equal(it.doneAt, captured);
    assert.ok(Date.parse(it.doneReceivedAt) > Date.parse(captured));
    r = await as('merch')('PATCH', `/api/todos/${todo.id}/checklist/${item}`, { done: true, capturedAt: iso(80 * H) });
    assertError(r, 422, 'invalid_captured_at');
    r = await as('merch')('PATCH', `/api/todos/${todo.id}/checklist/${item}`, { done: false });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.todo.checklist[0].doneAt, null);
    r = await as('merch')('PATCH', `/api/todos/${todo.id}/checklist/${item}`, { done: true, capturedAt: 'then' });
    assertFieldNamed(r, 'capturedAt');
});
