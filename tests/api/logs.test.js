// SPDX-License-Identifier: MIT
// Every line dtm writes on stdout is one JSON object in the platform's log format, with the
// required fields, and no secret (passwords, tokens, the JWT key, database passwords) appears
// anywhere in its output.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startDtm } = require('./lib/harness.js');

let dtm;
before(async () => {
    dtm = await startDtm();
});
after(async () => {
    if (dtm) await dtm.stop();
});

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

test('access and event lines are JSON with the required fields and no secrets', async () => {
    const { accessToken, refreshToken } = await dtm.loginAdmin();
    const wrongPassword = 'Wr0ng-password-' + Date.now();
    await dtm.api('POST', '/api/auth/login', { body: { email: dtm.admin.email, password: wrongPassword } });
    await dtm.api('GET', '/api/auth/me', { token: accessToken, headers: { 'x-request-id': 'req-logs-1', 'user-agent': 'logs-test/1.0' } });
    await dtm.api('POST', '/api/auth/refresh', { body: { refreshToken } });
    await dtm.api('POST', '/api/users', { token: accessToken, body: '{"bad json', headers: { 'content-type': 'application/json' } });
    await dtm.api('GET', '/api/nope');
    await dtm.api('GET', '/health');

    // Give the last access lines a moment to be flushed.
    await new Promise((r) => setTimeout(r, 300));
    const stdout = dtm.logs.lines.filter((l) => l.stream === 'stdout');
    assert.ok(stdout.length >= 6, 'some lines were written');
    for (const l of stdout) {
        assert.ok(l.json && typeof l.json === 'object' && !Array.isArray(l.json), `not a JSON object: ${l.text}`);
        const j = l.json;
        assert.match(j.timestamp, ISO_MS, `timestamp: ${l.text}`);
        assert.ok(['debug', 'info', 'warn', 'error'].includes(j.level), `level: ${l.text}`);
        assert.equal(typeof j.message, 'string');
        assert.equal(typeof j.service, 'string');
    }
    const access = stdout.map((l) => l.json).filter((j) => j.status !== undefined);
    // In the microservices topology the gateway logs "GET /api/auth/me -> http://..." and the
    // auth process "GET /api/auth/me"; the request id travels to both (and to internal calls).
    const me = access.find((j) => j.requestId === 'req-logs-1' && j.path === '/api/auth/me');
    assert.ok(me, 'the request id from the client is logged');
    assert.match(me.message, /^GET \/api\/auth\/me( -> http:\/\/127\.0\.0\.1:\d+)?$/);
    assert.equal(me.status, 200);
    assert.equal(me.userAgent, 'logs-test/1.0');
    assert.equal(typeof me.ip, 'string');
    assert.equal(typeof me.durationMs, 'number');
    for (const j of access) assert.equal(typeof j.requestId, 'string');

    const all = dtm.logs.text();
    for (const secret of [dtm.admin.password, wrongPassword, accessToken, refreshToken, dtm.env.DTM_JWT_SECRET]) {
        assert.ok(!all.includes(secret), 'a secret leaked into the logs');
    }
    const dbPassword = new URL(dtm.databaseUrl).password;
    if (dbPassword) assert.ok(!all.includes(dbPassword), 'the database password leaked into the logs');
});
