// SPDX-License-Identifier: MIT
// Liveness and readiness apart: /livez answers while the process serves, whatever its
// dependencies; /readyz is 503 while a database the process needs is down (and 200 again when
// it is back), so an orchestrator takes it out of rotation instead of restarting it. And API
// JSON carries Cache-Control: no-store unless its handler chose a policy. dtm runs against its
// own PostgreSQL here, so stopping it disturbs nobody else.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startDtm, startPostgres, api, sleep } = require('./lib/harness.js');

let pg, dtm, token;
before(async () => {
    pg = await startPostgres();
    dtm = await startDtm({ pg, env: { DTM_HEALTH_INTERVAL_MS: '200' } });
    token = (await dtm.loginAdmin()).accessToken;
});
after(async () => {
    try {
        await dtm?.stop();
    } finally {
        await pg?.destroy();
    }
});

/** Poll until fn() is truthy; throws with the last value after timeoutMs. */
async function eventually(fn, timeoutMs, what) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
        last = await fn().catch((e) => ({ error: e.message }));
        if (last && last.ok) return last;
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
        await sleep(100);
    }
}

/** The process whose readiness depends on PostgreSQL: the only one, or a service in micro. */
function servicePorts() {
    const bases = [dtm.url];
    if (dtm.upstreams) bases.push(dtm.upstreams.todos[0]);
    return bases;
}

test('/livez and /readyz answer 200 with no-store while everything is up', async () => {
    for (const base of servicePorts()) {
        const live = await api('GET', '/livez', { base });
        assert.equal(live.status, 200, live.text);
        assert.equal(live.json.status, 'ok');
        assert.equal(typeof live.json.uptimeSeconds, 'number');
        assert.equal(live.headers['cache-control'], 'no-store');
        const ready = await api('GET', '/readyz', { base });
        assert.equal(ready.status, 200, ready.text);
        assert.equal(ready.json.status, 'ready');
        assert.equal(typeof ready.json.dependencies, 'object');
    }
});

test('PostgreSQL down: /readyz 503 where it is needed, /livez stays 200; ready again after', async () => {
    await pg.stop();
    try {
        for (const base of servicePorts().slice(-1)) {
            const down = await eventually(async () => {
                const r = await api('GET', '/readyz', { base, timeoutMs: 2000 });
                return { ok: r.status === 503, r };
            }, 15000, 'readyz 503 with PostgreSQL stopped');
            assert.equal(down.r.json.status, 'not_ready');
            assert.ok(Object.values(down.r.json.dependencies).some((d) => d.status === 'down'), down.r.text);
            for (let i = 0; i < 5; i++) {
                const live = await api('GET', '/livez', { base, timeoutMs: 1000 });
                assert.equal(live.status, 200, `liveness never depends on PostgreSQL: ${live.text}`);
            }
        }
        // The client-facing process stays alive too.
        assert.equal((await dtm.api('GET', '/livez', { timeoutMs: 1000 })).status, 200);
    } finally {
        await pg.start();
    }
    for (const base of servicePorts()) {
        await eventually(async () => {
            const r = await api('GET', '/readyz', { base, timeoutMs: 2000 });
            return { ok: r.status === 200, r };
        }, 20000, 'readyz 200 after PostgreSQL is back');
    }
});

test('API JSON carries Cache-Control: no-store (errors too), never twice; not on non-JSON', async () => {
    const me = await dtm.api('GET', '/api/auth/me', { token });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.headers['cache-control'], 'no-store');
    for (const r of [await dtm.api('GET', '/api/auth/me'), await dtm.api('GET', '/api/nothing-here'), await dtm.api('POST', '/api/auth/login', { body: {} })]) {
        assert.ok(r.status >= 400, r.text);
        assert.equal(r.headers['cache-control'], 'no-store', `error JSON too (${r.status})`);
    }
    // /health sets its own: once, not twice.
    assert.equal((await dtm.api('GET', '/health')).headers['cache-control'], 'no-store');
    const metrics = await dtm.api('GET', '/metrics');
    assert.equal(metrics.headers['cache-control'], undefined, 'text, not API JSON');
});
