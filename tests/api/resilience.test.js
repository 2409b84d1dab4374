// SPDX-License-Identifier: MIT
// Dependencies going away under a running dtm (issue 2): Redis stopped mid-run (still served,
// /health degraded, back to ok when Redis returns) and PostgreSQL restarted mid-run (503 JSON
// while it is down, then success again without restarting dtm). Each case runs dtm against its
// own private server so that stopping it disturbs nobody else.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startDtm, startPostgres, startRedis, sleep } = require('./lib/harness.js');

/** Poll fn() until it returns a truthy value; returns that value or throws with the last one. */
async function eventually(fn, timeoutMs, what) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
        try {
            last = await fn();
            if (last && last.ok) return last.value;
        } catch (e) {
            last = { error: e.message };
        }
        if (Date.now() > deadline) {
            throw new Error(`${what}: not within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
        }
        await sleep(100);
    }
}

function assertErrorShape(r, status) {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers['content-type'] || '', /^application\/json/);
    assert.ok(r.json && r.json.error, `error body expected, got ${r.text}`);
    assert.equal(typeof r.json.error.code, 'string');
    assert.equal(typeof r.json.error.message, 'string');
    assert.equal(typeof r.json.requestId, 'string');
    assert.ok(!/select|insert|update|postgres|libpq|sqlstate/i.test(r.json.error.message), `no SQL details in errors: ${r.text}`);
}

describe('Redis stopped mid-run', () => {
    let redis, dtm, token, adminId;

    before(async () => {
        redis = await startRedis();
        dtm = await startDtm({ redis });
        const s = await dtm.loginAdmin();
        token = s.accessToken;
        adminId = s.user.id;
    });
    after(async () => {
        try {
            await dtm?.stop();
        } finally {
            await redis?.destroy();
        }
    });

    test('requests are still served, /health says degraded, then ok again', async () => {
        let h = await dtm.api('GET', '/health');
        assert.equal(h.status, 200, h.text);
        assert.equal(h.json.status, 'ok');
        assert.equal(h.json.dependencies.redis.status, 'ok');

        // A read fills the cache (cache-aside, user:{id}).
        let r = await dtm.api('GET', `/api/users/${adminId}`, { token });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.user.id, adminId);
        await eventually(async () => ({ ok: (await dtm.redis('EXISTS', `user:${adminId}`)) === 1 }), 3000, 'user cached in Redis');

        await redis.stop();

        // Reads come from PostgreSQL, without a stall per request.
        for (let i = 0; i < 5; i++) {
            r = await dtm.api('GET', `/api/users/${adminId}`, { token });
            assert.equal(r.status, 200, r.text);
            assert.equal(r.json.user.id, adminId);
            assert.ok(r.durationMs < 2000, `read took ${r.durationMs} ms with Redis down`);
        }
        r = await dtm.api('GET', '/api/users?limit=5', { token });
        assert.equal(r.status, 200, r.text);
        // Logins (rate limiting uses Redis) keep working too.
        const again = await dtm.loginAdmin();
        assert.equal(typeof again.accessToken, 'string');
        // A write while Redis is down succeeds, and is what later reads return.
        r = await dtm.api('PATCH', `/api/users/${adminId}`, { token, body: { firstName: 'DuringOutage' } });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.user.firstName, 'DuringOutage');

        h = await eventually(
            async () => {
                const x = await dtm.api('GET', '/health');
                return { ok: x.status === 200 && x.json?.status === 'degraded', value: x, status: x.status, body: x.json };
            },
            5000,
            '/health degraded'
        );
        assert.notEqual(h.json.dependencies.redis.status, 'ok');
        if (h.json.dependencies.postgres) {
            assert.equal(h.json.dependencies.postgres.status, 'ok');
        } else {
            // Microservices topology: the gateway has no database; its services are degraded
            // (their Redis is down), none is down.
            for (const [name, svc] of Object.entries(h.json.services)) assert.notEqual(svc.status, 'down', name);
        }

        await redis.start();

        await eventually(
            async () => {
                const x = await dtm.api('GET', '/health');
                return { ok: x.status === 200 && x.json?.status === 'ok', status: x.status, body: x.json };
            },
            15000,
            '/health ok after Redis returned'
        );
        // The cache is used again, and serves the write made during the outage.
        r = await dtm.api('GET', `/api/users/${adminId}`, { token });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.user.firstName, 'DuringOutage');
        await eventually(async () => {
            await dtm.api('GET', `/api/users/${adminId}`, { token });
            return { ok: (await dtm.redis('EXISTS', `user:${adminId}`)) === 1 };
        }, 5000, 'user cached again');
        r = await dtm.api('GET', `/api/users/${adminId}`, { token });
        assert.equal(r.json.user.firstName, 'DuringOutage');
        assert.equal(dtm.main.exit, null, 'dtm kept running');
    });
});

describe('PostgreSQL restarted mid-run', () => {
    let pg, dtm, token, adminId;

    before(async () => {
        pg = await startPostgres();
        dtm = await startDtm({ pg });
        const s = await dtm.loginAdmin();
        token = s.accessToken;
        adminId = s.user.id;
    });
    after(async () => {
        try {
            await dtm?.stop();
        } finally {
            await pg?.destroy();
        }
    });

    test('503 JSON while PostgreSQL is down, then success again without restarting dtm', async () => {
        let r = await dtm.api('GET', '/api/users?limit=5', { token });
        assert.equal(r.status, 200, r.text);
        const total = r.json.pagination.total;

        await pg.stop();

        // Requests that need the database fail fast and cleanly.
        r = await dtm.api('GET', '/api/users?limit=5', { token });
        assertErrorShape(r, 503);
        assert.ok(r.durationMs < 10000, `took ${r.durationMs} ms`);
        assert.ok(r.headers['x-request-id'], 'X-Request-Id on errors too');
        r = await dtm.api('POST', '/api/auth/login', { body: { email: dtm.admin.email, password: dtm.admin.password } });
        assertErrorShape(r, 503);

        // In micro the gateway polls each service's health on its own schedule: another
        // service can be seen down (503) before users is, so wait for users itself.
        const usersDown = (j) => (j?.dependencies?.postgres ? j.dependencies.postgres.status : j?.services?.users?.status) === 'down';
        const h = await eventually(
            async () => {
                const x = await dtm.api('GET', '/health');
                return { ok: x.status === 503 && usersDown(x.json), value: x, status: x.status, body: x.json };
            },
            5000,
            '/health 503 while PostgreSQL is down'
        );
        assert.equal(h.json.status, 'down');
        if (h.json.dependencies.postgres) {
            assert.equal(h.json.dependencies.postgres.status, 'down');
        } else {
            // Microservices topology: the gateway reports the services that need it as down.
            assert.equal(h.json.services.users.status, 'down');
        }

        await pg.start();

        // The pool recovers by itself: same process, fresh connections.
        r = await eventually(
            async () => {
                const x = await dtm.api('GET', '/api/users?limit=5', { token });
                return { ok: x.status === 200, value: x, status: x.status, body: x.text };
            },
            20000,
            'GET /api/users succeeds after PostgreSQL is back'
        );
        assert.equal(r.json.pagination.total, total);
        await eventually(
            async () => {
                const x = await dtm.api('GET', '/health');
                return { ok: x.status === 200 && x.json?.status === 'ok', status: x.status, body: x.json };
            },
            10000,
            '/health ok after PostgreSQL is back'
        );
        // Every pooled connection was replaced, not just one: a burst of parallel requests works.
        const burst = await Promise.all(
            Array.from({ length: 20 }, () => dtm.api('GET', `/api/users?limit=1`, { token }))
        );
        assert.deepEqual(
            burst.map((x) => x.status),
            burst.map(() => 200)
        );
        const s = await dtm.loginAdmin();
        assert.equal(s.user.id, adminId);
        assert.equal(dtm.main.exit, null, 'dtm kept running');
    });
});
