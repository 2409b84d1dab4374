// SPDX-License-Identifier: MIT
// Read replicas with read-your-writes (issue 16): a private primary and a real streaming hot
// standby made with pg_basebackup -R, both on loopback. dtm runs with DATABASE_URL_REPLICA
// pointed at the standby. List reads are served by the replica (the metrics counter rises), a
// caller's read right after its own write always sees it (1,000 times), replay paused on the
// standby sends reads to the primary (the caller still sees fresh writes, and once the lag
// passes DTM_REPLICA_MAX_LAG_MS every read does), and stopping the standby under read load
// costs no request.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startDtm, startPostgres, startStandby, sql, createUser, login, until, sleep, randomId } = require('./lib/harness.js');

const MAX_LAG_MS = 1500;
let primary, standby, dtm, user, token;

function withDb(url, db) {
    const u = new URL(url);
    u.pathname = `/${db}`;
    return u.toString();
}

before(async () => {
    primary = await startPostgres();
    const db = `dtm_rep_${randomId(4)}`;
    await sql(primary.url, `CREATE DATABASE ${db}`);
    standby = await startStandby(primary, { settings: { hot_standby_feedback: 'on' } });
    dtm = await startDtm({
        databaseUrl: withDb(primary.url, db),
        env: { DATABASE_URL_REPLICA: withDb(standby.url, db), DTM_REPLICA_MAX_LAG_MS: String(MAX_LAG_MS) },
    });
    const admin = await dtm.loginAdmin();
    user = await createUser(admin.accessToken, { role: 'merchandiser' }, { base: dtm.url });
    token = (await login(user.email, user.password, { base: dtm.url })).accessToken;
    // The replicas section is live; the dependency follows at the next probe round.
    await until(async () => {
        const h = await health();
        return h.replicas?.default?.status === 'ok' && h.dependencies?.postgres_replica?.status === 'ok';
    }, 'replica ok in /health');
});

after(async () => {
    if (dtm) await dtm.stop();
    if (standby) await standby.destroy();
    if (primary) await primary.destroy();
});

// Micro topology: the replica is the services' (the gateway has no database): /health and
// /metrics of the processes that serve the reads under test.
function bases() {
    if (dtm.topology !== 'micro') return [dtm.url];
    return ['todos', 'stores', 'reports'].flatMap((s) => dtm.replicas(s).map((p) => p.url));
}

async function health() {
    return (await dtm.api('GET', '/health', { base: bases()[0] })).json;
}

/** Sum of dtm_db_reads_total series whose labels contain every `want` fragment. */
async function reads(...want) {
    let n = 0;
    for (const base of bases()) {
        const text = (await dtm.api('GET', '/metrics', { base })).text;
        for (const line of text.split('\n'))
            if (line.startsWith('dtm_db_reads_total{') && want.every((w) => line.includes(w))) n += Number(line.split(' ').pop());
    }
    return n;
}

async function gauge(name) {
    const text = (await dtm.api('GET', '/metrics', { base: bases()[0] })).text;
    const line = text.split('\n').find((l) => l.startsWith(`${name}{pool="default"}`));
    return line ? Number(line.split(' ').pop()) : NaN;
}

async function createTodo(title) {
    const r = await dtm.api('POST', '/api/todos', { token, body: { title } });
    assert.equal(r.status, 201, r.text);
    return r.json.todo;
}

async function listTodos() {
    const r = await dtm.api('GET', '/api/todos?limit=5', { token });
    assert.equal(r.status, 200, r.text);
    return r.json.items;
}

test('list reads are served by the replica; /health and /metrics show it', async () => {
    const h = await health();
    assert.equal(h.replicas.default.status, 'ok');
    assert.equal(typeof h.replicas.default.lagBytes, 'number');
    assert.equal(h.dependencies.postgres_replica.status, 'ok');
    assert.equal(await gauge('dtm_pg_replica_up'), 1);
    assert.ok((await gauge('dtm_pg_replica_lag_bytes')) >= 0);
    const before = await reads('target="replica"');
    // A caller with no recent write: nothing to wait for, the replica answers.
    const admin = await dtm.loginAdmin();
    for (let i = 0; i < 20; i++) {
        const r = await dtm.api('GET', '/api/stores', { token: admin.accessToken });
        assert.equal(r.status, 200, r.text);
    }
    const r = await dtm.api('GET', '/api/reports/summary', { token: admin.accessToken });
    assert.equal(r.status, 200, r.text);
    assert.ok((await reads('target="replica"')) >= before + 21, 'reads counted on the replica');
});

test('create then read by the same caller, 1,000 times: never misses', async () => {
    const replicaBefore = await reads('target="replica"');
    const rywBefore = await reads('reason="read_your_writes"');
    let misses = 0;
    for (let i = 0; i < 1000; i++) {
        const t = await createTodo(`ryw ${i}`);
        const items = await listTodos();
        if (!items.some((x) => x.id === t.id)) misses++;
    }
    const onReplica = (await reads('target="replica"')) - replicaBefore;
    const toPrimary = (await reads('reason="read_your_writes"')) - rywBefore;
    console.log(`# 1000 create-then-list: ${onReplica} lists on the replica, ${toPrimary} on the primary (replica behind the caller's write)`);
    assert.equal(misses, 0);
    assert.equal(onReplica + toPrimary, 1000, 'every list asked for a replica');
});

test('replay paused: the caller still sees its writes, and past the lag limit every read goes to the primary', async () => {
    await sql(standby.url, 'SELECT pg_wal_replay_pause()');
    try {
        const rywBefore = await reads('reason="read_your_writes"');
        for (let i = 0; i < 20; i++) {
            const t = await createTodo(`paused ${i}`);
            assert.ok((await listTodos()).some((x) => x.id === t.id), 'fresh write seen while replay is paused');
        }
        assert.ok((await reads('reason="read_your_writes"')) >= rywBefore + 20, 'served by the primary (the replica is behind the caller)');
        // Keep the primary's WAL moving: the replica falls further behind in time.
        await until(
            async () => {
                await createTodo('tick');
                return (await health()).replicas.default.status === 'lagging';
            },
            'replica marked lagging',
            MAX_LAG_MS * 10
        );
        assert.ok((await gauge('dtm_pg_replica_lag_bytes')) > 0);
        // The overall status follows at the next probe round (DTM_HEALTH_INTERVAL_MS).
        await until(async () => (await health()).status === 'degraded', '/health degraded');
        const unusableBefore = await reads('reason="replica_unusable"');
        const admin = await dtm.loginAdmin();
        for (let i = 0; i < 10; i++) assert.equal((await dtm.api('GET', '/api/stores', { token: admin.accessToken })).status, 200);
        assert.ok((await reads('reason="replica_unusable"')) >= unusableBefore + 10, 'reads of others skip the lagging replica');
    } finally {
        await sql(standby.url, 'SELECT pg_wal_replay_resume()');
    }
    await until(async () => (await health()).replicas.default.status === 'ok', 'replica caught up again', 15000);
    const replicaBefore = await reads('target="replica"');
    await listTodos();
    await sleep(MAX_LAG_MS * 2 + 100); // the caller's read-your-writes mark expires
    await listTodos();
    assert.ok((await reads('target="replica"')) > replicaBefore, 'back on the replica');
});

test('stopping the standby under read load: 0 failed requests', async () => {
    const admin = await dtm.loginAdmin();
    let ok = 0;
    const failed = [];
    let stop = false;
    const worker = async () => {
        while (!stop) {
            const r = await dtm.api('GET', '/api/todos?limit=20', { token: admin.accessToken }).catch((e) => ({ status: 0, text: String(e) }));
            if (r.status === 200) ok++;
            else failed.push(`${r.status} ${r.text}`);
        }
    };
    const workers = Array.from({ length: 8 }, worker);
    await sleep(700);
    const onReplica = await reads('target="replica"');
    const retriedBefore = await reads('reason="replica_failed"');
    await standby.stop();
    await sleep(1500);
    stop = true;
    await Promise.all(workers);
    const retried = (await reads('reason="replica_failed"')) - retriedBefore;
    console.log(`# standby stopped under load: ${ok} reads ok, ${failed.length} failed, ${retried} re-run on the primary`);
    assert.deepEqual(failed, []);
    assert.ok(onReplica > 0);
    assert.ok(ok > 50, `${ok} reads`);
    const h = await health();
    assert.equal(h.replicas.default.status, 'down');
    assert.equal(await gauge('dtm_pg_replica_up'), 0);
    await until(async () => (await health()).status === 'degraded', '/health degraded');
    // Back: the checker finds it again and reads return to it.
    await standby.start();
    await until(async () => (await health()).replicas.default.status === 'ok', 'replica back', 15000);
});
