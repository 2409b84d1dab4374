// SPDX-License-Identifier: MIT
// A client that stops reading a streamed response (a CSV report) is cut off after
// DTM_WRITE_TIMEOUT_MS, so it cannot pin worker threads and database connections: other
// requests keep being answered.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { startDtm } = require('./lib/harness.js');

let dtm;
const socks = [];
after(async () => {
    for (const s of socks) s.destroy();
    if (dtm) await dtm.stop();
});

test('stalled CSV readers are cut off and do not starve the workers', async () => {
    // The HTTP core's stream writer is what is under test, so one process: through the gateway
    // the stalled client sits at the edge (see the closing note's known gaps).
    dtm = await startDtm({ topology: 'all', env: { DTM_THREADS: '4', DTM_LOOPS: '1', DTM_PG_POOL_SIZE: '8', DTM_WRITE_TIMEOUT_MS: '1500' } });
    const { accessToken, user } = await dtm.loginAdmin();
    await dtm.sql(`INSERT INTO todos.todos (id, title, description, assignee_id, created_by)
        SELECT gen_random_uuid(), 'todo ' || g, repeat('x', 300), '${user.id}', '${user.id}' FROM generate_series(1, 40000) g`);
    const port = Number(new URL(dtm.url).port);
    const openConns = async () => {
        const m = await dtm.api('GET', '/metrics');
        return Number((/^http_connections_open (\d+)/m.exec(m.text) || [])[1]);
    };
    const baseline = await openConns(); // the harness's own keep-alive connections
    for (let i = 0; i < 4; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => {});
        s.on('connect', () => {
            s.pause(); // never read: the server's socket buffer fills up
            s.write(`GET /api/reports/todos?format=csv HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${accessToken}\r\n\r\n`);
        });
        socks.push(s);
    }
    // Every worker is now blocked on a full socket; after the write timeout they are released.
    await new Promise((r) => setTimeout(r, 4000));
    const r = await dtm.api('GET', '/api/todos?limit=1', { token: accessToken, timeoutMs: 10000 });
    assert.equal(r.status, 200, r.text);
    // The server closed them (a paused client only notices once it reads again). Polled, not
    // read once: under a sanitizer on a loaded machine the CSV batches that fill the sockets
    // take a while; without the write timeout they would stay open for good.
    let open = await openConns();
    for (const deadline = Date.now() + 15000; open > baseline + 1 && Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 250));
        open = await openConns();
    }
    assert.ok(open <= baseline + 1, `stalled connections closed by the server (open: ${open}, before: ${baseline})`);
});
