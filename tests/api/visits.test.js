// SPDX-License-Identifier: MIT
// Black-box tests of /api/visits (shared/API.md "Wave 2"): every call and error with all three
// roles; plans materialised 14 days ahead without duplicates and without overwriting manual
// edits; status following attendance through the outbox (punch-in → in_progress, punch-out →
// completed, no plan → unplanned, redelivery applied once); missed decided per store time zone
// by the job; coverage. Time is moved by test data (dates computed here), never by sleeping
// for a day. The restart tests (micro topology: visits killed, Redis stopped) are in
// visits-restart.test.js.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { assertError, assertFieldNamed, startFieldOps, storeBody } = require('./fieldops-fixtures.js');
const { sleep } = require('./lib/harness.js');

const DAY = 86400000;
const utcDate = (ms) => new Date(ms).toISOString().slice(0, 10);
// The local date in an IANA zone (en-CA formats as YYYY-MM-DD).
const localDate = (tz, ms = Date.now()) =>
    new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms);
const addDays = (date, n) => utcDate(Date.parse(date + 'T00:00:00Z') + n * DAY);
const isoDow = (date) => ((new Date(date + 'T00:00:00Z').getUTCDay() + 6) % 7) + 1;

let f; // {dtm, tok, ids, as}
let stores; // {a, b, c, inactive}: UTC stores at the same spot
const today = () => utcDate(Date.now());

async function until(fn, what, timeoutMs = 15000) {
    const t0 = Date.now();
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
        await sleep(100);
    }
}

async function createStore(extra = {}) {
    const r = await f.as('admin')('POST', '/api/stores', storeBody(extra));
    assert.equal(r.status, 201, r.text);
    return r.json.store;
}

async function visitsOf(userId, query = '') {
    const r = await f.as('admin')('GET', `/api/visits?userId=${userId}&limit=100${query}`);
    assert.equal(r.status, 200, r.text);
    return r.json.items;
}

const punchIn = (role, store) =>
    f.as(role)('POST', '/api/attendance/punch-in', {
        storeId: store.id,
        latitude: store.latitude,
        longitude: store.longitude,
        accuracyM: 10,
    });

function assertVisitShape(v) {
    for (const k of [
        'id', 'userId', 'storeId', 'plannedDate', 'plannedStart', 'sequence', 'status',
        'attendanceId', 'planId', 'notes', 'createdBy', 'createdAt', 'updatedAt',
    ]) {
        assert.ok(k in v, `visit.${k}: ${JSON.stringify(v)}`);
    }
    assert.match(v.plannedDate, /^\d{4}-\d\d-\d\d$/);
    assert.ok(['planned', 'in_progress', 'completed', 'missed', 'cancelled', 'unplanned'].includes(v.status));
}

before(async () => {
    f = await startFieldOps({ env: { DTM_VISITS_JOB_INTERVAL_MS: '300', DTM_OUTBOX_POLL_MS: '200' } });
    stores = {
        a: await createStore(),
        b: await createStore(),
        c: await createStore(),
        inactive: await createStore(),
    };
    assert.equal((await f.as('admin')('DELETE', `/api/stores/${stores.inactive.id}`)).status, 204);
});

after(async () => {
    if (f) await f.dtm.stop();
});

test('POST /api/visits: staff create one-off visits; every validation error; duplicates 409', async () => {
    const body = { userId: f.ids.merch, storeId: stores.a.id, plannedDate: addDays(today(), 2), plannedStart: '09:30', notes: 'front shelf' };
    const r = await f.as('manager')('POST', '/api/visits', body);
    assert.equal(r.status, 201, r.text);
    assertVisitShape(r.json.visit);
    assert.equal(r.json.visit.status, 'planned');
    assert.equal(r.json.visit.plannedStart, '09:30');
    assert.equal(r.json.visit.planId, null);
    assert.equal(r.json.visit.createdBy, f.ids.manager);
    assert.equal(r.json.visit.sequence, 1);

    assertError(await f.as('manager')('POST', '/api/visits', body), 409, 'duplicate_visit');
    assertError(await f.as('merch')('POST', '/api/visits', { ...body, plannedDate: addDays(today(), 3) }), 403);
    assertError(await f.as(null)('POST', '/api/visits', body), 401);

    const bad = async (b, field) => assertFieldNamed(await f.as('admin')('POST', '/api/visits', b), field);
    await bad({ ...body, userId: undefined }, 'userId');
    await bad({ ...body, userId: 'nope' }, 'userId');
    await bad({ ...body, storeId: undefined }, 'storeId');
    await bad({ ...body, plannedDate: '2026-02-30' }, 'plannedDate');
    await bad({ ...body, plannedDate: 'tomorrow' }, 'plannedDate');
    await bad({ ...body, plannedDate: addDays(today(), -2) }, 'plannedDate');
    await bad({ ...body, plannedStart: '25:00' }, 'plannedStart');
    await bad({ ...body, notes: 'x'.repeat(2001) }, 'notes');
    await bad({ ...body, userId: '00000000-0000-4000-8000-000000000000' }, 'userId');
    await bad({ ...body, storeId: '00000000-0000-4000-8000-000000000000' }, 'storeId');
    await bad({ ...body, storeId: stores.inactive.id }, 'storeId');
    assertError(await f.as('admin')('POST', '/api/visits', '{"userId":', { headers: { 'content-type': 'application/json' } }), 400);

    // A second visit of the same user that day comes after the first in route order.
    const r2 = await f.as('admin')('POST', '/api/visits', { ...body, storeId: stores.b.id, plannedStart: null });
    assert.equal(r2.status, 201, r2.text);
    assert.equal(r2.json.visit.sequence, 2);
    assert.equal(r2.json.visit.plannedStart, null);
});

test('GET /api/visits: filters, pagination, merchandisers see only their own', async () => {
    const d = addDays(today(), 4);
    for (const s of [stores.a, stores.b])
        assert.equal((await f.as('admin')('POST', '/api/visits', { userId: f.ids.merch2, storeId: s.id, plannedDate: d })).status, 201);
    let r = await f.as('manager')('GET', `/api/visits?userId=${f.ids.merch2}&from=${d}&to=${d}&limit=1`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.items.length, 1);
    assert.deepEqual(r.json.pagination, { page: 1, limit: 1, total: 2, pages: 2 });
    r = await f.as('manager')('GET', `/api/visits?storeId=${stores.b.id}&userId=${f.ids.merch2}&status=planned`);
    assert.equal(r.json.items.length, 1);
    assert.equal(r.json.items[0].storeId, stores.b.id);

    r = await f.as('merch2')('GET', '/api/visits?limit=100');
    assert.equal(r.status, 200);
    assert.ok(r.json.items.length >= 2);
    assert.ok(r.json.items.every((v) => v.userId === f.ids.merch2));
    assertError(await f.as('merch2')('GET', `/api/visits?userId=${f.ids.merch}`), 403);
    assert.equal((await f.as('merch2')('GET', `/api/visits?userId=${f.ids.merch2}`)).status, 200);

    for (const q of ['userId=x', 'storeId=1', 'from=2026-13-01', 'to=yesterday', 'status=done', `from=${d}&to=${addDays(d, -1)}`, 'limit=500', 'page=0'])
        assertError(await f.as('admin')('GET', `/api/visits?${q}`), 400);
    assertError(await f.as(null)('GET', '/api/visits'), 401);
});

test('PATCH and DELETE /api/visits/:id: edit, cancel, 404, 403, 409 duplicate', async () => {
    const d = addDays(today(), 5);
    const mk = async (storeId) => (await f.as('admin')('POST', '/api/visits', { userId: f.ids.merch, storeId, plannedDate: d })).json.visit;
    const v1 = await mk(stores.a.id);
    const v2 = await mk(stores.b.id);
    let r = await f.as('manager')('PATCH', `/api/visits/${v1.id}`, { plannedStart: '08:15', sequence: 7, notes: 'bring POS' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.visit.plannedStart, '08:15');
    assert.equal(r.json.visit.sequence, 7);
    assert.equal(r.json.visit.notes, 'bring POS');
    r = await f.as('manager')('PATCH', `/api/visits/${v1.id}`, { plannedStart: null, userId: f.ids.merch2, plannedDate: addDays(d, 1) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.visit.plannedStart, null);
    assert.equal(r.json.visit.userId, f.ids.merch2);
    assert.equal(r.json.visit.plannedDate, addDays(d, 1));
    // Moving v2 onto a day where merch2 is already at store a is fine (other store), but onto
    // v1's user, store and day is a duplicate.
    const v3 = await (async () => (await f.as('admin')('POST', '/api/visits', { userId: f.ids.merch2, storeId: stores.a.id, plannedDate: addDays(d, 2) })).json.visit)();
    assertError(await f.as('manager')('PATCH', `/api/visits/${v3.id}`, { plannedDate: addDays(d, 1) }), 409, 'duplicate_visit');

    assertFieldNamed(await f.as('manager')('PATCH', `/api/visits/${v2.id}`, {}), 'body');
    assertFieldNamed(await f.as('manager')('PATCH', `/api/visits/${v2.id}`, { plannedDate: addDays(today(), -3) }), 'plannedDate');
    assertFieldNamed(await f.as('manager')('PATCH', `/api/visits/${v2.id}`, { sequence: -1 }), 'sequence');
    assertFieldNamed(await f.as('manager')('PATCH', `/api/visits/${v2.id}`, { userId: '00000000-0000-4000-8000-000000000000' }), 'userId');
    assertError(await f.as('merch')('PATCH', `/api/visits/${v2.id}`, { notes: 'x' }), 403);
    assertError(await f.as('manager')('PATCH', '/api/visits/00000000-0000-4000-8000-000000000000', { notes: 'x' }), 404, 'not_found');
    assertError(await f.as('manager')('PATCH', '/api/visits/not-an-id', { notes: 'x' }), 404, 'not_found');

    assertError(await f.as('merch')('DELETE', `/api/visits/${v2.id}`), 403);
    assert.equal((await f.as('manager')('DELETE', `/api/visits/${v2.id}`)).status, 204);
    const after = (await visitsOf(f.ids.merch, `&from=${d}&to=${d}`)).find((v) => v.id === v2.id);
    assert.equal(after.status, 'cancelled');
    assertError(await f.as('manager')('PATCH', `/api/visits/${v2.id}`, { notes: 'x' }), 409, 'visit_cancelled');
    assertError(await f.as('manager')('DELETE', '/api/visits/00000000-0000-4000-8000-000000000000'), 404);
    // A cancelled visit frees the day for a new one.
    assert.equal((await f.as('admin')('POST', '/api/visits', { userId: f.ids.merch, storeId: stores.b.id, plannedDate: d })).status, 201);
});

test('status follows attendance: in_progress, completed, unplanned; a started visit is locked (409); redelivery applies once', async () => {
    const u = await f.dtm.createUser(f.tok.admin, { role: 'merchandiser' });
    const tok = (await f.dtm.login(u.email, u.password)).accessToken;
    f.tok.walker = tok;
    const v = (await f.as('manager')('POST', '/api/visits', { userId: u.id, storeId: stores.c.id, plannedDate: today() })).json.visit;

    const pin = await punchIn('walker', stores.c);
    assert.equal(pin.status, 201, pin.text);
    const att = pin.json.attendance.id;
    const started = await until(async () => {
        const x = (await visitsOf(u.id)).find((y) => y.id === v.id);
        return x.status === 'in_progress' && x;
    }, 'in_progress');
    assert.equal(started.attendanceId, att);
    assertError(await f.as('manager')('PATCH', `/api/visits/${v.id}`, { notes: 'late' }), 409, 'visit_started');
    assertError(await f.as('manager')('DELETE', `/api/visits/${v.id}`), 409, 'visit_started');

    const today1 = await f.dtm.api('GET', '/api/visits/today', { token: tok });
    assert.equal(today1.status, 200);
    assert.equal(today1.json.items[0].status, 'in_progress');

    assert.equal((await f.dtm.api('POST', '/api/attendance/punch-out', { token: tok, body: {} })).status, 200);
    await until(async () => (await visitsOf(u.id)).find((y) => y.id === v.id).status === 'completed', 'completed');

    // A punch-in where nothing is planned: a new unplanned visit, linked to the attendance.
    const p2 = await punchIn('walker', stores.a);
    assert.equal(p2.status, 201);
    const unplanned = await until(async () => (await visitsOf(u.id)).find((y) => y.attendanceId === p2.json.attendance.id), 'unplanned visit');
    assert.equal(unplanned.status, 'unplanned');
    assert.equal(unplanned.storeId, stores.a.id);
    assert.equal(unplanned.plannedDate, localDate(stores.a.timezone));
    assert.equal((await f.dtm.api('POST', '/api/attendance/punch-out', { token: tok, body: {} })).status, 200);
    await until(async () => (await f.dtm.sql(`SELECT count(*) FROM attendance.outbox WHERE delivered_at IS NULL`))[0][0] === '0', 'outbox drained');

    // At least once: every event delivered again changes nothing.
    const before = await f.dtm.sql(`SELECT id, status, attendance_id, updated_at FROM visits.visits WHERE user_id = '${u.id}' ORDER BY id`);
    await f.dtm.sql(`UPDATE attendance.outbox SET delivered_at = NULL, next_attempt_at = now() WHERE payload->>'userId' = '${u.id}'`);
    await until(async () => (await f.dtm.sql(`SELECT count(*) FROM attendance.outbox WHERE delivered_at IS NULL`))[0][0] === '0', 'redelivered');
    const again = await f.dtm.sql(`SELECT id, status, attendance_id, updated_at FROM visits.visits WHERE user_id = '${u.id}' ORDER BY id`);
    assert.deepEqual(again, before);
    assert.equal(again.length, 2);
    const dup = await f.dtm.sql(`SELECT count(*) FROM visits.processed_events`);
    assert.ok(Number(dup[0][0]) >= 4);
});

test('the consumer route is internal: 401 without a token, 403 for every user role', async () => {
    const ev = { eventId: '00000000-0000-4000-8000-000000000001', topic: 'attendance.punched_in', payload: {} };
    assertError(await f.as(null)('POST', '/api/visits/events', ev), 401);
    for (const role of ['admin', 'manager', 'merch']) assertError(await f.as(role)('POST', '/api/visits/events', ev), 403);
});

test('GET /api/visits/today: route order (sequence, then plannedStart) with the store', async () => {
    const u = await f.dtm.createUser(f.tok.admin, { role: 'merchandiser' });
    const tok = (await f.dtm.login(u.email, u.password)).accessToken;
    const mk = (store, extra) => f.as('admin')('POST', '/api/visits', { userId: u.id, storeId: store.id, plannedDate: today(), ...extra });
    assert.equal((await mk(stores.b, { sequence: 2, plannedStart: '10:00' })).status, 201);
    assert.equal((await mk(stores.a, { sequence: 2, plannedStart: '09:00' })).status, 201);
    assert.equal((await mk(stores.c, { sequence: 1 })).status, 201);
    // Tomorrow's visit is not today's.
    assert.equal((await mk(stores.c, { plannedDate: addDays(today(), 1) })).status, 201);
    const r = await f.dtm.api('GET', '/api/visits/today', { token: tok });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.date, today());
    assert.deepEqual(r.json.items.map((v) => v.storeId), [stores.c.id, stores.a.id, stores.b.id]);
    assert.equal(r.json.items[1].store.name, stores.a.name);
    assert.equal(typeof r.json.items[1].store.latitude, 'number');
    assertError(await f.as(null)('GET', '/api/visits/today'), 401);
    const m = await f.as('manager')('GET', '/api/visits/today');
    assert.equal(m.status, 200);
    assert.deepEqual(m.json.items, []);
});

test('plans: materialised for 14 days, idempotently, keeping manual edits; PATCH re-plans; DELETE removes untouched future visits', async () => {
    const u = await f.dtm.createUser(f.tok.admin, { role: 'merchandiser' });
    const weekdays = [1, 3, 5];
    const body = { userId: u.id, name: 'North route', weekdays, storeIds: [stores.a.id, stores.b.id], validFrom: today(), validTo: null };
    const r = await f.as('manager')('POST', '/api/visits/plans', body);
    assert.equal(r.status, 201, r.text);
    const plan = r.json.plan;
    for (const k of ['id', 'userId', 'name', 'weekdays', 'storeIds', 'validFrom', 'validTo', 'active']) assert.ok(k in plan, k);
    assert.deepEqual(plan.weekdays, weekdays);
    assert.deepEqual(plan.storeIds, body.storeIds);
    assert.equal(plan.active, true);
    const days = [];
    for (let i = 0; i < 14; i++) if (weekdays.includes(isoDow(addDays(today(), i)))) days.push(addDays(today(), i));
    let vs = (await visitsOf(u.id)).filter((v) => v.planId === plan.id);
    assert.equal(vs.length, days.length * 2);
    assert.equal(r.json.materialised, days.length * 2);
    assert.deepEqual([...new Set(vs.map((v) => v.plannedDate))].sort(), days);
    for (const v of vs) assert.equal(v.sequence, v.storeId === stores.a.id ? 1 : 2);

    // The job materialises every few hundred ms: still no duplicates.
    await sleep(800);
    assert.equal((await visitsOf(u.id)).filter((v) => v.planId === plan.id).length, days.length * 2);

    // Manual edits: move one visit, cancel another; then the plan changes its store order.
    const moved = vs[vs.length - 1];
    const cancelled = vs[vs.length - 2];
    const far = addDays(today(), 20);
    assert.equal((await f.as('manager')('PATCH', `/api/visits/${moved.id}`, { plannedDate: far, notes: 'moved by hand' })).status, 200);
    assert.equal((await f.as('manager')('DELETE', `/api/visits/${cancelled.id}`)).status, 204);
    let p = await f.as('manager')('PATCH', `/api/visits/plans/${plan.id}`, { storeIds: [stores.b.id, stores.a.id], name: 'North route v2' });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.plan.name, 'North route v2');
    assert.equal(p.json.materialised, 0, 'moved and cancelled slots are not made again');
    vs = (await visitsOf(u.id)).filter((v) => v.planId === plan.id);
    assert.equal(vs.length, days.length * 2);
    const m = vs.find((v) => v.id === moved.id);
    assert.equal(m.plannedDate, far);
    assert.equal(m.notes, 'moved by hand');
    assert.equal(vs.find((v) => v.id === cancelled.id).status, 'cancelled');
    for (const v of vs.filter((x) => x.status === 'planned' && x.id !== moved.id)) assert.equal(v.sequence, v.storeId === stores.b.id ? 1 : 2);

    // Dropping store a: its untouched visits go, the moved one stays.
    p = await f.as('manager')('PATCH', `/api/visits/plans/${plan.id}`, { storeIds: [stores.b.id] });
    assert.equal(p.status, 200, p.text);
    vs = (await visitsOf(u.id)).filter((v) => v.planId === plan.id && v.status === 'planned');
    assert.ok(vs.every((v) => v.storeId === stores.b.id || v.id === moved.id), JSON.stringify(vs));

    const list = await f.as('manager')('GET', `/api/visits/plans?userId=${u.id}`);
    assert.equal(list.status, 200);
    assert.equal(list.json.items.length, 1);
    assert.equal((await f.as('manager')('GET', '/api/visits/plans?active=true&limit=100')).json.items.some((x) => x.id === plan.id), true);

    assert.equal((await f.as('manager')('DELETE', `/api/visits/plans/${plan.id}`)).status, 204);
    vs = (await visitsOf(u.id)).filter((v) => v.planId === plan.id && v.status === 'planned');
    assert.deepEqual(vs.map((v) => v.id), [moved.id], 'only the hand-edited visit is left');
    assert.equal((await f.as('manager')('GET', `/api/visits/plans?userId=${u.id}&active=false`)).json.items.length, 1);

    // Errors.
    const bad = async (b, field) => assertFieldNamed(await f.as('admin')('POST', '/api/visits/plans', { ...body, ...b }), field);
    await bad({ weekdays: [] }, 'weekdays');
    await bad({ weekdays: [0, 8] }, 'weekdays');
    await bad({ weekdays: [1, 1] }, 'weekdays');
    await bad({ storeIds: [] }, 'storeIds');
    await bad({ storeIds: [stores.a.id, stores.a.id] }, 'storeIds');
    await bad({ storeIds: ['x'] }, 'storeIds');
    await bad({ storeIds: [stores.inactive.id] }, 'storeIds');
    await bad({ name: '' }, 'name');
    await bad({ validFrom: 'soon' }, 'validFrom');
    await bad({ validTo: addDays(today(), -1) }, 'validTo');
    await bad({ userId: '00000000-0000-4000-8000-000000000000' }, 'userId');
    assertFieldNamed(await f.as('admin')('PATCH', `/api/visits/plans/${plan.id}`, {}), 'body');
    assertFieldNamed(await f.as('admin')('PATCH', `/api/visits/plans/${plan.id}`, { validTo: '2001-01-01' }), 'validTo');
    assertError(await f.as('admin')('PATCH', '/api/visits/plans/00000000-0000-4000-8000-000000000000', { name: 'x' }), 404);
    assertError(await f.as('admin')('DELETE', '/api/visits/plans/00000000-0000-4000-8000-000000000000'), 404);
    assertError(await f.as('admin')('DELETE', '/api/visits/plans/zzz'), 404);
    for (const [m2, path] of [['GET', '/api/visits/plans'], ['POST', '/api/visits/plans'], ['PATCH', `/api/visits/plans/${plan.id}`], ['DELETE', `/api/visits/plans/${plan.id}`]])
        assertError(await f.as('merch')(m2, path, m2 === 'GET' || m2 === 'DELETE' ? undefined : body), 403);
    assertError(await f.as('admin')('GET', '/api/visits/plans?active=maybe'), 400);
});

test('missed is decided per store time zone by the job', async () => {
    const u = await f.dtm.createUser(f.tok.admin, { role: 'merchandiser' });
    // Zones 25 hours apart: whatever the UTC time, their local dates differ from each other.
    const east = await createStore({ timezone: 'Pacific/Kiritimati' });
    const west = await createStore({ timezone: 'Pacific/Pago_Pago' });
    const rows = [];
    for (const s of [east, west]) {
        const lt = localDate(s.timezone);
        rows.push([s, addDays(lt, -1), 'missed'], [s, lt, 'planned']);
    }
    for (const [s, d] of rows)
        await f.dtm.sql(`INSERT INTO visits.visits (id, user_id, store_id, store_timezone, planned_date)
                         VALUES (gen_random_uuid(), '${u.id}', '${s.id}', '${s.timezone}', '${d}')`);
    await until(async () => {
        const vs = await visitsOf(u.id);
        return rows.every(([s, d, want]) => vs.find((v) => v.storeId === s.id && v.plannedDate === d).status === want);
    }, 'missed per zone', 5000).catch(async (e) => {
        throw new Error(`${e.message}: ${JSON.stringify(await visitsOf(u.id))}`);
    });
    // And not undone by later rounds.
    await sleep(700);
    const vs = await visitsOf(u.id);
    for (const [s, d, want] of rows) assert.equal(vs.find((v) => v.storeId === s.id && v.plannedDate === d).status, want);
    // A missed visit moved to a later day is planned again.
    const m = vs.find((v) => v.status === 'missed');
    const r = await f.as('manager')('PATCH', `/api/visits/${m.id}`, { plannedDate: addDays(localDate(m.storeTimezone || 'UTC'), 1) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.visit.status, 'planned');
});

test('GET /api/visits/coverage: counts, compliance %, by user and by store; errors', async () => {
    const u = await f.dtm.createUser(f.tok.admin, { role: 'merchandiser' });
    const s = await createStore();
    const d0 = addDays(today(), -3);
    const ins = (d, status) =>
        f.dtm.sql(`INSERT INTO visits.visits (id, user_id, store_id, planned_date, status)
                   VALUES (gen_random_uuid(), '${u.id}', '${s.id}', '${d}', '${status}')`);
    await ins(d0, 'completed');
    await ins(addDays(d0, 1), 'completed');
    await ins(addDays(d0, 2), 'missed');
    await ins(addDays(d0, 3), 'cancelled');
    await ins(addDays(d0, 3), 'unplanned');
    const r = await f.as('manager')('GET', `/api/visits/coverage?from=${d0}&to=${addDays(d0, 3)}&userId=${u.id}`);
    assert.equal(r.status, 200, r.text);
    const c = r.json;
    assert.equal(c.planned, 4);
    assert.equal(c.completed, 2);
    assert.equal(c.missed, 1);
    assert.equal(c.cancelled, 1);
    assert.equal(c.unplanned, 1);
    assert.equal(c.compliancePct, 66.7); // 2 / (4 - 1) × 100, one decimal
    assert.equal(c.byUser.length, 1);
    assert.equal(c.byUser[0].userId, u.id);
    assert.equal(c.byUser[0].compliancePct, 66.7);
    assert.equal(c.byStore.length, 1);
    assert.equal(c.byStore[0].storeId, s.id);
    assert.equal(c.byStore[0].planned, 4);

    const byStore = await f.as('admin')('GET', `/api/visits/coverage?from=${d0}&to=${d0}&storeId=${s.id}`);
    assert.equal(byStore.json.planned, 1);
    assert.equal(byStore.json.compliancePct, 100);
    const none = await f.as('admin')('GET', `/api/visits/coverage?from=2001-01-01&to=2001-01-02`);
    assert.equal(none.status, 200);
    assert.equal(none.json.planned, 0);
    assert.equal(none.json.compliancePct, null);
    assert.equal((await f.as('admin')('GET', '/api/visits/coverage')).status, 200);

    for (const q of ['from=x', 'to=2026-02-31', 'userId=1', 'storeId=z', 'from=2026-05-02&to=2026-05-01', 'from=2020-01-01&to=2022-01-01'])
        assertError(await f.as('admin')('GET', `/api/visits/coverage?${q}`), 400);
    assertError(await f.as('merch')('GET', '/api/visits/coverage'), 403);
    assertError(await f.as(null)('GET', '/api/visits/coverage'), 401);
});

test('the reporting view and /metrics', async () => {
    const rows = await f.dtm.sql('SELECT count(*) FROM reporting.visits');
    assert.ok(Number(rows[0][0]) > 0);
    const m = await f.dtm.api('GET', '/metrics');
    if (f.dtm.topology === 'all') {
        assert.match(m.text, /dtm_outbox_delivered_total\{schema="attendance"\} [1-9]/);
        assert.match(m.text, /dtm_visits_missed_total [1-9]/);
    }
});

test('GET /api/reports/visits: JSON and RFC 4180 CSV for staff, 403 for merchandisers', async () => {
    const u = await f.dtm.createUser(f.tok.admin, { role: 'merchandiser', firstName: 'Csv', lastName: 'Walker, "Jr"' });
    const d = addDays(today(), 1);
    const v = (await f.as('admin')('POST', '/api/visits', { userId: u.id, storeId: stores.a.id, plannedDate: d, plannedStart: '07:45' })).json.visit;
    const j = await f.as('manager')('GET', `/api/reports/visits?userId=${u.id}`);
    assert.equal(j.status, 200, j.text);
    assert.equal(j.json.items.length, 1);
    assert.equal(j.json.items[0].id, v.id);
    assert.equal(j.json.items[0].plannedDate, d);
    assert.equal(j.json.items[0].plannedStart, '07:45');
    assert.equal(j.json.items[0].storeName, stores.a.name);
    const c = await f.as('admin')('GET', `/api/reports/visits?userId=${u.id}&format=csv&from=${d}&to=${d}`);
    assert.equal(c.status, 200, c.text);
    assert.match(c.headers['content-type'], /^text\/csv/);
    const lines = c.text.trim().split(/\r\n/);
    assert.equal(lines[0].split(',')[0], 'id');
    assert.ok(lines[0].includes('plannedDate') && lines[0].includes('status'));
    assert.equal(lines.length, 2);
    assert.ok(lines[1].startsWith(v.id));
    assert.ok(lines[1].includes('"Csv Walker, ""Jr"""'), lines[1]);
    const none = await f.as('admin')('GET', `/api/reports/visits?userId=${u.id}&from=${addDays(d, 1)}`);
    assert.equal(none.json.items.length, 0);
    assertError(await f.as('merch')('GET', '/api/reports/visits'), 403);
    assertError(await f.as('admin')('GET', '/api/reports/visits?format=xml'), 400);
});
