// SPDX-License-Identifier: MIT
// scripts/stack.sh, the local PostgreSQL + Redis of `make run` and `make test`: first start
// creates both and writes dtm.env; a second start changes nothing; data survives stop/start;
// WAL is archived; with DATABASE_URL/REDIS_URL set it starts nothing; destroy removes it all.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { sql, redis, randomId, sleep, ROOT } = require('../api/lib/harness.js');

const STACK = path.join(ROOT, 'scripts', 'stack.sh');
const VAR = path.join(ROOT, 'var', 'test', `stack-${randomId(4)}`);

function stack(cmd, env = {}) {
    const clean = { ...process.env };
    delete clean.DATABASE_URL;
    delete clean.REDIS_URL;
    return new Promise((resolve) => {
        execFile(STACK, [cmd], { env: { ...clean, DTM_VAR_DIR: VAR, DTM_STACK_FAST: '1', ...env } }, (err, stdout, stderr) =>
            resolve({ code: err ? err.code : 0, stdout, stderr })
        );
    });
}

function envFile() {
    const out = {};
    for (const line of fs.readFileSync(path.join(VAR, 'dtm.env'), 'utf8').split('\n')) {
        const m = /^([A-Z_]+)=(.*)$/.exec(line);
        if (m) out[m[1]] = m[2];
    }
    return out;
}

async function listening(port) {
    const net = require('node:net');
    return new Promise((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => {
            s.destroy();
            resolve(true);
        });
        s.on('error', () => resolve(false));
    });
}

after(async () => {
    await stack('destroy');
    fs.rmSync(VAR, { recursive: true, force: true });
});

test('start, idempotent start, WAL archiving, data across stop/start, destroy', async () => {
    let r = await stack('start');
    assert.equal(r.code, 0, r.stderr);
    const env = envFile();
    assert.match(env.DATABASE_URL, /^postgresql:\/\/postgres:[0-9a-f]+@127\.0\.0\.1:\d+\/dtm$/);
    assert.match(env.REDIS_URL, /^redis:\/\/127\.0\.0\.1:\d+\/0$/);
    assert.equal(Buffer.from(env.DTM_JWT_SECRET, 'base64').length, 48);
    assert.equal(env.DTM_HOST, '127.0.0.1');
    assert.equal(env.DTM_DATA_DIR, path.join(VAR, 'data'));
    assert.equal(env.DTM_BACKUP_DIR, path.join(VAR, 'backups'));
    assert.ok(env.DTM_ADMIN_PASSWORD.length >= 12);
    assert.ok(fs.existsSync(env.DTM_WAL_ARCHIVE_DIR));
    assert.equal((fs.statSync(path.join(VAR, 'dtm.env')).mode & 0o777).toString(8), '600');

    // Both answer; the database exists; archiving is on and works.
    assert.deepEqual(await sql(env.DATABASE_URL, 'SELECT current_database()'), [['dtm']]);
    assert.deepEqual(await sql(env.DATABASE_URL, 'SHOW archive_mode'), [['on']]);
    assert.deepEqual(await sql(env.DATABASE_URL, 'SHOW listen_addresses'), [['127.0.0.1']]);
    assert.equal(await redis(env.REDIS_URL, 'PING'), 'PONG');
    await sql(env.DATABASE_URL, 'CREATE TABLE kept (v text); INSERT INTO kept VALUES (\'survives\')');
    const [[seg]] = await sql(env.DATABASE_URL, 'SELECT pg_walfile_name(pg_switch_wal())');
    for (let i = 0; i < 100 && !fs.existsSync(path.join(env.DTM_WAL_ARCHIVE_DIR, seg)); i++) await sleep(100);
    assert.ok(fs.existsSync(path.join(env.DTM_WAL_ARCHIVE_DIR, seg)), `WAL segment ${seg} archived`);
    await redis(env.REDIS_URL, 'SET', 'kept', 'too');

    // A second start is a no-op: same servers, same settings.
    r = await stack('start');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /postgresql already running/);
    assert.match(r.stderr, /redis already running/);
    assert.deepEqual(envFile(), env);

    r = await stack('status');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /postgresql: running/);

    // Stop: both gone, status says so.
    r = await stack('stop');
    assert.equal(r.code, 0, r.stderr);
    const pgPort = Number(new URL(env.DATABASE_URL).port);
    const redisPort = Number(new URL(env.REDIS_URL).port);
    assert.equal(await listening(pgPort), false);
    assert.equal(await listening(redisPort), false);
    r = await stack('status');
    assert.equal(r.code, 3);
    assert.match(r.stdout, /postgresql: stopped/);
    assert.match(r.stdout, /redis: stopped/);

    // Start again: same ports and secrets, data still there (Redis saved on shutdown).
    r = await stack('start');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(envFile(), env);
    assert.deepEqual(await sql(env.DATABASE_URL, 'SELECT v FROM kept'), [['survives']]);
    assert.equal(await redis(env.REDIS_URL, 'GET', 'kept'), 'too');

    // `env` prints shell exports that round-trip.
    r = await stack('env');
    assert.match(r.stdout, /^export DATABASE_URL=/m);

    r = await stack('destroy');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await listening(pgPort), false);
    assert.equal(fs.existsSync(path.join(VAR, 'pg')), false);
    assert.equal(fs.existsSync(path.join(VAR, 'dtm.env')), false);
});

test('with DATABASE_URL and REDIS_URL set, nothing is started', async () => {
    const r = await stack('start', {
        DATABASE_URL: 'postgresql://someone@db.example.invalid/x',
        REDIS_URL: 'redis://cache.example.invalid:6379/0',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /DATABASE_URL is set/);
    assert.match(r.stderr, /REDIS_URL is set/);
    assert.equal(fs.existsSync(path.join(VAR, 'pg')), false);
    assert.equal(fs.existsSync(path.join(VAR, 'redis', 'redis.pid')), false);
    const env = envFile();
    assert.equal(env.DATABASE_URL, undefined, 'the environment provides it');
    assert.equal(Buffer.from(env.DTM_JWT_SECRET, 'base64').length, 48);
});
