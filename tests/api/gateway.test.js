// SPDX-License-Identifier: MIT
// The gateway in the microservices topology (issue 3): replicas killed under load lose no
// request, a service with no replica answers 503 at once while the others keep working, a
// replica that comes back is re-admitted, the request id and client address travel upstream,
// a multi-MB upload arrives intact. Against small node servers standing in for an upstream:
// slow -> 504, garbage -> 502, hop-by-hop headers dropped; slowloris clients are cut off and
// 10,000 keep-alive connections are held while they keep being served (gateway-conns.js).
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFile, execFileSync } = require('node:child_process');
const { promisify } = require('node:util');

const execFileP = promisify(execFile);
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { startDtm, api, sleep } = require('./lib/harness.js');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = process.env.DTM_BIN || path.join(ROOT, 'build', 'dtm');

function assertErrorShape(r, status) {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers['content-type'] || '', /^application\/json/);
    assert.ok(r.json && r.json.error && typeof r.json.error.code === 'string', `error body expected, got ${r.text}`);
    assert.equal(typeof r.json.requestId, 'string');
}

async function eventually(fn, timeoutMs, what) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
        try {
            last = await fn();
            if (last === true) return;
        } catch (e) {
            last = e.message;
        }
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${last})`);
        await sleep(50);
    }
}

/** `clients` loops of fn() for `ms`; resolves with every result ({status, what}). */
async function load(clients, ms, fn) {
    const out = [];
    const end = Date.now() + ms;
    const agents = [];
    await Promise.all(
        Array.from({ length: clients }, async (_, i) => {
            const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
            agents.push(agent);
            for (let k = 0; Date.now() < end; k++) out.push(await fn(i, k, agent));
        })
    );
    for (const a of agents) a.destroy();
    return out;
}

/** One request through node's http with a keep-alive agent (fetch pools too freely here). */
function get(base, p, { token, agent, headers = {} } = {}) {
    return new Promise((resolve) => {
        const t0 = performance.now();
        const req = http.get(
            base + p,
            { agent, headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } },
            (res) => {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () =>
                    resolve({ status: res.status ?? res.statusCode, body: Buffer.concat(chunks).toString(), ms: performance.now() - t0 })
                );
                res.on('error', (e) => resolve({ status: 0, body: e.message }));
            }
        );
        req.setTimeout(10000, () => req.destroy(new Error('timeout')));
        req.on('error', (e) => resolve({ status: 0, body: e.message, ms: performance.now() - t0 }));
    });
}

function counts(results) {
    const c = {};
    for (const r of results) c[r.status] = (c[r.status] || 0) + 1;
    return c;
}

// ------------------------------------------------------------------------------------------------

describe('gateway in front of replicated services', () => {
    let dtm, token, adminId, gwEnv;

    before(async () => {
        dtm = await startDtm({
            topology: 'micro',
            replicas: { users: 2, todos: 2 },
            env: {
                DTM_HEALTH_INTERVAL_MS: '200',
                // services and gateway believe the loopback gateway/test (X-Forwarded-For test)
                DTM_TRUSTED_PROXIES: '127.0.0.1/32',
            },
        });
        const s = await dtm.loginAdmin();
        token = s.accessToken;
        adminId = s.user.id;
        gwEnv = dtm.env;
    });
    after(async () => {
        await dtm?.stop();
    });

    test('a replica killed (and one stopped) under load loses no request', async () => {
        const base = dtm.url;
        const paths = [`/api/users/${adminId}`, '/api/todos'];
        const [u1, u2] = dtm.replicas('users');
        const [t1] = dtm.replicas('todos');
        const killer = (async () => {
            await sleep(1500);
            await u2.kill('SIGKILL'); // no drain: connections die in the middle of exchanges
            await sleep(1000);
            await t1.stop(); // drained by SIGTERM
        })();
        const results = await load(20, 5000, (i, k, agent) => get(base, paths[(i + k) % 2], { token, agent }));
        await killer;
        const bad = results.filter((r) => r.status !== 200);
        assert.ok(results.length > 200, `only ${results.length} requests in 5 s`);
        assert.deepEqual(bad.slice(0, 5), [], `${bad.length} of ${results.length} failed: ${JSON.stringify(counts(results))}`);
        // bring them back for the next tests
        u2.start();
        await u2.waitHealthy();
        t1.start();
        await t1.waitHealthy();
        assert.ok(u1);
    });

    test('every replica of a service down: 503 JSON at once, other services served, /health down', async () => {
        const users = dtm.replicas('users');
        // one of two down: degraded, 200
        await users[1].stop();
        await eventually(async () => {
            const h = await dtm.api('GET', '/health');
            return h.status === 200 && h.json.services.users.status === 'degraded' && h.json.status === 'degraded' ? true : h.text;
        }, 5000, 'health degraded');
        await users[0].stop();
        // no waiting for a health round: the first refused connection ejects
        for (let i = 0; i < 5; i++) {
            const r = await dtm.api('GET', `/api/users/${adminId}`, { token });
            assertErrorShape(r, 503);
            assert.ok(r.durationMs < 1000, `503 took ${r.durationMs} ms`);
        }
        const t = await dtm.api('GET', '/api/todos', { token });
        assert.equal(t.status, 200, t.text);
        await eventually(async () => {
            const h = await dtm.api('GET', '/health');
            return h.status === 503 && h.json.status === 'down' && h.json.services.users.status === 'down' && h.json.services.todos.status === 'ok'
                ? true
                : h.text;
        }, 5000, 'health down');
    });

    test('a replica that comes back is re-admitted and served again', async () => {
        const [u1, u2] = dtm.replicas('users');
        u1.start();
        await u1.waitHealthy();
        // re-admitted by the health checker within a few intervals
        await eventually(async () => (await dtm.api('GET', `/api/users/${adminId}`, { token })).status === 200, 3000, 'users back');
        u2.start();
        await u2.waitHealthy();
        await eventually(async () => {
            const h = await dtm.api('GET', '/health');
            return h.status === 200 && h.json.services.users.status === 'ok' ? true : h.text;
        }, 5000, 'health ok');
        const mark = dtm.logs.mark();
        for (let i = 0; i < 20; i++) {
            const r = await dtm.api('GET', `/api/users/${adminId}`, { token, headers: { 'x-request-id': `readmit-${i}` } });
            assert.equal(r.status, 200, r.text);
        }
        await sleep(200);
        for (const name of ['users#1', 'users#2']) {
            const served = dtm.logs
                .since(mark)
                .filter((l) => l.proc === name && l.json && /^readmit-/.test(l.json.requestId || ''));
            const events = dtm.logs
                .of('gateway')
                .filter((l) => /suspended|ejected|admitted/.test(l.text))
                .map((l) => `${new Date(l.t).toISOString()} ${l.json ? l.json.message : l.text}`);
            assert.ok(served.length >= 5, `${name} served ${served.length} of 20 (round robin expected); gateway events:\n${events.join('\n')}`);
        }
    });

    test('X-Request-Id and X-Forwarded-For reach the service', async () => {
        const mark = dtm.logs.mark();
        const rid = `gw-xff-${crypto.randomBytes(4).toString('hex')}`;
        const r = await dtm.api('GET', '/api/todos', {
            token,
            headers: { 'x-request-id': rid, 'x-forwarded-for': '203.0.113.9' },
        });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.headers['x-request-id'], rid);
        const line = await dtm.logs.waitFor(
            (l) => dtm.logs.lines.indexOf(l) >= mark && /^todos#/.test(l.proc) && l.json && l.json.requestId === rid,
            3000
        );
        assert.equal(line.json.ip, '203.0.113.9', line.text);
        const gw = await dtm.logs.waitFor((l) => l.proc === 'gateway' && l.json && l.json.requestId === rid, 3000);
        assert.match(gw.json.message, /^GET \/api\/todos -> http:\/\/127\.0\.0\.1:\d+$/);
        assert.equal(gw.json.ip, '203.0.113.9');
    });

    test('a 4 MB multipart punch-in photo arrives intact through the gateway', async () => {
        const st = await dtm.api('POST', '/api/stores', {
            token,
            body: { code: `GW-${crypto.randomBytes(3).toString('hex')}`, name: 'Gateway store', address: 'x', latitude: 48.8566, longitude: 2.3522, geofenceRadiusM: 100 },
        });
        assert.equal(st.status, 201, st.text);
        const store = st.json.store;
        const u = await dtm.createUser(token, { role: 'merchandiser' });
        const l = await dtm.login(u.email, u.password);
        const photo = Buffer.concat([Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'), crypto.randomBytes(4 * 1024 * 1024), Buffer.from('ffd9', 'hex')]);
        const sha = crypto.createHash('sha256').update(photo).digest('hex');
        const fd = new FormData();
        for (const [k, v] of Object.entries({ storeId: store.id, latitude: store.latitude, longitude: store.longitude, accuracyM: 10 })) fd.append(k, String(v));
        fd.append('photo', new Blob([photo], { type: 'image/jpeg' }), 'big.jpg');
        const r = await dtm.api('POST', '/api/attendance/punch-in', { token: l.accessToken, body: fd });
        assert.equal(r.status, 201, r.text);
        assert.equal(r.json.attendance.photoUrl, `/api/attendance/photos/${sha}`);
        const file = path.join(dtm.env.DTM_DATA_DIR, 'uploads', sha.slice(0, 2), sha.slice(2));
        const stored = fs.readFileSync(file);
        assert.equal(crypto.createHash('sha256').update(stored).digest('hex'), sha);
        // and back out through the gateway (streamed: larger than its buffer)
        const res = await fetch(dtm.url + r.json.attendance.photoUrl, { headers: { authorization: `Bearer ${l.accessToken}` } });
        assert.equal(res.status, 200);
        const back = Buffer.from(await res.arrayBuffer());
        assert.equal(crypto.createHash('sha256').update(back).digest('hex'), sha);
        assert.ok(gwEnv);
    });
});

// ------------------------------------------------------------------------------------------------
// A gateway of our own in front of node servers that misbehave on purpose.

function listen(server) {
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

async function freePortIn() {
    const s = net.createServer();
    const p = await listen(s);
    await new Promise((r) => s.close(r));
    return p;
}

const GW_SECRET = crypto.randomBytes(48).toString('base64');

/** An access token the gateway accepts (HS256 with its DTM_JWT_SECRET). */
function mint(claims = {}) {
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: crypto.randomUUID(), role: 'admin', jti: crypto.randomUUID(), iss: 'dtm', iat: now, exp: now + 900, ...claims })}`;
    return `${body}.${crypto.createHmac('sha256', GW_SECRET).update(body).digest('base64url')}`;
}

/** Spawn `dtm serve --target gateway` with env; resolves when /health answers. */
async function startGateway(env, { nofile } = {}) {
    const port = await freePortIn();
    const full = {
        PATH: process.env.PATH,
        DTM_ENV_FILE: '/dev/null',
        DTM_HOST: '127.0.0.1',
        DTM_PORT: String(port),
        DTM_JWT_SECRET: GW_SECRET,
        DTM_LOG_LEVEL: 'warn',
        DTM_LOOPS: '1',
        DTM_RATE_LIMIT_PER_IP: '100000000',
        DTM_RATE_LIMIT_PER_USER: '100000000',
        DTM_HEALTH_INTERVAL_MS: '60000',
        ...env,
    };
    const child = nofile
        ? spawn('bash', ['-c', `ulimit -n ${nofile} && exec "$0" serve --target gateway`, BIN], { env: full, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(BIN, ['serve', '--target', 'gateway'], { env: full, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out = (out + d).slice(-20000)));
    child.stderr.on('data', (d) => (out = (out + d).slice(-20000)));
    const exited = new Promise((r) => child.on('exit', (code, sig) => r({ code, sig })));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 10000;
    for (;;) {
        const r = await get(url, '/health').catch(() => ({ status: 0 }));
        if (r.status) break;
        if (Date.now() > deadline) {
            child.kill('SIGKILL');
            throw new Error(`gateway not up: ${out}`);
        }
        await sleep(50);
    }
    return {
        url,
        port,
        child,
        log: () => out,
        stop: async () => {
            child.kill('SIGTERM');
            const e = await exited;
            assert.equal(e.code, 0, `gateway exit ${JSON.stringify(e)}\n${out.slice(-3000)}`);
        },
    };
}

describe('gateway against misbehaving upstreams', () => {
    let gw, slow, garbage, echo, seen;
    const servers = [];

    before(async () => {
        // /api/auth/*: echoes what it received (headers) as JSON
        seen = [];
        echo = http.createServer((req, res) => {
            seen.push({ url: req.url, headers: req.headers });
            const body = JSON.stringify({ headers: req.headers });
            res.writeHead(200, {
                'content-type': 'application/json',
                'content-length': Buffer.byteLength(body),
                'x-upstream-hop': 'secret',
                connection: 'keep-alive, x-upstream-hop',
                'keep-alive': 'timeout=5',
            });
            res.end(body);
        });
        echo.keepAliveTimeout = 60000;
        // /api/stores/*: answers after 3 s
        slow = http.createServer((req, res) => {
            const t = setTimeout(() => res.end('{}'), 3000);
            res.on('close', () => clearTimeout(t));
        });
        // /api/reports/*: not HTTP
        garbage = net.createServer((s) => {
            s.on('data', () => s.end('THIS IS NOT HTTP\r\n\r\n'));
            s.on('error', () => {});
        });
        servers.push(echo, slow, garbage);
        const [pe, ps, pg] = [await listen(echo), await listen(slow), await listen(garbage)];
        gw = await startGateway({
            DTM_UPSTREAM_AUTH: `http://127.0.0.1:${pe}`,
            DTM_UPSTREAM_STORES: `http://127.0.0.1:${ps}`,
            DTM_UPSTREAM_REPORTS: `http://127.0.0.1:${pg}`,
            DTM_UPSTREAM_TIMEOUT_MS: '700',
            DTM_READ_TIMEOUT_MS: '800',
        });
    });
    after(async () => {
        try {
            await gw?.stop();
        } finally {
            for (const s of servers) {
                s.closeAllConnections?.();
                s.close();
            }
        }
    });

    test('slow upstream: 504 JSON after the configured timeout', async () => {
        const r = await api('GET', `/api/stores/${crypto.randomUUID()}`, { base: gw.url, token: mint() });
        assertErrorShape(r, 504);
        assert.ok(r.durationMs >= 650 && r.durationMs < 2500, `504 after ${r.durationMs} ms (timeout 700)`);
    });

    test('malformed upstream response: 502 JSON', async () => {
        const r = await api('GET', '/api/reports/summary', { base: gw.url, token: mint() });
        assertErrorShape(r, 502);
        // contract: false: the echo server is not dtm, its answer is not the contract's
        const p = await api('POST', '/api/auth/login', { base: gw.url, body: { email: 'a@b.c', password: 'x' }, contract: false });
        assert.equal(p.status, 200, p.text); // the echo server: not every upstream is broken
        const q = await api('GET', '/api/reports/todos', { base: gw.url, token: mint() });
        assertErrorShape(q, 502);
    });

    test('hop-by-hop headers are dropped both ways; request id and forwarding headers added', async () => {
        seen.length = 0;
        const res = await new Promise((resolve, reject) => {
            const s = net.connect(gw.port, '127.0.0.1', () =>
                s.write(
                    `GET /api/auth/me?x=1 HTTP/1.1\r\nHost: gw.example\r\nAuthorization: Bearer ${mint()}\r\n` +
                        'Connection: keep-alive, X-Drop-Me\r\nX-Drop-Me: 1\r\nKeep-Alive: timeout=9\r\n' +
                        'TE: trailers\r\nUpgrade: websocket\r\nProxy-Authorization: Basic eDp5\r\n' +
                        'X-Keep-Me: yes\r\nX-Request-Id: gw-hop-test-1\r\n\r\n'
                )
            );
            let buf = '';
            s.on('data', (d) => {
                buf += d;
                const i = buf.indexOf('\r\n\r\n');
                const m = /content-length: (\d+)/i.exec(buf);
                if (i >= 0 && m && buf.length >= i + 4 + Number(m[1])) {
                    s.destroy();
                    resolve(buf);
                }
            });
            s.on('error', reject);
            setTimeout(() => reject(new Error('no answer: ' + buf)), 5000);
        });
        assert.match(res, /^HTTP\/1\.1 200/);
        const head = res.slice(0, res.indexOf('\r\n\r\n')).toLowerCase();
        assert.ok(!/\r\nx-upstream-hop:/.test(head), `a header the upstream named in Connection was forwarded:\n${head}`);
        assert.ok(!/\r\nkeep-alive:/.test(head), head);
        assert.equal(seen.length, 1);
        const h = seen[0].headers;
        assert.equal(seen[0].url, '/api/auth/me?x=1');
        for (const n of ['x-drop-me', 'keep-alive', 'te', 'upgrade', 'proxy-authorization']) assert.equal(h[n], undefined, `${n} forwarded: ${JSON.stringify(h)}`);
        assert.equal(h['x-keep-me'], 'yes');
        assert.equal(h['x-request-id'], 'gw-hop-test-1');
        assert.equal(h['x-forwarded-for'], '127.0.0.1');
        assert.equal(h['x-forwarded-proto'], 'http');
        assert.equal(h['x-forwarded-host'], 'gw.example');
        assert.match(h.host, /^127\.0\.0\.1:\d+$/);
    });

    test('a client that sends its headers slowly is cut off (slowloris)', async () => {
        const t0 = Date.now();
        const closedAfter = await new Promise((resolve, reject) => {
            const s = net.connect(gw.port, '127.0.0.1');
            let i = 0;
            const line = 'GET /api/auth/me HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200);
            const timer = setInterval(() => {
                if (!s.destroyed) s.write(line[i++ % line.length]);
            }, 100);
            s.on('close', () => {
                clearInterval(timer);
                resolve(Date.now() - t0);
            });
            s.on('error', () => {});
            s.on('data', () => {});
            setTimeout(() => {
                clearInterval(timer);
                s.destroy();
                reject(new Error('still connected after 5 s of trickled headers'));
            }, 5000);
        });
        assert.ok(closedAfter >= 700 && closedAfter < 2500, `cut off after ${closedAfter} ms (DTM_READ_TIMEOUT_MS=800)`);
        // and a normal request still goes through
        const r = await api('GET', '/api/auth/me', { base: gw.url, token: mint() });
        assert.equal(r.status, 200, r.text);
    });
});

describe('one of two replicas answering garbage', () => {
    const closers = [];
    let posts = 0;
    // A gateway of its own per test: failures suspend the broken replica for a while.
    async function twoReplicas() {
        const good = http.createServer((req, res) => {
            if (req.method === 'POST') posts++;
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end('{"ok":true}');
        });
        // A response head that starts well and breaks (a header parsed, then a bad length).
        const bad = net.createServer((s) => {
            s.on('data', () => s.end('HTTP/1.1 200 OK\r\nX-From-Garbage: 1\r\nContent-Length: banana\r\n\r\n'));
            s.on('error', () => {});
        });
        const [pg, pb] = [await listen(good), await listen(bad)];
        const gw = await startGateway({ DTM_UPSTREAM_TODOS: `http://127.0.0.1:${pb},http://127.0.0.1:${pg}`, DTM_HEALTH_INTERVAL_MS: '600000' });
        closers.push(async () => {
            await gw.stop();
            for (const s of [good, bad]) {
                s.closeAllConnections?.();
                s.close();
            }
        });
        return gw;
    }
    after(async () => {
        for (const c of closers) await c();
    });

    test('an idempotent GET is retried on the other replica, with nothing of the broken answer', async () => {
        const gw = await twoReplicas();
        for (let i = 0; i < 6; i++) {
            // contract: false: the replicas are stand-ins, their answer is not the contract's
            const r = await api('GET', `/api/todos/${crypto.randomUUID()}`, { base: gw.url, token: mint(), contract: false });
            assert.equal(r.status, 200, `try ${i}: ${r.text}`);
            assert.deepEqual(r.json, { ok: true });
            assert.equal(r.headers['x-from-garbage'], undefined, 'a header of the broken try leaked');
        }
    });

    test('a POST that reached the broken replica is not replayed: 502', async () => {
        const gw = await twoReplicas();
        posts = 0;
        const statuses = [];
        for (let i = 0; i < 4; i++) statuses.push((await api('POST', '/api/todos', { base: gw.url, token: mint(), body: { title: 'x' } })).status);
        assert.ok(statuses.includes(502), `some POST landed on the broken replica: ${statuses}`);
        assert.equal(posts, statuses.filter((x) => x === 200).length, 'each POST reached one replica at most');
    });
});

// ------------------------------------------------------------------------------------------------

describe('10,000 concurrent keep-alive connections', () => {
    const N = Number(process.env.DTM_GW_CONNS || 10000);
    const need = 2 * N + 500; // the script holds N, so does the gateway (plus upstream pools)
    let hard = 0;
    try {
        hard = Number(execFileSync('bash', ['-c', 'ulimit -Hn']).toString().trim()) || 0;
    } catch {
        hard = 0;
    }
    const skip = hard < N + 500 ? `the hard fd limit (${hard}) is below ${N + 500}: cannot hold ${N} connections` : false;

    test(`${N} connections held and served`, { skip, timeout: 90000 }, async () => {
        const nofile = Math.min(hard, need);
        const echo = http.createServer((req, res) => res.end('{"ok":true}'));
        echo.keepAliveTimeout = 120000;
        const pe = await listen(echo);
        const gw = await startGateway({ DTM_UPSTREAM_AUTH: `http://127.0.0.1:${pe}`, DTM_IDLE_TIMEOUT_MS: '120000' }, { nofile });
        try {
            // async: the upstream lives in this process and must keep answering
            const { stdout: out } = await execFileP(
                'bash',
                ['-c', `ulimit -n ${nofile} && exec node "$0" "$@"`, path.join(__dirname, 'gateway-conns.js'), String(gw.port), String(N), '3', mint()],
                { timeout: 60000, encoding: 'utf8' }
            );
            const res = JSON.parse(out.trim().split('\n').pop());
            assert.equal(res.opened, N, out);
            assert.equal(res.errors, 0, out);
            assert.equal(res.closed, 0, out);
            assert.equal(res.served, N * 4, out); // one request when opened + 3 rounds
            const h = await get(gw.url, '/health');
            assert.ok(h.status === 200 || h.status === 503, h.body); // still answering
        } finally {
            await gw.stop();
            echo.closeAllConnections?.();
            echo.close();
        }
    });
});
