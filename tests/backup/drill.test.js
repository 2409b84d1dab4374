// SPDX-License-Identifier: MIT
// Restore drill (issue 5): seed data and photos -> backup -> change and delete data and files ->
// restore -> every table's checksum and every file identical to the backup point. The same for
// an incremental backup, for point-in-time recovery (writes before T survive, writes after T do
// not), and a corrupted artefact makes verify fail and restore refuse.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { startDtm, sql, testServers, sleep, randomId } = require('../api/lib/harness.js');

let dtm;
let admin;
const ENV_FILE = process.env.DTM_TEST_ENV_FILE || path.join(__dirname, '..', '..', 'var', 'test', 'dtm.env');

function walArchiveDir() {
    if (process.env.DTM_WAL_ARCHIVE_DIR) return process.env.DTM_WAL_ARCHIVE_DIR;
    const text = fs.existsSync(ENV_FILE) ? fs.readFileSync(ENV_FILE, 'utf8') : '';
    const m = text.match(/^DTM_WAL_ARCHIVE_DIR=(.*)$/m);
    return m ? m[1].trim() : null;
}

// Same definition as dtm's own verify: per table, row count and md5 over sorted row hashes.
async function tableChecksums(url) {
    const q = `SELECT table_schema || '.' || table_name AS t FROM information_schema.tables
               WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog','information_schema')
               ORDER BY 1`;
    const tables = (await sql(url, q)).map((r) => r[0]);
    const out = {};
    for (const t of tables) {
        const [schema, name] = t.split('.');
        const rows = await sql(
            url,
            `SET TimeZone='UTC'; SELECT count(*) AS n, md5(coalesce(string_agg(h, '' ORDER BY h), '')) AS c
             FROM (SELECT md5(x::text) AS h FROM "${schema}"."${name}" x) q`,
        );
        const r = rows[rows.length - 1];
        out[t] = `${r[0]}:${r[1]}`;
    }
    return out;
}

function fileHashes(dir) {
    const out = {};
    const walk = (d, rel) => {
        if (!fs.existsSync(d)) return;
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            if (e.name.startsWith('.')) continue;
            const p = path.join(d, e.name);
            const r = rel ? `${rel}/${e.name}` : e.name;
            if (e.isDirectory()) walk(p, r);
            else if (e.isFile()) out[r] = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
        }
    };
    walk(dir, '');
    return out;
}

function pngBytes(seed) {
    // A real PNG signature and IHDR, then bytes that differ per seed (content-addressed storage).
    const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const ihdr = Buffer.from('0000000d49484452000000010000000108020000009077053e', 'hex');
    return Buffer.concat([sig, ihdr, Buffer.from(`dtm-drill-${seed}-${randomId(8)}`)]);
}

async function backup(args) {
    const r = await dtm.dtm(['backup', 'run', ...args]);
    const id = r.stdout.trim().split('\n').pop();
    assert.match(id, /^\d{8}T\d{6}Z-(daily|full|archive)/);
    return id;
}

async function dtmFails(args) {
    await assert.rejects(dtm.dtm(args), /exit|code|status|failed/i);
}

let store;
let uploads;

before(async () => {
    const wal = walArchiveDir();
    dtm = await startDtm({ seed: 'demo', env: wal ? { DTM_WAL_ARCHIVE_DIR: wal } : {} });
    admin = (await dtm.loginAdmin()).accessToken;
    uploads = path.join(dtm.env.DTM_DATA_DIR, 'uploads');
    const s = await dtm.api('POST', '/api/stores', {
        token: admin,
        body: { code: `DRILL-${randomId(3)}`, name: 'Drill store', address: '1 Main St', latitude: 48.8566, longitude: 2.3522, geofenceRadiusM: 200 },
    });
    assert.equal(s.status, 201, s.text);
    store = s.json.store || s.json;
    // Photos through the real punch-in path (content-addressed under uploads/).
    for (let i = 0; i < 3; i++) {
        const fd = new FormData();
        fd.set('storeId', store.id);
        fd.set('latitude', '48.8566');
        fd.set('longitude', '2.3522');
        fd.set('accuracyM', '10');
        fd.set('photo', new Blob([pngBytes(i)], { type: 'image/png' }), `p${i}.png`);
        const r = await dtm.api('POST', '/api/attendance/punch-in', { token: admin, body: fd });
        assert.equal(r.status, 201, r.text);
        const o = await dtm.api('POST', '/api/attendance/punch-out', {
            token: admin,
            body: { latitude: 48.8566, longitude: 2.3522, accuracyM: 10 },
        });
        assert.equal(o.status, 200, o.text);
    }
    assert.ok(Object.keys(fileHashes(uploads)).length >= 3, 'photos stored under uploads/');
});

after(async () => {
    if (dtm) await dtm.stop();
});

async function mutate() {
    // Change and delete data and files after the backup point.
    await dtm.sql(`UPDATE users.users SET first_name = 'Changed' WHERE role = 'merchandiser'`);
    await dtm.sql(`DELETE FROM attendance.breaks`).catch(() => {});
    await dtm.sql(`DELETE FROM todos.todos`).catch(() => {});
    const files = Object.keys(fileHashes(uploads));
    fs.unlinkSync(path.join(uploads, files[0]));
    fs.writeFileSync(path.join(uploads, 'added-after-backup.bin'), 'new');
}

test('full backup, then restore into an empty database and over the changed one', async () => {
    const wantTables = await tableChecksums(dtm.databaseUrl);
    const wantFiles = fileHashes(uploads);
    const id = await backup(['--full', '--no-pitr']);

    const list = await dtm.dtm(['backup', 'list', '--json']);
    assert.ok(JSON.parse(list.stdout).some((m) => m.id === id && m.status === 'complete'));
    const v = await dtm.dtm(['backup', 'verify', id]);
    assert.match(v.stdout, /verified/);

    await mutate();
    assert.notDeepEqual(await tableChecksums(dtm.databaseUrl), wantTables);

    // A non-empty target is refused without --force, and nothing is changed.
    await dtmFails(['backup', 'restore', id]);
    assert.ok(fs.existsSync(path.join(uploads, 'added-after-backup.bin')));

    // Into a fresh, empty database and directory: identical to the backup point.
    const { databaseUrl: adminUrl } = testServers();
    const scratch = `drill_${randomId(4)}`;
    await sql(adminUrl, `CREATE DATABASE ${scratch}`);
    const scratchUrl = adminUrl.replace(/\/[^/?]*(\?|$)/, `/${scratch}$1`);
    const scratchFiles = path.join(dtm.tmp, 'restored-files');
    try {
        await dtm.dtm(['backup', 'restore', id, '--db-url', scratchUrl, '--files-dir', scratchFiles]);
        assert.deepEqual(await tableChecksums(scratchUrl), wantTables);
        assert.deepEqual(fileHashes(scratchFiles), wantFiles);
    } finally {
        await sql(adminUrl, `DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`);
    }

    // Over the live, changed database with --force (the disaster-recovery path).
    await dtm.dtm(['backup', 'restore', id, '--force']);
    assert.deepEqual(await tableChecksums(dtm.databaseUrl), wantTables);
    assert.deepEqual(fileHashes(uploads), wantFiles);
    // And the service reads the restored data (caches were flushed).
    const users = await dtm.api('GET', '/api/users?role=merchandiser&limit=100', { token: admin });
    assert.equal(users.status, 200);
    assert.ok(users.json.items.every((u) => u.firstName !== 'Changed'));
});

test('incremental daily backup restores through its chain', async () => {
    const base = await backup(['--full', '--no-pitr']);
    fs.writeFileSync(path.join(uploads, 'after-full.bin'), crypto.randomBytes(4096));
    const wantTables = await tableChecksums(dtm.databaseUrl);
    const wantFiles = fileHashes(uploads);
    const id = await backup([]);
    const m = JSON.parse((await dtm.dtm(['backup', 'show', id])).stdout);
    assert.equal(m.parent, base);
    assert.equal(m.files.incremental, true);
    assert.ok(m.files.archived < m.files.count, 'only changed files are archived');

    await mutate();
    await dtm.dtm(['backup', 'restore', id, '--force']);
    assert.deepEqual(await tableChecksums(dtm.databaseUrl), wantTables);
    assert.deepEqual(fileHashes(uploads), wantFiles);

    // Retention never deletes the base of a kept incremental.
    const pr = await dtm.dtm(['backup', 'prune', '--keep-daily', '1', '--keep-weekly', '0', '--keep-monthly', '0']);
    assert.match(pr.stdout, /kept/);
    const ids = JSON.parse((await dtm.dtm(['backup', 'list', '--json'])).stdout).map((x) => x.id);
    assert.ok(ids.includes(id) && ids.includes(base), 'incremental and its base kept');
});

test('a corrupted artefact makes verify fail and restore refuse', async () => {
    const id = await backup(['--full', '--no-pitr']);
    const dump = path.join(dtm.env.DTM_BACKUP_DIR, id, 'db-main.dump');
    const buf = fs.readFileSync(dump);
    buf[Math.floor(buf.length / 2)] ^= 0xff;
    fs.writeFileSync(dump, buf);
    await dtmFails(['backup', 'verify', id]);
    const before = await tableChecksums(dtm.databaseUrl);
    await dtmFails(['backup', 'restore', id, '--force']);
    assert.deepEqual(await tableChecksums(dtm.databaseUrl), before, 'nothing changed');
});

test('point-in-time recovery keeps writes before T and drops writes after T', { skip: !walArchiveDir() && 'no WAL archive configured' }, async () => {
    const id = await backup(['--full']);
    const m = JSON.parse((await dtm.dtm(['backup', 'show', id])).stdout);
    assert.equal(m.pitrBase, true);

    const mk = async (code) => {
        const r = await dtm.api('POST', '/api/stores', {
            token: admin,
            body: { code, name: code, address: 'x', latitude: 1, longitude: 1 },
        });
        assert.equal(r.status, 201, r.text);
    };
    const before = `PITR-A-${randomId(2)}`;
    const afterCode = `PITR-B-${randomId(2)}`;
    await mk(before);
    await sleep(1500);
    const T = new Date().toISOString();
    await sleep(1500);
    await mk(afterCode);
    // Close the WAL segment so the archive holds everything up to now.
    const [[f]] = (await dtm.sql(`SELECT pg_walfile_name(pg_switch_wal())`)).slice(-1);
    const wal = walArchiveDir();
    for (let i = 0; i < 100 && !fs.existsSync(path.join(wal, f)); i++) await sleep(200);
    assert.ok(fs.existsSync(path.join(wal, f)), `WAL segment ${f} archived`);

    const { databaseUrl: adminUrl } = testServers();
    const scratch = `pitr_${randomId(4)}`;
    await sql(adminUrl, `CREATE DATABASE ${scratch}`);
    const scratchUrl = adminUrl.replace(/\/[^/?]*(\?|$)/, `/${scratch}$1`);
    try {
        await dtm.dtm([
            'backup', 'restore', '--to-time', T, '--db-url', scratchUrl,
            '--files-dir', path.join(dtm.tmp, 'pitr-files'),
        ]);
        const codes = (await sql(scratchUrl, `SELECT code FROM stores.stores`)).map((r) => r[0]);
        assert.ok(codes.includes(before), 'write before T survived');
        assert.ok(!codes.includes(afterCode), 'write after T is gone');
    } finally {
        await sql(adminUrl, `DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`);
    }
});
