// SPDX-License-Identifier: MIT
// Test harness for the black-box API tests (node:test, no framework).
//
//   const { test, after } = require('node:test');
//   const assert = require('node:assert/strict');
//   const { startDtm } = require('./lib/harness.js');
//
//   let dtm;
//   before(async () => { dtm = await startDtm(); });
//   after(() => dtm.stop());             // stop() fails on a non-zero exit or sanitizer report
//
//   test('login', async () => {
//     const { accessToken } = await dtm.login(dtm.admin.email, dtm.admin.password);
//     const r = await dtm.api('GET', '/api/auth/me', { token: accessToken });
//     assert.equal(r.status, 200);
//   });
//
// Every startDtm() gets its own PostgreSQL database (created in the test server, migrated with
// `dtm migrate`, seeded with `dtm seed` unless told otherwise), its own Redis database number, its
// own data/backup directories and a free port. The test servers come from the environment
// (DATABASE_URL / REDIS_URL) or, when those are unset, from the test stack's env file
// (DTM_TEST_ENV_FILE, default var/test/dtm.env, written by `make test-stack`).
//
// Environment read here:
//   DTM_BIN              the binary (default build/dtm); `make test-api-asan` points it at the
//                        sanitizer build
//   DTM_TEST_TOPOLOGY    all (default) | micro: default topology of startDtm()
//   DTM_TEST_URL         a dtm you started yourself: the module-level api() talks to it when no
//                        dtm was started by the harness
//   DTM_TEST_PORTS       "lo-hi" port range for the servers the harness starts (default: any free)
//   DTM_TEST_KEEP=1      keep the databases and temp directories after stop() (debugging)
//   DTM_TEST_VERBOSE=1   echo every dtm log line to stderr as it arrives
//   DTM_TEST_START_TIMEOUT_MS  how long to wait for /health (default 30000)
//   DTM_CONTRACT         every response of api() is held against docs/openapi.yaml (lib/contract.js);
//                        a violation fails the request's test. log: only record them; 0: off
'use strict';

const { spawn, execFile, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const contract = require('./contract.js');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const PG_BINDIR = process.env.PG_BINDIR || '/usr/lib/postgresql/15/bin';
const START_TIMEOUT_MS = Number(process.env.DTM_TEST_START_TIMEOUT_MS || 30000);
const STOP_TIMEOUT_MS = 20000;
const KEEP = process.env.DTM_TEST_KEEP === '1';
const VERBOSE = process.env.DTM_TEST_VERBOSE === '1';

// Everything the harness started and has not stopped yet (stopped at exit, see the bottom).
const live = new Set();
let defaultBase = process.env.DTM_TEST_URL || null;

// ------------------------------------------------------------------------------------------------
// small utilities

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn() every 50 ms until it returns something truthy (returned), or throws naming `what`. */
async function until(fn, what, timeoutMs = 15000) {
    const t0 = Date.now();
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
        await sleep(50);
    }
}

function randomId(n = 6) {
    return crypto.randomBytes(n).toString('hex');
}

function dtmBin() {
    const b = process.env.DTM_BIN || path.join(ROOT, 'build', 'dtm');
    return path.isAbsolute(b) ? b : path.join(ROOT, b);
}

function readEnvFile(file) {
    const out = {};
    if (!file || !fs.existsSync(file)) return out;
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
        if (m) out[m[1]] = m[2];
    }
    return out;
}

/** The shared test servers: {databaseUrl, redisUrl}. Throws with a hint when there are none. */
function testServers() {
    const file = process.env.DTM_TEST_ENV_FILE || path.join(ROOT, 'var', 'test', 'dtm.env');
    const fromFile = readEnvFile(file);
    const databaseUrl = process.env.DATABASE_URL || fromFile.DATABASE_URL;
    const redisUrl = process.env.REDIS_URL || fromFile.REDIS_URL;
    if (!databaseUrl || !redisUrl) {
        throw new Error(
            `no test PostgreSQL/Redis: run \`make test-stack\` (writes ${file}) ` +
                'or set DATABASE_URL and REDIS_URL'
        );
    }
    return { databaseUrl, redisUrl };
}

/** A TCP port nobody listens on (from DTM_TEST_PORTS when set, else one the kernel picks). */
async function freePort() {
    const tryListen = (port) =>
        new Promise((resolve) => {
            const s = net.createServer();
            s.unref();
            s.once('error', () => resolve(null));
            s.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
                const p = s.address().port;
                s.close(() => resolve(p));
            });
        });
    const range = process.env.DTM_TEST_PORTS;
    if (range) {
        const [lo, hi] = range.split('-').map(Number);
        for (let i = 0; i < 200; i++) {
            const p = await tryListen(lo + Math.floor(Math.random() * (hi - lo + 1)));
            if (p) return p;
        }
        throw new Error(`no free port in DTM_TEST_PORTS=${range}`);
    }
    return tryListen(0);
}

function run(cmd, args, opts = {}) {
    return new Promise((resolve, reject) => {
        execFile(cmd, args, { maxBuffer: 64 << 20, ...opts }, (err, stdout, stderr) => {
            if (err) {
                const how = err.killed ? `killed (${err.signal})` : `exit ${err.code}${err.signal ? ` signal ${err.signal}` : ''}`;
                err.message = `${cmd} ${args.join(' ')}: ${how}\n${stdout}${stderr}`;
                err.stdout = stdout;
                err.stderr = stderr;
                reject(err);
            } else resolve({ stdout, stderr });
        });
    });
}

// ------------------------------------------------------------------------------------------------
// PostgreSQL through psql (no driver dependency)

/** Run SQL with psql against `url`; returns rows as arrays of strings (tab-separated output). */
async function sql(url, query) {
    const { stdout } = await run('psql', [url, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-F', '\t', '-c', query]);
    return stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.split('\t'));
}

function withDb(url, db) {
    const u = new URL(url);
    u.pathname = '/' + db;
    return u.toString();
}

let dbCounter = 0;
async function createDatabase(adminUrl) {
    const name = `dtm_t_${process.pid}_${++dbCounter}_${randomId(3)}`;
    await sql(adminUrl, `CREATE DATABASE ${name}`);
    return { name, url: withDb(adminUrl, name) };
}

async function dropDatabase(adminUrl, name) {
    await sql(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

// ------------------------------------------------------------------------------------------------
// Redis: a minimal RESP client over one short-lived connection per call

function encodeResp(args) {
    let out = `*${args.length}\r\n`;
    for (const a of args) {
        const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
        out += `$${b.length}\r\n${b.toString('binary')}\r\n`;
    }
    return Buffer.from(out, 'binary');
}

// Parse one reply at buf[off..]; returns [value, nextOffset] or null when incomplete.
function parseResp(buf, off) {
    const eol = buf.indexOf('\r\n', off);
    if (eol < 0) return null;
    const type = String.fromCharCode(buf[off]);
    const line = buf.toString('utf8', off + 1, eol);
    const next = eol + 2;
    switch (type) {
        case '+':
            return [line, next];
        case '-': {
            const e = new Error(line);
            e.redisError = true;
            return [e, next];
        }
        case ':':
            return [Number(line), next];
        case '$': {
            const n = Number(line);
            if (n < 0) return [null, next];
            if (buf.length < next + n + 2) return null;
            return [buf.toString('utf8', next, next + n), next + n + 2];
        }
        case '*': {
            const n = Number(line);
            if (n < 0) return [null, next];
            const arr = [];
            let o = next;
            for (let i = 0; i < n; i++) {
                const r = parseResp(buf, o);
                if (!r) return null;
                arr.push(r[0]);
                o = r[1];
            }
            return [arr, o];
        }
        default:
            throw new Error(`bad RESP reply type ${type}`);
    }
}

/** Send commands (arrays of args) to the Redis at `url` (its db number selected first);
 *  resolves with the replies. A Redis error reply rejects. */
function redisPipeline(url, commands, timeoutMs = 5000) {
    const u = new URL(url);
    const db = Number((u.pathname || '/0').slice(1) || 0);
    const all = [];
    if (u.password) all.push(['AUTH', decodeURIComponent(u.password)]);
    all.push(['SELECT', db], ...commands);
    return new Promise((resolve, reject) => {
        const sock = net.connect({ host: u.hostname, port: Number(u.port || 6379) });
        let buf = Buffer.alloc(0);
        const replies = [];
        const timer = setTimeout(() => {
            sock.destroy();
            reject(new Error(`redis ${url}: timeout`));
        }, timeoutMs);
        sock.on('connect', () => sock.write(Buffer.concat(all.map(encodeResp))));
        sock.on('data', (d) => {
            buf = Buffer.concat([buf, d]);
            let off = 0;
            for (;;) {
                const r = parseResp(buf, off);
                if (!r) break;
                replies.push(r[0]);
                off = r[1];
            }
            buf = buf.subarray(off);
            if (replies.length === all.length) {
                clearTimeout(timer);
                sock.end();
                const mine = replies.slice(all.length - commands.length);
                const err = replies.find((x) => x instanceof Error);
                if (err) reject(err);
                else resolve(mine);
            }
        });
        sock.on('error', (e) => {
            clearTimeout(timer);
            reject(e);
        });
    });
}

/** One Redis command: await redis(url, 'GET', 'user:1'). */
async function redis(url, ...args) {
    const [r] = await redisPipeline(url, [args]);
    return r;
}

// A fresh logical database per dtm. Our test stack's Redis has 1024 of them (scripts/stack.sh);
// a Redis with the usual 16 is shared: we then use the URL's own number and flush it.
async function allocRedisDb(baseUrl) {
    const u = new URL(baseUrl);
    u.pathname = '/0';
    const [, count] = await redisPipeline(u.toString(), [['CONFIG', 'GET', 'databases']]).then(
        (r) => r[0]
    );
    const n = Number(count);
    let db;
    if (n > 16) {
        const k = await redis(u.toString(), 'INCR', 'dtm:test:next-db');
        db = 1 + (k % (n - 1));
    } else {
        db = Number((new URL(baseUrl).pathname || '/0').slice(1) || 0);
    }
    u.pathname = '/' + db;
    const url = u.toString();
    await redis(url, 'FLUSHDB');
    return url;
}

// ------------------------------------------------------------------------------------------------
// logs

const SANITIZER_RE =
    /ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer|MemorySanitizer)|runtime error: |SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer/;

/** Captured output of one or more processes. Lines are {proc, stream, text, json, t}. */
class Logs {
    constructor() {
        this.lines = [];
        this.waiters = [];
    }
    push(proc, stream, text) {
        let json = null;
        if (text.startsWith('{')) {
            try {
                json = JSON.parse(text);
            } catch {
                json = null;
            }
        }
        const line = { proc, stream, text, json, t: Date.now() };
        this.lines.push(line);
        if (VERBOSE) process.stderr.write(`[${proc}] ${text}\n`);
        for (const w of [...this.waiters]) {
            if (w.pred(line)) {
                this.waiters.splice(this.waiters.indexOf(w), 1);
                clearTimeout(w.timer);
                w.resolve(line);
            }
        }
    }
    /** Every line's text, joined. */
    text() {
        return this.lines.map((l) => l.text).join('\n');
    }
    /** The lines that are JSON objects, parsed (the access and event log). */
    json() {
        return this.lines.filter((l) => l.json).map((l) => l.json);
    }
    /** Lines of one process (e.g. 'gateway', 'users#2' in the micro topology). */
    of(proc) {
        return this.lines.filter((l) => l.proc === proc);
    }
    /** Index to pass to since(): lines written after this point. */
    mark() {
        return this.lines.length;
    }
    since(mark) {
        return this.lines.slice(mark);
    }
    /** Resolve with the first line (already written or coming) for which pred(line) is true. */
    waitFor(pred, timeoutMs = 5000) {
        const hit = this.lines.find(pred);
        if (hit) return Promise.resolve(hit);
        return new Promise((resolve, reject) => {
            const w = { pred, resolve };
            w.timer = setTimeout(() => {
                this.waiters.splice(this.waiters.indexOf(w), 1);
                reject(new Error(`log line not seen within ${timeoutMs} ms`));
            }, timeoutMs);
            this.waiters.push(w);
        });
    }
    tail(n = 60) {
        return this.lines
            .slice(-n)
            .map((l) => `[${l.proc}] ${l.text}`)
            .join('\n');
    }
    sanitizerReport() {
        const i = this.lines.findIndex((l) => SANITIZER_RE.test(l.text));
        if (i < 0) return null;
        return this.lines
            .slice(Math.max(0, i - 2), i + 60)
            .map((l) => `[${l.proc}] ${l.text}`)
            .join('\n');
    }
}

function pipeLines(stream, cb) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (d) => {
        rest += d;
        let i;
        while ((i = rest.indexOf('\n')) >= 0) {
            cb(rest.slice(0, i));
            rest = rest.slice(i + 1);
        }
    });
    stream.on('end', () => {
        if (rest) cb(rest);
        rest = '';
    });
}

// ------------------------------------------------------------------------------------------------
// one dtm process

// The child's environment: the caller's minus anything that could point dtm somewhere else,
// plus ours. DTM_ENV_FILE=/dev/null keeps ./var/dtm.env (the developer's stack) out.
function childEnv(extra) {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (k.startsWith('DTM_') || k.startsWith('DATABASE_URL') || k === 'REDIS_URL') continue;
        env[k] = v;
    }
    env.DTM_ENV_FILE = '/dev/null';
    return Object.assign(env, extra);
}

/** Run `dtm <args>` to completion (migrate, seed, user ...); rejects on a non-zero exit or a
 *  sanitizer report. Resolves with {stdout, stderr}. */
async function dtmCommand(args, env, bin = dtmBin()) {
    let res;
    try {
        res = await run(bin, args, { env, cwd: ROOT });
    } catch (e) {
        throw new Error(`dtm ${args.join(' ')}: ${e.message}`);
    }
    const out = res.stdout + res.stderr;
    if (SANITIZER_RE.test(out)) throw new Error(`dtm ${args.join(' ')}: sanitizer report\n${out}`);
    return res;
}

class Proc {
    constructor({ name, bin, args, env, port, logs }) {
        Object.assign(this, { name, bin, args, env, port, logs });
        this.url = `http://127.0.0.1:${port}`;
        this.child = null;
        this.exit = null; // {code, signal} once exited
    }
    start() {
        this.exit = null;
        const child = spawn(this.bin, this.args, {
            env: { ...this.env, DTM_PORT: String(this.port) },
            cwd: ROOT,
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        this.child = child;
        this.exited = new Promise((resolve) => {
            child.on('exit', (code, signal) => {
                this.exit = { code, signal };
                resolve(this.exit);
            });
            child.on('error', (e) => {
                this.logs.push(this.name, 'harness', `spawn failed: ${e.message}`);
                this.exit = { code: -1, signal: null, error: e };
                resolve(this.exit);
            });
        });
        pipeLines(child.stdout, (l) => this.logs.push(this.name, 'stdout', l));
        pipeLines(child.stderr, (l) => this.logs.push(this.name, 'stderr', l));
        // Do not keep the test process alive on our account: leftovers are stopped at exit.
        child.unref();
        child.stdout.unref?.();
        child.stderr.unref?.();
        live.add(this);
        return this;
    }
    /** Wait until GET /health answers (200, or any status when `anyStatus`). */
    async waitHealthy({ timeoutMs = START_TIMEOUT_MS, anyStatus = false } = {}) {
        const deadline = Date.now() + timeoutMs;
        let last = 'no answer';
        while (Date.now() < deadline) {
            if (this.exit) {
                throw new Error(
                    `${this.name} exited (${JSON.stringify(this.exit)}) before it was healthy\n` +
                        this.logs.tail()
                );
            }
            try {
                const r = await fetch(this.url + '/health', { signal: AbortSignal.timeout(2000) });
                const text = await r.text();
                if (r.status === 200 || anyStatus) return;
                last = `${r.status} ${text.slice(0, 200)}`;
            } catch (e) {
                last = e.cause?.code || e.message;
            }
            await sleep(50);
        }
        throw new Error(`${this.name} not healthy within ${timeoutMs} ms (${last})\n${this.logs.tail()}`);
    }
    ref() {
        this.child?.ref();
        this.child?.stdout?.ref?.();
        this.child?.stderr?.ref?.();
    }
    /** Send a signal without waiting (e.g. SIGKILL a replica). */
    kill(signal = 'SIGKILL') {
        if (this.child && !this.exit) this.child.kill(signal);
        return this.exited;
    }
    /** SIGTERM, wait for exit, and check it: exit code 0 and no sanitizer report, or throw. */
    async stop() {
        live.delete(this);
        if (!this.child) return;
        this.ref(); // the exit must keep us alive until it is seen
        if (!this.exit) {
            this.child.kill('SIGTERM');
            const t = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
            await this.exited;
            clearTimeout(t);
            if (this.exit.signal === 'SIGKILL') {
                throw new Error(`${this.name} did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM\n${this.logs.tail()}`);
            }
        } else {
            await this.exited;
        }
        // Let the pipes drain so that the last lines (a leak report) are in the logs.
        await sleep(20);
        const report = this.logs.sanitizerReport();
        if (report) throw new Error(`${this.name}: sanitizer report\n${report}`);
        if (this.exit.code !== 0) {
            throw new Error(`${this.name} exited with ${JSON.stringify(this.exit)} after SIGTERM\n${this.logs.tail()}`);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// startDtm

function serviceNames() {
    const dir = path.join(ROOT, 'src', 'services');
    return fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, 'routes.c')))
        .map((d) => d.name)
        .sort();
}

/**
 * Start dtm on a fresh database and Redis db.
 *
 * opts:
 *   seed        true (default: `dtm seed`, the admin only) | 'demo' (`dtm seed --demo`) | false
 *   migrate     default true (`dtm migrate`)
 *   env         extra environment for every dtm process (e.g. {DTM_LOGIN_LIMIT_PER_IP: '1000'})
 *   pg          a startPostgres() handle: create the database there instead of the test server
 *   redis       a startRedis() handle: use it instead of the test Redis
 *   databaseUrl use this database as it is (no create, no drop)
 *   topology    'all' (one process, default) | 'micro' (gateway + one process per service)
 *   services    micro: which services (default every folder of src/services)
 *   replicas    micro: {users: 2} replicas per service (default 1)
 *   args        extra arguments for `dtm serve`
 *   metricsAddr true: every process gets its own private metrics listener
 *               (DTM_METRICS_ADDR=127.0.0.1:<free port>, its URL in process.metricsUrl)
 *   waitHealthy default true; false returns as soon as the processes are spawned
 *
 * Returns a handle: {url, port, env, logs, admin: {email, password}, databaseUrl, redisUrl,
 *   processes, api(), login(), loginAdmin(), createUser(), sql(), redis(), stop(), dtm(args)}.
 */
async function startDtm(opts = {}) {
    if (contract.enabled()) contract.prepare();
    const bin = opts.bin || dtmBin();
    if (!fs.existsSync(bin)) throw new Error(`${bin} does not exist: build it first (make build)`);
    const topology = opts.topology || process.env.DTM_TEST_TOPOLOGY || 'all';
    const shared = opts.pg && opts.redis ? null : testServers();
    const adminUrl = opts.pg ? opts.pg.url : shared.databaseUrl;

    let db = null;
    let databaseUrl = opts.databaseUrl;
    if (!databaseUrl) {
        db = await createDatabase(adminUrl);
        databaseUrl = db.url;
    }
    const redisUrl = await allocRedisDb(opts.redis ? opts.redis.url : shared.redisUrl);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dtm-test-'));
    const admin = {
        email: 'admin@example.com',
        password: 'Adm1n-' + randomId(8),
    };
    const env = childEnv({
        DATABASE_URL: databaseUrl,
        REDIS_URL: redisUrl,
        DTM_JWT_SECRET: crypto.randomBytes(48).toString('base64'),
        DTM_HOST: '127.0.0.1',
        DTM_DATA_DIR: path.join(tmp, 'data'),
        DTM_BACKUP_DIR: path.join(tmp, 'backups'),
        DTM_ADMIN_EMAIL: admin.email,
        DTM_ADMIN_PASSWORD: admin.password,
        DTM_LOG_LEVEL: 'info',
        DTM_LOOPS: '2',
        DTM_THREADS: '8',
        DTM_PG_POOL_SIZE: '16',
        // Suites fire thousands of requests from 127.0.0.1 in seconds; the edge limits get their
        // own test (edge.test.js) with small values.
        DTM_RATE_LIMIT_PER_IP: '1000000',
        DTM_RATE_LIMIT_PER_USER: '1000000',
        ...(opts.env || {}),
    });
    fs.mkdirSync(env.DTM_DATA_DIR, { recursive: true });
    fs.mkdirSync(env.DTM_BACKUP_DIR, { recursive: true });

    const logs = new Logs();
    const handle = {
        env,
        logs,
        admin,
        databaseUrl,
        redisUrl,
        tmp,
        topology,
        processes: [],
        bin,
    };
    // From here on a failure must not leak what was created.
    const cleanupData = async () => {
        if (KEEP) return;
        if (db) await dropDatabase(adminUrl, db.name).catch(() => {});
        await redis(redisUrl, 'FLUSHDB').catch(() => {});
        fs.rmSync(tmp, { recursive: true, force: true });
    };

    try {
        // The pgbouncer suite: serve through a PgBouncer in transaction mode; migrations (session
        // advisory lock) and the seed go straight to PostgreSQL, as an operator would run them.
        const setupEnv = { ...env };
        if (process.env.DTM_TEST_PGBOUNCER_URL && db && !opts.pg) {
            env.DATABASE_URL = withDb(process.env.DTM_TEST_PGBOUNCER_URL, db.name);
            env.DTM_PG_POOLER = 'transaction';
        }
        if (opts.migrate !== false) await dtmCommand(['migrate'], setupEnv, bin);
        if (opts.seed !== false) {
            const args = opts.seed === 'demo' ? ['seed', '--demo'] : ['seed'];
            handle.seedOutput = await dtmCommand(args, setupEnv, bin);
        }

        const spawnOne = async (name, target, preferredPort) => {
            for (let attempt = 1; ; attempt++) {
                const port = attempt === 1 && preferredPort ? preferredPort : await freePort();
                const args = ['serve', ...(target ? ['--target', target] : []), ...(opts.args || [])];
                let penv = env, metricsUrl;
                if (opts.metricsAddr) {
                    let mport;
                    do mport = await freePort();
                    while (mport === port);
                    penv = { ...env, DTM_METRICS_ADDR: `127.0.0.1:${mport}` };
                    metricsUrl = `http://127.0.0.1:${mport}`;
                }
                const p = new Proc({ name, bin, args, env: penv, port, logs });
                p.metricsUrl = metricsUrl;
                p.start();
                handle.processes.push(p);
                if (opts.waitHealthy === false) return p;
                try {
                    await p.waitHealthy();
                    return p;
                } catch (e) {
                    // Someone took the port between our probe and dtm's bind: try another.
                    const inUse = /address already in use|EADDRINUSE/i.test(logs.text());
                    handle.processes.pop();
                    await p.stop().catch(() => {});
                    if (!inUse || attempt >= 3) throw e;
                }
            }
        };

        if (topology === 'all') {
            const p = await spawnOne('dtm', null);
            handle.main = p;
        } else if (topology === 'micro') {
            // Seam for the gateway issue: every service in its own process(es), then the gateway
            // pointed at them through DTM_UPSTREAM_<SERVICE> (comma-separated replica URLs).
            const services = opts.services || serviceNames();
            const replicas = opts.replicas || {};
            // Ports first: every service must know every other's URLs (DTM_UPSTREAM_<SERVICE>)
            // because services call each other (dtm_call), not only the gateway.
            const planned = {};
            const taken = new Set();
            for (const s of services) {
                planned[s] = [];
                for (let i = 1; i <= (replicas[s] || 1); i++) {
                    let port;
                    do port = await freePort();
                    while (taken.has(port));
                    taken.add(port);
                    planned[s].push(port);
                }
                env[`DTM_UPSTREAM_${s.toUpperCase()}`] = planned[s].map((p) => `http://127.0.0.1:${p}`).join(',');
            }
            const upstreams = {};
            for (const s of services) {
                upstreams[s] = [];
                for (let i = 1; i <= planned[s].length; i++) {
                    const p = await spawnOne(`${s}#${i}`, s, planned[s][i - 1]);
                    p.service = s;
                    upstreams[s].push(p.url);
                }
                env[`DTM_UPSTREAM_${s.toUpperCase()}`] = upstreams[s].join(',');
            }
            handle.upstreams = upstreams;
            handle.main = await spawnOne('gateway', 'gateway');
        } else {
            throw new Error(`unknown topology ${topology}`);
        }
    } catch (e) {
        for (const p of handle.processes) await p.stop().catch(() => {});
        await cleanupData();
        throw e;
    }

    handle.port = handle.main.port;
    handle.url = handle.main.url;
    defaultBase = handle.url;

    handle.api = (method, p, o = {}) => api(method, p, { base: handle.url, ...o });
    handle.login = (email, password, o = {}) => login(email, password, { base: handle.url, ...o });
    handle.loginAdmin = () => login(admin.email, admin.password, { base: handle.url });
    handle.createUser = (token, fields = {}) => createUser(token, fields, { base: handle.url });
    handle.sql = (query) => sql(databaseUrl, query);
    handle.redis = (...args) => redis(redisUrl, ...args);
    /** Run another dtm subcommand with this instance's environment. */
    handle.dtm = (args, extraEnv = {}) => dtmCommand(args, { ...env, ...extraEnv }, bin);
    /** Processes of one service in the micro topology. */
    handle.replicas = (service) => handle.processes.filter((p) => p.service === service);

    let stopped = false;
    /** Stop every process (SIGTERM, check exit 0 and no sanitizer report), drop the database. */
    handle.stop = async () => {
        if (stopped) return;
        stopped = true;
        const errors = [];
        // Gateway first, like a real drain.
        for (const p of [...handle.processes].reverse()) {
            try {
                await p.stop();
            } catch (e) {
                errors.push(e);
            }
        }
        await cleanupData();
        if (errors.length) throw errors.length === 1 ? errors[0] : new AggregateError(errors, errors.map((e) => e.message).join('\n\n'));
    };
    return handle;
}

// ------------------------------------------------------------------------------------------------
// HTTP helpers

/**
 * One HTTP request. opts: {token, body, headers, base, timeoutMs, contract (false: a server that
 * is not dtm, not held against docs/openapi.yaml)}. A body that is a plain object
 * or array is sent as JSON; a string, Buffer or FormData as is. Resolves with
 * {status, headers (lower-case names), json (null unless the body parses), text, durationMs}.
 */
async function api(method, p, opts = {}) {
    const base = opts.base || defaultBase;
    if (!base) throw new Error('api(): no dtm started and no DTM_TEST_URL');
    const headers = { ...(opts.headers || {}) };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body = opts.body;
    const plain =
        body !== undefined &&
        body !== null &&
        typeof body === 'object' &&
        !Buffer.isBuffer(body) &&
        !(body instanceof Uint8Array) &&
        !(typeof FormData !== 'undefined' && body instanceof FormData);
    if (plain) {
        body = JSON.stringify(body);
        if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
            headers['content-type'] = 'application/json';
        }
    }
    const t0 = performance.now();
    const res = await fetch(base + p, {
        method,
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(opts.timeoutMs || 30000),
    });
    const text = await res.text();
    let json = null;
    try {
        json = text ? JSON.parse(text) : null;
    } catch {
        json = null;
    }
    const result = {
        status: res.status,
        headers: Object.fromEntries(res.headers),
        json,
        text,
        durationMs: performance.now() - t0,
    };
    if (opts.contract !== false && contract.enabled()) contract.enforce(method.toUpperCase(), p, result);
    return result;
}

/** POST /api/auth/login; resolves with the body ({accessToken, refreshToken, user, ...}).
 *  Throws unless the answer is 200. */
async function login(email, password, opts = {}) {
    const r = await api('POST', '/api/auth/login', { ...opts, body: { email, password } });
    if (r.status !== 200) throw new Error(`login ${email}: ${r.status} ${r.text}`);
    return r.json;
}

/** POST /api/users as an admin; fields default to a unique merchandiser. Resolves with the user
 *  plus the password it was created with. Throws unless 201. */
async function createUser(adminToken, fields = {}, opts = {}) {
    const id = randomId(4);
    const body = {
        email: `user-${id}@example.com`,
        password: `Pw-${randomId(8)}`,
        firstName: 'Test',
        lastName: `User ${id}`,
        role: 'merchandiser',
        ...fields,
    };
    const r = await api('POST', '/api/users', { ...opts, token: adminToken, body });
    if (r.status !== 201) throw new Error(`create user ${body.email}: ${r.status} ${r.text}`);
    return { ...r.json.user, password: body.password };
}

// ------------------------------------------------------------------------------------------------
// private PostgreSQL and Redis servers, for tests that stop and restart them

function pgOwner() {
    if (process.getuid() !== 0) return {};
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    return { uid, gid };
}

// One freshly initialised cluster per machine and user, copied by every startPostgres().
async function pgTemplate(owner) {
    const t = path.join(os.tmpdir(), `dtm-pg-template-15-${process.getuid()}`);
    if (fs.existsSync(path.join(t, 'PG_VERSION'))) return t;
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dtm-pg-template-'));
    if (owner.uid !== undefined) fs.chownSync(work, owner.uid, owner.gid);
    const data = path.join(work, 'data');
    await run(path.join(PG_BINDIR, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-N', '-E', 'UTF8', '--locale=C.UTF-8'], { ...owner, cwd: work });
    try {
        fs.renameSync(data, t); // atomic: a concurrent test process may have won the race
    } catch {
        /* the other one's template is as good */
    }
    fs.rmSync(work, { recursive: true, force: true });
    return t;
}

/**
 * A private PostgreSQL 15 cluster on a free port (trust auth, loopback only, fsync off).
 * opts.settings: extra server settings, e.g. {archive_mode: 'on', archive_command: '...'}.
 * opts.standbyOf: another such handle: start a streaming hot standby of it (pg_basebackup -R).
 * Returns {url, port, dir, dataDir, start(), stop(), restart(), kill(), destroy()}; `url` points
 * at the `postgres` database (startDtm({pg}) creates its own database there).
 */
async function startPostgres(opts = {}) {
    const owner = pgOwner();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dtm-pg-'));
    if (owner.uid !== undefined) fs.chownSync(dir, owner.uid, owner.gid);
    const dataDir = path.join(dir, 'data');
    const port = await freePort();
    const asOwner = { ...owner, cwd: dir };
    if (opts.standbyOf) {
        // A streaming standby of another startPostgres() cluster: a base backup with -R
        // (standby.signal + primary_conninfo), WAL streamed during the copy.
        const p = opts.standbyOf;
        await run(path.join(PG_BINDIR, 'pg_basebackup'), ['-h', '127.0.0.1', '-p', String(p.port), '-U', 'postgres', '-D', dataDir, '-R', '-X', 'stream', '-c', 'fast'], asOwner);
    } else {
        // initdb takes seconds on a busy machine; copying a cluster made once takes milliseconds.
        const template = await pgTemplate(owner);
        await run('cp', ['-a', template, dataDir], asOwner);
    }
    const settings = {
        listen_addresses: '127.0.0.1',
        port: String(port),
        unix_socket_directories: dir.length < 90 ? dir : '',
        fsync: 'off',
        max_connections: '200',
        ...(opts.settings || {}),
    };
    const o = Object.entries(settings)
        .map(([k, v]) => `-c ${k}=${String(v).includes(' ') ? `'${v}'` : v}`)
        .join(' ');
    const pgctl = path.join(PG_BINDIR, 'pg_ctl');
    const h = {
        url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
        port,
        dir,
        dataDir,
        running: false,
        async start() {
            await run(pgctl, ['start', '-D', dataDir, '-l', path.join(dir, 'log'), '-w', '-t', '60', '-o', o], asOwner);
            h.running = true;
        },
        /** Clean (fast) shutdown. */
        async stop() {
            if (!h.running) return;
            await run(pgctl, ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60'], asOwner);
            h.running = false;
        },
        /** Crash-like stop (immediate mode: no checkpoint, clients cut). */
        async kill() {
            if (!h.running) return;
            await run(pgctl, ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '60'], asOwner);
            h.running = false;
        },
        async restart() {
            await h.stop();
            await h.start();
        },
        async destroy() {
            live.delete(h);
            await h.kill().catch(() => {});
            if (!KEEP) fs.rmSync(dir, { recursive: true, force: true });
        },
        log() {
            try {
                return fs.readFileSync(path.join(dir, 'log'), 'utf8');
            } catch {
                return '';
            }
        },
    };
    h.syncKill = () => {
        try {
            execFileSync(pgctl, ['stop', '-D', dataDir, '-m', 'immediate'], { ...asOwner, stdio: 'ignore' });
        } catch {}
        if (!KEEP) fs.rmSync(dir, { recursive: true, force: true });
    };
    live.add(h);
    await h.start();
    return h;
}

/** A hot standby of `primary` (a startPostgres() handle) on its own port: same handle shape. */
function startStandby(primary, opts = {}) {
    return startPostgres({ ...opts, standbyOf: primary });
}

/**
 * A private Redis server on a free port (no persistence), as a child process.
 * Returns {url, port, start(), stop(), restart(), kill(), destroy()}.
 */
async function startRedis(opts = {}) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dtm-redis-'));
    const h = {
        url: `redis://127.0.0.1:${port}/0`,
        port,
        dir,
        child: null,
        async start() {
            if (h.child) return;
            const child = spawn(
                'redis-server',
                ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--databases', '16', ...(opts.args || [])],
                { stdio: ['ignore', 'pipe', 'pipe'] }
            );
            child.unref();
            child.stdout.unref?.();
            child.stderr.unref?.();
            child.stdout.resume();
            child.stderr.resume();
            h.child = child;
            h.exited = new Promise((r) => child.on('exit', r));
            const deadline = Date.now() + 10000;
            for (;;) {
                try {
                    if ((await redis(h.url, 'PING')) === 'PONG') return;
                } catch {}
                if (Date.now() > deadline) throw new Error(`redis on ${port} did not start`);
                await sleep(20);
            }
        },
        async stop(signal = 'SIGTERM') {
            if (!h.child) return;
            h.child.ref();
            h.child.kill(signal);
            await h.exited;
            h.child = null;
        },
        kill() {
            return h.stop('SIGKILL');
        },
        async restart() {
            await h.stop();
            await h.start();
        },
        async destroy() {
            live.delete(h);
            await h.stop('SIGKILL');
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
    h.syncKill = () => {
        if (h.child) h.child.kill('SIGKILL');
        fs.rmSync(dir, { recursive: true, force: true });
    };
    live.add(h);
    await h.start();
    return h;
}

// ------------------------------------------------------------------------------------------------
// leftovers: a test file that forgot to stop what it started still gets it stopped and checked
// (a sanitizer report then fails the file through the exit code).

let finishing = false;
process.on('beforeExit', async () => {
    if (finishing || live.size === 0) return;
    finishing = true;
    for (const x of [...live]) {
        if (x instanceof Proc) {
            try {
                await x.stop();
            } catch (e) {
                process.stderr.write(`harness: ${e.message}\n`);
                process.exitCode = 1;
            }
        } else {
            await x.destroy().catch(() => {});
        }
    }
});
process.on('exit', () => {
    for (const x of live) {
        if (x instanceof Proc) x.child?.kill('SIGKILL');
        else x.syncKill?.();
    }
});

module.exports = {
    startDtm,
    startPostgres,
    startStandby,
    startRedis,
    api,
    login,
    createUser,
    sql,
    redis,
    freePort,
    testServers,
    dtmCommand,
    randomId,
    sleep,
    until,
    Logs,
    ROOT,
};
