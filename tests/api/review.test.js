// SPDX-License-Identifier: MIT
// Regression tests for bugs found in code review: each test failed before its fix.
'use strict';

const { test, describe, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const { startDtm, sleep } = require('./lib/harness.js');
const { storeBody } = require('./fieldops-fixtures.js');

const started = [];
after(async () => {
    for (const d of started) await d.stop();
});

async function start(env) {
    const dtm = await startDtm({
        env: { DTM_LOGIN_LIMIT_PER_IP: '100000', DTM_LOGIN_LIMIT_PER_EMAIL: '100000', ...env },
    });
    started.push(dtm);
    return dtm;
}

describe('PostgreSQL statement timeout', () => {
    test('a statement stuck behind a lock answers 504 after DTM_PG_STATEMENT_TIMEOUT_MS, then the service recovers', async () => {
        const dtm = await start({ DTM_PG_STATEMENT_TIMEOUT_MS: '500' });
        const { accessToken } = await dtm.loginAdmin();
        // Another session holds an exclusive lock on the users table for a while.
        const holder = spawn('psql', [dtm.databaseUrl, '-XAtq', '-c',
            'BEGIN; LOCK TABLE users.users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(30); COMMIT;'],
            { stdio: 'ignore', env: { ...process.env, PGAPPNAME: 'review-lock-holder' } });
        const exited = new Promise((resolve) => holder.on('exit', resolve));
        try {
            // Wait until the lock is really held.
            for (let i = 0; i < 100; i++) {
                const rows = await dtm.sql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation " +
                    "WHERE c.relname = 'users' AND l.mode = 'AccessExclusiveLock' AND l.granted");
                if (rows[0][0] === '1') break;
                await sleep(50);
            }
            const t0 = Date.now();
            const r = await dtm.api('GET', '/api/users?page=1&limit=5', { token: accessToken, timeoutMs: 5000 });
            const took = Date.now() - t0;
            assert.equal(r.status, 504, r.text);
            assert.equal(r.json.error.code, 'gateway_timeout', r.text);
            assert.doesNotMatch(r.text, /SELECT|users\.users|pg_/);
            assert.ok(took < 3000, `answered after ${took} ms`);
        } finally {
            // The backend outlives a killed psql until its sleep ends: end it on the server.
            await dtm.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'review-lock-holder'");
            await exited;
        }
        const ok = await dtm.api('GET', '/api/users?page=1&limit=5', { token: accessToken });
        assert.equal(ok.status, 200, ok.text);
    });
});

describe('edge rate limits in the all-in-one process', () => {
    test('in-process service calls are not charged to the client IP (nor answered 429 inside)', async () => {
        // 120 a minute: a bucket of 30, refilled at 2 a second.
        const dtm = await start({ DTM_RATE_LIMIT_PER_IP: '120', DTM_RATE_LIMIT_PER_USER: '1000000' });
        const { accessToken } = await dtm.loginAdmin(); // 1 request (+1 in-process call)
        const st = await dtm.api('POST', '/api/stores', { token: accessToken, body: storeBody() });
        assert.equal(st.status, 201, st.text);
        const me = await dtm.api('GET', '/api/auth/me', { token: accessToken });
        assert.equal(me.status, 200, me.text);
        // 16 creates: 16 tokens of 30. Each one asks users and stores in-process; charged to the
        // client IP those calls would take 48 tokens and fail inside with 429 (answered as 500).
        const statuses = [];
        for (let i = 0; i < 16; i++) {
            const r = await dtm.api('POST', '/api/todos', {
                token: accessToken,
                body: { title: `t${i}`, assigneeId: me.json.user.id, storeId: st.json.store.id },
            });
            statuses.push(`${r.status}${r.status === 201 ? '' : ' ' + r.text}`);
        }
        assert.deepEqual(statuses, Array(16).fill('201'));
    });
});

describe('client IP behind the gateway (microservices topology)', () => {
    test('login limits per client IP count the forwarded client, not the gateway', async () => {
        // The test client is the trusted proxy in front of the gateway, and the gateway is the
        // trusted proxy in front of the services: both on 127.0.0.1.
        const dtm = await startDtm({
            topology: 'micro',
            env: {
                DTM_TRUSTED_PROXIES: '127.0.0.1',
                DTM_LOGIN_LIMIT_PER_IP: '3',
                DTM_LOGIN_LIMIT_PER_EMAIL: '100',
                DTM_RATE_LIMIT_PER_IP: '1000000',
                DTM_RATE_LIMIT_PER_USER: '1000000',
            },
        });
        started.push(dtm);
        const from = (ip) => ({ 'x-forwarded-for': ip });
        const statuses = [];
        for (let i = 0; i < 4; i++) {
            const r = await dtm.api('POST', '/api/auth/login', {
                headers: from('203.0.113.7'),
                body: { email: dtm.admin.email, password: 'wrong-password-' + i },
            });
            statuses.push(r.status);
        }
        assert.deepEqual(statuses, [401, 401, 401, 429], 'the noisy client is limited');
        const other = await dtm.api('POST', '/api/auth/login', {
            headers: from('198.51.100.20'),
            body: { email: dtm.admin.email, password: dtm.admin.password },
        });
        assert.equal(other.status, 200, `another client is not: ${other.text}`);
    });
});

describe('/metrics runs on the event loop without file I/O', () => {
    test('a backup directory that blocks (FIFO manifest, like a hung NFS mount) stalls neither /metrics nor the loop', async () => {
        const fs = require('node:fs');
        const { execFileSync } = require('node:child_process');
        const dtm = await start({ DTM_LOOPS: '1' });
        const dir = path.join(dtm.env.DTM_BACKUP_DIR, 'stuck');
        fs.mkdirSync(dir, { recursive: true });
        const fifo = path.join(dir, 'manifest.json');
        execFileSync('mkfifo', [fifo]);
        try {
            const t0 = Date.now();
            const m = await dtm.api('GET', '/metrics', { timeoutMs: 3000 }).catch((e) => ({ status: 0, text: String(e) }));
            assert.equal(m.status, 200, `/metrics: ${m.text.slice(0, 200)}`);
            assert.match(m.text, /^dtm_backup_last_success_timestamp_seconds /m);
            const h = await dtm.api('GET', '/health', { timeoutMs: 3000 }).catch((e) => ({ status: 0, text: String(e) }));
            assert.equal(h.status, 200, `/health on the same loop: ${h.text.slice(0, 200)}`);
            assert.ok(Date.now() - t0 < 4000);
        } finally {
            // Whoever is blocked opening the FIFO for reading gets an empty document and moves on;
            // then the FIFO goes, so that no later refresh (or shutdown) blocks on it.
            fs.renameSync(fifo, fifo + '.gone');
            try {
                fs.closeSync(fs.openSync(fifo + '.gone', fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
            } catch {
                /* ENXIO: nobody was blocked on it */
            }
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
