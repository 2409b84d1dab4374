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

// ---- TOTP ----------------------------------------------------------------------------------------
// oathtool (Debian) is the authenticator: it is what a user's app computes from the secret.

const { execFileSync } = require('node:child_process');

/** The code an authenticator shows `offsetS` seconds from now. */
function totp(secret, offsetS = 0) {
    const at = Math.floor(Date.now() / 1000) + offsetS;
    return execFileSync('oathtool', ['--totp', '-b', secret, '-N', `@${at}`], { encoding: 'utf8' }).trim();
}

/** A user with TOTP enabled: {u, secret, recoveryCodes}. The confirming code is `offsetS` away. */
async function enrolled(offsetS = 0) {
    const u = await dtm.createUser(admin.accessToken);
    const s = await loginAs(u);
    const setup = await dtm.api('POST', '/api/auth/mfa/totp/setup', { token: s.accessToken });
    assert.equal(setup.status, 200, setup.text);
    const c = await dtm.api('POST', '/api/auth/mfa/totp/confirm', { token: s.accessToken, body: { code: totp(setup.json.secret, offsetS) } });
    assert.equal(c.status, 200, c.text);
    return { u, secret: setup.json.secret, recoveryCodes: c.json.recoveryCodes, session: s };
}

async function mfaLogin(u) {
    const r = await dtm.api('POST', '/api/auth/login', { body: { email: u.email, password: u.password } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.mfaRequired, true, r.text);
    assert.equal(typeof r.json.mfaToken, 'string');
    assert.equal(r.json.accessToken, undefined, 'no tokens before the second factor');
    return r.json.mfaToken;
}

describe('TOTP (RFC 6238) with oathtool as the authenticator', () => {
    test('setup: secret, otpauth URI, QR SVG; not active until confirmed; confirm answers 10 recovery codes', async () => {
        const u = await dtm.createUser(admin.accessToken);
        const s = await loginAs(u);
        const r = await dtm.api('POST', '/api/auth/mfa/totp/setup', { token: s.accessToken });
        assert.equal(r.status, 200, r.text);
        assert.match(r.json.secret, /^[A-Z2-7]{32}$/);
        const uri = new URL(r.json.otpauthUri);
        assert.equal(uri.protocol, 'otpauth:');
        assert.equal(uri.host, 'totp');
        assert.equal(decodeURIComponent(uri.pathname), `/dtm:${u.email}`);
        assert.equal(uri.searchParams.get('secret'), r.json.secret);
        assert.equal(uri.searchParams.get('issuer'), 'dtm');
        assert.equal(uri.searchParams.get('algorithm'), 'SHA1');
        assert.equal(uri.searchParams.get('digits'), '6');
        assert.equal(uri.searchParams.get('period'), '30');
        assert.match(r.json.qrSvg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 (\d+) \1"/);
        assert.ok(r.json.qrSvg.endsWith('</svg>'));
        // pending: a login still gets tokens
        assert.ok((await loginAs(u)).accessToken);
        // a second setup replaces the pending secret
        const r2 = await dtm.api('POST', '/api/auth/mfa/totp/setup', { token: s.accessToken });
        assert.notEqual(r2.json.secret, r.json.secret);
        assertError(await dtm.api('POST', '/api/auth/mfa/totp/confirm', { token: s.accessToken, body: { code: totp(r.json.secret) } }), 401, 'invalid_code');
        const c = await dtm.api('POST', '/api/auth/mfa/totp/confirm', { token: s.accessToken, body: { code: totp(r2.json.secret) } });
        assert.equal(c.status, 200, c.text);
        assert.equal(c.json.recoveryCodes.length, 10);
        assert.equal(new Set(c.json.recoveryCodes).size, 10);
        for (const rc of c.json.recoveryCodes) assert.match(rc, /^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
        const stored = await dtm.sql(`SELECT code_hash FROM auth.mfa_recovery_codes WHERE user_id = '${u.id}'`);
        assert.equal(stored.length, 10);
        assert.ok(!stored.some(([h]) => c.json.recoveryCodes.includes(h)), 'stored hashed');
        assertError(await dtm.api('POST', '/api/auth/mfa/totp/setup', { token: s.accessToken }), 409, 'mfa_already_enabled');
        assertError(await dtm.api('POST', '/api/auth/mfa/totp/confirm', { token: s.accessToken, body: { code: totp(r2.json.secret, 30) } }), 409, 'mfa_already_enabled');
    });

    test('login then verify with a code; the same code replayed is refused', async () => {
        const { u, secret } = await enrolled();
        const code = totp(secret, 30); // the confirmation used the current step
        const t1 = await mfaLogin(u);
        const v = await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: t1, code } });
        assert.equal(v.status, 200, v.text);
        for (const k of ['accessToken', 'refreshToken', 'tokenType', 'expiresIn', 'user']) assert.ok(k in v.json, k);
        assert.equal(v.json.user.id, u.id);
        assert.equal((await dtm.api('GET', '/api/auth/me', { token: v.json.accessToken })).status, 200);
        // the mfaToken is spent
        assertError(await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: t1, code } }), 401, 'invalid_token');
        const t2 = await mfaLogin(u);
        assertError(await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: t2, code } }), 401, 'invalid_code');
    });

    test('clock skew: ±30 s accepted, ±90 s refused', async () => {
        for (const [offset, ok] of [[-30, true], [30, true], [-90, false], [90, false]]) {
            const u = await dtm.createUser(admin.accessToken);
            const s = await loginAs(u);
            const setup = await dtm.api('POST', '/api/auth/mfa/totp/setup', { token: s.accessToken });
            const r = await dtm.api('POST', '/api/auth/mfa/totp/confirm', { token: s.accessToken, body: { code: totp(setup.json.secret, offset) } });
            assert.equal(r.status, ok ? 200 : 401, `confirm at ${offset} s: ${r.text}`);
        }
        // and at the login's second step
        const { u, secret } = await enrolled(-30);
        const t = await mfaLogin(u);
        assertError(await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: t, code: totp(secret, -90) } }), 401, 'invalid_code');
        assertError(await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: t, code: totp(secret, 90) } }), 401, 'invalid_code');
        assert.equal((await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: t, code: totp(secret, 30) } })).status, 200);
    });

    test('GET /api/auth/mfa: off, then on with 10 recovery codes, one fewer after one is used', async () => {
        const u = await dtm.createUser(admin.accessToken);
        const s = await loginAs(u);
        const off = await dtm.api('GET', '/api/auth/mfa', { token: s.accessToken });
        assert.equal(off.status, 200, off.text);
        assert.deepEqual(off.json, { totpEnabled: false, recoveryCodesLeft: 0, required: false });
        const e = await enrolled();
        const on = await dtm.api('GET', '/api/auth/mfa', { token: e.session.accessToken });
        assert.deepEqual(on.json, { totpEnabled: true, recoveryCodesLeft: 10, required: false });
        const t = await mfaLogin(e.u);
        assert.equal((await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: t, recoveryCode: e.recoveryCodes[3] } })).status, 200);
        assert.equal((await dtm.api('GET', '/api/auth/mfa', { token: e.session.accessToken })).json.recoveryCodesLeft, 9);
        assertError(await dtm.api('GET', '/api/auth/mfa'), 401);
    });

    test('a recovery code works once', async () => {
        const { u, recoveryCodes } = await enrolled();
        const t1 = await mfaLogin(u);
        const v = await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: t1, recoveryCode: recoveryCodes[0].toUpperCase() } });
        assert.equal(v.status, 200, v.text);
        const t2 = await mfaLogin(u);
        assertError(await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: t2, recoveryCode: recoveryCodes[0] } }), 401, 'invalid_code');
        assert.equal((await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: t2, recoveryCode: recoveryCodes[1] } })).status, 200);
    });

    test('5 tries per mfaToken; then even the right code is refused', async () => {
        const { u, secret } = await enrolled();
        const t = await mfaLogin(u);
        for (let i = 0; i < 5; i++) {
            const r = await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: t, code: '000000' === totp(secret) ? '111111' : '000000' } });
            assertError(r, 401, 'invalid_code');
            assert.equal(r.json.error.details.triesLeft, 4 - i);
        }
        assertError(await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: t, code: totp(secret, 30) } }), 401, 'invalid_token');
    });

    test('wrong codes count per user across mfaTokens: the 5th in a row locks the second step (423)', async () => {
        const { u, secret } = await enrolled();
        const wrong = () => ('000000' === totp(secret) ? '111111' : '000000');
        for (const n of [3, 2]) {
            const t = await mfaLogin(u);
            for (let i = 0; i < n; i++) assertError(await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: t, code: wrong() } }), 401, 'invalid_code');
        }
        const t = await mfaLogin(u);
        const r = await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: t, code: totp(secret, 30) } });
        assertError(r, 423, 'account_locked');
        assert.ok(Number(r.headers['retry-after']) > 0);
    });

    test('400 for a malformed verify body, 401 for an unknown mfaToken', async () => {
        const r1 = await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: 'x' } });
        assertError(r1, 400);
        assertError(await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: 'x', code: '123456', recoveryCode: 'abcd' } }), 400);
        assertError(await dtm.api('POST', '/api/auth/mfa/verify', { body: { code: '123456' } }), 400);
        assertError(await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: 'nope', code: '123456' } }), 401, 'invalid_token');
        assertError(await dtm.api('POST', '/api/auth/mfa/totp/setup'), 401);
    });

    test('DELETE /mfa/totp with a code turns it off; a wrong code is 401', async () => {
        const { u, secret, session } = await enrolled();
        assertError(await dtm.api('DELETE', '/api/auth/mfa/totp', { token: session.accessToken, body: { code: '12345x' } }), 401, 'invalid_code');
        const d = await dtm.api('DELETE', '/api/auth/mfa/totp', { token: session.accessToken, body: { code: totp(secret, 30) } });
        assert.equal(d.status, 204, d.text);
        assert.ok((await loginAs(u)).accessToken, 'login without a second step again');
        assertError(await dtm.api('DELETE', '/api/auth/mfa/totp', { token: session.accessToken, body: { code: totp(secret) } }), 404);
    });

    test("admin: DELETE /api/users/:id/mfa resets another user's MFA; others get 403; unknown 404", async () => {
        const { u, session } = await enrolled();
        assertError(await dtm.api('DELETE', `/api/users/${u.id}/mfa`, { token: session.accessToken }), 403);
        assertError(await dtm.api('DELETE', '/api/users/00000000-0000-4000-8000-000000000000/mfa', { token: admin.accessToken }), 404);
        const r = await dtm.api('DELETE', `/api/users/${u.id}/mfa`, { token: admin.accessToken });
        assert.equal(r.status, 204, r.text);
        assert.ok((await loginAs(u)).accessToken);
    });
});

describe('DTM_MFA_REQUIRED_ROLES=manager forces enrolment at the next login', () => {
    let d, dAdmin;
    before(async () => {
        d = await startDtm({ env: { DTM_MFA_REQUIRED_ROLES: 'admin,manager' } });
        // the admin must enrol too: do it through the enrolment calls
        const first = await d.api('POST', '/api/auth/login', { body: { email: d.admin.email, password: d.admin.password } });
        assert.equal(first.json.mfaEnrollmentRequired, true, first.text);
        const e = await d.api('POST', '/api/auth/mfa/enroll', { body: { mfaToken: first.json.mfaToken } });
        assert.equal(e.status, 200, e.text);
        const c = await d.api('POST', '/api/auth/mfa/enroll/confirm', { body: { mfaToken: first.json.mfaToken, code: totp(e.json.secret) } });
        assert.equal(c.status, 200, c.text);
        assert.equal(c.json.recoveryCodes.length, 10);
        dAdmin = c.json;
    });
    after(() => d?.stop());

    test('a manager gets an enrolment mfaToken, enrols with it, then logs in with a code', async () => {
        const u = await d.createUser(dAdmin.accessToken, { role: 'manager' });
        const r = await d.api('POST', '/api/auth/login', { body: { email: u.email, password: u.password } });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.mfaRequired, true);
        assert.equal(r.json.mfaEnrollmentRequired, true);
        assert.equal(r.json.accessToken, undefined);
        // the enrolment token is no login token
        assertError(await d.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: r.json.mfaToken, code: '123456' } }), 401, 'invalid_token');
        const e = await d.api('POST', '/api/auth/mfa/enroll', { body: { mfaToken: r.json.mfaToken } });
        assert.equal(e.status, 200, e.text);
        assertError(await d.api('POST', '/api/auth/mfa/enroll/confirm', { body: { mfaToken: r.json.mfaToken, code: '000000' === totp(e.json.secret) ? '111111' : '000000' } }), 401, 'invalid_code');
        const c = await d.api('POST', '/api/auth/mfa/enroll/confirm', { body: { mfaToken: r.json.mfaToken, code: totp(e.json.secret) } });
        assert.equal(c.status, 200, c.text);
        assert.ok(c.json.accessToken && c.json.refreshToken && c.json.user);
        assert.equal(c.json.recoveryCodes.length, 10);
        assertError(await d.api('POST', '/api/auth/mfa/enroll', { body: { mfaToken: r.json.mfaToken } }), 401, 'invalid_token');
        const again = await d.api('POST', '/api/auth/login', { body: { email: u.email, password: u.password } });
        assert.equal(again.json.mfaRequired, true);
        assert.equal(again.json.mfaEnrollmentRequired, undefined);
        const v = await d.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: again.json.mfaToken, code: totp(e.json.secret, 30) } });
        assert.equal(v.status, 200, v.text);
    });

    test('GET /api/auth/mfa says it is required', async () => {
        const r = await d.api('GET', '/api/auth/mfa', { token: dAdmin.accessToken });
        assert.deepEqual(r.json, { totpEnabled: true, recoveryCodesLeft: 10, required: true });
    });

    test('a merchandiser is not asked', async () => {
        const u = await d.createUser(dAdmin.accessToken, { role: 'merchandiser' });
        const r = await d.api('POST', '/api/auth/login', { body: { email: u.email, password: u.password } });
        assert.ok(r.json.accessToken, r.text);
    });
});

// ---- password reset ------------------------------------------------------------------------------

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const sha256hex = (s) => crypto.createHash('sha256').update(s).digest('hex');
// The mailed link is written to the outbox only for a subscribed consumer: the notifications
// service. Without it in this build the token flow is driven by a token the test plants in
// auth.password_resets (hashed, as the service stores it).
const NOTIFICATIONS = fs.existsSync(path.join(__dirname, '..', '..', 'src', 'services', 'notifications', 'routes.c'));

async function plantResetToken(userId, expiresIn = '1 hour') {
    const token = crypto.randomBytes(32).toString('base64url');
    await dtm.sql(`INSERT INTO auth.password_resets (token_hash, user_id, expires_at) VALUES ('${sha256hex(token)}', '${userId}', now() + interval '${expiresIn}')`);
    return token;
}

async function eventually(fn, ms, what) {
    const deadline = Date.now() + ms;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
        await sleep(100);
    }
}

const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2;
};

describe('POST /api/auth/forgot-password, POST /api/auth/reset-password', () => {
    test('202 whether or not the account exists; a hashed 1 h token only for an existing one', async () => {
        const u = await dtm.createUser(admin.accessToken);
        for (const email of [u.email, `nobody-${Date.now()}@example.com`, 'not an address']) {
            const r = await dtm.api('POST', '/api/auth/forgot-password', { body: { email } });
            assert.equal(r.status, 202, r.text);
            assert.equal(r.text, '');
        }
        const rows = await eventually(
            async () => {
                const x = await dtm.sql(`SELECT token_hash, round(extract(epoch FROM expires_at - created_at)) FROM auth.password_resets WHERE user_id = '${u.id}'`);
                return x.length ? x : null;
            },
            5000,
            'reset token row'
        );
        assert.equal(rows.length, 1);
        assert.match(rows[0][0], /^[0-9a-f]{64}$/);
        assert.equal(Number(rows[0][1]), 3600);
        assertError(await dtm.api('POST', '/api/auth/forgot-password', { body: {} }), 400);
        assertError(await dtm.api('POST', '/api/auth/forgot-password', { body: { email: 5 } }), 400);
    });

    test('reset: weak password 400 (the link still works); then 204, every session revoked, single use', async () => {
        const u = await dtm.createUser(admin.accessToken);
        const a = await loginAs(u);
        const b = await loginAs(u);
        const token = await plantResetToken(u.id);
        const weak = await dtm.api('POST', '/api/auth/reset-password', { body: { token, newPassword: 'short' } });
        assertError(weak, 400);
        assert.ok(weak.json.error.details.some((d) => d.field === 'newPassword'), weak.text);
        const newPassword = 'Reset-pass-' + crypto.randomBytes(4).toString('hex');
        const r = await dtm.api('POST', '/api/auth/reset-password', { body: { token, newPassword } });
        assert.equal(r.status, 204, r.text);
        assertError(await dtm.api('POST', '/api/auth/login', { body: { email: u.email, password: u.password } }), 401, 'invalid_credentials');
        assert.ok((await loginAs({ email: u.email, password: newPassword })).accessToken);
        for (const s of [a, b]) {
            assertError(await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: s.refreshToken } }), 401, 'invalid_token');
            assertError(await dtm.api('GET', '/api/auth/me', { token: s.accessToken }), 401, 'invalid_token');
        }
        assertError(await dtm.api('POST', '/api/auth/reset-password', { body: { token, newPassword: 'Another-one-123' } }), 401, 'invalid_token');
    });

    test('401 invalid_token for an unknown or expired token; a newer request voids the older token', async () => {
        const u = await dtm.createUser(admin.accessToken);
        assertError(await dtm.api('POST', '/api/auth/reset-password', { body: { token: 'nope', newPassword: 'Long-enough-123' } }), 401, 'invalid_token');
        const old = await plantResetToken(u.id, '-1 second');
        assertError(await dtm.api('POST', '/api/auth/reset-password', { body: { token: old, newPassword: 'Long-enough-123' } }), 401, 'invalid_token');
        const first = await plantResetToken(u.id);
        assert.equal((await dtm.api('POST', '/api/auth/forgot-password', { body: { email: u.email } })).status, 202);
        await eventually(
            async () => (await dtm.sql(`SELECT count(*) FROM auth.password_resets WHERE user_id = '${u.id}' AND used_at IS NULL`))[0][0] === '1' &&
                (await dtm.sql(`SELECT count(*) FROM auth.password_resets WHERE user_id = '${u.id}'`))[0][0] === '3',
            5000,
            'new token, older voided'
        );
        assertError(await dtm.api('POST', '/api/auth/reset-password', { body: { token: first, newPassword: 'Long-enough-123' } }), 401, 'invalid_token');
        assertError(await dtm.api('POST', '/api/auth/reset-password', { body: { newPassword: 'Long-enough-123' } }), 400);
    });

    test('timing: 200 samples each for an existing and an unknown e-mail, medians within 10 %', async () => {
        const u = await dtm.createUser(admin.accessToken);
        const unknown = `nobody-${Date.now()}@example.com`;
        const known = [], missing = [];
        const once = async (email) => {
            const t0 = process.hrtime.bigint();
            const r = await dtm.api('POST', '/api/auth/forgot-password', { body: { email } });
            const dt = Number(process.hrtime.bigint() - t0) / 1e6;
            assert.equal(r.status, 202);
            return dt;
        };
        for (let i = 0; i < 20; i++) await once(i % 2 ? u.email : unknown); // warm-up
        for (let i = 0; i < 200; i++) {
            // interleaved, in alternating order, so drift and background work hit both alike
            if (i % 2) {
                known.push(await once(u.email));
                missing.push(await once(unknown));
            } else {
                missing.push(await once(unknown));
                known.push(await once(u.email));
            }
        }
        const mk = median(known), mm = median(missing);
        console.log(`# forgot-password median: existing ${mk.toFixed(3)} ms, unknown ${mm.toFixed(3)} ms (${dtm.topology})`);
        assert.ok(Math.abs(mk - mm) / Math.min(mk, mm) <= 0.1, `medians ${mk} vs ${mm} ms differ by more than 10 %`);
    });

    test('the mailed link (outbox payload) works once; password_changed is published', { skip: !NOTIFICATIONS && 'no consumer of auth.password_reset_requested in this build (the notifications service)' }, async () => {
        const u = await dtm.createUser(admin.accessToken);
        assert.equal((await dtm.api('POST', '/api/auth/forgot-password', { body: { email: u.email } })).status, 202);
        const payload = await eventually(
            async () => {
                const x = await dtm.sql(`SELECT payload::text FROM auth.outbox WHERE topic = 'auth.password_reset_requested' AND payload->>'userId' = '${u.id}' AND consumer = 'notifications'`);
                return x.length ? JSON.parse(x[0][0]) : null;
            },
            5000,
            'outbox row'
        );
        assert.equal(payload.email, u.email);
        assert.match(payload.expiresAt, ISO_RE);
        assert.equal(typeof payload.name, 'string');
        const token = new URL(payload.resetUrl).searchParams.get('token');
        assert.equal((await dtm.api('POST', '/api/auth/reset-password', { body: { token, newPassword: 'Mailed-link-123' } })).status, 204);
        assertError(await dtm.api('POST', '/api/auth/reset-password', { body: { token, newPassword: 'Mailed-link-456' } }), 401, 'invalid_token');
        const changed = await dtm.sql(`SELECT payload::text FROM auth.outbox WHERE topic = 'auth.password_changed' AND payload->>'userId' = '${u.id}'`);
        assert.equal(changed.length, 1);
    });
});
