// SPDX-License-Identifier: MIT
// The audit log (issue 14): writes by admins and managers (users, roles, stores, MFA resets)
// append {at, actor, action, entity, entityId, ip, requestId, changes} in the same transaction;
// rows are hash-chained and `dtm audit verify` names the first row an SQL UPDATE or DELETE broke.
'use strict';

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startDtm } = require('./lib/harness.js');

let dtm, admin, manager;
before(async () => {
    dtm = await startDtm();
    admin = await dtm.loginAdmin();
    const m = await dtm.createUser(admin.accessToken, { role: 'manager' });
    manager = await dtm.login(m.email, m.password);
});
after(() => dtm?.stop());

async function entries(query = '') {
    const r = await dtm.api('GET', `/api/audit-log${query}`, { token: admin.accessToken });
    assert.equal(r.status, 200, r.text);
    return r.json;
}

/** Run `dtm audit verify`: {code, out}. */
async function verify() {
    try {
        const r = await dtm.dtm(['audit', 'verify']);
        return { code: 0, out: r.stdout };
    } catch (e) {
        const m = /exit (\d+)/.exec(e.message);
        return { code: m ? Number(m[1]) : -1, out: e.message };
    }
}

describe('entries', () => {
    test('user create, role change and deactivation by the admin: one entry each, in order', async () => {
        const rid = `audit-${Date.now()}`;
        const u = await dtm.createUser(admin.accessToken, { role: 'merchandiser' });
        const p = await dtm.api('PATCH', `/api/users/${u.id}`, { token: admin.accessToken, headers: { 'x-request-id': rid }, body: { role: 'manager' } });
        assert.equal(p.status, 200, p.text);
        assert.equal((await dtm.api('DELETE', `/api/users/${u.id}`, { token: admin.accessToken })).status, 204);
        const list = await entries(`?entity=user&entityId=${u.id}`);
        assert.deepEqual(list.items.map((e) => e.action), ['user.deactivate', 'user.update', 'user.create']);
        const [deact, upd, created] = list.items;
        for (const e of list.items) {
            assert.equal(e.actorId, admin.user.id);
            assert.equal(e.actorRole, 'admin');
            assert.equal(e.entity, 'user');
            assert.equal(e.entityId, u.id);
            assert.equal(e.ip, '127.0.0.1');
            assert.match(e.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
            assert.equal(typeof e.requestId, 'string');
        }
        assert.equal(upd.requestId, rid);
        assert.deepEqual(upd.changes, { role: { from: 'merchandiser', to: 'manager' } });
        assert.deepEqual(deact.changes, { active: { from: true, to: false } });
        assert.equal(created.changes.email.to, u.email);
        assert.ok(!JSON.stringify(created.changes).toLowerCase().includes('password'), 'no secrets');
        assert.ok(list.items[0].id > list.items[1].id);
        assert.equal(list.pagination.total, 3);
    });

    test('stores by a manager; a merchandiser renaming themselves is not recorded', async () => {
        const s = await dtm.api('POST', '/api/stores', {
            token: manager.accessToken,
            body: { code: `AU-${Date.now()}`, name: 'Audit store', address: '1 Main St', latitude: 48.1, longitude: 11.5 },
        });
        assert.equal(s.status, 201, s.text);
        const id = s.json.store.id;
        assert.equal((await dtm.api('PATCH', `/api/stores/${id}`, { token: manager.accessToken, body: { name: 'Renamed store' } })).status, 200);
        assert.equal((await dtm.api('DELETE', `/api/stores/${id}`, { token: manager.accessToken })).status, 204);
        const list = await entries(`?entity=store&entityId=${id}`);
        assert.deepEqual(list.items.map((e) => e.action), ['store.deactivate', 'store.update', 'store.create']);
        assert.equal(list.items[0].actorRole, 'manager');
        assert.deepEqual(list.items[1].changes, { name: { from: 'Audit store', to: 'Renamed store' } });

        const m = await dtm.createUser(admin.accessToken, { role: 'merchandiser' });
        const ms = await dtm.login(m.email, m.password);
        assert.equal((await dtm.api('PATCH', `/api/users/${m.id}`, { token: ms.accessToken, body: { firstName: 'Self' } })).status, 200);
        const mine = await entries(`?entityId=${m.id}`);
        assert.deepEqual(mine.items.map((e) => e.action), ['user.create'], 'only the admin\'s creation');
    });

    test('audit templates by a manager: create, update, deactivate', async () => {
        const c = await dtm.api('POST', '/api/audits/templates', { token: manager.accessToken, body: { name: 'Minimal', questions: [{ text: 'Clean?', type: 'yes_no' }] } });
        assert.equal(c.status, 201, c.text);
        const id = c.json.template.id;
        assert.equal((await dtm.api('PATCH', `/api/audits/templates/${id}`, { token: manager.accessToken, body: { name: 'Renamed' } })).status, 200);
        assert.equal((await dtm.api('DELETE', `/api/audits/templates/${id}`, { token: manager.accessToken })).status, 204);
        const list = await entries(`?entity=template&entityId=${id}`);
        assert.deepEqual(list.items.map((e) => e.action), ['template.deactivate', 'template.update', 'template.create']);
        assert.deepEqual(list.items[1].changes, { request: { name: 'Renamed' } });
        assert.equal(list.items[2].changes.request.name, 'Minimal');
    });

    test('a write that fails leaves no entry (same transaction)', async () => {
        const u = await dtm.createUser(admin.accessToken);
        const before1 = (await entries('?action=user.create')).pagination.total;
        const r = await dtm.api('POST', '/api/users', {
            token: admin.accessToken,
            body: { email: u.email, password: 'Long-enough-123', firstName: 'A', lastName: 'B', role: 'merchandiser' },
        });
        assert.equal(r.status, 409, r.text);
        assert.equal((await entries('?action=user.create')).pagination.total, before1);
    });

    test("an admin's MFA reset of another user is recorded", async () => {
        const u = await dtm.createUser(admin.accessToken);
        assert.equal((await dtm.api('DELETE', `/api/users/${u.id}/mfa`, { token: admin.accessToken })).status, 204);
        const list = await entries(`?action=user.mfa_reset&entityId=${u.id}`);
        assert.equal(list.items.length, 1);
        assert.deepEqual(list.items[0].changes, { totp: { from: false, to: false } });
    });
});

describe('GET /api/audit-log', () => {
    test('filters: actorId, action, from/to; pages; CSV export', async () => {
        const all = await entries('?limit=100');
        assert.ok(all.items.length >= 5);
        const byManager = await entries(`?actorId=${manager.user.id}`);
        assert.ok(byManager.items.length >= 3 && byManager.items.every((e) => e.actorId === manager.user.id));
        const future = await entries(`?from=${encodeURIComponent(new Date(Date.now() + 3600e3).toISOString())}`);
        assert.equal(future.items.length, 0);
        const past = await entries(`?to=${encodeURIComponent(new Date(Date.now() + 3600e3).toISOString())}&limit=2&page=2`);
        assert.equal(past.items.length, 2);
        assert.equal(past.items[0].id, all.items[2].id);
        const csv = await dtm.api('GET', '/api/audit-log?format=csv&entity=store', { token: admin.accessToken });
        assert.equal(csv.status, 200);
        assert.match(csv.headers['content-type'], /^text\/csv/);
        const lines = csv.text.trim().split('\r\n');
        assert.equal(lines[0], 'id,at,actorId,actorRole,action,entity,entityId,ip,requestId,changes');
        assert.ok(lines.length >= 4);
        assert.match(lines[1], /,manager,store\.deactivate,store,/);
    });

    test('403 for a manager, 400 for bad filters, 401 without a token', async () => {
        assert.equal((await dtm.api('GET', '/api/audit-log', { token: manager.accessToken })).status, 403);
        for (const q of ['?actorId=nope', '?from=yesterday', '?format=xml', '?limit=0']) {
            const r = await dtm.api('GET', `/api/audit-log${q}`, { token: admin.accessToken });
            assert.equal(r.status, 400, `${q}: ${r.text}`);
        }
        assert.equal((await dtm.api('GET', '/api/audit-log')).status, 401);
    });
});

describe('dtm audit verify', () => {
    test('intact; an UPDATE of one row by SQL names that row; a DELETE names the next one', async () => {
        let v = await verify();
        assert.equal(v.code, 0, v.out);
        assert.match(v.out, /audit log: intact, \d+ entries/);
        const ids = (await dtm.sql('SELECT id FROM audit.log ORDER BY id')).map(([x]) => Number(x));
        assert.ok(ids.length >= 5);
        const victim = ids[2];
        const orig = (await dtm.sql(`SELECT changes::text FROM audit.log WHERE id = ${victim}`))[0][0];
        await dtm.sql(`UPDATE audit.log SET changes = '{"role": {"from": "x", "to": "admin"}}' WHERE id = ${victim}`);
        v = await verify();
        assert.equal(v.code, 1, v.out);
        assert.match(v.out, new RegExp(`BROKEN at row ${victim}: row ${victim} does not match its hash`));
        // put it back: intact again (the hash is over the content, nothing else)
        await dtm.sql(`UPDATE audit.log SET changes = '${orig.replace(/'/g, "''")}' WHERE id = ${victim}`);
        assert.equal((await verify()).code, 0);
        // an actor swapped for someone else
        await dtm.sql(`UPDATE audit.log SET actor_id = NULL WHERE id = ${ids[1]}`);
        v = await verify();
        assert.match(v.out, new RegExp(`BROKEN at row ${ids[1]}:`));
        await dtm.sql(`UPDATE audit.log SET actor_id = '${admin.user.id}' WHERE id = ${ids[1]}`);
        // a deleted row: the next one no longer follows its predecessor
        await dtm.sql(`DELETE FROM audit.log WHERE id = ${ids[3]}`);
        v = await verify();
        assert.equal(v.code, 1, v.out);
        assert.match(v.out, new RegExp(`BROKEN at row ${ids[4]}: row ${ids[4]} does not follow row ${ids[2]}`));
    });

    test('deleting the newest rows shows: the head names a missing row', async () => {
        // a fresh chain for this test: the previous one was broken on purpose
        await dtm.sql("TRUNCATE audit.log; UPDATE audit.head SET id = 0, hash = repeat('0', 64)");
        for (let i = 0; i < 3; i++) await dtm.createUser(admin.accessToken);
        assert.equal((await verify()).code, 0);
        const last = Number((await dtm.sql('SELECT max(id) FROM audit.log'))[0][0]);
        await dtm.sql(`DELETE FROM audit.log WHERE id = ${last}`);
        const v = await verify();
        assert.equal(v.code, 1, v.out);
        assert.match(v.out, new RegExp(`BROKEN at row ${last}: the chain ends at row ${last - 1} but its head names row ${last}`));
    });
});
