// SPDX-License-Identifier: MIT
// Black-box tests of /api/auth (shared/API.md): every call and every error, with all three roles.
'use strict';

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startDtm, startRedis, sleep, randomId } = require('./lib/harness.js');

// ---- helpers ---------------------------------------------------------------------------------

const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
const kidOf = (secret) => crypto.createHash('sha256').update(secret).digest('hex').slice(0, 8);
const sha256hex = (s) => crypto.createHash('sha256').update(s).digest('hex');

function signJwt(payload, secret, header = { alg: 'HS256', typ: 'JWT', kid: kidOf(secret) }) {
    const data = `${b64u(header)}.${b64u(payload)}`;
    const sig = crypto.createHmac('sha256', secret).update(data).digest('base64url');
    return `${data}.${sig}`;
}

function decodeJwt(token) {
    const [h, p] = token.split('.');
    return {
        header: JSON.parse(Buffer.from(h, 'base64url').toString()),
        payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
    };
}

function assertError(r, status, code) {
    assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status} ${r.text}`);
    assert.ok(r.json && r.json.error, `error body: ${r.text}`);
    if (code) assert.equal(r.json.error.code, code, r.text);
    assert.equal(typeof r.json.error.message, 'string');
    assert.ok(r.json.requestId, 'requestId in error body');
    assert.doesNotMatch(r.text, /SELECT|INSERT|UPDATE|syntax error|stack/i);
}

function assertFieldNamed(r, field) {
    assertError(r, 400);
    const details = r.json.error.details || [];
    assert.ok(
        details.some((d) => d.field === field),
        `details should name ${field}: ${JSON.stringify(details)}`
    );
}

function assertUserShape(u) {
    for (const k of ['id', 'email', 'firstName', 'lastName', 'role', 'active', 'createdAt', 'updatedAt']) {
        assert.ok(k in u, `user.${k} present: ${JSON.stringify(u)}`);
    }
    assert.ok('lastLoginAt' in u);
    assert.match(u.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const text = JSON.stringify(u).toLowerCase();
    assert.ok(!text.includes('password') && !text.includes('argon2') && !text.includes('hash'), text);
}

// Everything in one dtm whose login limits are out of the way; the limits have their own.
let dtm;
let admin; // login body of the admin
const users = {};

before(async () => {
    dtm = await startDtm({
        env: { DTM_LOGIN_LIMIT_PER_IP: '100000', DTM_LOGIN_LIMIT_PER_EMAIL: '100000' },
    });
    admin = await dtm.loginAdmin();
    users.manager = await dtm.createUser(admin.accessToken, { role: 'manager' });
    users.merch = await dtm.createUser(admin.accessToken, { role: 'merchandiser' });
});

after(async () => {
    if (dtm) await dtm.stop();
});

// ---- login -----------------------------------------------------------------------------------

describe('POST /api/auth/login', () => {
    test('admin, manager and merchandiser get a token pair and their user', async () => {
        for (const [role, email, password] of [
            ['admin', dtm.admin.email, dtm.admin.password],
            ['manager', users.manager.email, users.manager.password],
            ['merchandiser', users.merch.email, users.merch.password],
        ]) {
            const r = await dtm.api('POST', '/api/auth/login', { body: { email, password } });
            assert.equal(r.status, 200, r.text);
            const b = r.json;
            assert.equal(b.tokenType, 'Bearer');
            assert.equal(b.expiresIn, 900);
            assert.equal(typeof b.accessToken, 'string');
            assert.equal(typeof b.refreshToken, 'string');
            assert.ok(b.refreshToken.length >= 43, 'refresh token carries 32 random bytes');
            assertUserShape(b.user);
            assert.equal(b.user.role, role);
            assert.equal(b.user.email, email);
            assert.ok(b.user.lastLoginAt, 'lastLoginAt set by the login');
            const { header, payload } = decodeJwt(b.accessToken);
            assert.equal(header.alg, 'HS256');
            assert.equal(header.kid, kidOf(dtm.env.DTM_JWT_SECRET));
            assert.equal(payload.sub, b.user.id);
            assert.equal(payload.role, role);
            assert.equal(payload.iss, 'dtm');
            assert.match(payload.jti, /^[0-9a-f-]{36}$/);
            assert.equal(payload.exp - payload.iat, 900);
        }
    });

    test('e-mail is case-insensitive; unknown fields are ignored', async () => {
        const r = await dtm.api('POST', '/api/auth/login', {
            body: { email: dtm.admin.email.toUpperCase(), password: dtm.admin.password, remember: true, x: [1] },
        });
        assert.equal(r.status, 200, r.text);
    });

    test('wrong password and unknown e-mail give the same 401 invalid_credentials', async () => {
        const u = await dtm.createUser(admin.accessToken);
        const a = await dtm.api('POST', '/api/auth/login', { body: { email: u.email, password: 'wrong-password-1' } });
        assertError(a, 401, 'invalid_credentials');
        const b = await dtm.api('POST', '/api/auth/login', {
            body: { email: `nobody-${randomId()}@example.com`, password: 'wrong-password-1' },
        });
        assertError(b, 401, 'invalid_credentials');
        assert.equal(a.json.error.message, b.json.error.message);
    });

    test('missing fields and wrong types are 400 naming the field', async () => {
        assertFieldNamed(await dtm.api('POST', '/api/auth/login', { body: { password: 'x' } }), 'email');
        assertFieldNamed(await dtm.api('POST', '/api/auth/login', { body: { email: 'a@example.com' } }), 'password');
        assertFieldNamed(await dtm.api('POST', '/api/auth/login', { body: { email: 42, password: 'x' } }), 'email');
        assertFieldNamed(
            await dtm.api('POST', '/api/auth/login', { body: { email: 'a@example.com', password: ['x'] } }),
            'password'
        );
        // NUL bytes are refused outright (the JSON parser rejects \u0000)
        assertError(await dtm.api('POST', '/api/auth/login', { body: { email: 'a@example.com', password: 'a\u0000b' } }), 400);
    });

    test('malformed JSON is 400, wrong content type 415', async () => {
        const bad = await dtm.api('POST', '/api/auth/login', {
            body: '{"email": "a@example.com",',
            headers: { 'content-type': 'application/json' },
        });
        assertError(bad, 400);
        assert.match(bad.json.error.message, /line|column|position/i);
        const form = await dtm.api('POST', '/api/auth/login', {
            body: 'email=a&password=b',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        assertError(form, 415);
        const arr = await dtm.api('POST', '/api/auth/login', { body: [1, 2] });
        assertError(arr, 400);
    });

    test('huge bodies are 413, huge fields 400', async () => {
        const big = await dtm.api('POST', '/api/auth/login', {
            body: { email: 'a@example.com', password: 'x'.repeat(20000) },
        });
        assertError(big, 413);
        assertFieldNamed(
            await dtm.api('POST', '/api/auth/login', { body: { email: `${'a'.repeat(2000)}@example.com`, password: 'x' } }),
            'email'
        );
    });

    test('SQL-looking and quoted input is just a wrong credential', async () => {
        for (const email of ["' OR 1=1 --", "admin@example.com' --", 'admin@example.com"; DROP TABLE users.users; --']) {
            const r = await dtm.api('POST', '/api/auth/login', { body: { email, password: "' OR '1'='1" } });
            assertError(r, 401, 'invalid_credentials');
        }
        const still = await dtm.api('POST', '/api/auth/login', {
            body: { email: dtm.admin.email, password: dtm.admin.password },
        });
        assert.equal(still.status, 200);
    });

    test('a deactivated account gets 403 account_disabled, but only with the right password', async () => {
        const u = await dtm.createUser(admin.accessToken);
        const del = await dtm.api('DELETE', `/api/users/${u.id}`, { token: admin.accessToken });
        assert.equal(del.status, 204);
        assertError(
            await dtm.api('POST', '/api/auth/login', { body: { email: u.email, password: u.password } }),
            403,
            'account_disabled'
        );
        assertError(
            await dtm.api('POST', '/api/auth/login', { body: { email: u.email, password: 'not-the-password' } }),
            401,
            'invalid_credentials'
        );
    });

    test('5 consecutive failures lock the account for 15 minutes (423), others unaffected', async () => {
        const u = await dtm.createUser(admin.accessToken);
        const other = await dtm.createUser(admin.accessToken);
        // Failures that are followed by a success do not count.
        for (let i = 0; i < 4; i++) {
            const r = await dtm.api('POST', '/api/auth/login', { body: { email: u.email, password: `bad-${i}-password` } });
            assertError(r, 401, 'invalid_credentials');
        }
        assert.equal((await dtm.api('POST', '/api/auth/login', { body: { email: u.email, password: u.password } })).status, 200);
        for (let i = 0; i < 5; i++) {
            const r = await dtm.api('POST', '/api/auth/login', {
                body: { email: u.email.toUpperCase(), password: `bad-${i}-password` },
            });
            assertError(r, 401, 'invalid_credentials');
        }
        const locked = await dtm.api('POST', '/api/auth/login', { body: { email: u.email, password: u.password } });
        assertError(locked, 423, 'account_locked');
        const retry = Number(locked.headers['retry-after']);
        assert.ok(retry > 14 * 60 && retry <= 15 * 60, `Retry-After ${retry}`);
        const rows = await dtm.sql(`SELECT failures, locked_until > now() + interval '14 minutes' FROM auth.login_failures WHERE email = '${u.email}'`);
        assert.deepEqual(rows, [['5', 't']]);
        // Someone else is not locked.
        assert.equal((await dtm.api('POST', '/api/auth/login', { body: { email: other.email, password: other.password } })).status, 200);
        // When the lock has run out, the right password works again and clears the count.
        await dtm.sql(`UPDATE auth.login_failures SET locked_until = now() - interval '1 second' WHERE email = '${u.email}'`);
        assert.equal((await dtm.api('POST', '/api/auth/login', { body: { email: u.email, password: u.password } })).status, 200);
        assert.deepEqual(await dtm.sql(`SELECT count(*) FROM auth.login_failures WHERE email = '${u.email}'`), [['0']]);
    });

    test('logins are counted in /metrics by result', async () => {
        // The auth service's own /metrics: the one process in `all`, its replica in `micro`.
        const auth = dtm.topology === 'micro' ? dtm.replicas('auth')[0] : null;
        const r = await dtm.api('GET', '/metrics', auth ? { base: auth.url } : {});
        assert.equal(r.status, 200);
        const val = (result) => {
            const m = new RegExp(`^dtm_logins_total\\{result="${result}"\\} (\\d+)`, 'm').exec(r.text);
            return m ? Number(m[1]) : -1;
        };
        assert.ok(val('success') >= 3, r.text.slice(0, 400));
        assert.ok(val('invalid_credentials') >= 1);
        assert.ok(val('account_locked') >= 1);
        assert.ok(val('account_disabled') >= 1);
    });
});

// ---- tokens at the door ----------------------------------------------------------------------

describe('bearer tokens', () => {
    test('a token we forge with the right key is accepted (so the negatives below mean something)', async () => {
        const now = Math.floor(Date.now() / 1000);
        const t = signJwt(
            { sub: admin.user.id, role: 'admin', jti: crypto.randomUUID(), iat: now, exp: now + 60, iss: 'dtm' },
            dtm.env.DTM_JWT_SECRET
        );
        const r = await dtm.api('GET', '/api/auth/me', { token: t });
        assert.equal(r.status, 200, r.text);
    });

    test('missing, tampered, alg none, wrong key, expired and not-yet-valid tokens are 401', async () => {
        const now = Math.floor(Date.now() / 1000);
        const secret = dtm.env.DTM_JWT_SECRET;
        const merch = await dtm.login(users.merch.email, users.merch.password);
        const [h, , s] = merch.accessToken.split('.');
        const claims = decodeJwt(merch.accessToken).payload;
        const tampered = `${h}.${b64u({ ...claims, role: 'admin' })}.${s}`;
        const none = `${b64u({ alg: 'none', typ: 'JWT' })}.${b64u({ ...claims, role: 'admin' })}.`;
        const wrongKey = signJwt({ ...claims }, 'x'.repeat(48));
        const expired = signJwt({ ...claims, jti: crypto.randomUUID(), iat: now - 1000, exp: now - 100 }, secret);
        const future = signJwt({ ...claims, jti: crypto.randomUUID(), nbf: now + 3600 }, secret);
        const hs512 = signJwt({ ...claims }, secret, { alg: 'HS512', typ: 'JWT' });

        assertError(await dtm.api('GET', '/api/auth/me'), 401);
        assertError(await dtm.api('GET', '/api/auth/me', { headers: { authorization: 'Basic YTpi' } }), 401);
        for (const [what, t] of Object.entries({ tampered, none, wrongKey, expired, future, hs512, garbage: 'a.b.c' })) {
            const r = await dtm.api('GET', '/api/users', { token: t });
            assert.equal(r.status, 401, `${what}: ${r.status} ${r.text}`);
        }
        // the untampered one still works
        assert.equal((await dtm.api('GET', '/api/auth/me', { token: merch.accessToken })).status, 200);
    });
});

describe('key rotation', () => {
    test('tokens signed with a previous secret still verify; new ones carry the new kid', async () => {
        const oldSecret = crypto.randomBytes(40).toString('hex');
        const newSecret = crypto.randomBytes(40).toString('hex');
        const rot = await startDtm({
            env: { DTM_JWT_SECRET: newSecret, DTM_JWT_PREVIOUS_SECRETS: oldSecret },
        });
        try {
            const a = await rot.loginAdmin();
            assert.equal(decodeJwt(a.accessToken).header.kid, kidOf(newSecret));
            const now = Math.floor(Date.now() / 1000);
            const claims = { sub: a.user.id, role: 'admin', jti: crypto.randomUUID(), iat: now, exp: now + 60, iss: 'dtm' };
            const old = signJwt(claims, oldSecret);
            assert.equal((await rot.api('GET', '/api/auth/me', { token: old })).status, 200);
            // a kid that names no key: every key is tried
            const noKid = signJwt({ ...claims, jti: crypto.randomUUID() }, oldSecret, { alg: 'HS256', typ: 'JWT' });
            assert.equal((await rot.api('GET', '/api/auth/me', { token: noKid })).status, 200);
            const stranger = signJwt({ ...claims, jti: crypto.randomUUID() }, crypto.randomBytes(40).toString('hex'));
            assertError(await rot.api('GET', '/api/auth/me', { token: stranger }), 401);
        } finally {
            await rot.stop();
        }
    });
});

// ---- refresh ---------------------------------------------------------------------------------

describe('POST /api/auth/refresh', () => {
    test('rotates: a new pair each time, same shape as login', async () => {
        const a = await dtm.login(users.manager.email, users.manager.password);
        const r = await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: a.refreshToken } });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.tokenType, 'Bearer');
        assert.equal(r.json.expiresIn, 900);
        assertUserShape(r.json.user);
        assert.equal(r.json.user.role, 'manager');
        assert.notEqual(r.json.refreshToken, a.refreshToken);
        assert.notEqual(r.json.accessToken, a.accessToken);
        assert.equal((await dtm.api('GET', '/api/auth/me', { token: r.json.accessToken })).status, 200);
        const r2 = await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: r.json.refreshToken } });
        assert.equal(r2.status, 200);
        // stored hashed, never in clear
        const clear = await dtm.sql(`SELECT count(*) FROM auth.refresh_tokens WHERE token_hash = '${a.refreshToken}'`);
        assert.deepEqual(clear, [['0']]);
        const hashed = await dtm.sql(`SELECT count(*) FROM auth.refresh_tokens WHERE token_hash = '${sha256hex(a.refreshToken)}'`);
        assert.deepEqual(hashed, [['1']]);
    });

    test('reusing a rotated token is 401 and revokes the whole family', async () => {
        const a = await dtm.login(users.merch.email, users.merch.password);
        const other = await dtm.login(users.merch.email, users.merch.password); // another session
        const r1 = await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: a.refreshToken } });
        assert.equal(r1.status, 200);
        const reuse = await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: a.refreshToken } });
        assertError(reuse, 401, 'invalid_token');
        // the legitimate successor is dead too
        assertError(await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: r1.json.refreshToken } }), 401, 'invalid_token');
        // the other family is untouched
        assert.equal((await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: other.refreshToken } })).status, 200);
    });

    test('two concurrent refreshes with one token: exactly one wins, then the family is revoked', async () => {
        const a = await dtm.login(users.merch.email, users.merch.password);
        const rs = await Promise.all(
            [1, 2, 3].map(() => dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: a.refreshToken } }))
        );
        const ok = rs.filter((r) => r.status === 200);
        assert.equal(ok.length, 1, rs.map((r) => r.status).join(','));
        assert.ok(rs.filter((r) => r.status === 401).length === 2);
        assertError(await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: ok[0].json.refreshToken } }), 401, 'invalid_token');
    });

    test('unknown and expired refresh tokens are 401; bad bodies 400', async () => {
        assertError(await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: 'nope' } }), 401, 'invalid_token');
        const a = await dtm.login(users.merch.email, users.merch.password);
        await dtm.sql(`UPDATE auth.refresh_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = '${sha256hex(a.refreshToken)}'`);
        assertError(await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: a.refreshToken } }), 401, 'invalid_token');
        assertFieldNamed(await dtm.api('POST', '/api/auth/refresh', { body: {} }), 'refreshToken');
        assertFieldNamed(await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: 12 } }), 'refreshToken');
    });

    test('a deactivated user cannot refresh', async () => {
        const u = await dtm.createUser(admin.accessToken);
        const a = await dtm.login(u.email, u.password);
        assert.equal((await dtm.api('DELETE', `/api/users/${u.id}`, { token: admin.accessToken })).status, 204);
        assertError(await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: a.refreshToken } }), 401, 'invalid_token');
    });

    test('a role change is reflected in the refreshed token', async () => {
        const u = await dtm.createUser(admin.accessToken);
        const a = await dtm.login(u.email, u.password);
        const p = await dtm.api('PATCH', `/api/users/${u.id}`, { token: admin.accessToken, body: { role: 'manager' } });
        assert.equal(p.status, 200);
        const r = await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: a.refreshToken } });
        assert.equal(r.status, 200);
        assert.equal(decodeJwt(r.json.accessToken).payload.role, 'manager');
    });
});

// ---- logout ----------------------------------------------------------------------------------

describe('POST /api/auth/logout', () => {
    test('204; the access token is denylisted (durably) and the refresh family stops working', async () => {
        const a = await dtm.login(users.manager.email, users.manager.password);
        const keep = await dtm.login(users.manager.email, users.manager.password);
        const r = await dtm.api('POST', '/api/auth/logout', { token: a.accessToken, body: { refreshToken: a.refreshToken } });
        assert.equal(r.status, 204, r.text);
        assert.equal(r.text, '');
        const { jti } = decodeJwt(a.accessToken).payload;
        const rows = await dtm.sql(`SELECT extract(epoch FROM expires_at)::bigint FROM auth.revoked_access_tokens WHERE jti = '${jti}'`);
        assert.equal(rows.length, 1, 'denylist row in PostgreSQL');
        assert.equal(Number(rows[0][0]), decodeJwt(a.accessToken).payload.exp, 'kept until the token expires');
        assertError(await dtm.api('GET', '/api/auth/me', { token: a.accessToken }), 401, 'invalid_token');
        assertError(await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: a.refreshToken } }), 401, 'invalid_token');
        // the other session is still fine
        assert.equal((await dtm.api('GET', '/api/auth/me', { token: keep.accessToken })).status, 200);
        assert.equal((await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: keep.refreshToken } })).status, 200);
    });

    test('without a body the family of this access token is revoked', async () => {
        const a = await dtm.login(users.merch.email, users.merch.password);
        const r = await dtm.api('POST', '/api/auth/logout', { token: a.accessToken });
        assert.equal(r.status, 204, r.text);
        assertError(await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: a.refreshToken } }), 401, 'invalid_token');
    });

    test("someone else's refresh token in the body is not revoked", async () => {
        const mine = await dtm.login(users.merch.email, users.merch.password);
        const theirs = await dtm.login(users.manager.email, users.manager.password);
        const r = await dtm.api('POST', '/api/auth/logout', { token: mine.accessToken, body: { refreshToken: theirs.refreshToken } });
        assert.equal(r.status, 204);
        assert.equal((await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: theirs.refreshToken } })).status, 200);
    });

    test('the denylist does not live in Redis: a flushed Redis or a restart forgets nothing', async () => {
        const a = await dtm.login(users.merch.email, users.merch.password);
        assert.equal((await dtm.api('POST', '/api/auth/logout', { token: a.accessToken })).status, 204);
        await dtm.redis('FLUSHDB');
        assertError(await dtm.api('GET', '/api/auth/me', { token: a.accessToken }), 401, 'invalid_token');
        // Restart the process that runs auth (the whole dtm in `all`, the auth replica in `micro`):
        // it loads the live denylist from PostgreSQL.
        const proc = dtm.topology === 'micro' ? dtm.replicas('auth')[0] : dtm.main;
        await proc.stop();
        proc.start();
        await proc.waitHealthy();
        assertError(await dtm.api('GET', '/api/auth/me', { token: a.accessToken }), 401, 'invalid_token');
    });

    test('401 without a token; 400 for a wrong type', async () => {
        assertError(await dtm.api('POST', '/api/auth/logout', { body: {} }), 401);
        const a = await dtm.login(users.merch.email, users.merch.password);
        assertFieldNamed(await dtm.api('POST', '/api/auth/logout', { token: a.accessToken, body: { refreshToken: 5 } }), 'refreshToken');
    });
});

// ---- me --------------------------------------------------------------------------------------

describe('GET /api/auth/me', () => {
    test('each role gets its own user, without secrets', async () => {
        for (const [email, password, role] of [
            [dtm.admin.email, dtm.admin.password, 'admin'],
            [users.manager.email, users.manager.password, 'manager'],
            [users.merch.email, users.merch.password, 'merchandiser'],
        ]) {
            const a = await dtm.login(email, password);
            const r = await dtm.api('GET', '/api/auth/me', { token: a.accessToken });
            assert.equal(r.status, 200, r.text);
            assertUserShape(r.json.user);
            assert.equal(r.json.user.email, email);
            assert.equal(r.json.user.role, role);
        }
    });

    test('401 without a token', async () => {
        assertError(await dtm.api('GET', '/api/auth/me'), 401);
    });
});

// ---- change-password -------------------------------------------------------------------------

describe('POST /api/auth/change-password', () => {
    test('204; the old password stops working; other sessions lose their refresh tokens', async () => {
        const u = await dtm.createUser(admin.accessToken);
        const other = await dtm.login(u.email, u.password);
        const me = await dtm.login(u.email, u.password);
        const newPassword = `New-${randomId(8)}`;
        const r = await dtm.api('POST', '/api/auth/change-password', {
            token: me.accessToken,
            body: { currentPassword: u.password, newPassword },
        });
        assert.equal(r.status, 204, r.text);
        assertError(await dtm.api('POST', '/api/auth/login', { body: { email: u.email, password: u.password } }), 401, 'invalid_credentials');
        assert.equal((await dtm.api('POST', '/api/auth/login', { body: { email: u.email, password: newPassword } })).status, 200);
        assertError(await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: other.refreshToken } }), 401, 'invalid_token');
        assert.equal((await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken: me.refreshToken } })).status, 200);
    });

    test('wrong current password is 401 invalid_credentials', async () => {
        const u = await dtm.createUser(admin.accessToken);
        const me = await dtm.login(u.email, u.password);
        const r = await dtm.api('POST', '/api/auth/change-password', {
            token: me.accessToken,
            body: { currentPassword: 'not-my-password', newPassword: 'a-good-new-password' },
        });
        assertError(r, 401, 'invalid_credentials');
        assert.equal((await dtm.api('POST', '/api/auth/login', { body: { email: u.email, password: u.password } })).status, 200);
    });

    test('weak new passwords are 400 naming newPassword (10..128 chars, not the e-mail)', async () => {
        const u = await dtm.createUser(admin.accessToken);
        const me = await dtm.login(u.email, u.password);
        for (const newPassword of ['short', '123456789', 'x'.repeat(129), u.email, u.email.toUpperCase()]) {
            const r = await dtm.api('POST', '/api/auth/change-password', {
                token: me.accessToken,
                body: { currentPassword: u.password, newPassword },
            });
            assertFieldNamed(r, 'newPassword');
        }
        assertFieldNamed(
            await dtm.api('POST', '/api/auth/change-password', { token: me.accessToken, body: { newPassword: 'long-enough-1' } }),
            'currentPassword'
        );
        assertFieldNamed(
            await dtm.api('POST', '/api/auth/change-password', {
                token: me.accessToken,
                body: { currentPassword: u.password, newPassword: 1234567890 },
            }),
            'newPassword'
        );
        // exactly 10 and 128 are fine
        for (const newPassword of ['0123456789', 'y'.repeat(128)]) {
            const cur = newPassword === '0123456789' ? u.password : '0123456789';
            const r = await dtm.api('POST', '/api/auth/change-password', { token: me.accessToken, body: { currentPassword: cur, newPassword } });
            assert.equal(r.status, 204, r.text);
        }
    });

    test('401 without a token', async () => {
        assertError(
            await dtm.api('POST', '/api/auth/change-password', { body: { currentPassword: 'a', newPassword: 'b' } }),
            401
        );
    });
});

describe('logout while Redis is unreachable', () => {
    test('the logged-out token is refused at once, and still after Redis answers again', async () => {
        const redisServer = await startRedis();
        const d = await startDtm({ redis: redisServer });
        try {
            const a = await d.loginAdmin();
            process.kill(redisServer.child.pid, 'SIGSTOP');
            try {
                // the first call times out and opens dtm's breaker; the logout's PUBLISH then fails
                assert.equal((await d.api('GET', '/api/auth/me', { token: a.accessToken })).status, 200);
                const r = await d.api('POST', '/api/auth/logout', { token: a.accessToken });
                assert.equal(r.status, 204, r.text);
                // Every process learns it from PostgreSQL within the 2 s poll while Redis is down.
                const deadline = Date.now() + 5000;
                let last;
                do {
                    last = await d.api('GET', '/api/todos', { token: a.accessToken });
                    if (last.status === 401) break;
                    await sleep(200);
                } while (Date.now() < deadline);
                assertError(last, 401, 'invalid_token');
                assertError(await d.api('GET', '/api/auth/me', { token: a.accessToken }), 401, 'invalid_token');
            } finally {
                process.kill(redisServer.child.pid, 'SIGCONT');
            }
            await sleep(1500);
            assertError(await d.api('GET', '/api/auth/me', { token: a.accessToken }), 401, 'invalid_token');
        } finally {
            await d.stop();
            await redisServer.destroy();
        }
    });
});

// ---- concurrency -----------------------------------------------------------------------------

describe('many logins at once', () => {
    test('32 concurrent logins then refreshes all succeed with a pool no larger than the workers', async () => {
        // Auth asks users in-process; neither may hold a connection across the other's work,
        // or a pool of as many connections as workers runs dry (503s after the pool timeout).
        const small = await startDtm({
            env: {
                DTM_LOGIN_LIMIT_PER_IP: '100000',
                DTM_LOGIN_LIMIT_PER_EMAIL: '100000',
                DTM_THREADS: '4',
                DTM_PG_POOL_SIZE: '4',
            },
        });
        try {
            const body = { email: small.admin.email, password: small.admin.password };
            const logins = await Promise.all(Array.from({ length: 32 }, () => small.api('POST', '/api/auth/login', { body })));
            assert.deepEqual([...new Set(logins.map((r) => r.status))], [200], logins.map((r) => r.status).join(','));
            const refreshes = await Promise.all(
                logins.map((r) => small.api('POST', '/api/auth/refresh', { body: { refreshToken: r.json.refreshToken } }))
            );
            assert.deepEqual([...new Set(refreshes.map((r) => r.status))], [200]);
            assert.equal(new Set(refreshes.map((r) => r.json.refreshToken)).size, 32);
        } finally {
            await small.stop();
        }
    });
});

// ---- rate limits -----------------------------------------------------------------------------

describe('login rate limits', () => {
    let rl;
    let redisServer;
    before(async () => {
        redisServer = await startRedis();
        rl = await startDtm({
            redis: redisServer,
            env: { DTM_LOGIN_LIMIT_PER_EMAIL: '3', DTM_LOGIN_LIMIT_PER_IP: '6' },
        });
    });
    after(async () => {
        if (rl) await rl.stop();
        if (redisServer) await redisServer.destroy();
    });

    const attempt = (email, password = 'wrong-password-x') =>
        rl.api('POST', '/api/auth/login', { body: { email, password } });

    test('per IP+e-mail limit: 429 with Retry-After, even for the right password', async () => {
        for (let i = 0; i < 3; i++) assertError(await attempt(rl.admin.email), 401, 'invalid_credentials');
        const r = await attempt(rl.admin.email, rl.admin.password);
        assertError(r, 429, 'rate_limited');
        const retry = Number(r.headers['retry-after']);
        assert.ok(retry >= 1 && retry <= 60, `Retry-After ${r.headers['retry-after']}`);
        // the same IP with another e-mail is still allowed
        assertError(await attempt('a@example.com'), 401, 'invalid_credentials');
    });

    test('Redis holds the counters', async () => {
        const keys = await rl.redis('KEYS', 'rl:login:*');
        assert.ok(keys.includes('rl:login:ip:127.0.0.1'), JSON.stringify(keys));
        assert.ok(keys.includes(`rl:login:email:127.0.0.1:${rl.admin.email}`), JSON.stringify(keys));
        assert.equal(await rl.redis('GET', 'rl:login:ip:127.0.0.1'), '5');
        const ttl = await rl.redis('TTL', 'rl:login:ip:127.0.0.1');
        assert.ok(ttl > 0 && ttl <= 60, `TTL ${ttl}`);
    });

    test('the per-IP limit covers every e-mail', async () => {
        // 5 attempts so far from this IP; the 6th is allowed, the 7th is not.
        assertError(await attempt('b@example.com'), 401, 'invalid_credentials');
        const r = await attempt('c@example.com');
        assertError(r, 429, 'rate_limited');
        assert.ok(Number(r.headers['retry-after']) >= 1);
    });

    test('with Redis down the limits still hold (in-process fallback)', async () => {
        await redisServer.stop();
        try {
            const email = `d-${randomId()}@example.com`;
            const statuses = [];
            for (let i = 0; i < 8; i++) statuses.push((await attempt(email)).status);
            // the process-local window is new: up to 3 per e-mail, then 429
            assert.deepEqual(statuses.slice(0, 3), [401, 401, 401], statuses.join(','));
            assert.deepEqual(statuses.slice(3), [429, 429, 429, 429, 429], statuses.join(','));
        } finally {
            await redisServer.start();
        }
    });
});
