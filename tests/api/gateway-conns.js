// SPDX-License-Identifier: MIT
// Helper of gateway.test.js, run in its own process with a raised fd limit:
//   node gateway-conns.js PORT N ROUNDS TOKEN
// opens N keep-alive connections to the gateway at 127.0.0.1:PORT, sends one GET on each as it
// opens, then ROUNDS rounds of one GET on every connection while all of them stay open. Prints
// one JSON line {opened, served, errors, closed, ms}.
'use strict';

const net = require('node:net');

const [port, n, rounds] = process.argv.slice(2, 5).map(Number);
const token = process.argv[5];
const REQ = Buffer.from(`GET /api/auth/me HTTP/1.1\r\nHost: gw\r\nUser-Agent: conns\r\nAuthorization: Bearer ${token}\r\n\r\n`);
const t0 = Date.now();
const res = { opened: 0, served: 0, errors: 0, closed: 0, ms: 0, firstError: null };
const conns = [];

function conn() {
    return new Promise((resolve) => {
        const s = net.connect({ port, host: '127.0.0.1' });
        const c = { s, buf: '', waiting: null };
        s.on('connect', () => {
            res.opened++;
            resolve(c);
        });
        s.on('data', (d) => {
            c.buf += d;
            // responses are small and fixed-length: count complete ones
            for (;;) {
                const i = c.buf.indexOf('\r\n\r\n');
                if (i < 0) return;
                const m = /content-length: *(\d+)/i.exec(c.buf.slice(0, i));
                const len = m ? Number(m[1]) : 0;
                if (c.buf.length < i + 4 + len) return;
                const ok = c.buf.startsWith('HTTP/1.1 200');
                if (!ok && !res.firstError) res.firstError = c.buf.slice(0, 200);
                c.buf = c.buf.slice(i + 4 + len);
                if (ok) res.served++;
                else res.errors++;
                const w = c.waiting;
                c.waiting = null;
                if (w) w();
            }
        });
        s.on('error', (e) => {
            res.errors++;
            if (!res.firstError) res.firstError = e.message;
            resolve(c);
        });
        s.on('close', () => {
            res.closed++;
            const w = c.waiting;
            c.waiting = null;
            if (w) w();
        });
    });
}

function ask(c) {
    return new Promise((resolve) => {
        if (c.s.destroyed) return resolve();
        c.waiting = resolve;
        c.s.write(REQ);
    });
}

(async () => {
    const batch = 250;
    for (let i = 0; i < n; i += batch) {
        const cs = await Promise.all(Array.from({ length: Math.min(batch, n - i) }, conn));
        conns.push(...cs);
        await Promise.all(cs.map(ask));
    }
    for (let r = 0; r < rounds; r++) await Promise.all(conns.map(ask));
    res.ms = Date.now() - t0;
    process.stdout.write(JSON.stringify(res) + '\n'); // before our own closes count
    for (const c of conns) c.s.destroy();
})();
