// SPDX-License-Identifier: MIT
// Black-box tests of /api/attendance (shared/API.md): every call and every error, with all three
// roles; the one-open-visit rule under 20 parallel punch-ins; geofence edges (on the radius,
// antimeridian, poles, invalid coordinates); photos (sniffed by their bytes, size limit, served
// only to the owner and staff); the team view across a store timezone whose "today" differs
// from UTC; the live SSE stream; metrics and the reporting view.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { startDtm, startRedis, randomId, sleep } = require('./lib/harness.js');

// Same sphere as src/services/attendance/geo.h (DTM_EARTH_RADIUS_M).
const R = 6371008.8;
const north = (lat, metres) => lat + ((metres / R) * 180) / Math.PI;

const ISO_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

// Smallest real images: a 1x1 JPEG header prefix and a 1x1 PNG are enough for byte sniffing.
const JPEG = Buffer.concat([
    Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'),
    crypto.randomBytes(64),
    Buffer.from('ffd9', 'hex'),
]);
const PNG = Buffer.from(
    '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a2b5e62f0000000049454e44ae426082',
    'hex'
);

function assertError(r, status, code) {
    assert.equal(r.status, status, `expected ${status} ${code || ''}, got ${r.status} ${r.text}`);
    assert.ok(r.json && r.json.error, `error body: ${r.text}`);
    if (code) assert.equal(r.json.error.code, code, r.text);
    assert.equal(typeof r.json.error.message, 'string');
    assert.ok(r.json.requestId, 'requestId in error body');
    assert.doesNotMatch(r.text, /SELECT|INSERT|UPDATE|syntax error|stack/i);
}

function assertFieldNamed(r, field) {
    assertError(r, 400);
    const details = r.json.error.details || [];
    assert.ok(details.some((d) => d.field === field), `details should name ${field}: ${r.text}`);
}

function assertAttendanceShape(a) {
    for (const k of [
        'id', 'userId', 'storeId', 'status', 'punchInAt', 'punchOutAt', 'punchIn', 'punchOut',
        'photoUrl', 'breaks', 'workedMinutes', 'breakMinutes', 'netMinutes', 'overtimeMinutes',
    ]) {
        assert.ok(k in a, `attendance.${k} present: ${JSON.stringify(a)}`);
    }
    assert.match(a.punchInAt, ISO_RE);
    assert.ok(['open', 'on_break', 'closed'].includes(a.status));
    for (const k of ['latitude', 'longitude', 'accuracyM', 'distanceM']) assert.ok(k in a.punchIn, k);
    assert.ok(Array.isArray(a.breaks));
    for (const k of ['workedMinutes', 'breakMinutes', 'netMinutes', 'overtimeMinutes']) {
        assert.equal(typeof a[k], 'number', `${k}: ${JSON.stringify(a)}`);
    }
}

let dtm;
let adminTok, managerTok;
let manager;
const merch = []; // {user, token}
let store; // Paris store, radius 100
let farStore; // another store, radius 50

async function newMerch() {
    const u = await dtm.createUser(adminTok, { role: 'merchandiser' });
    const l = await dtm.login(u.email, u.password);
    return { user: l.user, token: l.accessToken };
}

async function createStore(fields) {
    const r = await dtm.api('POST', '/api/stores', {
        token: adminTok,
        body: { code: `S-${randomId(4)}`, name: `Store ${randomId(3)}`, address: 'x', ...fields },
    });
    assert.equal(r.status, 201, r.text);
    return r.json.store;
}

// The attendance service's own /metrics: the one process in `all`, its replica in `micro`.
function attendanceMetrics() {
    const replica = dtm.topology === 'micro' ? dtm.replicas('attendance')[0] : null;
    return replica ? dtm.api('GET', '/metrics', { base: replica.url }) : dtm.api('GET', '/metrics');
}

const punchIn = (token, body) => dtm.api('POST', '/api/attendance/punch-in', { token, body });
const punchOut = (token, body) => dtm.api('POST', '/api/attendance/punch-out', { token, body });
const at = (s, extra = {}) => ({
    storeId: s.id,
    latitude: s.latitude,
    longitude: s.longitude,
    accuracyM: 12,
    ...extra,
});

function form(fields, photo) {
    const fd = new FormData();
    for (const [k, v] of Object.entries(fields)) fd.append(k, String(v));
    if (photo) fd.append('photo', new Blob([photo.data], { type: photo.type }), photo.name);
    return fd;
}

before(async () => {
    dtm = await startDtm();
    adminTok = (await dtm.loginAdmin()).accessToken;
    const m = await dtm.createUser(adminTok, { role: 'manager' });
    const ml = await dtm.login(m.email, m.password);
    manager = ml.user;
    managerTok = ml.accessToken;
    for (let i = 0; i < 3; i++) merch.push(await newMerch());
    store = await createStore({ latitude: 48.8566, longitude: 2.3522, geofenceRadiusM: 100 });
    farStore = await createStore({ latitude: 45.764, longitude: 4.8357, geofenceRadiusM: 50 });
});

after(async () => {
    if (dtm) await dtm.stop();
});

test('every call needs a token', async () => {
    const calls = [
        ['POST', '/api/attendance/punch-in'],
        ['POST', '/api/attendance/punch-out'],
        ['POST', '/api/attendance/breaks/start'],
        ['POST', '/api/attendance/breaks/end'],
        ['GET', '/api/attendance/current'],
        ['GET', '/api/attendance'],
        ['GET', '/api/attendance/team'],
        ['GET', '/api/attendance/events'],
        ['GET', `/api/attendance/photos/${'a'.repeat(64)}`],
    ];
    for (const [m, p] of calls) assertError(await dtm.api(m, p, { body: m === 'POST' ? {} : undefined }), 401);
});

test('punch-in, current, 409 while open, punch-out, several visits a day', async () => {
    const { token, user } = merch[0];
    let r = await dtm.api('GET', '/api/attendance/current', { token });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { punchedIn: false, attendance: null });

    r = await punchIn(token, at(store, { note: 'morning visit', latitude: north(store.latitude, 30) }));
    assert.equal(r.status, 201, r.text);
    const a = r.json.attendance;
    assertAttendanceShape(a);
    assert.equal(a.userId, user.id);
    assert.equal(a.storeId, store.id);
    assert.equal(a.status, 'open');
    assert.equal(a.punchIn.distanceM, 30);
    assert.equal(a.punchIn.accuracyM, 12);
    assert.equal(a.punchOut, null);
    assert.equal(a.punchOutAt, null);
    assert.equal(a.photoUrl, null);
    assert.equal(a.note, 'morning visit');
    assert.deepEqual(a.breaks, []);

    r = await dtm.api('GET', '/api/attendance/current', { token });
    assert.equal(r.json.punchedIn, true);
    assert.equal(r.json.attendance.id, a.id);

    // Only one open visit, even at another store.
    assertError(await punchIn(token, at(store)), 409, 'already_punched_in');
    assertError(await punchIn(token, at(farStore)), 409, 'already_punched_in');

    r = await punchOut(token, { latitude: north(store.latitude, 20), longitude: store.longitude, accuracyM: 8.2 });
    assert.equal(r.status, 200, r.text);
    const c = r.json.attendance;
    assertAttendanceShape(c);
    assert.equal(c.status, 'closed');
    assert.match(c.punchOutAt, ISO_RE);
    assert.equal(c.punchOut.distanceM, 20);
    assert.equal(c.punchOut.accuracyM, 9);
    assert.equal(c.workedMinutes, 0);
    assert.equal(c.overtimeMinutes, 0);

    assertError(await punchOut(token, {}), 409, 'not_punched_in');
    r = await dtm.api('GET', '/api/attendance/current', { token });
    assert.deepEqual(r.json, { punchedIn: false, attendance: null });

    // A second visit the same day, at another store, closed without a body at all.
    r = await punchIn(token, at(farStore));
    assert.equal(r.status, 201, r.text);
    r = await dtm.api('POST', '/api/attendance/punch-out', { token });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.attendance.punchOut.latitude, null);
});

test('managers and admins punch in too', async () => {
    for (const token of [managerTok, adminTok]) {
        const r = await punchIn(token, at(store));
        assert.equal(r.status, 201, r.text);
        assert.equal((await punchOut(token)).status, 200);
    }
});

test('punch-in body validation (400) and content type (415)', async () => {
    const { token } = merch[1];
    assertFieldNamed(await punchIn(token, {}), 'storeId');
    let r = await punchIn(token, {});
    for (const f of ['storeId', 'latitude', 'longitude', 'accuracyM']) assertFieldNamed(r, f);
    assertFieldNamed(await punchIn(token, at(store, { storeId: 'not-a-uuid' })), 'storeId');
    assertFieldNamed(await punchIn(token, at(store, { latitude: '48.85' })), 'latitude');
    assertFieldNamed(await punchIn(token, at(store, { accuracyM: 'good' })), 'accuracyM');
    assertFieldNamed(await punchIn(token, at(store, { note: 'x'.repeat(1001) })), 'note');
    assertFieldNamed(await punchIn(token, at(store, { note: 42 })), 'note');
    // Invalid coordinates are a bad body, not a geofence miss.
    assertFieldNamed(await punchIn(token, at(store, { latitude: 90.5 })), 'latitude');
    assertFieldNamed(await punchIn(token, at(store, { latitude: -91 })), 'latitude');
    assertFieldNamed(await punchIn(token, at(store, { longitude: 180.01 })), 'longitude');
    assertFieldNamed(await punchIn(token, at(store, { longitude: -200 })), 'longitude');
    assertError(
        await dtm.api('POST', '/api/attendance/punch-in', { token, body: '[1,2]', headers: { 'content-type': 'application/json' } }),
        400
    );
    assertError(
        await dtm.api('POST', '/api/attendance/punch-in', { token, body: '{"storeId": ', headers: { 'content-type': 'application/json' } }),
        400
    );
    assertError(
        await dtm.api('POST', '/api/attendance/punch-in', { token, body: 'storeId=1', headers: { 'content-type': 'text/plain' } }),
        415
    );
    assertError(
        await dtm.api('POST', '/api/attendance/punch-in', { token, body: 'x', headers: { 'content-type': 'multipart/mixed; boundary=b' } }),
        415
    );
    // Nothing was recorded by any of these.
    r = await dtm.api('GET', '/api/attendance/current', { token });
    assert.equal(r.json.punchedIn, false);
});

test('unknown or inactive store is 404, checked before accuracy and geofence', async () => {
    const { token } = merch[1];
    const unknown = { storeId: crypto.randomUUID(), latitude: 0, longitude: 0, accuracyM: 500 };
    assertError(await punchIn(token, unknown), 404);
    const closed = await createStore({ latitude: 10, longitude: 10 });
    assert.equal((await dtm.api('DELETE', `/api/stores/${closed.id}`, { token: adminTok })).status, 204);
    assertError(await punchIn(token, at(closed)), 404);
});

test('accuracy must be plausible: 0 < accuracyM <= 200 (422 inaccurate_location)', async () => {
    const { token } = merch[1];
    // Checked before the geofence: far away and inaccurate says inaccurate.
    for (const acc of [0, -3, 200.5, 5000]) {
        const r = await punchIn(token, at(store, { accuracyM: acc, latitude: 0 }));
        assertError(r, 422, 'inaccurate_location');
    }
    let r = await punchIn(token, at(store, { accuracyM: 200 }));
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.attendance.punchIn.accuracyM, 200);
    await punchOut(token);
    r = await punchIn(token, at(store, { accuracyM: 0.3 }));
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.attendance.punchIn.accuracyM, 1, 'sub-metre accuracy is stored as 1 m');
    await punchOut(token);
});

test('geofence: exactly on the radius is inside, one metre beyond is 422 with the distance', async () => {
    const { token } = merch[1];
    let r = await punchIn(token, at(store, { latitude: north(store.latitude, 100) }));
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.attendance.punchIn.distanceM, 100);
    await punchOut(token);

    r = await punchIn(token, at(store, { latitude: north(store.latitude, 101) }));
    assertError(r, 422, 'outside_geofence');
    assert.deepEqual(r.json.error.details, { distanceM: 101, radiusM: 100 });

    r = await punchIn(token, at(store, { latitude: north(store.latitude, -2500) }));
    assertError(r, 422, 'outside_geofence');
    assert.equal(r.json.error.details.distanceM, 2500);
});

test('geofence across the antimeridian and at the poles', async () => {
    const { token } = merch[1];
    // Fiji: store just east of 180, visitor just west of it, ~107 m apart (not 40,000 km).
    const fiji = await createStore({ latitude: -16.5, longitude: 179.9995, geofenceRadiusM: 150 });
    let r = await punchIn(token, { storeId: fiji.id, latitude: -16.5, longitude: -179.9995, accuracyM: 10 });
    assert.equal(r.status, 201, r.text);
    assert.ok(r.json.attendance.punchIn.distanceM >= 100 && r.json.attendance.punchIn.distanceM <= 110, r.text);
    await punchOut(token);
    r = await punchIn(token, { storeId: fiji.id, latitude: -16.5, longitude: -179.998, accuracyM: 10 });
    assertError(r, 422, 'outside_geofence');

    // Near the north pole every meridian is close: 180 degrees of longitude apart is ~22 m.
    const pole = await createStore({ latitude: 89.9999, longitude: 0, geofenceRadiusM: 50 });
    r = await punchIn(token, { storeId: pole.id, latitude: 89.9999, longitude: 180, accuracyM: 5 });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.attendance.punchIn.distanceM, 22);
    await punchOut(token);
    // At the south pole itself longitude does not matter.
    const south = await createStore({ latitude: -90, longitude: 0, geofenceRadiusM: 10 });
    r = await punchIn(token, { storeId: south.id, latitude: -90, longitude: -123.4, accuracyM: 5 });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.attendance.punchIn.distanceM, 0);
    await punchOut(token);
});

test('20 parallel punch-ins by one user: exactly one 201 and 19 x 409', async () => {
    const m = await newMerch();
    const rs = await Promise.all(Array.from({ length: 20 }, () => punchIn(m.token, at(store))));
    const statuses = rs.map((r) => r.status).sort();
    assert.equal(statuses.filter((s) => s === 201).length, 1, JSON.stringify(statuses));
    assert.equal(statuses.filter((s) => s === 409).length, 19, JSON.stringify(statuses));
    for (const r of rs.filter((x) => x.status === 409)) assertError(r, 409, 'already_punched_in');
    const rows = await dtm.sql(`SELECT count(*) FROM attendance.records WHERE user_id = '${m.user.id}'`);
    assert.equal(rows[0][0], '1');
    // And 20 parallel punch-outs close it once.
    const outs = await Promise.all(Array.from({ length: 20 }, () => punchOut(m.token)));
    assert.equal(outs.filter((r) => r.status === 200).length, 1);
    assert.equal(outs.filter((r) => r.status === 409).length, 19);

    // The same with a photo each (one new image, so 20 writers race on one file): one visit,
    // one complete file, no temporary files left.
    const img = Buffer.concat([JPEG.subarray(0, 20), crypto.randomBytes(300 * 1024), JPEG.subarray(-2)]);
    const sha = crypto.createHash('sha256').update(img).digest('hex');
    const withPhotos = await Promise.all(
        Array.from({ length: 20 }, () => punchIn(m.token, form(at(store), { data: img, type: 'image/jpeg', name: 'p.jpg' })))
    );
    const st = withPhotos.map((r) => r.status);
    assert.equal(st.filter((x) => x === 201).length, 1, JSON.stringify(st));
    assert.equal(st.filter((x) => x === 409).length, 19, JSON.stringify(st));
    const file = path.join(dtm.env.DTM_DATA_DIR, 'uploads', sha.slice(0, 2), sha.slice(2));
    assert.deepEqual(fs.readFileSync(file), img);
    assert.deepEqual(fs.readdirSync(path.dirname(file)).filter((f) => f.startsWith('.')), []);
    assert.equal((await punchOut(m.token)).status, 200);
});

test('breaks: start/end, every 409, punch-out ends a running break', async () => {
    const { token } = merch[1];
    assertError(await dtm.api('POST', '/api/attendance/breaks/start', { token, body: { type: 'lunch' } }), 409, 'not_punched_in');
    assertError(await dtm.api('POST', '/api/attendance/breaks/end', { token }), 409, 'not_punched_in');
    assert.equal((await punchIn(token, at(store))).status, 201);
    assertError(await dtm.api('POST', '/api/attendance/breaks/end', { token }), 409, 'not_on_break');
    assertFieldNamed(await dtm.api('POST', '/api/attendance/breaks/start', { token, body: { type: 'nap' } }), 'type');
    assertFieldNamed(await dtm.api('POST', '/api/attendance/breaks/start', { token, body: {} }), 'type');

    let r = await dtm.api('POST', '/api/attendance/breaks/start', { token, body: { type: 'lunch' } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.attendance.status, 'on_break');
    assert.equal(r.json.attendance.breaks.length, 1);
    assert.equal(r.json.attendance.breaks[0].type, 'lunch');
    assert.match(r.json.attendance.breaks[0].startedAt, ISO_RE);
    assert.equal(r.json.attendance.breaks[0].endedAt, null);
    assertError(await dtm.api('POST', '/api/attendance/breaks/start', { token, body: { type: 'coffee' } }), 409, 'already_on_break');
    // Still punched in while on a break.
    assertError(await punchIn(token, at(store)), 409, 'already_punched_in');

    r = await dtm.api('POST', '/api/attendance/breaks/end', { token });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.attendance.status, 'open');
    assert.match(r.json.attendance.breaks[0].endedAt, ISO_RE);

    for (const type of ['coffee', 'rest']) {
        r = await dtm.api('POST', '/api/attendance/breaks/start', { token, body: { type } });
        assert.equal(r.status, 201, r.text);
        if (type === 'coffee') assert.equal((await dtm.api('POST', '/api/attendance/breaks/end', { token })).status, 200);
    }
    r = await punchOut(token);
    assert.equal(r.status, 200, r.text);
    const a = r.json.attendance;
    assert.equal(a.status, 'closed');
    assert.deepEqual(a.breaks.map((b) => b.type), ['lunch', 'coffee', 'rest']);
    assert.ok(a.breaks.every((b) => b.endedAt), 'punch-out ended the running break');
    r = await dtm.api('POST', '/api/attendance/breaks/start', { token, body: { type: 'other' } });
    assertError(r, 409, 'not_punched_in');
});

test('punch-out minutes: worked, break, net and overtime beyond 8 h', async () => {
    const m = await newMerch();
    let r = await punchIn(m.token, at(store));
    const id = r.json.attendance.id;
    r = await dtm.api('POST', '/api/attendance/breaks/start', { token: m.token, body: { type: 'lunch' } });
    assert.equal(r.status, 201);
    // Travel in time: punched in 9 h 30 min ago, on lunch for the last 45 minutes.
    await dtm.sql(`UPDATE attendance.records SET punch_in_at = now() - interval '9 hours 30 minutes' WHERE id = '${id}'`);
    await dtm.sql(`UPDATE attendance.breaks SET started_at = now() - interval '45 minutes' WHERE attendance_id = '${id}'`);
    r = await dtm.api('GET', '/api/attendance/current', { token: m.token });
    assert.equal(r.json.attendance.workedMinutes, 570, 'open visits show minutes so far');
    assert.equal(r.json.attendance.breakMinutes, 45);
    r = await punchOut(m.token, { latitude: 48.8566, longitude: 2.3522, accuracyM: 5 });
    assert.equal(r.status, 200, r.text);
    const a = r.json.attendance;
    assert.equal(a.workedMinutes, 570);
    assert.equal(a.breakMinutes, 45);
    assert.equal(a.netMinutes, 525);
    assert.equal(a.overtimeMinutes, 45);
    // Stored, not recomputed: the same numbers later.
    r = await dtm.api('GET', `/api/attendance?userId=${m.user.id}`, { token: managerTok });
    assert.equal(r.json.items[0].overtimeMinutes, 45);
    assertFieldNamed(await punchOut(m.token, { latitude: 10 }), 'longitude');
    assertFieldNamed(await punchOut(m.token, { latitude: 100, longitude: 0 }), 'latitude');
});

test('photos: sniffed by bytes, content-addressed, served to owner and staff only', async () => {
    const owner = merch[2];
    const other = merch[1];
    // A "JPEG" that is not one: 415, whatever its name and declared type.
    let r = await punchIn(owner.token, form(at(store), { data: Buffer.from('just some text, honestly'), type: 'image/jpeg', name: 'p.jpg' }));
    assertError(r, 415, 'unsupported_media_type');
    r = await punchIn(owner.token, form(at(store), { data: Buffer.from('GIF89a....'), type: 'image/gif', name: 'p.gif' }));
    assertError(r, 415);
    // Too big: 5 MiB + 1 byte of real JPEG.
    const big = Buffer.alloc(5 * 1024 * 1024 + 1, 0x41);
    JPEG.copy(big, 0, 0, 4);
    r = await punchIn(owner.token, form(at(store), { data: big, type: 'image/jpeg', name: 'big.jpg' }));
    assertError(r, 413);
    // Field problems in a form are 400 with details, like JSON.
    assertFieldNamed(await punchIn(owner.token, form({ ...at(store), latitude: 'north' })), 'latitude');
    // Malformed multipart.
    r = await dtm.api('POST', '/api/attendance/punch-in', {
        token: owner.token,
        body: '--b\r\nContent-Disposition: form-data; name="storeId"\r\n\r\nabc',
        headers: { 'content-type': 'multipart/form-data; boundary=b' },
    });
    assertError(r, 400);
    assertError(
        await dtm.api('POST', '/api/attendance/punch-in', { token: owner.token, body: 'x', headers: { 'content-type': 'multipart/form-data' } }),
        400
    );
    assert.equal((await dtm.api('GET', '/api/attendance/current', { token: owner.token })).json.punchedIn, false);

    // A real JPEG declared as octet-stream with a .txt name is still a JPEG.
    r = await punchIn(owner.token, form(at(store, { note: 'with photo' }), { data: JPEG, type: 'application/octet-stream', name: 'x.txt' }));
    assert.equal(r.status, 201, r.text);
    const a = r.json.attendance;
    assert.equal(a.note, 'with photo');
    assert.equal(a.punchIn.accuracyM, 12);
    const sha = crypto.createHash('sha256').update(JPEG).digest('hex');
    assert.equal(a.photoUrl, `/api/attendance/photos/${sha}`);
    const file = path.join(dtm.env.DTM_DATA_DIR, 'uploads', sha.slice(0, 2), sha.slice(2));
    assert.deepEqual(fs.readFileSync(file), JPEG);
    assert.deepEqual(fs.readdirSync(path.dirname(file)).filter((f) => f.startsWith('.')), [], 'no temporary files left');

    for (const token of [owner.token, managerTok, adminTok]) {
        const res = await fetch(dtm.url + a.photoUrl, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type'), /^image\/jpeg/);
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), JPEG);
    }
    assertError(await dtm.api('GET', a.photoUrl, { token: other.token }), 403);
    assertError(await dtm.api('GET', `/api/attendance/photos/${'0'.repeat(64)}`, { token: managerTok }), 404);
    assertError(await dtm.api('GET', '/api/attendance/photos/..%2f..%2fetc%2fpasswd', { token: managerTok }), 404);
    assertError(await dtm.api('GET', `/api/attendance/photos/${sha.toUpperCase()}`, { token: owner.token }), 404);
    await punchOut(owner.token);

    // PNG, and a form whose photo part is empty (no file chosen) is a punch-in without photo.
    r = await punchIn(owner.token, form(at(store), { data: PNG, type: 'image/png', name: 'p.png' }));
    assert.equal(r.status, 201, r.text);
    const png = await fetch(dtm.url + r.json.attendance.photoUrl, { headers: { authorization: `Bearer ${managerTok}` } });
    assert.equal(png.headers.get('content-type'), 'image/png');
    await punchOut(owner.token);
    const fd = form(at(store));
    fd.append('photo', new Blob([]), '');
    r = await punchIn(owner.token, fd);
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.attendance.photoUrl, null);
    await punchOut(owner.token);
});

test('history: own for merchandisers (403 for others), any for staff, filters and pages', async () => {
    const m = await newMerch();
    for (const s of [store, farStore, store]) {
        assert.equal((await punchIn(m.token, at(s))).status, 201);
        assert.equal((await punchOut(m.token)).status, 200);
    }
    let r = await dtm.api('GET', '/api/attendance', { token: m.token });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.items.length, 3);
    assert.deepEqual(r.json.pagination, { page: 1, limit: 20, total: 3, pages: 1 });
    assert.ok(r.json.items.every((a) => a.userId === m.user.id));
    assert.ok(r.json.items[0].punchInAt >= r.json.items[1].punchInAt, 'newest first');
    r = await dtm.api('GET', `/api/attendance?userId=${m.user.id}`, { token: m.token });
    assert.equal(r.status, 200);
    assertError(await dtm.api('GET', `/api/attendance?userId=${merch[0].user.id}`, { token: m.token }), 403);

    for (const token of [managerTok, adminTok]) {
        r = await dtm.api('GET', `/api/attendance?userId=${m.user.id}&storeId=${store.id}&limit=1&page=2`, { token });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.items.length, 1);
        assert.deepEqual(r.json.pagination, { page: 2, limit: 1, total: 2, pages: 2 });
        assert.equal(r.json.items[0].storeId, store.id);
    }
    // Staff without a userId see everyone.
    r = await dtm.api('GET', '/api/attendance?limit=100', { token: managerTok });
    assert.ok(new Set(r.json.items.map((a) => a.userId)).size > 2);

    const today = new Date().toISOString().slice(0, 10);
    r = await dtm.api('GET', `/api/attendance?userId=${m.user.id}&from=${today}&to=${today}`, { token: managerTok });
    assert.equal(r.json.pagination.total, 3, 'a bare date as `to` includes that day');
    r = await dtm.api('GET', `/api/attendance?userId=${m.user.id}&from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00.000Z`, { token: managerTok });
    assert.equal(r.json.pagination.total, 0);
    r = await dtm.api('GET', `/api/attendance?userId=${m.user.id}&from=${encodeURIComponent(new Date(Date.now() + 3600e3).toISOString())}`, { token: managerTok });
    assert.equal(r.json.pagination.total, 0);

    // An offset whose '+' was not percent-encoded (arrives as a space) still parses.
    r = await dtm.api('GET', `/api/attendance?userId=${m.user.id}&from=2000-01-01T00:00:00+14:00`, { token: managerTok });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.pagination.total, 3);
    assertFieldNamed(await dtm.api('GET', '/api/attendance?userId=nope', { token: managerTok }), 'userId');
    assertFieldNamed(await dtm.api('GET', '/api/attendance?storeId=nope', { token: managerTok }), 'storeId');
    assertFieldNamed(await dtm.api('GET', '/api/attendance?from=yesterday', { token: managerTok }), 'from');
    assertFieldNamed(await dtm.api('GET', '/api/attendance?from=2026-02-01&to=2026-01-01', { token: managerTok }), 'to');
    assertError(await dtm.api('GET', '/api/attendance?limit=101', { token: managerTok }), 400);
    assertError(await dtm.api('GET', '/api/attendance?page=0', { token: m.token }), 400);
});

// A zone whose calendar date differs from UTC's right now: UTC+14 from 10:00 UTC on, UTC-11
// before 11:00 UTC; one of the two always qualifies.
function zoneWithOtherDate() {
    const utc = new Date().toISOString().slice(0, 10);
    for (const tz of ['Pacific/Kiritimati', 'Pacific/Pago_Pago']) {
        const local = new Intl.DateTimeFormat('en-CA', { timeZone: tz }).format(new Date());
        if (local !== utc) return { tz, local, utc };
    }
    throw new Error('no zone with another date');
}

test('team view: roles, summary, members, and the store-local day', async () => {
    assertError(await dtm.api('GET', '/api/attendance/team', { token: merch[0].token }), 403);
    assertError(await dtm.api('GET', '/api/attendance/team?date=26-11-2026', { token: managerTok }), 400);
    assertError(await dtm.api('GET', '/api/attendance/team?date=2026-02-30', { token: managerTok }), 400);
    assertError(await dtm.api('GET', '/api/attendance/team?storeId=x', { token: managerTok }), 400);
    assertError(await dtm.api('GET', `/api/attendance/team?storeId=${crypto.randomUUID()}`, { token: managerTok }), 404);

    const { tz, local, utc } = zoneWithOtherDate();
    const islands = await createStore({ latitude: 1.87, longitude: -157.4, geofenceRadiusM: 200, timezone: tz });
    const working = await newMerch();
    const onBreak = await newMerch();
    const done = await newMerch();
    const absent = await newMerch();
    const inactive = await newMerch();
    assert.equal((await dtm.api('DELETE', `/api/users/${inactive.user.id}`, { token: adminTok })).status, 204);
    for (const m of [working, onBreak, done]) assert.equal((await punchIn(m.token, at(islands))).status, 201);
    assert.equal((await dtm.api('POST', '/api/attendance/breaks/start', { token: onBreak.token, body: { type: 'rest' } })).status, 201);
    assert.equal((await punchOut(done.token)).status, 200);

    // Default date for a store is the store's today, not UTC's.
    let r = await dtm.api('GET', `/api/attendance/team?storeId=${islands.id}`, { token: managerTok });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.date, local);
    const byId = Object.fromEntries(r.json.members.map((x) => [x.user.id, x]));
    assert.equal(byId[working.user.id].status, 'present');
    assert.equal(byId[onBreak.user.id].status, 'on_break');
    assert.equal(byId[done.user.id].status, 'done');
    assert.equal(byId[absent.user.id].status, 'absent');
    assert.equal(byId[absent.user.id].attendance, null);
    assert.equal(byId[working.user.id].attendance.storeId, islands.id);
    assert.equal(byId[working.user.id].user.email, working.user.email);
    assert.ok(!(inactive.user.id in byId), 'inactive merchandisers are not members');
    assert.ok(!(manager.id in byId), 'managers are not members');
    const s = r.json.summary;
    assert.equal(s.total, r.json.members.length);
    assert.equal(s.present, 3, JSON.stringify(s));
    assert.equal(s.onBreak, 1);
    assert.equal(s.absent, s.total - 3);

    r = await dtm.api('GET', `/api/attendance/team?storeId=${islands.id}&date=${local}`, { token: adminTok });
    assert.equal(r.json.summary.present, 3);
    // UTC's today is another day on the islands: nobody was there on that local day.
    r = await dtm.api('GET', `/api/attendance/team?storeId=${islands.id}&date=${utc}`, { token: managerTok });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.date, utc);
    assert.equal(r.json.summary.present, 0, JSON.stringify(r.json.summary));
    // Without a store the day is UTC's, and the visits belong to it.
    r = await dtm.api('GET', `/api/attendance/team?date=${utc}`, { token: managerTok });
    const all = Object.fromEntries(r.json.members.map((x) => [x.user.id, x.status]));
    assert.equal(all[working.user.id], 'present');
    assert.equal(all[onBreak.user.id], 'on_break');
    r = await dtm.api('GET', '/api/attendance/team', { token: managerTok });
    assert.equal(r.json.date, utc);
    // Someone still punched in is present on a later day too, but not on a day long past.
    r = await dtm.api('GET', `/api/attendance/team?date=2001-01-01`, { token: managerTok });
    assert.equal(r.json.summary.present, 0);
    for (const m of [working, onBreak]) await punchOut(m.token);
});

// Opens GET /api/attendance/events; returns {events, close()} with events parsed as they come.
async function openEvents(base, token) {
    const ac = new AbortController();
    const res = await fetch(`${base}/api/attendance/events`, {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
        signal: ac.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    const events = [];
    const reader = (async () => {
        const dec = new TextDecoder();
        let buf = '';
        try {
            for await (const chunk of res.body) {
                buf += dec.decode(chunk, { stream: true });
                let i;
                while ((i = buf.indexOf('\n\n')) >= 0) {
                    const block = buf.slice(0, i);
                    buf = buf.slice(i + 2);
                    const ev = /^event: ?(.*)$/m.exec(block);
                    const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.replace(/^data: ?/, '')).join('\n');
                    if (ev && data) events.push({ event: ev[1], data: JSON.parse(data) });
                }
            }
        } catch {}
    })();
    return {
        events,
        close: async () => {
            ac.abort();
            await reader;
        },
    };
}

test('live events: SSE stream gets punch-in, break and punch-out events', async () => {
    assertError(await dtm.api('GET', '/api/attendance/events', { token: merch[0].token }), 403);
    const m = await newMerch();
    const { events, close } = await openEvents(dtm.url, managerTok);
    await sleep(300); // let the subscription settle
    const metrics = await attendanceMetrics();
    assert.match(metrics.text, /^dtm_sse_clients [1-9]/m);

    assert.equal((await punchIn(m.token, at(store))).status, 201);
    assert.equal((await dtm.api('POST', '/api/attendance/breaks/start', { token: m.token, body: { type: 'coffee' } })).status, 201);
    assert.equal((await dtm.api('POST', '/api/attendance/breaks/end', { token: m.token })).status, 200);
    assert.equal((await punchOut(m.token)).status, 200);
    const mine = () => events.filter((e) => e.data.attendance && e.data.attendance.userId === m.user.id);
    for (let i = 0; i < 100 && mine().length < 4; i++) await sleep(50);
    await close();
    assert.deepEqual(mine().map((e) => e.event), ['punch_in', 'break_start', 'break_end', 'punch_out']);
    const first = mine()[0].data;
    assert.equal(first.type, 'punch_in');
    assert.match(first.at, ISO_RE);
    assert.equal(first.attendance.storeId, store.id);
});

test('metrics: punch-ins, rejections by reason, photos', async () => {
    const r = await attendanceMetrics();
    assert.equal(r.status, 200);
    const val = (re) => {
        const m = re.exec(r.text);
        return m ? Number(m[1]) : NaN;
    };
    assert.ok(val(/^dtm_punch_ins_total (\S+)$/m) >= 20, r.text.slice(0, 200));
    assert.ok(val(/^dtm_punch_in_rejections_total\{reason="outside_geofence"\} (\S+)$/m) >= 3);
    assert.ok(val(/^dtm_punch_in_rejections_total\{reason="already_punched_in"\} (\S+)$/m) >= 19);
    assert.ok(val(/^dtm_punch_in_rejections_total\{reason="inaccurate_location"\} (\S+)$/m) >= 4);
    assert.ok(val(/^dtm_punch_in_rejections_total\{reason="unsupported_media_type"\} (\S+)$/m) >= 2);
    assert.ok(val(/^dtm_photos_stored_total (\S+)$/m) >= 2);
    assert.ok(val(/^dtm_photos_stored_bytes_total (\S+)$/m) >= JPEG.length + PNG.length);
});

test('reporting.attendance view and the indexes behind the list filters', async () => {
    const rows = await dtm.sql(
        'SELECT count(*), count(*) FILTER (WHERE has_photo), max(overtime_minutes) FROM reporting.attendance'
    );
    assert.ok(Number(rows[0][0]) > 20);
    assert.ok(Number(rows[0][1]) >= 2);
    assert.equal(rows[0][2], '45');
    const idx = await dtm.sql("SELECT indexname FROM pg_indexes WHERE schemaname = 'attendance' ORDER BY 1");
    const names = idx.map((x) => x[0]);
    for (const n of ['records_one_open_per_user', 'records_user_time_idx', 'records_store_time_idx', 'records_time_idx']) {
        assert.ok(names.includes(n), `${n} in ${names}`);
    }
    // With sequential scans priced out, each list filter finds an index (tiny tables otherwise
    // always seq-scan).
    const plan = async (where) =>
        (await dtm.sql(`SET enable_seqscan = off; EXPLAIN SELECT * FROM attendance.records r WHERE ${where} ORDER BY punch_in_at DESC LIMIT 20`))
            .map((x) => x[0])
            .join('\n');
    assert.match(await plan(`user_id = '${merch[0].user.id}'`), /records_user_time_idx/);
    assert.match(await plan(`store_id = '${store.id}'`), /records_store_time_idx/);
    assert.match(await plan(`punch_in_at >= now() - interval '1 day'`), /records_time_idx/);
});

test('live events go through Redis pub/sub, and stay local when Redis is down', async () => {
    const r = await startRedis();
    let d;
    try {
        d = await startDtm({ redis: r });
        const adminT = (await d.loginAdmin()).accessToken;
        const s = await d.api('POST', '/api/stores', {
            token: adminT,
            body: { code: `R-${randomId(3)}`, name: 'Redis store', latitude: 1, longitude: 1 },
        });
        const u = await d.createUser(adminT, { role: 'merchandiser' });
        const m = (await d.login(u.email, u.password)).accessToken;
        const { events, close } = await openEvents(d.url, adminT);
        // The subscriber relays whatever is published on the channel, from any process.
        for (let i = 0; i < 100; i++) {
            await d.redis('PUBLISH', 'dtm:attendance', JSON.stringify({ event: 'ping', data: { n: i } }));
            if (events.some((e) => e.event === 'ping')) break;
            await sleep(50);
        }
        assert.ok(events.some((e) => e.event === 'ping'), 'message published on Redis reached SSE');

        await r.stop();
        const p = await d.api('POST', '/api/attendance/punch-in', {
            token: m,
            body: { storeId: s.json.store.id, latitude: 1, longitude: 1, accuracyM: 5 },
        });
        assert.equal(p.status, 201, p.text);
        for (let i = 0; i < 100 && !events.some((e) => e.event === 'punch_in'); i++) await sleep(50);
        await close();
        const ev = events.filter((e) => e.event === 'punch_in');
        assert.equal(ev.length, 1, JSON.stringify(events));
        assert.equal(ev[0].data.attendance.id, p.json.attendance.id);
    } finally {
        if (d) await d.stop();
        await r.destroy();
    }
});
