// SPDX-License-Identifier: MIT
// The fault matrix (issue 11, `make test-faults`): for each fault and each topology, a writer
// client (tests/faults/lib/workload.js: Idempotency-Key, retries like a real client) and a
// reader run while the fault is injected; afterwards every acknowledged write must be readable
// (0 lost) and every idempotent GET must have been answered 2xx, or 503 within 1 s (0 failed).
// The cells run one after the other, each on a fresh dtm, against this file's own PostgreSQL and
// Redis (startPostgres/startRedis), so that stopping them disturbs no other suite. The table
// (fault × topology → acknowledged writes, lost, failed GETs, max latency) is printed and
// written to test-output/faults.md.
//
// DTM_FAULTS_TOPOLOGIES=all,micro (default both) and DTM_FAULTS_ONLY=<substring of a fault name>
// narrow the run while debugging.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { startDtm, startPostgres, startRedis, sleep, ROOT } = require('../api/lib/harness.js');
const { Workload, call } = require('./lib/workload.js');

const TOPOLOGIES = (process.env.DTM_FAULTS_TOPOLOGIES || 'all,micro').split(',').filter(Boolean);
const ONLY = process.env.DTM_FAULTS_ONLY || '';
const OUTAGE_MS = 20000;
const OUT_DIR = process.env.DTM_TEST_OUTPUT || path.join(ROOT, 'test-output');

const ENV = {
    DTM_LOGIN_LIMIT_PER_IP: '100000',
    DTM_LOGIN_LIMIT_PER_EMAIL: '100000',
};

let pg, redis;
const rows = [];
const keepAlive = setInterval(() => {}, 1000); // dtm children are unref'd: keep the loop alive

before(async () => {
    pg = await startPostgres();
    redis = await startRedis();
});

after(async () => {
    clearInterval(keepAlive);
    writeTable();
    await redis?.destroy();
    await pg?.destroy();
});

/** The todo writer and readers every cell runs (more in some cells). */
function todoWorkload(ctx, extra = {}) {
    const { dtm, token } = ctx;
    const base = () => dtm.url;
    const w = new Workload({
        base,
        write: (seq) => {
            const title = `fault ${ctx.name} #${seq} ${Math.random().toString(36).slice(2, 8)}`;
            return {
                method: 'POST',
                path: '/api/todos',
                token,
                body: { title, priority: 'medium' },
                info: { title },
                ack: (r) => r.json?.todo?.id || null,
            };
        },
        reads: [
            () => ({ path: '/api/todos?limit=5', token }),
            () => {
                const a = w.acked[Math.floor(Math.random() * w.acked.length)];
                return a ? { path: `/api/todos/${a.id}`, token } : { path: '/api/todos/stats', token };
            },
            () => ({ path: '/api/auth/me', token }),
        ],
        ...extra,
    });
    w.readBack = async (a) => {
        const r = await call(base, 'GET', `/api/todos/${a.id}`, { token });
        if (r.status === 200 && r.json?.todo?.title === a.info.title) return true;
        return r.status ? `${r.status} ${r.text.slice(0, 120)}` : r.error;
    };
    return w;
}

/** Duplicates: a logical write stored twice (its title is unique per write). */
async function duplicates(ctx, w) {
    if (!w.acked.length) return 0;
    const [[n]] = await ctx.dtm.sql(
        `SELECT count(*) FROM (SELECT title FROM todos.todos WHERE title LIKE 'fault ${ctx.name} #%' GROUP BY title HAVING count(*) > 1) d`
    );
    return Number(n);
}

/**
 * One cell: a fresh dtm (opts from the fault), the workload started, `fault.inject(ctx)` awaited
 * after a second of warm-up, two more seconds of workload, then the checks.
 */
async function runCell(fault, topology, t) {
    const name = `${fault.key}-${topology}`.replace(/[^a-z0-9-]/gi, '');
    const ctx = { name, topology, pg, redis, t };
    let startOpts;
    try {
        startOpts = (await fault.opts?.(ctx)) || {};
    } catch (e) {
        if (!(e instanceof Skip)) throw e;
        rows.push({ fault: fault.title, topology, order: fault.order, skipped: e.message });
        t.skip(e.message);
        return;
    }
    try {
        ctx.dtm = await startDtm({ topology, pg, redis, ...startOpts, env: { ...ENV, ...(startOpts.env || {}) } });
    } catch (e) {
        await fault.cleanup?.(ctx);
        throw e;
    }
    const row = { fault: fault.title, topology, order: fault.order, acked: 0, lost: 0, dup: 0, unacked: 0, gets: 0, failedGets: 0, maxGetMs: 0, note: '' };
    rows.push(row);
    try {
        const s = await ctx.dtm.loginAdmin();
        ctx.token = s.accessToken;
        ctx.adminId = s.user.id;
        await fault.setup?.(ctx);
        const workloads = [todoWorkload(ctx), ...((await fault.workloads?.(ctx)) || [])];
        ctx.workloads = workloads;
        for (const w of workloads) w.start();
        await sleep(1000);
        await fault.inject(ctx);
        await sleep(2000);
        for (const w of workloads) await w.stop();
        await fault.restore?.(ctx);

        const lost = [];
        for (const w of workloads) lost.push(...(await w.lost(w.readBack)));
        row.acked = workloads.reduce((n, w) => n + w.acked.length, 0);
        row.unacked = workloads.reduce((n, w) => n + w.unacked.length, 0);
        row.lost = lost.length;
        row.dup = await duplicates(ctx, workloads[0]);
        row.gets = workloads.reduce((n, w) => n + w.gets, 0);
        const failed = workloads.flatMap((w) => w.failedGets);
        row.failedGets = failed.length;
        row.slowGets = workloads.reduce((n, w) => n + w.slowGets, 0);
        row.maxGetMs = Math.round(Math.max(...workloads.map((w) => w.maxGetMs)));
        row.statuses = workloads.map((w) => w.statuses);
        row.note = ctx.note || '';
        const why = (xs) => [...new Set(xs.map((x) => x.why))].slice(0, 5).join(' | ');
        row.detail = [lost.length ? `lost: ${why(lost)}` : '', failed.length ? `failed GETs: ${why(failed)}` : ''].filter(Boolean).join('; ');
        t.diagnostic(`${fault.title} × ${topology}: ${JSON.stringify({ ...row, statuses: row.statuses })}`);

        assert.ok(row.acked > 0, 'the writer got writes acknowledged');
        assert.equal(lost.length, 0, `acknowledged writes not readable: ${JSON.stringify(lost.slice(0, 5))}`);
        assert.equal(row.dup, 0, 'no logical write stored twice');
        assert.equal(failed.length, 0, `failed GETs: ${JSON.stringify(failed.slice(0, 10))}`);
        if (fault.assert) await fault.assert(ctx, row);
    } catch (e) {
        row.error = e.message.split('\n')[0].slice(0, 200);
        throw e;
    } finally {
        try {
            await ctx.dtm.stop();
        } finally {
            await fault.cleanup?.(ctx);
        }
        await pg.start().catch(() => {}); // a failed cell must not leave the next one without them
        if (!redis.child) await redis.start();
    }
}

// ------------------------------------------------------------------------------------------------
// the faults, in priority order

const FAULTS = [
    {
        key: 'replica-kill',
        title: 'one replica killed (SIGKILL)',
        only: ['micro'],
        skipReason: 'one process: no second replica to fail over to',
        opts: () => ({ replicas: { todos: 2, auth: 2 } }),
        async inject(ctx) {
            const [, victim] = ctx.dtm.replicas('todos');
            ctx.victim = victim;
            victim.kill('SIGKILL');
            await victim.exited;
            await sleep(4000);
        },
        async restore(ctx) {
            ctx.victim.start();
            await ctx.victim.waitHealthy();
        },
    },
    {
        key: 'redis-stop',
        title: 'Redis stopped 20 s',
        async inject(ctx) {
            await ctx.redis.stop();
            await sleep(OUTAGE_MS);
            await ctx.redis.start();
        },
    },
    {
        key: 'pg-restart',
        title: 'PostgreSQL restarted',
        async inject(ctx) {
            await ctx.pg.restart();
        },
    },
    {
        key: 'pg-stop',
        title: 'PostgreSQL stopped 20 s',
        async inject(ctx) {
            await ctx.pg.stop();
            await sleep(OUTAGE_MS);
            await ctx.pg.start();
        },
    },
    {
        key: 'slow-upstream',
        title: 'slow upstream (2 s)',
        // micro: one of two todos replicas frozen (SIGSTOP) for 2 s; all: the one process has no
        // HTTP upstream, so its PostgreSQL (postmaster and backends) is frozen for 2 s instead.
        opts: (ctx) => (ctx.topology === 'micro' ? { replicas: { todos: 2 } } : {}),
        async inject(ctx) {
            const pids = ctx.topology === 'micro' ? [ctx.dtm.replicas('todos')[1].child.pid] : pgPids(ctx.pg);
            ctx.note = ctx.topology === 'micro' ? 'todos#2 SIGSTOPped 2 s' : `PostgreSQL (${pids.length} processes) SIGSTOPped 2 s`;
            for (const pid of pids) process.kill(pid, 'SIGSTOP');
            await sleep(2000);
            for (const pid of pids) process.kill(pid, 'SIGCONT');
            await sleep(2000);
        },
    },
    {
        key: 'garbage-upstream',
        title: 'upstream answering garbage',
        // micro: one of two todos replicas replaced (same port) by a server answering garbage for
        // 5 s; all: Redis replaced by one for 5 s (the one process's only network peer besides
        // PostgreSQL).
        opts: (ctx) => (ctx.topology === 'micro' ? { replicas: { todos: 2 } } : {}),
        async inject(ctx) {
            let port;
            if (ctx.topology === 'micro') {
                ctx.victim = ctx.dtm.replicas('todos')[1];
                await ctx.victim.stop();
                port = ctx.victim.port;
                ctx.note = 'todos#2 replaced by garbage for 5 s';
            } else {
                await ctx.redis.stop();
                port = ctx.redis.port;
                ctx.note = 'Redis replaced by garbage for 5 s';
            }
            const g = await garbageServer(port);
            await sleep(5000);
            await g.close();
            if (ctx.topology === 'micro') {
                ctx.victim.start();
                await ctx.victim.waitHealthy();
            } else {
                await ctx.redis.start();
            }
            ctx.note += ` (${g.connections} connections to it)`;
        },
    },
    {
        key: 'slowloris',
        title: 'slowloris, 500 connections',
        async inject(ctx) {
            const port = Number(new URL(ctx.dtm.url).port);
            const socks = [];
            let closed = 0;
            for (let i = 0; i < 500; i++) {
                const s = net.connect(port, '127.0.0.1');
                s.on('error', () => {});
                s.on('close', () => closed++);
                s.on('connect', () => s.write('GET /api/todos HTTP/1.1\r\nHost: x\r\n'));
                socks.push(s);
            }
            // A header line a second, until the server's whole-request timeout (DTM_READ_TIMEOUT_MS,
            // 15 s by default) has cut every one of them.
            const t0 = Date.now();
            for (let k = 0; closed < socks.length && k < 20; k++) {
                await sleep(1000);
                for (const s of socks) if (!s.destroyed) s.write(`X-Slow-${k}: 1\r\n`);
            }
            ctx.slowlorisClosed = closed;
            ctx.note = `500 connections trickling headers; ${closed} cut by the server within ${Math.round((Date.now() - t0) / 1000)} s`;
            for (const s of socks) s.destroy();
        },
        assert: (ctx) => assert.equal(ctx.slowlorisClosed, 500, 'every trickling connection was cut by the server'),
    },
    {
        key: 'sigterm-export',
        title: 'SIGTERM during a CSV export',
        // all: the one process is terminated (the reader pauses while no process exists, the
        // writer keeps retrying) and started again; micro: one of two reports replicas.
        opts: (ctx) => (ctx.topology === 'micro' ? { replicas: { reports: 2 } } : {}),
        async setup(ctx) {
            await ctx.dtm.sql(`INSERT INTO todos.todos (id, title, description, assignee_id, created_by)
                SELECT gen_random_uuid(), 'bulk ' || g, repeat('x', 200), '${ctx.adminId}', '${ctx.adminId}'
                FROM generate_series(1, ${EXPORT_ROWS}) g`);
        },
        workloads: (ctx) => [
            new Workload({
                base: () => ctx.dtm.url,
                writers: 0,
                readers: 1,
                pauseMs: 100,
                write: () => null,
                reads: [() => ({ path: '/api/reports/summary', token: ctx.token })],
            }),
        ],
        async inject(ctx) {
            const victim = ctx.topology === 'micro' ? ctx.dtm.replicas('reports')[0] : ctx.dtm.main;
            // Two exports at once: in micro one lands on each replica.
            const exports = [0, 1].map(() => csvExport(ctx));
            await Promise.race(exports.map((e) => e.firstByte));
            if (ctx.topology === 'all') for (const w of ctx.workloads) w.readsPaused = true;
            victim.kill('SIGTERM');
            const exit = await victim.exited;
            const results = await Promise.all(exports.map((e) => e.done));
            ctx.exportResults = results;
            ctx.victimExit = exit;
            victim.start();
            await victim.waitHealthy();
            for (const w of ctx.workloads) w.readsPaused = false;
            const onVictim = ctx.dtm.logs.of(victim.name).filter((l) => l.text.includes('/api/reports/todos')).length;
            ctx.note = `${victim.name} exited ${JSON.stringify(exit)} (it served ${onVictim} of the 2 exports); exports: ${results.map((r) => r.summary).join(', ')}`;
        },
        async assert(ctx) {
            assert.equal(ctx.victimExit.code, 0, 'a clean exit after SIGTERM');
            assert.ok(ctx.note.includes('served 1') || ctx.note.includes('served 2'), `an export was in flight on the terminated process: ${ctx.note}`);
            for (const r of ctx.exportResults) {
                // Complete, or visibly cut (the client sees an error): never a short CSV that
                // looks complete.
                if (!r.error) assert.ok(r.rows >= EXPORT_ROWS, `an export that ended cleanly is complete: ${r.summary}`);
            }
        },
    },
    {
        key: 'disk-full',
        title: 'data directory full during photo uploads',
        async opts(ctx) {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dtm-faults-disk-'));
            try {
                execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'pipe' });
            } catch (e) {
                fs.rmSync(dir, { recursive: true, force: true });
                throw new Skip(`cannot mount a 2 MiB tmpfs (${String(e.stderr || e.message).trim().split('\n')[0]}): run as root`);
            }
            ctx.diskDir = dir;
            return { env: { DTM_DATA_DIR: dir } };
        },
        async setup(ctx) {
            const st = await call(() => ctx.dtm.url, 'POST', '/api/stores', {
                token: ctx.token,
                body: { code: `F-${Date.now()}`, name: 'Fault store', address: '1 Fault St', latitude: 48.8566, longitude: 2.3522 },
            });
            assert.equal(st.status, 201, st.text);
            ctx.store = st.json.store;
            ctx.merch = [];
            for (let i = 0; i < 2; i++) {
                const u = await ctx.dtm.createUser(ctx.token, { role: 'merchandiser' });
                ctx.merch.push((await ctx.dtm.login(u.email, u.password)).accessToken);
            }
        },
        workloads: (ctx) => [photoWorkload(ctx)],
        async inject(ctx) {
            // Uploads of ~120 KiB fill 2 MiB after about 16: wait for the refusals.
            const w = ctx.workloads[1];
            const t0 = Date.now();
            while (w.unacked.length < 3 && Date.now() - t0 < 30000) await sleep(100);
            await sleep(2000);
            const df = execFileSync('df', ['-k', '--output=used,size', ctx.diskDir]).toString().trim().split('\n').pop();
            const answers = [...new Set(w.unacked.map((u) => u.last.replace(/,?"requestId".*$/, '')))].join(' / ');
            ctx.note = `${w.unacked.length} uploads refused once the disk was full (df used/size KiB: ${df.trim().replace(/\s+/, '/')}): ${answers}`;
        },
        async assert(ctx) {
            assert.ok(ctx.workloads[1].unacked.length > 0, 'the disk did fill up');
            // A full disk is 507 insufficient_storage (nothing kept, retry later), never a bare 500.
            for (const u of ctx.workloads[1].unacked) assert.match(u.last, /^507 .*"insufficient_storage"/, `refused upload answered: ${u.last}`);
        },
        async cleanup(ctx) {
            if (ctx.diskDir) {
                execFileSync('umount', [ctx.diskDir]);
                fs.rmSync(ctx.diskDir, { recursive: true, force: true });
            }
        },
    },
];

const EXPORT_ROWS = 30000;

class Skip extends Error {}

/** The private PostgreSQL's processes: the postmaster (postmaster.pid) and its children. */
function pgPids(h) {
    const master = Number(fs.readFileSync(path.join(h.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const kids = execFileSync('ps', ['-o', 'pid=', '--ppid', String(master)])
        .toString()
        .split('\n')
        .map((x) => Number(x.trim()))
        .filter(Boolean);
    return [master, ...kids];
}

/** A TCP server on `port` that answers every connection with bytes that are not the protocol. */
function garbageServer(port) {
    const sockets = new Set();
    const g = { connections: 0 };
    const srv = net.createServer((s) => {
        g.connections++;
        sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => sockets.delete(s));
        s.once('data', () => {
            // Half of them a broken HTTP head, the other half noise; then the connection ends.
            if (g.connections % 2) s.end('HTTP/1.1 2OO OK\r\nContent-Length: banana\r\n\r\n' + crypto.randomBytes(64).toString('base64'));
            else s.end(crypto.randomBytes(256));
        });
    });
    return new Promise((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(port, '127.0.0.1', () => {
            g.close = () =>
                new Promise((r) => {
                    for (const s of sockets) s.destroy();
                    srv.close(r);
                });
            resolve(g);
        });
    });
}

/** GET /api/reports/todos?format=csv, read to the end: {firstByte, done -> {rows, error, summary}}. */
function csvExport(ctx) {
    let first;
    const firstByte = new Promise((r) => (first = r));
    const done = (async () => {
        let text = '';
        try {
            const res = await fetch(ctx.dtm.url + '/api/reports/todos?format=csv', {
                headers: { authorization: `Bearer ${ctx.token}` },
                signal: AbortSignal.timeout(60000),
            });
            const dec = new TextDecoder();
            for await (const chunk of res.body) {
                first();
                text += dec.decode(chunk, { stream: true });
            }
            const rows = text.split('\n').filter(Boolean).length - 1;
            return { rows, status: res.status, summary: `${res.status} complete, ${rows} rows` };
        } catch (e) {
            first();
            const rows = Math.max(0, text.split('\n').length - 2);
            return { error: e.cause?.code || e.message, rows, summary: `cut after ${rows} rows (${e.cause?.code || e.message})` };
        }
    })();
    return { firstByte, done };
}

/** Punch-ins with a fresh ~120 KiB JPEG each (then the punch-out), by two merchandisers. */
function photoWorkload(ctx) {
    const base = () => ctx.dtm.url;
    const w = new Workload({
        base,
        writers: 2,
        readers: 1,
        pauseMs: 100,
        write: (seq) => {
            const token = ctx.merch[seq % ctx.merch.length];
            const jpeg = Buffer.concat([Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'), crypto.randomBytes(120 * 1024), Buffer.from('ffd9', 'hex')]);
            const sha = crypto.createHash('sha256').update(jpeg).digest('hex');
            return {
                method: 'POST',
                path: '/api/attendance/punch-in',
                token,
                maxAttempts: 3, // a full disk stays full: a client gives up and keeps the photo
                body: () => {
                    const fd = new FormData();
                    fd.append('storeId', ctx.store.id);
                    fd.append('latitude', String(ctx.store.latitude));
                    fd.append('longitude', String(ctx.store.longitude));
                    fd.append('accuracyM', '10');
                    fd.append('photo', new Blob([jpeg], { type: 'image/jpeg' }), 'p.jpg');
                    return fd;
                },
                info: { token, sha },
                ack: (r) => (r.status === 201 && r.json?.attendance?.photoUrl ? r.json.attendance.id : null),
                after: async (r) => {
                    w.acked[w.acked.length - 1].info.photoUrl = r.json.attendance.photoUrl;
                    const o = await call(base, 'POST', '/api/attendance/punch-out', {
                        token,
                        body: { latitude: ctx.store.latitude, longitude: ctx.store.longitude, accuracyM: 10 },
                        headers: { 'idempotency-key': `faults-out-${r.json.attendance.id}` },
                    });
                    if (o.status !== 200) w.unacked.push({ seq, last: `punch-out ${o.status} ${o.text?.slice(0, 80)}` });
                },
            };
        },
        reads: [() => ({ path: '/api/attendance/current', token: ctx.merch[0] }), () => ({ path: '/api/attendance?limit=5', token: ctx.token })],
    });
    w.readBack = async (a) => {
        if (!a.info.photoUrl?.endsWith(a.info.sha)) return `photoUrl ${a.info.photoUrl} does not name ${a.info.sha}`;
        try {
            const res = await fetch(ctx.dtm.url + a.info.photoUrl, { headers: { authorization: `Bearer ${a.info.token}` }, signal: AbortSignal.timeout(5000) });
            const body = Buffer.from(await res.arrayBuffer());
            if (res.status !== 200) return `${res.status}`;
            const got = crypto.createHash('sha256').update(body).digest('hex');
            return got === a.info.sha ? true : `photo bytes differ (${body.length} bytes)`;
        } catch (e) {
            return e.message;
        }
    };
    return w;
}

FAULTS.forEach((f, i) => (f.order = i));
for (const topology of TOPOLOGIES) {
    for (const fault of FAULTS) {
        if (ONLY && !fault.key.includes(ONLY)) continue;
        const name = `${fault.title} × ${topology}`;
        if (fault.only && !fault.only.includes(topology)) {
            rows.push({ fault: fault.title, topology, order: fault.order, skipped: fault.skipReason });
            test(name, { skip: fault.skipReason }, () => {});
            continue;
        }
        const known = fault.todo?.[topology];
        test(name, known ? { todo: known } : {}, (t) => runCell(fault, topology, t));
    }
}

// ------------------------------------------------------------------------------------------------
// the table

function writeTable() {
    const head = '| fault | topology | acknowledged writes | lost | failed GETs | max GET latency | notes |';
    const lines = [head, '| --- | --- | ---: | ---: | ---: | ---: | --- |'];
    const sorted = [...rows].sort((a, b) => a.order - b.order || TOPOLOGIES.indexOf(a.topology) - TOPOLOGIES.indexOf(b.topology));
    for (const r of sorted) {
        if (r.skipped) {
            lines.push(`| ${r.fault} | ${r.topology} | – | – | – | – | n/a: ${r.skipped} |`);
            continue;
        }
        const notes = [
            r.slowGets ? `${r.slowGets} GETs answered 2xx after more than 1 s` : '',
            r.unacked ? `${r.unacked} writes never acknowledged (client gave up)` : '',
            r.dup ? `${r.dup} stored twice` : '',
            r.note,
            r.detail,
            r.error && !r.detail ? `error: ${r.error}` : '',
        ]
            .filter(Boolean)
            .join('; ')
            .replace(/\|/g, '/');
        lines.push(`| ${r.fault} | ${r.topology} | ${r.acked} | ${r.lost} | ${r.failedGets} of ${r.gets} | ${r.maxGetMs} ms | ${notes} |`);
    }
    const md =
        '# Fault matrix\n\n' +
        `Measured ${new Date().toISOString()} by tests/faults/faults.test.js. A failed GET: not answered within 5 s, ` +
        '503 after more than 1 s, or answered anything but 2xx/503. Lost: acknowledged (2xx with an id) but not readable afterwards. ' +
        'The writer retries with the same Idempotency-Key on 5xx, 409 request_in_progress, timeouts and connection errors.\n\n' +
        lines.join('\n') +
        '\n';
    process.stdout.write('\n' + md + '\n');
    fs.mkdirSync(OUT_DIR, { recursive: true });
    fs.writeFileSync(path.join(OUT_DIR, 'faults.md'), md);
}
