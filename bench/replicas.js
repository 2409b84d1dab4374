#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Read scaling (issue 16): list throughput with the primary only vs primary + 1 streaming
// replica, in one run. One private PostgreSQL primary and a pg_basebackup -R hot standby on
// loopback (tests/api/lib/harness.js), two dtm processes on the same database: one without,
// one with DATABASE_URL_REPLICA. wrk drives GET /api/todos?limit=20 (admin: every todo, a
// count and a page) against each; rounds interleaved (this machine drifts), order rotated.
//
//   node bench/replicas.js      ROUNDS=3 DURATION=8 CONNS=32 TODOS=2000 DTM_BIN=path/to/dtm
//
// Needs wrk (scripts/deps.sh bench) and the test stack's Redis (make test-stack). Reports
// req/s and p99 per round and as medians, the ratio replica/primary-only, and the share of
// reads the replica served. On one machine both servers share the same cores, so the ratio says
// what the routing costs or saves here, not what a second host would add.
'use strict';

const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { startDtm, startPostgres, startStandby, sql, randomId, ROOT } = require('../tests/api/lib/harness.js');

const ROUNDS = Number(process.env.ROUNDS || 3);
const DURATION = Number(process.env.DURATION || 8);
const CONNS = Number(process.env.CONNS || 32);
const TODOS = Number(process.env.TODOS || 2000);

function wrk(url, token) {
    return new Promise((resolve, reject) => {
        execFile(
            'wrk',
            ['-t2', `-c${CONNS}`, `-d${DURATION}s`, '--latency', '-H', `Authorization: Bearer ${token}`, url],
            { maxBuffer: 1 << 20 },
            (err, stdout) => {
                if (err) return reject(err);
                const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
                const m = /99%\s+([\d.]+)(us|ms|s)/.exec(stdout);
                const p99 = m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]] : NaN;
                const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] || 0);
                resolve({ rps, p99, non2xx });
            }
        );
    });
}

async function replicaShare(dtm) {
    const text = (await dtm.api('GET', '/metrics')).text;
    let replica = 0,
        all = 0;
    for (const line of text.split('\n'))
        if (line.startsWith('dtm_db_reads_total{')) {
            const v = Number(line.split(' ').pop());
            all += v;
            if (line.includes('target="replica"')) replica += v;
        }
    return all ? replica / all : 0;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
    const primary = await startPostgres({ settings: { max_connections: '300' } });
    const db = `dtm_bench_${randomId(4)}`;
    await sql(primary.url, `CREATE DATABASE ${db}`);
    const url = (base) => Object.assign(new URL(base), { pathname: `/${db}` }).toString();
    const standby = await startStandby(primary, { settings: { max_connections: '300' } });
    const runs = [];
    try {
        const plain = await startDtm({ databaseUrl: url(primary.url), env: { DTM_THREADS: '16', DTM_PG_POOL_SIZE: '32' } });
        runs.push(plain);
        const rep = await startDtm({
            databaseUrl: url(primary.url),
            migrate: false,
            seed: false,
            env: { DTM_THREADS: '16', DTM_PG_POOL_SIZE: '32', DATABASE_URL_REPLICA: url(standby.url), DTM_JWT_SECRET: plain.env.DTM_JWT_SECRET },
        });
        runs.push(rep);
        const token = (await plain.loginAdmin()).accessToken;
        // Seed through the API in parallel batches (the schema stays the code's business).
        for (let i = 0; i < TODOS; i += 50)
            await Promise.all(Array.from({ length: Math.min(50, TODOS - i) }, (_, k) => plain.api('POST', '/api/todos', { token, body: { title: `bench ${i + k}` } })));
        // Let the standby catch up and the marks of the seeding writes expire.
        await new Promise((r) => setTimeout(r, 11000));
        const configs = [
            { name: 'primary only', dtm: plain, res: [] },
            { name: 'primary + replica', dtm: rep, res: [] },
        ];
        const target = (d) => `${d.url}/api/todos?limit=20`;
        for (const c of configs) await wrk(target(c.dtm), token).catch(() => {}); // warm-up
        const lines = [];
        const say = (s) => {
            console.log(s);
            lines.push(s);
        };
        say(`# read scaling: GET /api/todos?limit=20 over ${TODOS} todos, ${CONNS} connections, ${DURATION} s x ${ROUNDS} rounds, nproc ${require('node:os').cpus().length}`);
        for (let r = 0; r < ROUNDS; r++) {
            const order = r % 2 ? [...configs].reverse() : configs;
            for (const c of order) {
                const x = await wrk(target(c.dtm), token);
                c.res.push(x);
                say(`round ${r + 1} ${c.name.padEnd(18)} ${x.rps.toFixed(0).padStart(7)} req/s  p99 ${x.p99.toFixed(1)} ms  non-2xx ${x.non2xx}`);
            }
        }
        const [a, b] = configs.map((c) => ({ rps: median(c.res.map((x) => x.rps)), p99: median(c.res.map((x) => x.p99)) }));
        say(`median primary only      ${a.rps.toFixed(0)} req/s  p99 ${a.p99.toFixed(1)} ms`);
        say(`median primary + replica ${b.rps.toFixed(0)} req/s  p99 ${b.p99.toFixed(1)} ms`);
        say(`ratio replica/primary-only: req/s ${(b.rps / a.rps).toFixed(2)}x, p99 ${(b.p99 / a.p99).toFixed(2)}x; reads served by the replica: ${(100 * (await replicaShare(rep))).toFixed(1)} %`);
        const out = path.join(ROOT, 'var', 'bench');
        fs.mkdirSync(out, { recursive: true });
        fs.writeFileSync(path.join(out, `replicas-${new Date().toISOString().replace(/[:.]/g, '')}.txt`), lines.join('\n') + '\n');
    } finally {
        for (const d of runs.reverse()) await d.stop().catch(() => {});
        await standby.destroy();
        await primary.destroy();
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
