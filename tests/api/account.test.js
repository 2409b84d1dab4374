// SPDX-License-Identifier: MIT
// Account security (issue 14, shared/API.md "Account security"): sessions, TOTP MFA, password
// reset. Revocation has its own suite (revocation.test.js), the audit log too (audit-log.test.js).
'use strict';

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startDtm, sleep } = require('./lib/harness.js');

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function assertError(r, status, code) {
    assert.equal(r.status, status, `expected ${status} ${code || ''}, got ${r.status} ${r.text}`);
    assert.ok(r.json && r.json.error, `error body: ${r.text}`);
    if (code) assert.equal(r.json.error.code, code, r.text);
    assert.equal(typeof r.json.error.message, 'string');
}

let dtm, admin;
before(async () => {
    dtm = await startDtm({ env: { DTM_LOGIN_LIMIT_PER_IP: '100000', DTM_LOGIN_LIMIT_PER_EMAIL: '100000' } });
    admin = await dtm.loginAdmin();
});
after(() => dtm?.stop());

async function loginAs(u, headers = {}) {
    const r = await dtm.api('POST', '/api/auth/login', { body: { email: u.email, password: u.password }, headers });
    assert.equal(r.status, 200, r.text);
    return r.json;
}

// ---- sessions ----------------------------------------------------------------------------------

describe('GET /api/auth/sessions, DELETE /api/auth/sessions/:id', () => {
    test('each login is a session: device from the User-Agent, ip, createdAt, lastUsedAt, current', async () => {
        const u = await dtm.createUser(admin.accessToken);
        const laptop = await loginAs(u, { 'user-agent': FIREFOX });
        const cli = await loginAs(u, { 'user-agent': 'curl/8.5.0' });
        const r = await dtm.api('GET', '/api/auth/sessions', { token: laptop.accessToken });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.items.length, 2);
        for (const s of r.json.items) {
            assert.match(s.id, UUID_RE);
            assert.match(s.createdAt, ISO_RE);
            assert.match(s.lastUsedAt, ISO_RE);
            assert.equal(s.ip, '127.0.0.1');
        }
        const mine = r.json.items.find((s) => s.current);
        assert.ok(mine, 'the caller\'s session is marked current');
        assert.equal(mine.device, 'Firefox on Linux');
        assert.equal(mine.userAgent, FIREFOX);
        const other = r.json.items.find((s) => !s.current);
        assert.equal(other.device, 'curl');
        // the other user sees only theirs
        const o = await dtm.api('GET', '/api/auth/sessions', { token: admin.accessToken });
        assert.ok(!o.json.items.some((s) => s.id === mine.id || s.id === other.id));
        // a refresh is a use of the same session (same id, later lastUsedAt)
        await sleep(20);
        const ref = await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: cli.refreshToken } });
        assert.equal(ref.status, 200, ref.text);
        const after1 = await dtm.api('GET', '/api/auth/sessions', { token: ref.json.accessToken });
        const same = after1.json.items.find((s) => s.id === other.id);
        assert.ok(same, 'same session after refresh');
        assert.ok(same.current);
        assert.ok(same.lastUsedAt > other.lastUsedAt, `${same.lastUsedAt} > ${other.lastUsedAt}`);
    });

    test('revoking a session: its refresh and access tokens stop working, the others go on', async () => {
        const u = await dtm.createUser(admin.accessToken);
        const a = await loginAs(u);
        const b = await loginAs(u);
        const list = await dtm.api('GET', '/api/auth/sessions', { token: a.accessToken });
        const target = list.json.items.find((s) => !s.current);
        const d = await dtm.api('DELETE', `/api/auth/sessions/${target.id}`, { token: a.accessToken });
        assert.equal(d.status, 204, d.text);
        assertError(await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: b.refreshToken } }), 401, 'invalid_token');
        assertError(await dtm.api('GET', '/api/auth/me', { token: b.accessToken }), 401, 'invalid_token');
        assert.equal((await dtm.api('GET', '/api/auth/me', { token: a.accessToken })).status, 200);
        const l2 = await dtm.api('GET', '/api/auth/sessions', { token: a.accessToken });
        assert.deepEqual(l2.json.items.map((s) => s.id), list.json.items.filter((s) => s.current).map((s) => s.id));
        // twice: gone
        assertError(await dtm.api('DELETE', `/api/auth/sessions/${target.id}`, { token: a.accessToken }), 404, 'not_found');
    });

    test("404 for someone else's session, an unknown or malformed id; logout ends a session", async () => {
        const u = await dtm.createUser(admin.accessToken);
        const a = await loginAs(u);
        const theirs = (await dtm.api('GET', '/api/auth/sessions', { token: admin.accessToken })).json.items[0];
        assertError(await dtm.api('DELETE', `/api/auth/sessions/${theirs.id}`, { token: a.accessToken }), 404, 'not_found');
        assert.equal((await dtm.api('GET', '/api/auth/me', { token: admin.accessToken })).status, 200, 'untouched');
        assertError(await dtm.api('DELETE', '/api/auth/sessions/00000000-0000-4000-8000-000000000000', { token: a.accessToken }), 404);
        assertError(await dtm.api('DELETE', '/api/auth/sessions/not-a-uuid', { token: a.accessToken }), 404);
        const b = await loginAs(u);
        assert.equal((await dtm.api('POST', '/api/auth/logout', { token: b.accessToken })).status, 204);
        const l = await dtm.api('GET', '/api/auth/sessions', { token: a.accessToken });
        assert.equal(l.json.items.length, 1, 'the logged-out session is not listed');
    });

    test('401 without a token', async () => {
        assertError(await dtm.api('GET', '/api/auth/sessions'), 401);
        assertError(await dtm.api('DELETE', '/api/auth/sessions/00000000-0000-4000-8000-000000000000'), 401);
    });
});
