// SPDX-License-Identifier: MIT
// `dtm health` (the guide's health:check): exit 0 healthy, 1 degraded, 2 down; --json for
// machines; the backup age and the gateway's view of every service are part of it.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const { startDtm } = require('../api/lib/harness.js');

let dtm;
before(async () => {
    dtm = await startDtm();
});
after(async () => {
    if (dtm) await dtm.stop();
});

function health(args, extraEnv = {}) {
    const r = spawnSync(dtm.bin, ['health', ...args], {
        env: { ...dtm.env, DTM_PORT: String(dtm.port), ...extraEnv },
        encoding: 'utf8',
        timeout: 60000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
}

test('degraded without a backup, healthy after one, with every service listed', async () => {
    let r = health(['--json']);
    assert.equal(r.code, 1, r.out + r.err);
    let doc = JSON.parse(r.out);
    assert.equal(doc.status, 'degraded');
    const byName = Object.fromEntries(doc.checks.map((c) => [c.name, c]));
    assert.equal(byName.gateway.status, 'ok');
    assert.equal(byName.postgres.status, 'ok');
    assert.equal(byName.redis.status, 'ok');
    assert.equal(byName.backup.status, 'degraded');
    for (const s of ['auth', 'users', 'todos', 'stores', 'attendance', 'reports']) {
        assert.equal(byName[`service ${s}`]?.status, 'ok', `service ${s} checked`);
    }

    await dtm.dtm(['backup', 'run', '--no-pitr']);
    r = health(['--json']);
    doc = JSON.parse(r.out);
    assert.equal(doc.checks.find((c) => c.name === 'backup').status, 'ok');
    // The disk check depends on this machine's free space; everything else must be ok.
    const notOk = doc.checks.filter((c) => c.status !== 'ok' && c.name !== 'disk');
    assert.deepEqual(notOk, []);
    assert.equal(r.code, doc.status === 'ok' ? 0 : 1);

    // A readable table for people.
    r = health([]);
    assert.match(r.out, /CHECK\s+STATUS/);
    assert.match(r.out, /overall: /);

    // The backup gauges reach /metrics on the edge (re-read off the loop every 10 s).
    let m;
    for (let i = 0; i < 60; i++) {
        m = await dtm.api('GET', '/metrics');
        if (/^dtm_backup_last_success_timestamp_seconds [1-9]/m.test(m.text)) break;
        await new Promise((res) => setTimeout(res, 250));
    }
    assert.match(m.text, /^dtm_backup_last_success_timestamp_seconds [1-9]/m);
});

test('down (exit 2) when the gateway does not answer; --local checks one process', async () => {
    let r = health(['--local']);
    assert.equal(r.code, 0, r.out + r.err);
    r = health(['--json', '--url', 'http://127.0.0.1:1']);
    assert.equal(r.code, 2);
    assert.equal(JSON.parse(r.out).status, 'down');
});

test('a malformed --max-backup-age is a usage error (exit 2), not "every backup is too old"', () => {
    for (const bad of ['abc', '2x', '0', '-5', '']) {
        const r = health(['--json', '--max-backup-age', bad]);
        assert.equal(r.code, 2, `--max-backup-age '${bad}': ${r.out}${r.err}`);
        assert.match(r.err, /max-backup-age/);
        assert.equal(r.out, '', 'no report');
    }
    const ok = health(['--json', '--max-backup-age', '48.5']);
    assert.notEqual(ok.code, 2, ok.out + ok.err);
});
