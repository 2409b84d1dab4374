// SPDX-License-Identifier: MIT
// Black-box tests of /api/users (shared/API.md): every call and every error, with all three roles.
'use strict';

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startDtm, startRedis, randomId, sleep } = require('./lib/harness.js');

function assertError(r, status, code) {
    assert.equal(r.status, status, `expected ${status} ${code || ''}, got ${r.status} ${r.text}`);
    assert.ok(r.json && r.json.error, `error body: ${r.text}`);
    if (code) assert.equal(r.json.error.code, code, r.text);
    assert.ok(r.json.requestId);
    assert.doesNotMatch(r.text, /SELECT|INSERT|UPDATE|syntax error|violates/i);
}

function assertFieldNamed(r, field) {
    assertError(r, 400);
    const details = r.json.error.details || [];
    assert.ok(details.some((d) => d.field === field), `details should name ${field}: ${r.text}`);
}

function assertPublicUser(u) {
    for (const k of ['id', 'email', 'firstName', 'lastName', 'role', 'active', 'createdAt', 'updatedAt', 'lastLoginAt']) {
        assert.ok(k in u, `user.${k}: ${JSON.stringify(u)}`);
    }
    const text = JSON.stringify(u).toLowerCase();
    assert.ok(!text.includes('password') && !text.includes('argon2'), text);
}

let dtm;
let tok = {}; // role -> access token
let ids = {}; // role -> user id
let merch;
let manager;

before(async () => {
    dtm = await startDtm({ env: { DTM_LOGIN_LIMIT_PER_IP: '100000', DTM_LOGIN_LIMIT_PER_EMAIL: '100000' } });
    const a = await dtm.loginAdmin();
    tok.admin = a.accessToken;
    ids.admin = a.user.id;
    manager = await dtm.createUser(tok.admin, { role: 'manager', firstName: 'Mona', lastName: 'Manager' });
    merch = await dtm.createUser(tok.admin, { role: 'merchandiser', firstName: 'Mark', lastName: 'Merch' });
    tok.manager = (await dtm.login(manager.email, manager.password)).accessToken;
    tok.merch = (await dtm.login(merch.email, merch.password)).accessToken;
    ids.manager = manager.id;
    ids.merch = merch.id;
});

after(async () => {
    if (dtm) await dtm.stop();
});

const newEmail = () => `u-${randomId()}@example.com`;

// ---- POST / ------------------------------------------------------------------------------------

describe('POST /api/users', () => {
    test('admin creates a user: 201, e-mail lower-cased, no secrets, argon2id stored', async () => {
        const email = `New.Person-${randomId()}@Example.COM`;
        const r = await dtm.api('POST', '/api/users', {
            token: tok.admin,
            body: { email, password: 'a-long-password', firstName: 'New', lastName: 'Person', role: 'manager', favouriteColour: 'blue' },
        });
        assert.equal(r.status, 201, r.text);
        assertPublicUser(r.json.user);
        assert.equal(r.json.user.email, email.toLowerCase());
        assert.equal(r.json.user.role, 'manager');
        assert.equal(r.json.user.active, true);
        assert.equal(r.json.user.lastLoginAt, null);
        const rows = await dtm.sql(`SELECT password_hash FROM users.users WHERE id = '${r.json.user.id}'`);
        assert.match(rows[0][0], /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
        assert.equal((await dtm.login(email, 'a-long-password')).user.id, r.json.user.id);
    });

    test('role is required', async () => {
        const r = await dtm.api('POST', '/api/users', {
            token: tok.admin,
            body: { email: newEmail(), password: 'a-long-password', firstName: 'A', lastName: 'B' },
        });
        assertFieldNamed(r, 'role');
    });

    test('manager and merchandiser get 403, anonymous 401', async () => {
        const body = { email: newEmail(), password: 'a-long-password', firstName: 'A', lastName: 'B', role: 'merchandiser' };
        assertError(await dtm.api('POST', '/api/users', { token: tok.manager, body }), 403, 'forbidden');
        assertError(await dtm.api('POST', '/api/users', { token: tok.merch, body }), 403, 'forbidden');
        assertError(await dtm.api('POST', '/api/users', { body }), 401);
    });

    test('409 email_taken, also when only the case differs', async () => {
        const email = newEmail();
        const body = { email, password: 'a-long-password', firstName: 'A', lastName: 'B', role: 'manager' };
        assert.equal((await dtm.api('POST', '/api/users', { token: tok.admin, body })).status, 201);
        assertError(await dtm.api('POST', '/api/users', { token: tok.admin, body }), 409, 'email_taken');
        assertError(
            await dtm.api('POST', '/api/users', { token: tok.admin, body: { ...body, email: email.toUpperCase() } }),
            409,
            'email_taken'
        );
    });

    test('validation: every bad field is named', async () => {
        const good = { email: newEmail(), password: 'a-long-password', firstName: 'A', lastName: 'B', role: 'merchandiser' };
        const cases = [
            [{ ...good, email: undefined }, 'email'],
            [{ ...good, email: 'not-an-email' }, 'email'],
            [{ ...good, email: "x'; DROP TABLE users.users; --@example.com" }, 'email'],
            [{ ...good, email: 7 }, 'email'],
            [{ ...good, password: undefined }, 'password'],
            [{ ...good, password: 'short' }, 'password'],
            [{ ...good, password: 'p'.repeat(129) }, 'password'],
            [{ ...good, password: good.email }, 'password'],
            [{ ...good, password: 1234567890123 }, 'password'],
            [{ ...good, firstName: '' }, 'firstName'],
            [{ ...good, firstName: 'x'.repeat(101) }, 'firstName'],
            [{ ...good, lastName: null }, 'lastName'],
            [{ ...good, lastName: { a: 1 } }, 'lastName'],
            [{ ...good, role: 'superuser' }, 'role'],
            [{ ...good, role: 'service' }, 'role'],
            [{ ...good, active: 'yes' }, 'active'],
        ];
        for (const [body, field] of cases) {
            const r = await dtm.api('POST', '/api/users', { token: tok.admin, body });
            assertFieldNamed(r, field);
        }
        // NUL bytes are refused outright (the JSON parser rejects \u0000)
        assertError(await dtm.api('POST', '/api/users', { token: tok.admin, body: { ...good, firstName: 'a\u0000b' } }), 400);
        // all problems at once
        const r = await dtm.api('POST', '/api/users', { token: tok.admin, body: { email: 1, password: 2 } });
        assertError(r, 400);
        const fields = r.json.error.details.map((d) => d.field).sort();
        assert.deepEqual(fields, ['email', 'firstName', 'lastName', 'password', 'role']);
        // nothing was written by any of them
        const n = await dtm.sql(`SELECT count(*) FROM users.users WHERE email = '${good.email}'`);
        assert.deepEqual(n, [['0']]);
    });

    test('quotes, SQL and unicode in names are stored verbatim', async () => {
        const firstName = "Robert'); DROP TABLE users.users;--";
        const lastName = 'O\'Brien "the \\ one" ünïcödé 🙂';
        const r = await dtm.api('POST', '/api/users', {
            token: tok.admin,
            body: { email: `o'brien-${randomId()}@example.com`, password: 'a-long-password', firstName, lastName, role: 'merchandiser' },
        });
        assert.equal(r.status, 201, r.text);
        assert.equal(r.json.user.firstName, firstName);
        assert.equal(r.json.user.lastName, lastName);
        const g = await dtm.api('GET', `/api/users/${r.json.user.id}`, { token: tok.admin });
        assert.equal(g.json.user.firstName, firstName);
        assert.equal(g.json.user.lastName, lastName);
        assert.ok(Number((await dtm.sql('SELECT count(*) FROM users.users'))[0][0]) > 3, 'table still there');
    });

    test('415 wrong content type, 400 malformed JSON', async () => {
        assertError(
            await dtm.api('POST', '/api/users', { token: tok.admin, body: 'email=a', headers: { 'content-type': 'text/plain' } }),
            415
        );
        const r = await dtm.api('POST', '/api/users', {
            token: tok.admin,
            body: '{"email": }',
            headers: { 'content-type': 'application/json' },
        });
        assertError(r, 400);
    });
});

// ---- GET / -------------------------------------------------------------------------------------

describe('GET /api/users', () => {
    test('admin and manager list; merchandiser 403; anonymous 401', async () => {
        for (const role of ['admin', 'manager']) {
            const r = await dtm.api('GET', '/api/users', { token: tok[role] });
            assert.equal(r.status, 200, r.text);
            assert.ok(Array.isArray(r.json.items));
            r.json.items.forEach(assertPublicUser);
            const p = r.json.pagination;
            assert.equal(p.page, 1);
            assert.equal(p.limit, 20);
            assert.ok(p.total >= 3);
            assert.equal(p.pages, Math.ceil(p.total / p.limit));
        }
        assertError(await dtm.api('GET', '/api/users', { token: tok.merch }), 403, 'forbidden');
        assertError(await dtm.api('GET', '/api/users'), 401);
    });

    test('pagination walks every user exactly once', async () => {
        const all = await dtm.api('GET', '/api/users?limit=100', { token: tok.admin });
        const total = all.json.pagination.total;
        const seen = new Set();
        for (let page = 1; page <= Math.ceil(total / 2); page++) {
            const r = await dtm.api('GET', `/api/users?page=${page}&limit=2`, { token: tok.admin });
            assert.equal(r.status, 200);
            assert.ok(r.json.items.length <= 2);
            assert.equal(r.json.pagination.total, total);
            for (const u of r.json.items) seen.add(u.id);
        }
        assert.equal(seen.size, total);
        const past = await dtm.api('GET', `/api/users?page=999&limit=2`, { token: tok.admin });
        assert.equal(past.status, 200);
        assert.deepEqual(past.json.items, []);
        assert.equal(past.json.pagination.total, total);
    });

    test('filters: role, active, search (name or e-mail, case-insensitive, literal)', async () => {
        const tag = randomId(4);
        const a = await dtm.createUser(tok.admin, { role: 'manager', firstName: `Zed${tag}`, lastName: 'Alpha' });
        const b = await dtm.createUser(tok.admin, { role: 'merchandiser', email: `zz${tag}@example.com` });
        const c = await dtm.createUser(tok.admin, { role: 'merchandiser', lastName: `100%_${tag}` });
        await dtm.api('DELETE', `/api/users/${b.id}`, { token: tok.admin });

        const managers = await dtm.api('GET', '/api/users?role=manager&limit=100', { token: tok.admin });
        assert.ok(managers.json.items.every((u) => u.role === 'manager'));
        assert.ok(managers.json.items.some((u) => u.id === a.id));

        const inactive = await dtm.api('GET', '/api/users?active=false&limit=100', { token: tok.admin });
        assert.ok(inactive.json.items.every((u) => u.active === false));
        assert.ok(inactive.json.items.some((u) => u.id === b.id));

        const byName = await dtm.api('GET', `/api/users?search=${`zed${tag}`.toUpperCase()}`, { token: tok.manager });
        assert.deepEqual(byName.json.items.map((u) => u.id), [a.id]);
        const byEmail = await dtm.api('GET', `/api/users?search=zz${tag}%40example`, { token: tok.admin });
        assert.deepEqual(byEmail.json.items.map((u) => u.id), [b.id]);
        const full = await dtm.api('GET', `/api/users?search=${encodeURIComponent(`Zed${tag} Alpha`)}`, { token: tok.admin });
        assert.deepEqual(full.json.items.map((u) => u.id), [a.id]);
        // % and _ are literal, not wildcards
        const literal = await dtm.api('GET', `/api/users?search=${encodeURIComponent(`100%_${tag}`)}`, { token: tok.admin });
        assert.deepEqual(literal.json.items.map((u) => u.id), [c.id]);
        const wild = await dtm.api('GET', `/api/users?search=${encodeURIComponent('%')}`, { token: tok.admin });
        assert.deepEqual(wild.json.items.map((u) => u.id), [c.id]);
        const combined = await dtm.api('GET', `/api/users?role=merchandiser&active=true&search=${tag}`, { token: tok.admin });
        assert.deepEqual(combined.json.items.map((u) => u.id), [c.id]);
        const inj = await dtm.api('GET', `/api/users?search=${encodeURIComponent("' OR 1=1 --")}`, { token: tok.admin });
        assert.equal(inj.status, 200);
        assert.deepEqual(inj.json.items, []);
    });

    test('bad filters and paging are 400 naming the parameter', async () => {
        assertFieldNamed(await dtm.api('GET', '/api/users?role=king', { token: tok.admin }), 'role');
        assertFieldNamed(await dtm.api('GET', '/api/users?active=maybe', { token: tok.admin }), 'active');
        assertError(await dtm.api('GET', '/api/users?limit=101', { token: tok.admin }), 400);
        assertError(await dtm.api('GET', '/api/users?page=0', { token: tok.admin }), 400);
        assertError(await dtm.api('GET', '/api/users?limit=abc', { token: tok.admin }), 400);
    });
});

// ---- GET /:id ----------------------------------------------------------------------------------

describe('GET /api/users/:id', () => {
    test('admin and manager read anyone; a merchandiser only themselves', async () => {
        for (const role of ['admin', 'manager']) {
            for (const id of [ids.admin, ids.manager, ids.merch]) {
                const r = await dtm.api('GET', `/api/users/${id}`, { token: tok[role] });
                assert.equal(r.status, 200, r.text);
                assertPublicUser(r.json.user);
                assert.equal(r.json.user.id, id);
            }
        }
        assert.equal((await dtm.api('GET', `/api/users/${ids.merch}`, { token: tok.merch })).status, 200);
        assertError(await dtm.api('GET', `/api/users/${ids.manager}`, { token: tok.merch }), 403, 'forbidden');
        assertError(await dtm.api('GET', `/api/users/${ids.admin}`, { token: tok.merch }), 403, 'forbidden');
        assertError(await dtm.api('GET', `/api/users/${ids.merch}`), 401);
    });

    test('malformed id and unknown id are 404', async () => {
        for (const bad of ['123', 'not-a-uuid', `${ids.merch}x`, "1' OR '1'='1", '%00']) {
            assertError(await dtm.api('GET', `/api/users/${encodeURIComponent(bad)}`, { token: tok.admin }), 404, 'not_found');
        }
        assertError(await dtm.api('GET', `/api/users/${crypto.randomUUID()}`, { token: tok.admin }), 404, 'not_found');
        // upper-case form of a real id is the same user
        const r = await dtm.api('GET', `/api/users/${ids.manager.toUpperCase()}`, { token: tok.admin });
        assert.equal(r.status, 200);
        assert.equal(r.json.user.id, ids.manager);
    });

    test('cache-aside: user:{id} appears after a GET (TTL 3600) and is deleted by every write', async () => {
        const u = await dtm.createUser(tok.admin);
        const key = `user:${u.id}`;
        assert.equal(await dtm.redis('EXISTS', key), 0);
        const first = await dtm.api('GET', `/api/users/${u.id}`, { token: tok.admin });
        assert.equal(first.status, 200);
        assert.equal(first.headers['x-cache'], 'miss');
        const cached = JSON.parse(await dtm.redis('GET', key));
        assert.deepEqual(cached, first.json.user);
        assert.ok(!JSON.stringify(cached).includes('argon2'));
        const ttl = await dtm.redis('TTL', key);
        assert.ok(ttl > 3590 && ttl <= 3600, `TTL ${ttl}`);
        const second = await dtm.api('GET', `/api/users/${u.id}`, { token: tok.manager });
        assert.equal(second.headers['x-cache'], 'hit');
        assert.deepEqual(second.json.user, first.json.user);

        // served from Redis: a change behind the service's back is not seen until a write
        await dtm.sql(`UPDATE users.users SET first_name = 'Sneaky' WHERE id = '${u.id}'`);
        assert.equal((await dtm.api('GET', `/api/users/${u.id}`, { token: tok.admin })).json.user.firstName, 'Test');

        // PATCH deletes the key
        const p = await dtm.api('PATCH', `/api/users/${u.id}`, { token: tok.admin, body: { lastName: 'Patched' } });
        assert.equal(p.status, 200);
        assert.equal(await dtm.redis('EXISTS', key), 0);
        const after = await dtm.api('GET', `/api/users/${u.id}`, { token: tok.admin });
        assert.equal(after.json.user.firstName, 'Sneaky');
        assert.equal(after.json.user.lastName, 'Patched');
        assert.equal(await dtm.redis('EXISTS', key), 1);

        // a login (lastLoginAt) deletes it
        await dtm.login(u.email, u.password);
        assert.equal(await dtm.redis('EXISTS', key), 0);
        await dtm.api('GET', `/api/users/${u.id}`, { token: tok.admin });
        assert.equal(await dtm.redis('EXISTS', key), 1);

        // DELETE deletes it
        assert.equal((await dtm.api('DELETE', `/api/users/${u.id}`, { token: tok.admin })).status, 204);
        assert.equal(await dtm.redis('EXISTS', key), 0);
        const gone = await dtm.api('GET', `/api/users/${u.id}`, { token: tok.admin });
        assert.equal(gone.json.user.active, false);
    });

    test('a corrupt cache entry is ignored', async () => {
        const u = await dtm.createUser(tok.admin);
        await dtm.redis('SET', `user:${u.id}`, 'not json', 'EX', '60');
        const r = await dtm.api('GET', `/api/users/${u.id}`, { token: tok.admin });
        assert.equal(r.status, 200);
        assert.equal(r.json.user.id, u.id);
    });
});

describe('cache while Redis is unreachable', () => {
    test('reads come from PostgreSQL, and a write made meanwhile never leaves a stale copy', async () => {
        const redisServer = await startRedis();
        const d = await startDtm({ redis: redisServer });
        try {
            const a = (await d.loginAdmin()).accessToken;
            const u = await d.createUser(a);
            const other = await d.createUser(a);
            assert.equal((await d.api('GET', `/api/users/${u.id}`, { token: a })).headers['x-cache'], 'miss');
            assert.equal((await d.api('GET', `/api/users/${u.id}`, { token: a })).headers['x-cache'], 'hit');
            // Frozen, not dead: it keeps user:{id} and answers again later.
            process.kill(redisServer.child.pid, 'SIGSTOP');
            try {
                // the first call times out and opens dtm's breaker; the write then cannot delete
                const g = await d.api('GET', `/api/users/${other.id}`, { token: a });
                assert.equal(g.status, 200, 'served from PostgreSQL');
                const p = await d.api('PATCH', `/api/users/${u.id}`, { token: a, body: { lastName: 'Written-While-Down' } });
                assert.equal(p.status, 200, p.text);
            } finally {
                process.kill(redisServer.child.pid, 'SIGCONT');
            }
            // Whenever Redis is back, the old copy must not be served.
            const deadline = Date.now() + 4000;
            let hits = 0;
            while (Date.now() < deadline) {
                const r = await d.api('GET', `/api/users/${u.id}`, { token: a });
                assert.equal(r.status, 200);
                assert.equal(r.json.user.lastName, 'Written-While-Down', `stale copy served (x-cache ${r.headers['x-cache']})`);
                if (r.headers['x-cache'] === 'hit') hits++;
                await sleep(100);
            }
            assert.ok(hits > 0, 'the cache works again once Redis is back');
        } finally {
            await d.stop();
            await redisServer.destroy();
        }
    });
});

// ---- PATCH /:id --------------------------------------------------------------------------------

describe('PATCH /api/users/:id', () => {
    test('admin changes names, e-mail, role and active', async () => {
        const u = await dtm.createUser(tok.admin);
        const email = `Changed-${randomId()}@Example.com`;
        const r = await dtm.api('PATCH', `/api/users/${u.id}`, {
            token: tok.admin,
            body: { firstName: 'Changed', lastName: 'Name', email, role: 'manager', active: false, unknown: 1 },
        });
        assert.equal(r.status, 200, r.text);
        assertPublicUser(r.json.user);
        assert.equal(r.json.user.firstName, 'Changed');
        assert.equal(r.json.user.lastName, 'Name');
        assert.equal(r.json.user.email, email.toLowerCase());
        assert.equal(r.json.user.role, 'manager');
        assert.equal(r.json.user.active, false);
        assert.ok(r.json.user.updatedAt >= u.updatedAt);
        const back = await dtm.api('PATCH', `/api/users/${u.id}`, { token: tok.admin, body: { active: true } });
        assert.equal(back.json.user.active, true);
        assert.equal(back.json.user.firstName, 'Changed', 'absent fields are kept');
    });

    test('self may change only names (403 for role, active or e-mail)', async () => {
        const u = await dtm.createUser(tok.admin);
        const t = (await dtm.login(u.email, u.password)).accessToken;
        const ok = await dtm.api('PATCH', `/api/users/${u.id}`, { token: t, body: { firstName: 'Self', lastName: 'Named' } });
        assert.equal(ok.status, 200, ok.text);
        assert.equal(ok.json.user.firstName, 'Self');
        // sending the unchanged values is fine (a client may PATCH the whole object)
        const same = await dtm.api('PATCH', `/api/users/${u.id}`, {
            token: t,
            body: { firstName: 'Self', role: 'merchandiser', active: true, email: u.email },
        });
        assert.equal(same.status, 200, same.text);
        assertError(await dtm.api('PATCH', `/api/users/${u.id}`, { token: t, body: { role: 'admin' } }), 403, 'forbidden');
        assertError(await dtm.api('PATCH', `/api/users/${u.id}`, { token: t, body: { active: false } }), 403, 'forbidden');
        assertError(await dtm.api('PATCH', `/api/users/${u.id}`, { token: t, body: { email: newEmail() } }), 403, 'forbidden');
        const after = await dtm.api('GET', `/api/users/${u.id}`, { token: tok.admin });
        assert.equal(after.json.user.role, 'merchandiser');
        assert.equal(after.json.user.active, true);
        assert.equal(after.json.user.email, u.email);
    });

    test('a manager changes only their own names', async () => {
        const ok = await dtm.api('PATCH', `/api/users/${ids.manager}`, { token: tok.manager, body: { lastName: 'Renamed' } });
        assert.equal(ok.status, 200, ok.text);
        assertError(await dtm.api('PATCH', `/api/users/${ids.manager}`, { token: tok.manager, body: { role: 'admin' } }), 403);
        assertError(await dtm.api('PATCH', `/api/users/${ids.merch}`, { token: tok.manager, body: { firstName: 'X' } }), 403, 'forbidden');
        assertError(await dtm.api('PATCH', `/api/users/${ids.manager}`, { token: tok.merch, body: { firstName: 'X' } }), 403, 'forbidden');
    });

    test('an admin cannot demote or deactivate themselves', async () => {
        assertError(await dtm.api('PATCH', `/api/users/${ids.admin}`, { token: tok.admin, body: { role: 'manager' } }), 403);
        assertError(await dtm.api('PATCH', `/api/users/${ids.admin}`, { token: tok.admin, body: { active: false } }), 403);
        const ok = await dtm.api('PATCH', `/api/users/${ids.admin}`, { token: tok.admin, body: { firstName: 'Ada' } });
        assert.equal(ok.status, 200);
    });

    test('409 email_taken, 404 unknown/malformed, 400 naming the field', async () => {
        const a = await dtm.createUser(tok.admin);
        const b = await dtm.createUser(tok.admin);
        assertError(await dtm.api('PATCH', `/api/users/${a.id}`, { token: tok.admin, body: { email: b.email.toUpperCase() } }), 409, 'email_taken');
        assertError(await dtm.api('PATCH', `/api/users/${crypto.randomUUID()}`, { token: tok.admin, body: { firstName: 'X' } }), 404, 'not_found');
        assertError(await dtm.api('PATCH', '/api/users/nope', { token: tok.admin, body: { firstName: 'X' } }), 404, 'not_found');
        assertFieldNamed(await dtm.api('PATCH', `/api/users/${a.id}`, { token: tok.admin, body: { active: 'no' } }), 'active');
        assertFieldNamed(await dtm.api('PATCH', `/api/users/${a.id}`, { token: tok.admin, body: { role: 'root' } }), 'role');
        assertFieldNamed(await dtm.api('PATCH', `/api/users/${a.id}`, { token: tok.admin, body: { firstName: '' } }), 'firstName');
        assertFieldNamed(await dtm.api('PATCH', `/api/users/${a.id}`, { token: tok.admin, body: { lastName: 5 } }), 'lastName');
        assertFieldNamed(await dtm.api('PATCH', `/api/users/${a.id}`, { token: tok.admin, body: { email: 'bad@' } }), 'email');
        // nothing changed by the failed calls
        const g = await dtm.api('GET', `/api/users/${a.id}`, { token: tok.admin });
        assert.equal(g.json.user.email, a.email);
        assert.equal(g.json.user.active, true);
        assertError(await dtm.api('PATCH', `/api/users/${a.id}`, { body: { firstName: 'X' } }), 401);
    });
});

// ---- DELETE /:id -------------------------------------------------------------------------------

describe('DELETE /api/users/:id', () => {
    test('admin deactivates: 204, the row stays, login then gives 403 account_disabled', async () => {
        const u = await dtm.createUser(tok.admin);
        const r = await dtm.api('DELETE', `/api/users/${u.id}`, { token: tok.admin });
        assert.equal(r.status, 204);
        assert.equal(r.text, '');
        const g = await dtm.api('GET', `/api/users/${u.id}`, { token: tok.admin });
        assert.equal(g.status, 200);
        assert.equal(g.json.user.active, false);
        const l = await dtm.api('POST', '/api/auth/login', { body: { email: u.email, password: u.password } });
        assertError(l, 403, 'account_disabled');
        // again: still 204
        assert.equal((await dtm.api('DELETE', `/api/users/${u.id}`, { token: tok.admin })).status, 204);
    });

    test('manager and merchandiser 403; 404 unknown and malformed; admin cannot deactivate self', async () => {
        const u = await dtm.createUser(tok.admin);
        assertError(await dtm.api('DELETE', `/api/users/${u.id}`, { token: tok.manager }), 403, 'forbidden');
        assertError(await dtm.api('DELETE', `/api/users/${u.id}`, { token: tok.merch }), 403, 'forbidden');
        assertError(await dtm.api('DELETE', `/api/users/${u.id}`), 401);
        assertError(await dtm.api('DELETE', `/api/users/${crypto.randomUUID()}`, { token: tok.admin }), 404, 'not_found');
        assertError(await dtm.api('DELETE', '/api/users/12345', { token: tok.admin }), 404, 'not_found');
        assertError(await dtm.api('DELETE', `/api/users/${ids.admin}`, { token: tok.admin }), 403);
        const g = await dtm.api('GET', `/api/users/${u.id}`, { token: tok.admin });
        assert.equal(g.json.user.active, true);
    });
});

// ---- internal routes ---------------------------------------------------------------------------

describe('internal routes', () => {
    test('are not callable from outside, whatever the role', async () => {
        const body = { email: dtm.admin.email, password: dtm.admin.password };
        for (const role of ['admin', 'manager', 'merch']) {
            assertError(
                await dtm.api('POST', '/api/users/internal/verify-credentials', { token: tok[role], body }),
                403,
                'forbidden'
            );
            assertError(
                await dtm.api('POST', `/api/users/internal/${ids[role]}/password`, {
                    token: tok[role],
                    body: { currentPassword: 'x', newPassword: 'yyyyyyyyyyyy' },
                }),
                403,
                'forbidden'
            );
        }
        assertError(await dtm.api('POST', '/api/users/internal/verify-credentials', { body }), 401);
    });

    test('unknown routes and wrong methods are JSON 404/405', async () => {
        assertError(await dtm.api('GET', '/api/users/x/y/z', { token: tok.admin }), 404);
        const r = await dtm.api('PUT', `/api/users/${ids.merch}`, { token: tok.admin, body: {} });
        assertError(r, 405);
        assert.match(r.headers.allow || '', /GET/);
    });
});
