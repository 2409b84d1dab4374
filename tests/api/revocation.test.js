// SPDX-License-Identifier: MIT
// Revocation within 5 s (issue 14): deactivating a user, changing their role or their password
// makes their outstanding access tokens fail in every process within 5 s, also while Redis is
// down (each process re-reads auth.user_epochs / auth.revoked_access_tokens every 2 s then).
// Run in both topologies: DTM_TEST_TOPOLOGY=micro puts users, auth and todos in separate
// processes, so the token is refused by a process that did not make the change.
'use strict';

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startDtm, startRedis, sleep } = require('./lib/harness.js');

const LIMIT_MS = 5000;

/** Milliseconds until `path` answers 401 invalid_token with `token` (throws after LIMIT_MS). */
async function refusedWithin(d, token, path = '/api/todos') {
    const t0 = Date.now();
    let last;
    for (;;) {
        last = await d.api('GET', path, { token });
        if (last.status === 401) {
            assert.equal(last.json.error.code, 'invalid_token', last.text);
            return Date.now() - t0;
        }
        assert.equal(last.status, 200, `${path}: ${last.text}`);
        if (Date.now() - t0 > LIMIT_MS) assert.fail(`${path} still ${last.status} after ${LIMIT_MS} ms`);
        await sleep(50);
    }
}

async function holdsToken(d, admin, fields = {}) {
    const u = await d.createUser(admin.accessToken, fields);
    const s = await d.login(u.email, u.password);
    assert.equal((await d.api('GET', '/api/todos', { token: s.accessToken })).status, 200);
    return { u, s };
}

describe('revocation with Redis up', () => {
    let d, admin;
    before(async () => {
        d = await startDtm();
        admin = await d.loginAdmin();
    });
    after(() => d?.stop());

    test('deactivation: 401 within 5 s in every process (todos, auth), refresh refused', async () => {
        const { u, s } = await holdsToken(d, admin);
        assert.equal((await d.api('DELETE', `/api/users/${u.id}`, { token: admin.accessToken })).status, 204);
        const ms = await refusedWithin(d, s.accessToken);
        await refusedWithin(d, s.accessToken, '/api/auth/me');
        await refusedWithin(d, s.accessToken, `/api/users/${u.id}`);
        console.log(`# deactivation refused after ${ms} ms (${d.topology})`);
        const r = await d.api('POST', '/api/auth/refresh', { body: { refreshToken: s.refreshToken } });
        assert.equal(r.status, 401, r.text);
    });

    test('PATCH active:false revokes too; PATCH of names does not', async () => {
        const { u, s } = await holdsToken(d, admin);
        const names = await d.api('PATCH', `/api/users/${u.id}`, { token: admin.accessToken, body: { firstName: 'Renamed' } });
        assert.equal(names.status, 200, names.text);
        await sleep(300);
        assert.equal((await d.api('GET', '/api/todos', { token: s.accessToken })).status, 200, 'a rename revokes nothing');
        const p = await d.api('PATCH', `/api/users/${u.id}`, { token: admin.accessToken, body: { active: false } });
        assert.equal(p.status, 200, p.text);
        await refusedWithin(d, s.accessToken);
    });

    test('role change: the old token is refused; a refreshed one carries the new role and works', async () => {
        const { u, s } = await holdsToken(d, admin, { role: 'merchandiser' });
        const p = await d.api('PATCH', `/api/users/${u.id}`, { token: admin.accessToken, body: { role: 'manager' } });
        assert.equal(p.status, 200, p.text);
        await refusedWithin(d, s.accessToken);
        // At once, in the same second as the change: the new token must not fall under the epoch.
        const r = await d.api('POST', '/api/auth/refresh', { body: { refreshToken: s.refreshToken } });
        assert.equal(r.status, 200, r.text);
        const role = JSON.parse(Buffer.from(r.json.accessToken.split('.')[1], 'base64url')).role;
        assert.equal(role, 'manager');
        assert.equal((await d.api('GET', '/api/todos', { token: r.json.accessToken })).status, 200);
        const again = await d.login(u.email, u.password);
        assert.equal((await d.api('GET', '/api/auth/me', { token: again.accessToken })).status, 200);
    });

    test("change-password: the other session's access token is refused, the caller's is not", async () => {
        const { u, s: other } = await holdsToken(d, admin);
        const me = await d.login(u.email, u.password);
        const r = await d.api('POST', '/api/auth/change-password', {
            token: me.accessToken,
            body: { currentPassword: u.password, newPassword: 'Another-pass-123' },
        });
        assert.equal(r.status, 204, r.text);
        await refusedWithin(d, other.accessToken);
        assert.equal((await d.api('GET', '/api/todos', { token: me.accessToken })).status, 200);
    });

    test('`dtm user create-admin` on an existing account revokes its tokens too (and is audited)', async () => {
        const { u, s } = await holdsToken(d, admin, { role: 'merchandiser' });
        await d.dtm(['user', 'create-admin', '--email', u.email, '--password', 'Promoted-pass-123']);
        await refusedWithin(d, s.accessToken);
        const rows = await d.sql(`SELECT actor_role, action, changes->'role'->>'to', (changes->>'passwordReset') FROM audit.log WHERE entity_id = '${u.id}' ORDER BY id DESC LIMIT 1`);
        assert.deepEqual(rows[0], ['cli', 'user.update', 'admin', 'true']);
    });

    test('a token of another user is untouched', async () => {
        const { s: keep } = await holdsToken(d, admin);
        const { u } = await holdsToken(d, admin);
        assert.equal((await d.api('DELETE', `/api/users/${u.id}`, { token: admin.accessToken })).status, 204);
        await sleep(500);
        assert.equal((await d.api('GET', '/api/todos', { token: keep.accessToken })).status, 200);
    });

    test('a revocation made behind dtm\'s back (SQL) is found by the poll within 10 s + margin', async () => {
        // No PUBLISH: only the periodic look at PostgreSQL can find it (the bound on a lost message).
        const { u, s } = await holdsToken(d, admin);
        await d.sql(`INSERT INTO auth.user_epochs (user_id, valid_after) VALUES ('${u.id}', extract(epoch FROM now())::bigint + 1)`);
        const t0 = Date.now();
        let status;
        while (Date.now() - t0 < 13000) {
            status = (await d.api('GET', '/api/todos', { token: s.accessToken })).status;
            if (status === 401) break;
            await sleep(200);
        }
        assert.equal(status, 401, 'found by polling');
    });
});

describe('revocation with Redis stopped', () => {
    let d, redis, admin;
    before(async () => {
        redis = await startRedis();
        d = await startDtm({ redis });
        admin = await d.loginAdmin();
    });
    after(async () => {
        try {
            await d?.stop();
        } finally {
            await redis?.destroy();
        }
    });

    test('deactivation and role change: 401 within 5 s in every process; logout holds', async () => {
        const a = await holdsToken(d, admin);
        const b = await holdsToken(d, admin);
        const c = await holdsToken(d, admin);
        await redis.stop();
        try {
            assert.equal((await d.api('DELETE', `/api/users/${a.u.id}`, { token: admin.accessToken })).status, 204);
            const ms = await refusedWithin(d, a.s.accessToken);
            await refusedWithin(d, a.s.accessToken, '/api/auth/me');
            console.log(`# deactivation with Redis down refused after ${ms} ms (${d.topology})`);

            const p = await d.api('PATCH', `/api/users/${b.u.id}`, { token: admin.accessToken, body: { role: 'manager' } });
            assert.equal(p.status, 200, p.text);
            await refusedWithin(d, b.s.accessToken);

            assert.equal((await d.api('POST', '/api/auth/logout', { token: c.s.accessToken })).status, 204);
            await refusedWithin(d, c.s.accessToken);
            await refusedWithin(d, c.s.accessToken, '/api/auth/me');
        } finally {
            await redis.start();
        }
        // Redis back: nothing is forgotten.
        await sleep(1500);
        for (const t of [a.s.accessToken, b.s.accessToken, c.s.accessToken])
            assert.equal((await d.api('GET', '/api/todos', { token: t })).status, 401);
        // and pub/sub works again: a new deactivation is quick
        const e = await holdsToken(d, admin);
        assert.equal((await d.api('DELETE', `/api/users/${e.u.id}`, { token: admin.accessToken })).status, 204);
        await refusedWithin(d, e.s.accessToken);
    });
});
