// SPDX-License-Identifier: MIT
// /metrics off the public port: with DTM_METRICS_ADDR set, every process answers /metrics only on
// its private listener (Prometheus text there), 404 on the public port, and the private listener
// is no side door into the API (404 for anything but /metrics). In the micro topology each
// process (gateway and every service) gets its own metrics port. Without DTM_METRICS_ADDR the
// other suites keep reading /metrics from the public port.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startDtm, api } = require('./lib/harness.js');

let dtm;
before(async () => {
    dtm = await startDtm({ metricsAddr: true });
});
after(async () => {
    await dtm?.stop();
});

test('every process: /metrics 404 on the public port, Prometheus text on its metrics address', async () => {
    assert.ok(dtm.processes.length >= 1);
    if (dtm.topology === 'micro') assert.ok(dtm.processes.length > 2, 'gateway and the services');
    const seen = new Set();
    for (const p of dtm.processes) {
        assert.ok(p.metricsUrl, `${p.name} has a metrics address`);
        assert.notEqual(p.metricsUrl, p.url);
        assert.ok(!seen.has(p.metricsUrl), 'one metrics port per process');
        seen.add(p.metricsUrl);

        const pub = await api('GET', '/metrics', { base: p.url });
        assert.equal(pub.status, 404, `${p.name}: public /metrics must be 404: ${pub.text.slice(0, 200)}`);
        assert.equal(pub.json.error.code, 'not_found');
        assert.doesNotMatch(pub.text, /# TYPE/);

        const priv = await api('GET', '/metrics', { base: p.metricsUrl, contract: false });
        assert.equal(priv.status, 200, `${p.name}: ${priv.text.slice(0, 200)}`);
        assert.match(priv.headers['content-type'], /^text\/plain/);
        assert.match(priv.text, /^# TYPE http_requests_total counter$/m);
        assert.match(priv.text, /^http_requests_in_flight /m);

        // The public port still serves everything else.
        assert.equal((await api('GET', '/health', { base: p.url })).status, 200);
        assert.equal((await api('GET', '/livez', { base: p.url })).status, 200);
    }
});

test('the metrics listener answers nothing but /metrics', async () => {
    const p = dtm.main;
    for (const path of ['/health', '/livez', '/api/auth/me', '/api/auth/login', '/', '/metrics/x']) {
        // contract: false: the metrics listener is not the API the document describes
        const r = await api('GET', path, { base: p.metricsUrl, contract: false });
        assert.equal(r.status, 404, `${path} on the metrics port: ${r.status} ${r.text.slice(0, 200)}`);
    }
    const login = await api('POST', '/api/auth/login', {
        base: p.metricsUrl,
        contract: false,
        body: { email: dtm.admin.email, password: dtm.admin.password },
    });
    assert.equal(login.status, 404, 'no login through the metrics port');
    // ...while the public port logs in as before.
    assert.ok((await dtm.loginAdmin()).accessToken);
});

test('requests on the public port are counted in what the metrics port serves', async () => {
    const p = dtm.main;
    const count = async () => {
        const m = await api('GET', '/metrics', { base: p.metricsUrl, contract: false });
        return m.text
            .split('\n')
            .filter((l) => l.startsWith('http_requests_total{') && l.includes('"/livez"'))
            .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    };
    const before = await count();
    for (let i = 0; i < 3; i++) assert.equal((await dtm.api('GET', '/livez')).status, 200);
    assert.ok((await count()) >= before + 3, 'the same registry, another door');
});

test('an invalid DTM_METRICS_ADDR is a configuration error', async () => {
    for (const bad of ['9464', 'localhost:9464', '127.0.0.1:0', '127.0.0.1:70000', '::1:9464']) {
        const r = await dtm.dtm(['config'], { DTM_METRICS_ADDR: bad }).then(
            (x) => ({ code: 0, out: x.stdout + x.stderr }),
            (e) => ({ code: 1, out: e.message }),
        );
        assert.equal(r.code, 1, `${bad} accepted: ${r.out}`);
        assert.match(r.out, /DTM_METRICS_ADDR/);
    }
    const ok = await dtm.dtm(['config'], { DTM_METRICS_ADDR: '[::1]:9464' });
    assert.match(ok.stdout, /DTM_METRICS_ADDR\s*=?\s*\[::1\]:9464/);
});
