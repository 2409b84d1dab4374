// SPDX-License-Identifier: MIT
// Redis Sentinel (issue 16): a real master + replica + 3 sentinels on loopback. dtm finds the
// master through REDIS_SENTINELS, keeps answering while the master is SIGKILLed under load
// (Redis is never the only copy), follows the promoted replica within 15 s without a restart
// (cache writes land there, the pub/sub subscriber is back), and /health goes degraded, then ok.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { startDtm, startRedis, freePort, sleep } = require('./lib/harness.js');

const net = require('node:net');

/** One redis-sentinel process watching `master` as "dtm" (quorum 2). */
async function startSentinel(masterPort) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dtm-sentinel-'));
    const conf = path.join(dir, 'sentinel.conf');
    fs.writeFileSync(
        conf,
        [
            `port ${port}`,
            'bind 127.0.0.1',
            `dir ${dir}`,
            `sentinel monitor dtm 127.0.0.1 ${masterPort} 2`,
            'sentinel down-after-milliseconds dtm 1000',
            'sentinel failover-timeout dtm 5000',
            'sentinel parallel-syncs dtm 1',
            '',
        ].join('\n')
    );
    const child = spawn('redis-sentinel', [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.resume();
    child.stderr.resume();
    const exited = new Promise((r) => child.on('exit', r));
    const h = {
        port,
        async stop() {
            child.kill('SIGKILL');
            await exited;
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline) {
        if (await ask(port, ['PING']).catch(() => null)) return h;
        await sleep(50);
    }
    throw new Error('sentinel did not start');
}

/** A RESP command to a port; resolves with the parsed reply (strings, arrays, ints). */
function ask(port, args, timeoutMs = 2000) {
    return new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        let buf = Buffer.alloc(0);
        const t = setTimeout(() => {
            s.destroy();
            reject(new Error('timeout'));
        }, timeoutMs);
        s.on('error', (e) => {
            clearTimeout(t);
            reject(e);
        });
        s.on('connect', () => s.write(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')));
        s.on('data', (d) => {
            buf = Buffer.concat([buf, d]);
            const r = parse(buf, 0);
            if (r) {
                clearTimeout(t);
                s.end();
                resolve(r.v);
            }
        });
    });
}
function parse(b, o) {
    const nl = b.indexOf('\r\n', o);
    if (nl < 0) return null;
    const line = b.toString('utf8', o + 1, nl);
    const t = String.fromCharCode(b[o]);
    if (t === '+' || t === '-') return { v: t === '-' ? new Error(line) : line, o: nl + 2 };
    if (t === ':') return { v: Number(line), o: nl + 2 };
    if (t === '$') {
        const n = Number(line);
        if (n < 0) return { v: null, o: nl + 2 };
        if (b.length < nl + 2 + n + 2) return null;
        return { v: b.toString('utf8', nl + 2, nl + 2 + n), o: nl + 2 + n + 2 };
    }
    if (t === '*') {
        const n = Number(line);
        const out = [];
        let p = nl + 2;
        for (let i = 0; i < n; i++) {
            const r = parse(b, p);
            if (!r) return null;
            out.push(r.v);
            p = r.o;
        }
        return { v: out, o: p };
    }
    return null;
}

let master, replica, sentinels, dtm, tok, userId;

before(async () => {
    master = await startRedis();
    replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
    // The replica must be in sync before sentinels may promote it.
    for (let i = 0; i < 100; i++) {
        const info = await ask(replica.port, ['INFO', 'replication']);
        if (/master_link_status:up/.test(info)) break;
        await sleep(100);
    }
    sentinels = [];
    for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(master.port));
    dtm = await startDtm({
        redis: master, // the harness allocates a db on it and sets REDIS_URL (host ignored below)
        env: {
            REDIS_SENTINELS: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
            REDIS_MASTER_NAME: 'dtm',
            DTM_HEALTH_INTERVAL_MS: '200',
        },
    });
    const a = await dtm.loginAdmin();
    tok = a.accessToken;
    userId = a.user.id;
});

after(async () => {
    if (dtm) await dtm.stop();
    for (const s of sentinels || []) await s.stop();
    if (replica) await replica.destroy();
    if (master) await master.destroy();
});

test('dtm found the master through Sentinel', async () => {
    const m = await dtm.api('GET', '/metrics');
    assert.match(m.text, /dtm_redis_up 1/);
    assert.match(m.text, /dtm_redis_master_changes_total 0/);
    assert.ok(dtm.logs.text().includes(`redis master 127.0.0.1:${master.port} (from Sentinel)`), 'log names the master');
});

test('the master is killed under load: no request fails, dtm follows the promoted replica', async (t) => {
    const db = Number(new URL(dtm.redisUrl).pathname.slice(1) || 0);
    let stop = false;
    const failures = [];
    let ok = 0;
    const health = new Set();
    const load = (async () => {
        while (!stop) {
            const rs = await Promise.all([
                dtm.api('GET', `/api/users/${userId}`, { token: tok }),
                dtm.api('GET', '/api/todos', { token: tok }),
                dtm.api('GET', '/health'),
            ]);
            for (const r of rs.slice(0, 2)) {
                if (r.status === 200) ok++;
                else failures.push(`${r.status} ${r.text}`);
            }
            health.add(rs[2].json && rs[2].json.status);
            await sleep(20);
        }
    })();
    await sleep(500);
    const killedAt = Date.now();
    await master.kill();
    // Sentinel promotes the replica; dtm must be using it within 15 s.
    let followedMs = null;
    while (Date.now() - killedAt < 20000) {
        const m = await dtm.api('GET', '/metrics');
        if (/dtm_redis_master_changes_total 1/.test(m.text) && /dtm_redis_up 1/.test(m.text)) {
            followedMs = Date.now() - killedAt;
            break;
        }
        await sleep(100);
    }
    await sleep(1000);
    stop = true;
    await load;
    t.diagnostic(`${ok} requests during the failover, new master in use after ${followedMs} ms, health seen: ${[...health]}`);
    assert.deepEqual(failures, [], 'every request answered 200 during the failover');
    assert.ok(ok > 20, `load ran (${ok} requests)`);
    assert.ok(followedMs !== null && followedMs <= 15000, `followed the new master after ${followedMs} ms`);
    assert.ok(dtm.logs.text().includes(`redis master is now 127.0.0.1:${replica.port}`), 'the log names the new master');
    assert.ok(health.has('degraded'), `/health went degraded: ${[...health]}`);
    const h = await dtm.api('GET', '/health');
    assert.equal(h.json.status, 'ok', h.text);

    // Cache writes land on the promoted master: a user read fills user:{id} there.
    await ask(replica.port, ['SELECT', String(db)]);
    const del = await ask(replica.port, ['DEL', `user:${userId}`]).catch((e) => e);
    assert.ok(!(del instanceof Error), `the replica is a master now: ${del}`);
    const r = await dtm.api('GET', `/api/users/${userId}`, { token: tok });
    assert.equal(r.status, 200);
    let cached = 0;
    for (let i = 0; i < 20 && !cached; i++) {
        cached = await new Promise((resolve) => {
            const s = net.connect(replica.port, '127.0.0.1');
            let out = '';
            s.on('connect', () => s.write(`SELECT ${db}\r\nEXISTS user:${userId}\r\n`));
            s.on('data', (d) => {
                out += d;
                const m = out.match(/:(\d+)\r\n/);
                if (m) {
                    s.end();
                    resolve(Number(m[1]));
                }
            });
            s.on('error', () => resolve(0));
        });
        if (!cached) await sleep(100);
    }
    assert.equal(cached, 1, 'user:{id} written to the promoted master');

    // Logout's denylist works on the new master: the revoked token stops working.
    const l = await dtm.loginAdmin();
    const out = await dtm.api('POST', '/api/auth/logout', { token: l.accessToken, body: { refreshToken: l.refreshToken } });
    assert.equal(out.status, 204, out.text);
    const after = await dtm.api('GET', '/api/auth/me', { token: l.accessToken });
    assert.equal(after.status, 401);

    // The pub/sub subscribers are back, on the new master.
    let subs = 0;
    for (let i = 0; i < 50 && !subs; i++) {
        const n = await ask(replica.port, ['PUBSUB', 'NUMSUB', 'dtm:attendance']);
        subs = Number(n[1]);
        if (!subs) await sleep(200);
    }
    assert.ok(subs >= 1, 'the attendance subscriber resubscribed on the new master');
});
