// SPDX-License-Identifier: MIT
// End-to-end: the web client in Debian's Chromium (playwright-core, headless) against a dtm started
// by the API harness on a fresh PostgreSQL database and Redis db.
//
// The story of issue 7: the admin creates a store, a manager and a merchandiser and assigns a task
// with a checklist; the merchandiser (on a 360 px phone, geolocation emulated) is refused outside
// the store's geofence, then punches in inside it, completes the checklist and the task, and punches
// out; the manager's team view changes live (SSE) and the manager downloads the CSV report.
// Screenshots of the main views go to test-output/e2e/.
//
//   node --test tests/e2e/            (or: npm --prefix web run e2e; make test-e2e)
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium), DTM_BIN (default build/dtm),
// DTM_WEB_DIST (default web/dist; built with `npm --prefix web run build` when missing), and the
// harness's own (DATABASE_URL/REDIS_URL or var/test/dtm.env, DTM_TEST_PORTS).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { createRequire } = require('node:module');
const { execFileSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const WEB = path.join(ROOT, 'web');
const OUT = path.join(ROOT, 'test-output', 'e2e');
const { startDtm } = require('../api/lib/harness.js');
// playwright-core is a dev dependency of the web client.
const { chromium } = createRequire(path.join(WEB, 'package.json'))('playwright-core');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const DIST = path.resolve(process.env.DTM_WEB_DIST || path.join(WEB, 'dist'));
const CHROMIUM_ARGS = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
];

// A store in Paris; "inside" is ~6 m from it, "outside" ~1.1 km north.
const STORE = { code: 'PAR-001', name: 'Rivoli Market', address: '1 Rue de Rivoli, Paris', lat: 48.8566, lng: 2.3522, radius: 100 };
const INSIDE = { latitude: 48.85665, longitude: 2.35225, accuracy: 12 };
const OUTSIDE = { latitude: 48.8666, longitude: 2.3522, accuracy: 12 };
const PASSWORD = 'field-work-2026!';
const MERCH = { first: 'Mia', last: 'Merch', email: 'mia.merch@example.com' };
const MANAGER = { first: 'Max', last: 'Manager', email: 'max.manager@example.com' };
const TASK = { title: 'Restock the coffee aisle', items: ['Count facings', 'Fix price labels'] };

let dtm;
let browser;
const consoleProblems = [];
let shot = 0;

function watch(page, who) {
    page.on('pageerror', (e) => consoleProblems.push(`${who}: page error: ${e.message}`));
    page.on('console', (msg) => {
        if (msg.type() !== 'error') return;
        const text = msg.text();
        // Chromium reports every non-2xx fetch as a console error. The refused punch-in (422) and
        // the wrong password (401 on login) are the point of the test; anything else is a problem.
        const url = (msg.location() && msg.location().url) || '';
        if (/Failed to load resource: the server responded with a status of 422/.test(text) && url.endsWith('/api/attendance/punch-in')) return;
        if (/Failed to load resource: the server responded with a status of 401/.test(text) && url.endsWith('/api/auth/login')) return;
        consoleProblems.push(`${who}: ${text} (${url})`);
    });
}

async function snap(page, name) {
    shot++;
    const file = path.join(OUT, `${String(shot).padStart(2, '0')}-${name}.png`);
    await page.evaluate(() => window.scrollTo(0, 0)); // a sticky header would repeat mid-page
    await page.screenshot({ path: file, fullPage: true });
    return file;
}

async function signIn(page, email, password) {
    await page.goto(dtm.url + '/');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
}

async function nav(page, name) {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
}

before(async () => {
    fs.mkdirSync(OUT, { recursive: true });
    if (!fs.existsSync(path.join(DIST, 'index.html')) || !fs.existsSync(path.join(DIST, 'api-docs', 'index.html'))) {
        execFileSync('npm', ['run', '--silent', 'build'], { cwd: WEB, stdio: 'inherit' });
    }
    if (!process.env.DTM_TEST_PORTS) process.env.DTM_TEST_PORTS = '47100-47199';
    dtm = await startDtm({
        env: {
            DTM_WEB_DIR: DIST,
            // three browsers on one loopback address make more requests than one person would
            DTM_RATE_LIMIT_PER_IP: '100000',
            DTM_RATE_LIMIT_PER_USER: '100000',
            DTM_LOGIN_LIMIT_PER_IP: '1000',
        },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});

after(async () => {
    if (browser) await browser.close();
    if (dtm) await dtm.stop();
});

test('web client: admin sets up, merchandiser works a day, manager follows live and downloads CSV', { timeout: 240000 }, async () => {
    const desktop = { viewport: { width: 1280, height: 860 }, locale: 'en-GB', timezoneId: 'UTC' };

    // ---- the gateway serves the app with history fallback, the manifest and the service worker
    for (const p of ['/', '/tasks/some-deep-link', '/manifest.webmanifest', '/sw.js']) {
        const r = await fetch(dtm.url + p);
        assert.equal(r.status, 200, `GET ${p}`);
    }
    const sw = await (await fetch(dtm.url + '/sw.js')).text();
    assert.match(sw, /pathname\.startsWith\("\/api\/"\)/, 'the service worker bypasses /api');

    // ---- admin: login page at 360 px and on desktop, then store, users and task
    const adminCtx = await browser.newContext(desktop);
    const admin = await adminCtx.newPage();
    watch(admin, 'admin');
    await admin.setViewportSize({ width: 360, height: 740 });
    const scripts = [];
    const onResponse = (r) => {
        if (r.request().resourceType() === 'script') scripts.push(r);
    };
    admin.on('response', onResponse);
    await admin.goto(dtm.url + '/');
    await admin.getByRole('button', { name: 'Sign in' }).waitFor();
    await admin.waitForLoadState('networkidle');
    admin.off('response', onResponse);
    // Page weight: the login page's JavaScript, gzip-compressed, stays under 250 KB.
    let jsGzip = 0;
    for (const r of scripts) jsGzip += zlib.gzipSync(await r.body(), { level: 9 }).length;
    fs.writeFileSync(path.join(OUT, 'login-js-gzip-bytes.txt'), `${jsGzip}\n`);
    assert.ok(scripts.length >= 1 && jsGzip < 250 * 1024, `login page JS: ${jsGzip} bytes gzip in ${scripts.length} files`);
    await snap(admin, 'login-360');
    await admin.setViewportSize(desktop.viewport);
    await snap(admin, 'login-desktop');

    // a wrong password is explained, not crashed on
    await admin.getByLabel('Email').fill(dtm.admin.email);
    await admin.getByLabel('Password').fill('not-the-password');
    await admin.getByRole('button', { name: 'Sign in' }).click();
    await admin.getByRole('alert').filter({ hasText: 'Wrong email or password.' }).waitFor();

    await signIn(admin, dtm.admin.email, dtm.admin.password);
    await admin.getByRole('heading', { name: 'Today' }).waitFor();

    await nav(admin, 'Stores');
    await admin.getByRole('button', { name: 'New store' }).click();
    const storeForm = admin.getByRole('form', { name: 'New store' });
    await storeForm.getByLabel('Code').fill(STORE.code);
    await storeForm.getByLabel('Name').fill(STORE.name);
    await storeForm.getByLabel('Address').fill(STORE.address);
    await storeForm.getByLabel('Latitude').fill(String(STORE.lat));
    await storeForm.getByLabel('Longitude').fill(String(STORE.lng));
    await storeForm.getByLabel('Geofence radius (m)').fill(String(STORE.radius));
    await storeForm.getByLabel('Time zone (IANA)').fill('UTC');
    await storeForm.getByRole('button', { name: 'Create store' }).click();
    await admin.getByText(`${STORE.name} created.`).waitFor();
    await admin.getByRole('cell', { name: STORE.code }).waitFor();
    await snap(admin, 'stores');

    await nav(admin, 'Users');
    for (const [u, role] of [
        [MERCH, 'merchandiser'],
        [MANAGER, 'manager'],
    ]) {
        await admin.getByRole('button', { name: 'New user' }).click();
        const f = admin.getByRole('form', { name: 'New user' });
        await f.getByLabel('First name').fill(u.first);
        await f.getByLabel('Last name').fill(u.last);
        await f.getByLabel('Email').fill(u.email);
        await f.getByLabel('Role').selectOption(role);
        await f.getByLabel(/Initial password/).fill(PASSWORD);
        await f.getByRole('button', { name: 'Create user' }).click();
        await admin.getByText(`${u.first} ${u.last} created.`).waitFor();
    }
    await admin.getByRole('rowheader', { name: `${MANAGER.first} ${MANAGER.last}` }).waitFor();
    await snap(admin, 'users');

    await nav(admin, 'Tasks');
    await admin.getByRole('button', { name: 'New task' }).click();
    const taskForm = admin.getByRole('form', { name: 'New task' });
    await taskForm.getByLabel('Title').fill(TASK.title);
    await taskForm.getByLabel('Description').fill('Front-face every product and fix the labels.');
    await taskForm.getByLabel('Priority').selectOption('high');
    await taskForm.getByLabel('Assignee').selectOption({ label: `${MERCH.first} ${MERCH.last} (Merchandiser)` });
    await taskForm.getByLabel('Store').selectOption({ label: STORE.name });
    await taskForm.getByLabel(/Checklist/).fill(TASK.items.join('\n'));
    await taskForm.getByRole('button', { name: 'Create task' }).click();
    await admin.getByText(`Task “${TASK.title}” created.`).waitFor();
    const row = admin.getByRole('row').filter({ hasText: TASK.title });
    await row.waitFor();
    assert.match(await row.innerText(), new RegExp(`${MERCH.first} ${MERCH.last}`));
    assert.match(await row.innerText(), /0\/2/);
    await snap(admin, 'tasks');

    // ---- manager: the live team view, before anyone punched in
    const mgrCtx = await browser.newContext(desktop);
    const mgr = await mgrCtx.newPage();
    watch(mgr, 'manager');
    await signIn(mgr, MANAGER.email, PASSWORD);
    await mgr.getByRole('heading', { name: 'Today' }).waitFor();
    await mgr.locator('.kpi').first().waitFor();
    await snap(mgr, 'dashboard');
    assert.equal(await mgr.getByRole('link', { name: 'Users', exact: true }).count(), 0, 'managers have no user management');
    await nav(mgr, 'Team');
    await mgr.getByText('Live', { exact: true }).waitFor();
    const member = mgr.getByTestId(`member-${MERCH.email}`);
    await member.filter({ hasText: 'Absent' }).waitFor();
    await snap(mgr, 'team-before');

    // ---- merchandiser on a phone, outside the geofence first
    const phoneCtx = await browser.newContext({
        viewport: { width: 360, height: 740 },
        deviceScaleFactor: 2,
        isMobile: true,
        hasTouch: true,
        locale: 'en-GB',
        timezoneId: 'UTC',
        geolocation: OUTSIDE,
        permissions: ['geolocation'],
    });
    const phone = await phoneCtx.newPage();
    watch(phone, 'merchandiser');
    await signIn(phone, MERCH.email, PASSWORD);
    await phone.getByText('Too far').waitFor();
    const option = phone.getByRole('radio', { name: new RegExp(STORE.name) });
    assert.ok(await option.isChecked(), 'the nearest store is preselected');
    await phone.getByText(TASK.title).waitFor();
    await snap(phone, 'merch-today-360');

    await phone.getByRole('button', { name: 'Punch in' }).click();
    const refusal = phone.getByRole('alert').filter({ hasText: 'from the store' });
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /You are 1\.1\skm from the store; punching in is allowed within 100\sm/);
    await snap(phone, 'merch-refused-360');
    await member.filter({ hasText: 'Absent' }).waitFor(); // still absent

    // inside the geofence
    await phoneCtx.setGeolocation(INSIDE);
    await phone.getByRole('button', { name: 'Update location' }).click();
    await phone.getByText('In range').waitFor();
    // with a photo "from the camera" (a real PNG: the server checks the bytes)
    await phone.getByLabel('Photo (optional)').setInputFiles(path.join(WEB, 'public', 'icons', 'icon-192.png'));
    await phone.getByRole('img', { name: 'Photo to send with the punch-in' }).waitFor();
    await phone.getByRole('button', { name: 'Punch in' }).click();
    await phone.getByRole('button', { name: 'Punch out' }).waitFor();
    const sent = phone.getByRole('img', { name: 'Photo sent with the punch-in' });
    await sent.waitFor();
    await phone.waitForFunction((el) => el.complete && el.naturalWidth === 192, await sent.elementHandle());
    await snap(phone, 'merch-punched-in-360');

    // the manager's page follows without a reload
    await member.filter({ hasText: 'Present' }).waitFor({ timeout: 15000 });
    await mgr.getByText(`${MERCH.first} ${MERCH.last} punched in`).waitFor();
    assert.equal(await mgr.getByTestId('present-count').innerText(), '1');
    await snap(mgr, 'team-live-present');

    // a break, live too
    await phone.getByLabel('Break type').selectOption('coffee');
    await phone.getByRole('button', { name: 'Start break' }).click();
    await phone.getByRole('button', { name: 'End break' }).waitFor();
    await member.filter({ hasText: 'On break' }).waitFor({ timeout: 15000 });
    await phone.getByRole('button', { name: 'End break' }).click();
    await phone.getByRole('button', { name: 'Start break' }).waitFor();
    await member.filter({ hasText: 'Present' }).waitFor({ timeout: 15000 });

    // the checklist, then the task
    for (const item of TASK.items) {
        const box = phone.getByRole('checkbox', { name: item });
        await box.check();
        await phone.waitForFunction((name) => {
            const el = [...document.querySelectorAll('label.check')].find((l) => l.textContent.includes(name));
            return el && el.querySelector('input').checked && !el.closest('fieldset').disabled;
        }, item);
    }
    await phone.getByText(`Checklist (${TASK.items.length}/${TASK.items.length})`).waitFor();
    await phone.getByRole('button', { name: 'Complete', exact: true }).click();
    await phone.getByRole('heading', { name: 'Done today' }).waitFor();
    await snap(phone, 'merch-task-done-360');

    // punch out inside the store, and the day's totals
    await phone.getByRole('button', { name: 'Punch out' }).click();
    const totals = phone.getByLabel('Punched out');
    await totals.waitFor();
    assert.match(await totals.innerText(), /Worked[\s\S]*Net[\s\S]*Overtime/);
    await phone.getByRole('heading', { name: "Today's totals" }).waitFor();
    await snap(phone, 'merch-punched-out-360');

    await member.filter({ hasText: 'Punched out' }).waitFor({ timeout: 15000 });
    await mgr.getByText(`${MERCH.first} ${MERCH.last} punched out`).waitFor();
    await snap(mgr, 'team-live-out');

    // the admin sees the task completed with its checklist
    await admin.reload();
    const doneRow = admin.getByRole('row').filter({ hasText: TASK.title });
    await doneRow.filter({ hasText: 'Completed' }).waitFor();
    assert.match(await doneRow.innerText(), /2\/2/);

    // ---- manager: reports, CSV download
    await nav(mgr, 'Reports');
    await mgr.getByRole('cell', { name: STORE.name }).first().waitFor();
    await snap(mgr, 'reports');
    const [download] = await Promise.all([mgr.waitForEvent('download'), mgr.getByRole('button', { name: 'Download CSV' }).click()]);
    const csvPath = path.join(OUT, 'attendance-report.csv');
    await download.saveAs(csvPath);
    const csv = fs.readFileSync(csvPath, 'utf8');
    const lines = csv.trim().split(/\r?\n/);
    const header = lines[0].split(',');
    assert.ok(header.includes('userId') && header.includes('storeCode') && header.includes('status'), lines[0]);
    assert.equal(lines.length, 2, `one attendance record in the CSV:\n${csv}`);
    const rec = Object.fromEntries(lines[1].split(',').map((v, i) => [header[i], v]));
    const { user: merchUser } = await dtm.login(MERCH.email, PASSWORD);
    assert.equal(rec.userId, merchUser.id);
    assert.equal(rec.storeCode, STORE.code);
    assert.equal(rec.status, 'closed');
    await mgr.getByText(/^Downloaded .*\.csv\.$/).waitFor();

    // ---- the dashboard at 360 px and the tasks page of the manager
    await nav(mgr, 'Dashboard');
    await mgr.locator('.kpi').first().waitFor();
    await snap(mgr, 'dashboard-after');
    await mgr.setViewportSize({ width: 360, height: 740 });
    await snap(mgr, 'dashboard-360');
    await nav(mgr, 'Team');
    await member.waitFor();
    await snap(mgr, 'team-360');

    // ---- session survives a reload (refresh token), logout ends it
    await phone.reload();
    await phone.getByRole('button', { name: 'Punch in' }).waitFor();
    await phone.getByRole('button', { name: 'Log out' }).click();
    await phone.getByRole('button', { name: 'Sign in' }).waitFor();
    await phone.reload();
    await phone.getByRole('button', { name: 'Sign in' }).waitFor();

    // ---- keyboard: the login form is reachable and usable with Tab and Enter
    await phone.keyboard.press('Tab');
    await phone.keyboard.type(MERCH.email);
    await phone.keyboard.press('Tab');
    await phone.keyboard.type(PASSWORD);
    await phone.keyboard.press('Enter');
    await phone.getByRole('button', { name: 'Log out' }).waitFor();

    // ---- change password, then sign in with the new one
    const NEW_PASSWORD = 'shelves-and-aisles-42';
    await nav(phone, 'Account');
    await phone.getByRole('cell', { name: 'Closed' }).waitFor(); // the day's visit in the history
    await phone.getByLabel('Current password').fill(PASSWORD);
    await phone.getByLabel(/^New password/).fill(NEW_PASSWORD);
    await phone.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
    await phone.getByRole('button', { name: 'Change password' }).click();
    await phone.getByText(/Password changed/).waitFor();
    await snap(phone, 'merch-account-360');
    await phone.getByRole('button', { name: 'Log out' }).click();
    await signIn(phone, MERCH.email, NEW_PASSWORD);

    // ---- the admin follows the task to its detail page
    await admin.getByRole('link', { name: TASK.title }).click();
    await admin.getByRole('form', { name: 'Edit task' }).waitFor();
    await admin.getByText('Checklist (2/2)').waitFor();
    const edit = admin.getByRole('form', { name: 'Edit task' });
    await edit.getByLabel('Priority').selectOption('urgent');
    await edit.getByLabel('Due').fill('2026-12-01T10:30');
    await edit.getByRole('button', { name: 'Save' }).click();
    await admin.getByText('Saved.').waitFor();
    await admin.locator('.task-head').getByText('Urgent').waitFor();
    await snap(admin, 'task-detail');

    // The service worker registered on a production build, and no console errors anywhere.
    const swState = await mgr.evaluate(async () => {
        const reg = await navigator.serviceWorker.getRegistration();
        return reg ? 'registered' : 'none';
    });
    assert.equal(swState, 'registered');
    assert.deepEqual(consoleProblems, []);

    // Offline, the service worker still serves the app shell; the app says the server is out of
    // reach (it never caches /api) and offers to retry.
    await mgr.evaluate(() => navigator.serviceWorker.ready);
    await mgrCtx.setOffline(true);
    await mgr.reload();
    await mgr.getByRole('alert').filter({ hasText: 'Cannot reach the server' }).waitFor();
    await snap(mgr, 'offline-shell-360');
    await mgrCtx.setOffline(false);
    await mgr.getByRole('button', { name: 'Try again' }).click();
    await mgr.getByRole('button', { name: 'Log out' }).waitFor();
});

test('API reference: /api/docs renders the contract with Redoc, nothing from another host', { timeout: 60000 }, async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'en-GB' });
    const page = await ctx.newPage();
    const foreign = [];
    const errors = [];
    page.on('request', (req) => {
        const u = req.url();
        if (!u.startsWith(dtm.url + '/') && !u.startsWith(`blob:${dtm.url}/`)) foreign.push(u); // blob: Redoc's search worker
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(dtm.url + '/api/docs');
    // An operation's summary (docs/openapi.yaml, POST /api/auth/login) as Redoc's heading.
    await page.getByRole('heading', { name: 'Log in with email and password' }).waitFor({ timeout: 30000 });
    await page.getByRole('heading', { name: 'Punch in at a store, GPS-checked against its geofence, optional photo' }).waitFor();
    await page.screenshot({ path: path.join(OUT, 'api-docs.png') }); // the first screen: the page is ~60 000 px
    assert.deepEqual(foreign, [], 'the reference loads nothing from another host');
    assert.deepEqual(errors, []);
    await ctx.close();
});
