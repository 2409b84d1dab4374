// SPDX-License-Identifier: MIT
// Idempotency-Key on every POST/PATCH (shared/API.md "Offline-safe writes"): a retry with the
// same key, caller and body gets the first response again with Idempotent-Replayed: true; a
// different body is 422 idempotency_key_reused; a retry while the first runs is 409
// request_in_progress; keys are per caller, kept 24 h, taken over after a crashed request's
// lease; multipart retries with a new boundary are the same request; public routes and GETs
// ignore the header. Runs in both topologies (the hooks run in the service's own process).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { assertError, startFieldOps, storeBody } = require('./fieldops-fixtures.js');

let dtm, as, ids, tok, store;
const key = () => `k-${crypto.randomUUID()}`;
const withKey = (k, extra = {}) => ({ headers: { 'idempotency-key': k, ...(extra.headers || {}) } });
const at = (extra = {}) => ({
    storeId: store.id,
    latitude: store.latitude,
    longitude: store.longitude,
    accuracyM: 10,
    ...extra,
});
const JPEG = Buffer.concat([
    Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'),
    crypto.randomBytes(64),
    Buffer.from('ffd9', 'hex'),
]);

before(async () => {
    ({ dtm, as, ids, tok } = await startFieldOps({ env: { DTM_IDEMPOTENCY_LEASE_MS: '1500' } }));
    const r = await as('admin')('POST', '/api/stores', storeBody());
    assert.equal(r.status, 201, r.text);
    store = r.json.store;
});
after(() => dtm && dtm.stop());

async function newMerch() {
    const u = await dtm.createUser(tok.admin, { role: 'merchandiser' });
    const l = await dtm.login(u.email, u.password);
    return { id: u.id, token: l.accessToken };
}

async function countTodos(title) {
    const r = await as('manager')('GET', `/api/todos?search=${encodeURIComponent(title)}&limit=100`);
    assert.equal(r.status, 200, r.text);
    return r.json.pagination.total;
}

test('a retry with the same key and body replays the first answer and writes nothing', async () => {
    const k = key();
    const title = `Idem ${k}`;
    const body = { title, assigneeId: ids.merch };
    const a = await as('manager')('POST', '/api/todos', body, withKey(k));
    assert.equal(a.status, 201, a.text);
    assert.equal(a.headers['idempotent-replayed'], undefined);
    const b = await as('manager')('POST', '/api/todos', body, withKey(k));
    assert.equal(b.status, 201, b.text);
    assert.equal(b.headers['idempotent-replayed'], 'true');
    assert.deepEqual(b.json, a.json);
    assert.match(b.headers['content-type'], /application\/json/);
    assert.notEqual(b.headers['x-request-id'], a.headers['x-request-id'], 'a new request id');
    assert.equal(await countTodos(title), 1);
    // Without a key, the same body is a second todo.
    const c = await as('manager')('POST', '/api/todos', body);
    assert.equal(c.status, 201);
    assert.equal(await countTodos(title), 2);
});

test('the same key with a different body is 422 idempotency_key_reused', async () => {
    const k = key();
    const a = await as('manager')('POST', '/api/todos', { title: `A ${k}` }, withKey(k));
    assert.equal(a.status, 201, a.text);
    const b = await as('manager')('POST', '/api/todos', { title: `B ${k}` }, withKey(k));
    assertError(b, 422, 'idempotency_key_reused');
    assert.equal(await countTodos(`B ${k}`), 0);
    // Same body on another path is a different request too.
    const c = await as('manager')('POST', `/api/todos/${a.json.todo.id}/complete`, { title: `A ${k}` }, withKey(k));
    assertError(c, 422, 'idempotency_key_reused');
});

test('keys are per caller: another user with the same key runs its own request', async () => {
    const k = key();
    const a = await as('merch')('POST', '/api/todos', { title: `Mine ${k}` }, withKey(k));
    const b = await as('merch2')('POST', '/api/todos', { title: `Mine ${k}` }, withKey(k));
    assert.equal(a.status, 201, a.text);
    assert.equal(b.status, 201, b.text);
    assert.equal(b.headers['idempotent-replayed'], undefined);
    assert.notEqual(a.json.todo.id, b.json.todo.id);
});

test('a punch-in replayed after a lost response gets the same 201, never a 409', async () => {
    const m = await newMerch();
    const k = key();
    const call = () => dtm.api('POST', '/api/attendance/punch-in', { token: m.token, body: at(), ...withKey(k) });
    const a = await call();
    assert.equal(a.status, 201, a.text);
    const b = await call();
    assert.equal(b.status, 201, b.text);
    assert.equal(b.headers['idempotent-replayed'], 'true');
    assert.equal(b.json.attendance.id, a.json.attendance.id);
    const list = await dtm.api('GET', `/api/attendance?userId=${m.id}`, { token: m.token });
    assert.equal(list.json.pagination.total, 1);
    // A new key is a new request: the one-open-visit rule answers.
    const c = await dtm.api('POST', '/api/attendance/punch-in', { token: m.token, body: at(), ...withKey(key()) });
    assertError(c, 409, 'already_punched_in');
});

test('concurrent duplicates: exactly one runs, the others get 409 request_in_progress or the replay', async () => {
    const m = await newMerch();
    const k = key();
    const rs = await Promise.all(
        Array.from({ length: 12 }, () =>
            dtm.api('POST', '/api/attendance/punch-in', { token: m.token, body: at(), ...withKey(k) })
        )
    );
    const created = rs.filter((r) => r.status === 201);
    const fresh = created.filter((r) => r.headers['idempotent-replayed'] !== 'true');
    assert.equal(fresh.length, 1, rs.map((r) => `${r.status} ${r.text}`).join('\n'));
    for (const r of rs) {
        if (r.status === 201) assert.equal(r.json.attendance.id, fresh[0].json.attendance.id);
        else assertError(r, 409, 'request_in_progress');
        if (r.status === 409) assert.equal(r.headers['retry-after'], '1');
    }
    const list = await dtm.api('GET', `/api/attendance?userId=${m.id}`, { token: m.token });
    assert.equal(list.json.pagination.total, 1);
});

test('a multipart punch-in retried with a new boundary is the same request', async () => {
    const m = await newMerch();
    const k = key();
    const form = (photo) => {
        const fd = new FormData();
        for (const [n, v] of Object.entries(at())) fd.append(n, String(v));
        fd.append('photo', new Blob([photo], { type: 'image/jpeg' }), 'shelf.jpg');
        return fd;
    };
    const a = await dtm.api('POST', '/api/attendance/punch-in', { token: m.token, body: form(JPEG), ...withKey(k) });
    assert.equal(a.status, 201, a.text);
    const b = await dtm.api('POST', '/api/attendance/punch-in', { token: m.token, body: form(JPEG), ...withKey(k) });
    assert.equal(b.status, 201, b.text);
    assert.equal(b.headers['idempotent-replayed'], 'true');
    assert.equal(b.json.attendance.id, a.json.attendance.id);
    assert.ok(a.json.attendance.photoUrl);
    // Other photo bytes under the same key: a different request.
    const other = Buffer.from(JPEG);
    other[30] ^= 0xff;
    const c = await dtm.api('POST', '/api/attendance/punch-in', { token: m.token, body: form(other), ...withKey(k) });
    assertError(c, 422, 'idempotency_key_reused');
});

test('4xx answers are kept and replayed; PATCH takes part too', async () => {
    const m = await newMerch();
    const k = key();
    const far = at({ latitude: store.latitude + 1 });
    const a = await dtm.api('POST', '/api/attendance/punch-in', { token: m.token, body: far, ...withKey(k) });
    assertError(a, 422, 'outside_geofence');
    const b = await dtm.api('POST', '/api/attendance/punch-in', { token: m.token, body: far, ...withKey(k) });
    assertError(b, 422, 'outside_geofence');
    assert.equal(b.headers['idempotent-replayed'], 'true');

    const t = await as('manager')('POST', '/api/todos', { title: `Patch ${k}` });
    const pk = key();
    const p1 = await as('manager')('PATCH', `/api/todos/${t.json.todo.id}`, { priority: 'high' }, withKey(pk));
    assert.equal(p1.status, 200, p1.text);
    // Someone else changes it; the replay still answers what the first PATCH answered.
    await as('admin')('PATCH', `/api/todos/${t.json.todo.id}`, { priority: 'low' });
    const p2 = await as('manager')('PATCH', `/api/todos/${t.json.todo.id}`, { priority: 'high' }, withKey(pk));
    assert.equal(p2.status, 200);
    assert.equal(p2.headers['idempotent-replayed'], 'true');
    assert.equal(p2.json.todo.priority, 'high');
    const now = await as('manager')('GET', `/api/todos/${t.json.todo.id}`);
    assert.equal(now.json.todo.priority, 'low', 'the replay wrote nothing');
});

test('a bad key is a 400; GETs and public routes ignore the header', async () => {
    for (const bad of ['x'.repeat(256), 'tab\there', '']) {
        const r = await as('manager')('POST', '/api/todos', { title: 'never' }, withKey(bad));
        assertError(r, 400, 'invalid_idempotency_key');
    }
    assert.equal(await countTodos('never'), 0);
    const k = key();
    const g1 = await as('manager')('GET', '/api/todos/stats', undefined, withKey(k));
    const g2 = await as('manager')('GET', '/api/todos/stats', undefined, withKey(k));
    assert.equal(g1.status, 200);
    assert.equal(g2.headers['idempotent-replayed'], undefined);
    const admin = await dtm.loginAdmin();
    const l1 = await dtm.api('POST', '/api/auth/login', { body: { email: admin.user.email, password: 'wrong-password-1' }, ...withKey(k) });
    assert.equal(l1.status, 401);
    assert.equal(l1.headers['idempotent-replayed'], undefined);
});

test('a key held by a request that died is taken over after its lease; expired keys are new', async () => {
    const k = key();
    const body = { title: `Lease ${k}` };
    // What a process killed mid-request leaves behind: a running row. Its fingerprint differs
    // from the retry's, so first make the real one: run, then mark it running again.
    const a = await as('manager')('POST', '/api/todos', body, withKey(k));
    assert.equal(a.status, 201);
    const mgr = (await as('manager')('GET', '/api/auth/me')).json.user.id;
    await dtm.sql(`UPDATE idempotency.keys SET state = 'running', status = NULL, body = NULL,
                   lease_until = now() + interval '1 hour' WHERE scope = '${mgr}' AND key = '${k}'`);
    const b = await as('manager')('POST', '/api/todos', body, withKey(k));
    assertError(b, 409, 'request_in_progress');
    await dtm.sql(`UPDATE idempotency.keys SET lease_until = now() - interval '1 second'
                   WHERE scope = '${mgr}' AND key = '${k}'`);
    const c = await as('manager')('POST', '/api/todos', body, withKey(k));
    assert.equal(c.status, 201, c.text);
    assert.equal(c.headers['idempotent-replayed'], undefined, 'the retry ran');
    assert.equal(await countTodos(`Lease ${k}`), 2);

    // Older than the TTL (24 h): the key is free again, even for another body.
    const k2 = key();
    await as('manager')('POST', '/api/todos', { title: `Old ${k2}` }, withKey(k2));
    await dtm.sql(`UPDATE idempotency.keys SET created_at = now() - interval '25 hours'
                   WHERE scope = '${mgr}' AND key = '${k2}'`);
    const d = await as('manager')('POST', '/api/todos', { title: `New ${k2}` }, withKey(k2));
    assert.equal(d.status, 201, d.text);
    assert.equal(d.headers['idempotent-replayed'], undefined);
});

test('the outcomes are counted in /metrics', async () => {
    const bases = dtm.topology === 'micro' ? dtm.replicas('todos').map((p) => p.url) : [dtm.url];
    const r = await dtm.api('GET', '/metrics', { base: bases[0] });
    assert.equal(r.status, 200);
    for (const o of ['executed', 'replayed', 'key_reused', 'in_progress']) {
        const m = r.text.match(new RegExp(`dtm_idempotency_requests_total\\{outcome="${o}"\\} (\\d+)`));
        assert.ok(m, `outcome ${o} in ${r.text.slice(0, 200)}`);
    }
    assert.match(r.text, /dtm_idempotency_stored_total \d+/);
});
