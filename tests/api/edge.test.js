// SPDX-License-Identifier: MIT
// Edge protection at the process that faces clients: rate limits per IP and per user (429 with
// Retry-After, never on /health or /metrics), X-Forwarded-For believed only from trusted
// proxies, CORS allowlist with preflight, security headers, and 401 before any hop.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startDtm } = require('./lib/harness.js');

let dtm;
before(async () => {
    dtm = await startDtm({
        env: {
            DTM_RATE_LIMIT_PER_IP: '60',
            DTM_RATE_LIMIT_PER_USER: '30',
            DTM_RATE_LIMIT_BURST_PCT: '20', // buckets of 12 per IP and 6 per user
            DTM_TRUSTED_PROXIES: '127.0.0.1',
            DTM_CORS_ORIGINS: 'https://app.example.com',
        },
    });
});
after(async () => {
    if (dtm) await dtm.stop();
});

// Each test uses its own forwarded client address (the peer 127.0.0.1 is a trusted proxy).
const from = (ip, extra = {}) => ({ headers: { 'x-forwarded-for': ip, ...extra } });

test('per-IP limit: 429 with Retry-After after the burst; health and metrics never limited', async () => {
    const codes = [];
    for (let i = 0; i < 16; i++) codes.push((await dtm.api('GET', '/api/stores', from('198.51.100.1'))).status);
    assert.equal(codes.filter((c) => c === 401).length, 12, codes.join(','));
    const r = await dtm.api('GET', '/api/stores', from('198.51.100.1'));
    assert.equal(r.status, 429);
    assert.equal(r.json.error.code, 'rate_limited');
    assert.ok(Number(r.headers['retry-after']) >= 1);
    for (let i = 0; i < 20; i++) {
        assert.equal((await dtm.api('GET', '/health', from('198.51.100.1'))).status, 200);
        assert.equal((await dtm.api('GET', '/metrics', from('198.51.100.1'))).status, 200);
    }
    // Another client is not affected.
    assert.equal((await dtm.api('GET', '/api/stores', from('198.51.100.2'))).status, 401);
    const m = await dtm.api('GET', '/metrics');
    assert.match(m.text, /gateway_rate_limited_total\{scope="ip"\} [1-9]/);
});

test('per-user limit follows the token across addresses', async () => {
    const { accessToken } = await dtm.login(dtm.admin.email, dtm.admin.password, from('198.51.100.10'));
    const codes = [];
    for (let i = 0; i < 9; i++) {
        const r = await dtm.api('GET', '/api/auth/me', { token: accessToken, ...from(`198.51.100.${20 + i}`) });
        codes.push(r.status);
    }
    assert.deepEqual(codes.slice(0, 6), [200, 200, 200, 200, 200, 200]);
    assert.ok(codes.slice(6).every((c) => c === 429), codes.join(','));
});

test('the client address comes from X-Forwarded-For when the peer is a trusted proxy', async () => {
    await dtm.api('GET', '/api/nothing-here', from('203.0.113.77', { 'x-request-id': 'edge-xff-1' }));
    const line = await dtm.logs.waitFor((l) => l.json && l.json.requestId === 'edge-xff-1');
    assert.equal(line.json.ip, '203.0.113.77', 'trusted proxy: forwarded address used');
});

test('CORS: preflight for an allowed origin, 403 for another; headers on responses', async () => {
    const ok = await dtm.api('OPTIONS', '/api/todos', {
        headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', ...from('198.51.100.40').headers },
    });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.match(ok.headers['access-control-allow-headers'], /Authorization/i);
    const bad = await dtm.api('OPTIONS', '/api/todos', {
        headers: { origin: 'https://evil.example.net', 'access-control-request-method': 'POST', ...from('198.51.100.41').headers },
    });
    assert.equal(bad.status, 403);
    assert.equal(bad.headers['access-control-allow-origin'], undefined);
    const h = await dtm.api('GET', '/health', { headers: { origin: 'https://app.example.com' } });
    assert.equal(h.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(h.headers['x-content-type-options'], 'nosniff');
    assert.match(h.headers['content-security-policy'], /frame-ancestors 'none'/);
    assert.ok(h.headers['referrer-policy']);
    assert.equal(h.headers['strict-transport-security'], undefined, 'no HSTS on plain HTTP');
    const tls = await dtm.api('GET', '/health', { headers: { 'x-forwarded-proto': 'https' } });
    assert.match(tls.headers['strict-transport-security'], /max-age=/);
});
