// SPDX-License-Identifier: MIT
// A stalled stdout (a full pipe, a log collector that stopped reading) must not stall requests:
// lines go through a bounded ring (DTM_LOG_BUFFER_BYTES) drained by one writer thread, and
// lines that do not fit are dropped and counted in dtm_log_dropped_lines_total. Once stdout
// reads again, logging resumes and every line is still whole JSON.
// With DTM_LOG_BUFFER_BYTES=0 (synchronous writes) the same load fails: requests block behind
// the pipe until they time out.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startDtm } = require('./lib/harness.js');

let dtm;
before(async () => {
    // A small ring, so that a few thousand requests overflow it.
    dtm = await startDtm({ env: { DTM_LOG_BUFFER_BYTES: '131072', DTM_LOGIN_LIMIT_PER_IP: '1000' } });
});
after(async () => {
    if (dtm) await dtm.stop();
});

function dropped(metricsText) {
    const m = /^dtm_log_dropped_lines_total (\d+(?:\.\d+)?)/m.exec(metricsText);
    assert.ok(m, 'dtm_log_dropped_lines_total is exported');
    return Number(m[1]);
}

// 2000 authenticated requests, 8 at a time, with a 400-byte User-Agent (about 600 bytes of log
// line each, several times the ring), while no process's stdout is read.
async function loadWhileStalled(accessToken) {
    const ua = 'logring-test/' + 'x'.repeat(400);
    const total = 2000;
    const concurrency = 8;
    let next = 0;
    let failures = 0;
    let maxMs = 0;
    const worker = async () => {
        while (next < total && failures === 0) {
            next++;
            const r = await dtm
                .api('GET', '/api/auth/me', { token: accessToken, headers: { 'user-agent': ua }, timeoutMs: 5000 })
                .catch(() => ({ status: 0, durationMs: 5000 }));
            if (r.status !== 200) failures++; // and every worker stops: a blocked server fails fast
            if (r.durationMs > maxMs) maxMs = r.durationMs;
        }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { total, failures, maxMs };
}

test('a stalled stdout costs requests nothing; dropped lines are counted; logging resumes', async () => {
    const { accessToken } = await dtm.loginAdmin();
    const before = dropped((await dtm.api('GET', '/metrics')).text);

    for (const p of dtm.processes) p.child.stdout.pause();
    let load;
    try {
        load = await loadWhileStalled(accessToken);
    } finally {
        // Resume even when the load failed, or the processes could never log their exit.
        for (const p of dtm.processes) p.child.stdout.resume();
    }
    assert.equal(load.failures, 0, `${load.failures} requests failed while stdout was stalled`);
    assert.ok(load.maxMs < 3000, `slowest request ${load.maxMs} ms while stdout was stalled`);
    const during = dropped((await dtm.api('GET', '/metrics')).text);
    assert.ok(during > before, `lines were dropped and counted (${before} -> ${during})`);

    // The ring drains, then new lines arrive again.
    const marker = 'logring-marker-' + Date.now();
    const deadline = Date.now() + 10000;
    let seen = false;
    while (!seen && Date.now() < deadline) {
        await dtm.api('GET', '/api/auth/me', { token: accessToken, headers: { 'x-request-id': marker } });
        await new Promise((r) => setTimeout(r, 200));
        seen = dtm.logs.lines.some((l) => l.stream === 'stdout' && l.json && l.json.requestId === marker);
    }
    assert.ok(seen, 'a request after stdout resumed is logged');
    for (const l of dtm.logs.lines.filter((x) => x.stream === 'stdout')) {
        assert.ok(l.json && typeof l.json === 'object', `a whole JSON line: ${l.text.slice(0, 200)}`);
    }
});
