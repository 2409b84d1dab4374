// SPDX-License-Identifier: MIT
// The photo collector, with real files under DTM_DATA_DIR/uploads: a photo whose punch-in was
// refused after it was stored (409 already punched in) and an unreferenced file are deleted once
// older than the grace period; a photo named by an attendance record, one named by an audit
// answer (audits.photos, seen through reporting.audit_photos) and a young unreferenced one are
// kept; an abandoned temporary file goes too. Uploading bytes that are already stored touches
// the file, so it counts as young again.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { startDtm, randomId, sleep, until } = require('./lib/harness.js');

const jpeg = () =>
    Buffer.concat([Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'), crypto.randomBytes(64), Buffer.from('ffd9', 'hex')]);
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

let dtm, adminTok, store, uploads;
const file = (h) => path.join(uploads, h.slice(0, 2), h.slice(2));
const put = (b) => {
    const h = sha(b);
    fs.mkdirSync(path.dirname(file(h)), { recursive: true });
    fs.writeFileSync(file(h), b);
    return h;
};
const DAY = 86400;
const age = (p, seconds) => {
    const t = Date.now() / 1000 - seconds;
    fs.utimesSync(p, t, t);
};

function form(fields, photo) {
    const fd = new FormData();
    for (const [k, v] of Object.entries(fields)) fd.append(k, String(v));
    if (photo) fd.append('photo', new Blob([photo], { type: 'image/jpeg' }), 'p.jpg');
    return fd;
}
const at = (s) => ({ storeId: s.id, latitude: s.latitude, longitude: s.longitude, accuracyM: 12 });

async function gcMetric(name) {
    const replica = dtm.topology === 'micro' ? dtm.replicas('attendance')[0] : null;
    const m = await dtm.api('GET', '/metrics', replica ? { base: replica.url } : {});
    const line = m.text.split('\n').find((l) => l.startsWith(name + ' '));
    return line ? Number(line.split(' ')[1]) : NaN;
}

before(async () => {
    // Grace stays at its default (a day): the test ages files with utimes instead of waiting.
    dtm = await startDtm({ env: { DTM_PHOTO_GC_INTERVAL_MS: '200' } });
    uploads = path.join(dtm.env.DTM_DATA_DIR, 'uploads');
    adminTok = (await dtm.loginAdmin()).accessToken;
    const r = await dtm.api('POST', '/api/stores', {
        token: adminTok,
        body: { code: `S-${randomId(4)}`, name: 'GC store', address: 'x', latitude: 48.8566, longitude: 2.3522, geofenceRadiusM: 100 },
    });
    assert.equal(r.status, 201, r.text);
    store = r.json.store;
});
after(async () => {
    await dtm?.stop();
});

test('old unreferenced photos go; referenced, audit-named and young ones stay', async () => {
    const u = await dtm.createUser(adminTok, { role: 'merchandiser' });
    const tok = (await dtm.login(u.email, u.password)).accessToken;

    // A punch-in that keeps its photo, and one refused after the photo was stored.
    const kept = jpeg();
    const r1 = await dtm.api('POST', '/api/attendance/punch-in', { token: tok, body: form(at(store), kept) });
    assert.equal(r1.status, 201, r1.text);
    const orphan = jpeg();
    const r2 = await dtm.api('POST', '/api/attendance/punch-in', { token: tok, body: form(at(store), orphan) });
    assert.equal(r2.status, 409, r2.text);
    assert.ok(fs.existsSync(file(sha(orphan))), 'the refused punch-in stored its photo first');

    // Files put there by hand: unreferenced old, unreferenced young, named by an audit answer.
    const stray = put(jpeg());
    const young = put(jpeg());
    const audited = put(jpeg());
    // An audit answer's row without the audit around it (FK triggers off for this statement):
    // the collector reads only the sha256 through reporting.audit_photos.
    await dtm.sql(
        `SET session_replication_role = replica; INSERT INTO audits.photos (audit_id, question_id, sha256, content_type, bytes)` +
            ` VALUES ('${crypto.randomUUID()}', 'q', '${audited}', 'image/jpeg', 70)`,
    );
    const tmp = path.join(uploads, stray.slice(0, 2), `.tmp-${stray.slice(0, 16)}-abcdef`);
    fs.writeFileSync(tmp, 'half a write');

    for (const h of [sha(kept), sha(orphan), stray, audited]) age(file(h), 2 * DAY);
    age(tmp, 2 * DAY);
    age(file(young), 3600); // inside the grace period

    await until(() => !fs.existsSync(file(sha(orphan))) && !fs.existsSync(file(stray)) && !fs.existsSync(tmp), 'the old unreferenced files deleted', 15000);
    const deleted = await gcMetric('dtm_photos_gc_deleted_total');
    await sleep(1000); // several more rounds
    assert.ok(fs.existsSync(file(sha(kept))), 'named by an attendance record');
    assert.ok(fs.existsSync(file(audited)), 'named by an audit answer');
    assert.ok(fs.existsSync(file(young)), 'younger than the grace period');
    assert.ok(deleted >= 3, `deletions counted: ${deleted}`);
    assert.equal(await gcMetric('dtm_photos_gc_deleted_total'), deleted, 'nothing more goes in later rounds');

    // The referenced photo is still served.
    const a = r1.json.attendance;
    const photo = await fetch(dtm.url + a.photoUrl, { headers: { authorization: `Bearer ${tok}` } });
    assert.equal(photo.status, 200);
    assert.deepEqual(Buffer.from(await photo.arrayBuffer()), kept);
});

test('uploading bytes already stored makes the old file young again', async () => {
    const u = await dtm.createUser(adminTok, { role: 'merchandiser' });
    const tok = (await dtm.login(u.email, u.password)).accessToken;
    const b = jpeg();
    const h = put(b);
    age(file(h), 2 * DAY);
    // (Should the collector take it between put and upload, the upload writes it anew: young too.)
    const r = await dtm.api('POST', '/api/attendance/punch-in', { token: tok, body: form(at(store), b) });
    assert.equal(r.status, 201, r.text);
    const st = fs.statSync(file(h));
    assert.ok(Date.now() - st.mtimeMs < 60000, `mtime refreshed by the upload: ${new Date(st.mtimeMs).toISOString()}`);
    await sleep(600);
    assert.ok(fs.existsSync(file(h)));
});
