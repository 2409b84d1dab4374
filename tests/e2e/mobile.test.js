// SPDX-License-Identifier: MIT
// End-to-end story of issue 15, in Debian's Chromium at phone size against a dtm started by the API
// harness: the mobile app's web export (mobile/dist, react-native-web) served with the headers
// expo-sqlite needs and /api proxied to dtm. A merchandiser with emulated geolocation and a fake
// camera goes offline, punches in with a photo and ticks a checklist item, reloads the app while
// still offline (the queue survives), goes online and syncs: the server then holds exactly one visit
// with the photo and the tick, with capturedAt from the offline moment; replaying the very same
// requests (same Idempotency-Key) creates nothing twice. A second test measures the time from
// reconnect to "synced" for 50 queued changes including 5 photos (test-output/e2e/mobile-figures.json).
//
//   node --test tests/e2e/mobile.test.js   (CHROMIUM_PATH, DTM_BIN as tests/e2e/web.test.js;
//                                           DTM_MOBILE_DIST to use another export)
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { createRequire } = require('node:module');
const { execFileSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const WEB = path.join(ROOT, 'web');
const MOBILE = path.join(ROOT, 'mobile');
const OUT = path.join(ROOT, 'test-output', 'e2e');
const { startDtm } = require('../api/lib/harness.js');
const { serveMobile } = require('./lib/mobile-server.js');
const { chromium } = createRequire(path.join(WEB, 'package.json'))('playwright-core');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const DIST = path.resolve(process.env.DTM_MOBILE_DIST || path.join(MOBILE, 'dist'));
const CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
];
const STORE = { code: 'MOB-001', name: 'Corner Market', address: '5 Rue de Rivoli, Paris', latitude: 48.8566, longitude: 2.3522, geofenceRadiusM: 100 };
const INSIDE = { latitude: 48.85662, longitude: 2.35223, accuracy: 12 };

let dtm;
let srv;
let browser;
let adminTok;
let store;
const problems = [];

function watch(page, who) {
    page.on('pageerror', (e) => problems.push(`${who}: page error: ${e.message}`));
    page.on('console', (msg) => {
        if (msg.type() !== 'error') return;
        const t = msg.text();
        // Offline on purpose: the browser reports the failed requests.
        if (/net::ERR_INTERNET_DISCONNECTED|Failed to load resource|Failed to fetch/.test(t)) return;
        problems.push(`${who}: ${t}`);
    });
}

const today = () => new Date().toISOString().slice(0, 10);

before(async () => {
    fs.mkdirSync(OUT, { recursive: true });
    // The export is built (after an npm ci from mobile/package-lock.json) unless one exists.
    if (!fs.existsSync(path.join(DIST, 'sw.js'))) execFileSync(path.join(ROOT, 'scripts', 'web.sh'), ['--dir', 'mobile', 'run', 'export:web'], { stdio: 'inherit' });
    if (!process.env.DTM_TEST_PORTS) process.env.DTM_TEST_PORTS = '47300-47399';
    dtm = await startDtm({ env: { DTM_RATE_LIMIT_PER_IP: '100000', DTM_RATE_LIMIT_PER_USER: '100000', DTM_LOGIN_LIMIT_PER_IP: '1000' } });
    srv = await serveMobile({ dist: DIST, api: dtm.url });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    adminTok = (await dtm.loginAdmin()).accessToken;
    const r = await dtm.api('POST', '/api/stores', { token: adminTok, body: STORE });
    assert.equal(r.status, 201, r.text);
    store = r.json.store;
});

after(async () => {
    if (browser) await browser.close();
    if (srv) await srv.close();
    if (dtm) await dtm.stop();
});

async function merchandiser(todos) {
    const merch = await dtm.createUser(adminTok, { role: 'merchandiser', firstName: 'Mo', lastName: 'Bile' });
    let r = await dtm.api('POST', '/api/visits', { token: adminTok, body: { userId: merch.id, storeId: store.id, plannedDate: today(), plannedStart: '09:00' } });
    assert.equal(r.status, 201, r.text);
    const made = [];
    for (const t of todos) {
        r = await dtm.api('POST', '/api/todos', { token: adminTok, body: { title: t.title, assigneeId: merch.id, storeId: store.id, priority: 'high', checklist: t.items } });
        assert.equal(r.status, 201, r.text);
        made.push(r.json.todo);
    }
    return { merch, todos: made };
}

async function phone() {
    const ctx = await browser.newContext({
        viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'en-GB', timezoneId: 'UTC',
        geolocation: INSIDE, permissions: ['geolocation', 'camera'],
    });
    const page = await ctx.newPage();
    return { ctx, page };
}

async function signIn(page, merch) {
    await page.goto(srv.url + '/');
    await page.getByLabel('Email').fill(merch.email);
    await page.getByLabel('Password').fill(merch.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('listitem', { name: `Visit 1: ${STORE.name}` }).waitFor();
    // The service worker has the app shell before we go offline.
    await page.waitForFunction(() => navigator.serviceWorker && navigator.serviceWorker.controller !== null, null, { timeout: 30000 });
}

const status = (page) => page.getByRole('status', { name: 'Sync status' });

async function punchInWithPhoto(page) {
    await page.getByRole('listitem', { name: `Visit 1: ${STORE.name}` }).getByRole('button', { name: `Open ${STORE.name}` }).click();
    await page.getByRole('button', { name: 'Punch in here' }).click();
    await page.getByText('Accuracy ±12 m').waitFor();
    await page.getByText(/m from the store \(allowed: 100 m\) · in range/).waitFor();
    await page.getByLabel('Camera').or(page.getByRole('button', { name: 'Allow the camera' })).first().waitFor();
    if (await page.getByRole('button', { name: 'Allow the camera' }).isVisible()) await page.getByRole('button', { name: 'Allow the camera' }).click();
    await page.getByLabel('Camera').waitFor().catch(async (e) => {
        await page.screenshot({ path: path.join(OUT, 'mobile-camera-failure.png'), fullPage: true });
        throw e;
    });
    await page.waitForTimeout(500); // the fake camera's first frames
    await page.getByRole('button', { name: 'Take photo' }).click();
    await page.getByRole('img', { name: 'Punch-in photo' }).waitFor();
    await page.getByRole('button', { name: 'Punch in' }).click();
    await page.getByLabel('Visit', { exact: true }).waitFor();
}

test('offline punch-in with a photo and a checklist tick survive a reload and sync exactly once', { timeout: 240000 }, async () => {
    const { merch, todos } = await merchandiser([{ title: 'Face the shelves', items: ['Front row faced', 'Price tags checked'] }]);
    const { ctx, page } = await phone();
    watch(page, 'phone');
    srv.writes.length = 0;
    await signIn(page, merch);
    // Visit the tasks once online so they are cached for the field.
    await page.getByRole('button', { name: `Open ${STORE.name}` }).click();
    await page.getByRole('button', { name: 'Tasks at this store' }).click();
    await page.getByRole('checkbox', { name: 'Front row faced' }).waitFor();
    await page.getByRole('button', { name: 'Back' }).click();
    await page.getByRole('button', { name: 'Back' }).click();

    await ctx.setOffline(true);
    await status(page).filter({ hasText: 'offline' }).waitFor();
    const offlineFrom = Date.now();
    await punchInWithPhoto(page);
    await page.getByRole('button', { name: 'Tasks' }).click();
    const box = page.getByRole('checkbox', { name: 'Front row faced' });
    await box.click();
    await page.waitForFunction(() => document.querySelector('[aria-label="Front row faced"]')?.getAttribute('aria-checked') === 'true');
    const offlineTo = Date.now();
    await status(page).filter({ hasText: '2 changes waiting' }).waitFor();
    await page.screenshot({ path: path.join(OUT, 'mobile-offline-360.png'), fullPage: true });

    // Reload while still offline: the app comes back from the service worker, the queue from SQLite.
    await page.reload();
    await status(page).filter({ hasText: '2 changes waiting' }).waitFor({ timeout: 30000 });
    await page.getByText(`Punched in at ${STORE.name}`).waitFor();
    let r = await dtm.api('GET', `/api/attendance?userId=${merch.id}`, { token: adminTok });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.items.length, 0, 'nothing reached the server while offline');

    await ctx.setOffline(false);
    await status(page).filter({ hasText: 'All changes synced' }).waitFor({ timeout: 60000 });
    await page.screenshot({ path: path.join(OUT, 'mobile-synced-360.png'), fullPage: true });

    r = await dtm.api('GET', `/api/attendance?userId=${merch.id}`, { token: adminTok });
    assert.equal(r.json.items.length, 1, r.text);
    const att = r.json.items[0];
    assert.ok(att.photoUrl, 'the visit has the photo');
    const cap = Date.parse(att.punchIn.capturedAt);
    assert.ok(cap >= offlineFrom - 1000 && cap <= offlineTo + 1000, `capturedAt ${att.punchIn.capturedAt} is from the offline moment`);
    assert.equal(att.punchInAt, att.punchIn.capturedAt);
    assert.ok(Date.parse(att.punchIn.receivedAt) > offlineTo, 'received after reconnecting');
    const photo = await fetch(dtm.url + att.photoUrl, { headers: { authorization: `Bearer ${adminTok}` } });
    assert.equal(photo.status, 200);
    assert.match(photo.headers.get('content-type') || '', /^image\/(jpeg|png|webp)/);
    r = await dtm.api('GET', `/api/todos/${todos[0].id}`, { token: adminTok });
    const item = r.json.todo.checklist.find((i) => i.text === 'Front row faced');
    assert.equal(item.done, true);
    const done = Date.parse(item.doneAt);
    assert.ok(done >= offlineFrom - 1000 && done <= offlineTo + 1000, `doneAt ${item.doneAt} is from the offline moment`);
    r = await dtm.api('GET', `/api/visits?userId=${merch.id}`, { token: adminTok });
    assert.equal(r.json.items.length, 1, 'the planned visit, now in progress, and no unplanned second one');
    assert.equal(r.json.items[0].status, 'in_progress');

    // Replaying the very same requests (a lost answer, a second device sync) creates nothing twice.
    const writes = srv.writes.filter((w) => w.status !== null && w.status < 300);
    assert.equal(new Set(writes.map((w) => w.headers['idempotency-key'])).size, 2, 'two changes, two keys');
    assert.match(writes[0].headers['content-type'], /^multipart\/form-data/);
    for (const w of writes) {
        const headers = { ...w.headers };
        delete headers['content-length'];
        delete headers.host;
        delete headers.connection;
        const res = await fetch(dtm.url + w.path, { method: w.method, headers, body: w.body });
        assert.ok(res.status < 300, `${w.path}: ${res.status} ${await res.text()}`);
        assert.equal(res.headers.get('idempotent-replayed'), 'true', w.path);
    }
    r = await dtm.api('GET', `/api/attendance?userId=${merch.id}`, { token: adminTok });
    assert.equal(r.json.items.length, 1, 'still one visit');
    assert.deepEqual(problems, []);
    await ctx.close();
});

test('figure: reconnect to synced for 50 queued changes including 5 photos', { timeout: 420000 }, async () => {
    const items = Array.from({ length: 10 }, (_, i) => `Item ${i + 1}`);
    const { merch } = await merchandiser([
        { title: 'Aisle A', items },
        { title: 'Aisle B', items },
        { title: 'Aisle C', items },
    ]);
    const { ctx, page } = await phone();
    watch(page, 'figure');
    await signIn(page, merch);
    await page.getByRole('button', { name: `Open ${STORE.name}` }).click();
    await page.getByRole('button', { name: 'Tasks at this store' }).click();
    await page.getByRole('listitem', { name: 'Task Aisle C' }).waitFor();
    await page.getByRole('button', { name: 'Back' }).click();
    await page.getByRole('button', { name: 'Back' }).click();
    await ctx.setOffline(true);
    await status(page).filter({ hasText: 'offline' }).waitFor();
    let n = 0;
    for (let v = 0; v < 5; v++) {
        await punchInWithPhoto(page); // 1 change with a photo
        await page.getByRole('button', { name: 'Start coffee break' }).click(); // 2
        await page.getByRole('button', { name: 'End break' }).click(); // 3
        await page.getByRole('button', { name: 'Punch out' }).click(); // 4
        await page.getByLabel('Day totals').waitFor();
        await page.getByRole('button', { name: 'Done' }).click();
        n += 4;
    }
    await page.getByRole('button', { name: `Open ${STORE.name}` }).click();
    await page.getByRole('button', { name: 'Tasks at this store' }).click();
    for (const t of ['Aisle A', 'Aisle B', 'Aisle C']) {
        const task = page.getByRole('listitem', { name: `Task ${t}` });
        for (const it of items) {
            await task.getByRole('checkbox', { name: it, exact: true }).click();
            n++;
        }
    }
    assert.equal(n, 50);
    await status(page).filter({ hasText: '50 changes waiting' }).waitFor();
    const t0 = Date.now();
    await ctx.setOffline(false);
    await status(page).filter({ hasText: 'All changes synced' }).waitFor({ timeout: 300000 });
    const ms = Date.now() - t0;
    const r = await dtm.api('GET', `/api/attendance?userId=${merch.id}&limit=100`, { token: adminTok });
    assert.equal(r.json.items.length, 5);
    assert.ok(r.json.items.every((a) => a.photoUrl && a.status === 'closed' && a.breaks.length === 1));
    const fig = { changes: 50, photos: 5, reconnectToSyncedMs: ms, msPerChange: Math.round(ms / 50) };
    fs.writeFileSync(path.join(OUT, 'mobile-figures.json'), JSON.stringify(fig, null, 2) + '\n');
    console.log(`mobile sync figure: ${JSON.stringify(fig)}`);
    assert.deepEqual(problems, []);
    await ctx.close();
});
