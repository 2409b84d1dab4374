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
const fs = require('node:fs');
const path = require('node:path');
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
    const startOpts = (await fault.opts?.(ctx)) || {};
    ctx.dtm = await startDtm({ topology, pg, redis, ...startOpts, env: { ...ENV, ...(startOpts.env || {}) } });
    const row = { fault: fault.title, topology, acked: 0, lost: 0, dup: 0, unacked: 0, gets: 0, failedGets: 0, maxGetMs: 0, note: '' };
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
        row.maxGetMs = Math.round(Math.max(...workloads.map((w) => w.maxGetMs)));
        row.statuses = workloads.map((w) => w.statuses);
        row.note = [ctx.note, fault.check ? await fault.check(ctx) : null].filter(Boolean).join('; ');
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
        await fault.cleanup?.(ctx);
        await ctx.dtm.stop();
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
];

for (const topology of TOPOLOGIES) {
    for (const fault of FAULTS) {
        if (ONLY && !fault.key.includes(ONLY)) continue;
        const name = `${fault.title} × ${topology}`;
        if (fault.only && !fault.only.includes(topology)) {
            rows.push({ fault: fault.title, topology, skipped: fault.skipReason });
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
    for (const r of rows) {
        if (r.skipped) {
            lines.push(`| ${r.fault} | ${r.topology} | – | – | – | – | n/a: ${r.skipped} |`);
            continue;
        }
        const notes = [
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
        '503 after more than 1 s, or answered anything but 2xx/503. Lost: acknowledged (2xx with an id) but not readable afterwards.\n\n' +
        lines.join('\n') +
        '\n';
    process.stdout.write('\n' + md + '\n');
    fs.mkdirSync(OUT_DIR, { recursive: true });
    fs.writeFileSync(path.join(OUT_DIR, 'faults.md'), md);
}
