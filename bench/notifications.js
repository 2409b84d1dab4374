#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Notifications fan-out benchmark (issue 13): USERS merchandisers, each with one SSE stream open
// on /api/notifications/stream; EVENTS todo.assigned events (spread evenly over the users) are
// committed into the todos outbox in one transaction, and the outbox relay → notifications
// consumer → Redis → SSE path carries them to the clients. Reported, per round and as medians:
//   commit → last client      time from the outbox commit until the last notification arrived
//   per notification p50/p99  commit → arrival of each notification
//   push p50/p99              the notification's own createdAt (its insert) → arrival: the live
//                             path alone, without the wait in the dispatcher's queue
//   dispatcher events/s       EVENTS / (commit → last processed event)
//   LISTEN/NOTIFY p50/p99     a PostgreSQL NOTIFY → LISTEN round trip on the same server, in the
//                             same run: the floor of any "database change → client" path
// E-mail is switched off for the users (this measures the inbox and the push; the mail queue is
// paced by the SMTP server). Results also go to var/bench/notifications-<time>.txt.
//
//   node bench/notifications.js          USERS=500 EVENTS=1000 ROUNDS=3 DTM_BIN=build/dtm
//                                        DTM_TEST_TOPOLOGY=micro for the microservices layout
//                                        (needs tests/node_modules: cd tests && npm ci)
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const ROOT = path.resolve(__dirname, '..');
const { startDtm, sleep, until } = require(path.join(ROOT, 'tests/api/lib/harness.js'));
const { Client } = require(path.join(ROOT, 'tests/node_modules/pg'));

const USERS = Number(process.env.USERS || 500);
const EVENTS = Number(process.env.EVENTS || 1000);
const ROUNDS = Number(process.env.ROUNDS || 3);

const b64u = (b) => Buffer.from(b).toString('base64url');
function jwt(secret, sub, role) {
    const now = Math.floor(Date.now() / 1000);
    const head = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const body = b64u(JSON.stringify({ sub, role, jti: crypto.randomUUID(), iat: now, exp: now + 3600, iss: 'dtm' }));
    const mac = crypto.createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
    return `${head}.${body}.${mac}`;
}

const pct = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};
const median = (xs) => pct(xs, 50);

function openStream(base, token, onEvent) {
    const ac = new AbortController();
    let connected;
    const ready = new Promise((r) => (connected = r));
    (async () => {
        const res = await fetch(`${base}/api/notifications/stream`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
        if (res.status !== 200) throw new Error(`stream: ${res.status} ${await res.text()}`);
        const dec = new TextDecoder();
        let buf = '';
        for await (const chunk of res.body) {
            buf += dec.decode(chunk, { stream: true });
            let i;
            while ((i = buf.indexOf('\n\n')) >= 0) {
                const block = buf.slice(0, i);
                buf = buf.slice(i + 2);
                if (block.startsWith(': connected')) connected();
                const data = /^data: (.*)$/m.exec(block);
                if (/^event: notification$/m.test(block) && data) onEvent(JSON.parse(data[1]), Date.now());
            }
        }
    })().catch((e) => {
        if (e.name !== 'AbortError') console.error(e.message);
    });
    return { ready, close: () => ac.abort() };
}

async function listenNotifyFloor(url, n = 1000) {
    const a = new Client({ connectionString: url });
    const b = new Client({ connectionString: url });
    await a.connect();
    await b.connect();
    await a.query('LISTEN dtm_bench');
    const rtt = [];
    for (let i = 0; i < n; i++) {
        const got = new Promise((r) => a.once('notification', r));
        const t0 = process.hrtime.bigint();
        await b.query(`NOTIFY dtm_bench, '${i}'`);
        await got;
        rtt.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    await a.end();
    await b.end();
    return rtt;
}

async function main() {
    const dtm = await startDtm({ seed: true, env: { DTM_PG_POOL_SIZE: '32', DTM_THREADS: '16', DTM_SSE_MAX_CLIENTS: String(USERS + 10) } });
    const lines = [];
    const say = (s) => {
        console.log(s);
        lines.push(s);
    };
    try {
        await dtm.sql(`INSERT INTO users.users (id, email, first_name, last_name, role, password_hash)
            SELECT gen_random_uuid(), 'bench-' || i || '@example.com', 'Bench', 'User ' || i, 'merchandiser', 'x'
            FROM generate_series(1, ${USERS}) i`);
        const ids = (await dtm.sql("SELECT id FROM users.users WHERE email LIKE 'bench-%' ORDER BY email")).map((r) => r[0]);
        const values = ids.map((id) => `('${id}', 'email', 'todo_assigned', false)`).join(',');
        await dtm.sql(`INSERT INTO notifications.preferences (user_id, channel, type, enabled) VALUES ${values}`);
        const admin = (await dtm.sql("SELECT id FROM users.users WHERE role = 'admin' LIMIT 1"))[0][0];
        say(`notifications fan-out: ${USERS} SSE clients, ${EVENTS} events a round, ${ROUNDS} rounds, topology ${dtm.topology}`);

        const results = [];
        // The clients stay connected across rounds, as a field force's phones would.
        let arrivals = new Map(); // notification id -> {at, createdAt}, this round
        const streams = ids.map((id) =>
            openStream(dtm.url, jwt(dtm.env.DTM_JWT_SECRET, id, 'merchandiser'), (n, at) => arrivals.set(n.id, { at, createdAt: Date.parse(n.createdAt) }))
        );
        await Promise.all(streams.map((s) => s.ready));
        for (let round = 1; round <= ROUNDS; round++) {
            arrivals = new Map();
            const before = Number((await dtm.sql('SELECT count(*) FROM notifications.processed_events'))[0][0]);
            const t0 = Date.now();
            await dtm.sql(`INSERT INTO todos.outbox (event_id, consumer, topic, payload)
                SELECT gen_random_uuid(), 'notifications', 'todo.assigned',
                       jsonb_build_object('todoId', gen_random_uuid(), 'title', 'Bench ' || i, 'assigneeId', u.id,
                                          'assignedBy', '${admin}', 'dueDate', NULL)
                FROM generate_series(0, ${EVENTS - 1}) i
                JOIN (SELECT id, row_number() OVER (ORDER BY email) - 1 AS k FROM users.users WHERE email LIKE 'bench-%') u
                  ON u.k = i % ${USERS}`);
            const committed = Date.now(); // the INSERT's commit happened before psql returned
            await dtm.redis('PUBLISH', 'dtm:outbox:todos', 'bench');
            await until(() => arrivals.size >= EVENTS, `${EVENTS} notifications (have ${arrivals.size})`, 120000);
            const [[lastProcessed]] = await dtm.sql(
                `SELECT (extract(epoch FROM max(processed_at)) * 1000)::bigint FROM notifications.processed_events`
            );
            const processed = Number((await dtm.sql('SELECT count(*) FROM notifications.processed_events'))[0][0]) - before;
            const all = [...arrivals.values()];
            const lastAt = Math.max(...all.map((a) => a.at));
            const perCommit = all.map((a) => a.at - committed);
            const push = all.map((a) => a.at - a.createdAt);
            const r = {
                toLast: lastAt - committed,
                p50: pct(perCommit, 50),
                p99: pct(perCommit, 99),
                push50: pct(push, 50),
                push99: pct(push, 99),
                eps: (processed / (Number(lastProcessed) - t0)) * 1000,
            };
            results.push(r);
            say(
                `round ${round}: commit→last client ${r.toLast} ms; per notification p50 ${r.p50} ms, p99 ${r.p99} ms; ` +
                    `push p50 ${r.push50} ms, p99 ${r.push99} ms; dispatcher ${r.eps.toFixed(0)} events/s (${processed} events)`
            );
            await sleep(500);
        }
        for (const s of streams) s.close();
        const floor = await listenNotifyFloor(dtm.databaseUrl);
        say(
            `median: commit→last client ${median(results.map((r) => r.toLast))} ms; per notification p50 ${median(results.map((r) => r.p50))} ms, ` +
                `p99 ${median(results.map((r) => r.p99))} ms; push p50 ${median(results.map((r) => r.push50))} ms, p99 ${median(results.map((r) => r.push99))} ms; ` +
                `dispatcher ${median(results.map((r) => r.eps)).toFixed(0)} events/s`
        );
        say(`floor: PostgreSQL LISTEN/NOTIFY round trip p50 ${pct(floor, 50).toFixed(3)} ms, p99 ${pct(floor, 99).toFixed(3)} ms (1000 round trips)`);
        const dir = path.join(ROOT, 'var', 'bench');
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, `notifications-${new Date().toISOString().replace(/[:.]/g, '-')}.txt`), lines.join('\n') + '\n');
    } finally {
        await dtm.stop();
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
