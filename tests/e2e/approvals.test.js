// SPDX-License-Identifier: MIT
// End-to-end story of issue 13 (approvals half), in Debian's Chromium against a dtm started by the
// API harness: a merchandiser on a phone, 1 km from the store by GPS, is refused at punch-in
// (outside_geofence) and requests an exception with that reading; a manager finds it in the
// Approvals inbox — the bell in the manager's open page counts the request live — and approves
// it; the merchandiser's Today page then shows the visit open at the store, and both e-mails
// (approval needed, request approved) are in a real SMTP server's mailbox.
// Screenshots go to test-output/e2e/approvals-*.png.
//
//   node --test tests/e2e/approvals.test.js   (environment as tests/e2e/web.test.js)
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { createRequire } = require('node:module');
const { execFileSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const WEB = path.join(ROOT, 'web');
const OUT = path.join(ROOT, 'test-output', 'e2e');
const { startDtm } = require('../api/lib/harness.js');
const { startSmtp } = require('../api/lib/smtp.js');
const { chromium } = createRequire(path.join(WEB, 'package.json'))('playwright-core');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const DIST = path.resolve(process.env.DTM_WEB_DIST || path.join(WEB, 'dist'));
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const STORE = { code: 'APR-001', name: 'Mall Market', address: '1 Mall Way, Paris', latitude: 48.8566, longitude: 2.3522, geofenceRadiusM: 100 };
const DRIFTED = { latitude: 48.8656, longitude: 2.3522, accuracy: 20 }; // 1 km north: GPS drift

let dtm;
let mail;
let browser;
const problems = [];

function watch(page, who) {
    page.on('pageerror', (e) => problems.push(`${who}: page error: ${e.message}`));
    page.on('console', (msg) => {
        // The refused punch-in is an expected 422 the browser logs as a failed resource.
        if (msg.type() === 'error' && !/status of 422/.test(msg.text())) problems.push(`${who}: ${msg.text()}`);
    });
}

async function snap(page, name) {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(OUT, `approvals-${name}.png`), fullPage: true });
}

async function signIn(page, email, password) {
    await page.goto(dtm.url + '/');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
}

before(async () => {
    fs.mkdirSync(OUT, { recursive: true });
    if (!fs.existsSync(path.join(DIST, 'index.html'))) execFileSync('npm', ['run', '--silent', 'build'], { cwd: WEB, stdio: 'inherit' });
    if (!process.env.DTM_TEST_PORTS) process.env.DTM_TEST_PORTS = '47300-47399';
    mail = await startSmtp();
    dtm = await startDtm({ env: { DTM_WEB_DIR: DIST, DTM_SMTP_URL: mail.url, DTM_MAIL_POLL_MS: '200', DTM_OUTBOX_POLL_MS: '200', DTM_RATE_LIMIT_PER_IP: '100000', DTM_RATE_LIMIT_PER_USER: '100000', DTM_LOGIN_LIMIT_PER_IP: '1000' } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});

after(async () => {
    if (browser) await browser.close();
    if (dtm) await dtm.stop();
    if (mail) await mail.close();
});

test('approvals: refused outside the geofence, the merchandiser requests an exception; the manager approves; the visit appears', { timeout: 180000 }, async () => {
    const adminTok = (await dtm.loginAdmin()).accessToken;
    const r = await dtm.api('POST', '/api/stores', { token: adminTok, body: STORE });
    assert.equal(r.status, 201, r.text);
    const manager = await dtm.createUser(adminTok, { role: 'manager', firstName: 'Max', lastName: 'Manager' });
    const merch = await dtm.createUser(adminTok, { role: 'merchandiser', firstName: 'Mia', lastName: 'Merch' });

    // ---- the manager has the web client open: the bell shows nothing waiting yet
    const mgrCtx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'en-GB', timezoneId: 'UTC' });
    const mgr = await mgrCtx.newPage();
    watch(mgr, 'manager');
    await signIn(mgr, manager.email, manager.password);
    await mgr.getByRole('button', { name: 'Notifications, none unread' }).waitFor();

    // ---- the merchandiser, on a phone whose GPS places them 1 km away
    const phoneCtx = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'en-GB', timezoneId: 'UTC', geolocation: DRIFTED, permissions: ['geolocation'] });
    const phone = await phoneCtx.newPage();
    watch(phone, 'merchandiser');
    await signIn(phone, merch.email, merch.password);
    await phone.getByText('Too far').waitFor();
    await phone.getByRole('button', { name: 'Punch in' }).click();
    await phone.getByRole('alert').filter({ hasText: 'from the store' }).waitFor();
    await phone.getByLabel('Reason (optional)').fill('GPS drift inside the mall');
    await snap(phone, 'refused-360');
    await phone.getByRole('button', { name: 'Request an exception' }).click();
    await phone.getByText(/Exception requested/).waitFor();
    const [[payload]] = await dtm.sql(`SELECT payload::text FROM approvals.requests WHERE requester_id = '${merch.id}'`);
    const p = JSON.parse(payload);
    assert.equal(p.latitude, DRIFTED.latitude);
    assert.equal(p.accuracyM, DRIFTED.accuracy);

    // ---- the manager's bell rises live (outbox -> notifications -> SSE), then the inbox
    await mgr.getByRole('button', { name: 'Notifications, 1 unread' }).waitFor({ timeout: 15000 });
    await snap(mgr, 'bell');
    await mgr.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Approvals', exact: true }).click();
    const inbox = mgr.getByRole('region', { name: 'Waiting for you' });
    const card = inbox.getByRole('article', { name: 'Geofence exception request' });
    await card.getByText('GPS drift inside the mall', { exact: false }).waitFor();
    await card.getByLabel('Comment').fill('Seen on the store camera');
    await snap(mgr, 'inbox');
    await card.getByRole('button', { name: 'Approve' }).click();
    await inbox.getByText('Nothing waits for your decision.').waitFor();

    // ---- the merchandiser's day now has the visit (applied through the outbox)
    for (let i = 0; i < 50; i++) {
        await phone.reload();
        if (await phone.getByRole('button', { name: 'Punch out' }).isVisible().catch(() => false)) break;
        await phone.waitForTimeout(300);
    }
    await phone.getByRole('button', { name: 'Punch out' }).waitFor();
    await phone.getByText('Mall Market').first().waitFor();
    await snap(phone, 'visit-360');
    const rows = await dtm.sql(`SELECT exception, store_id FROM attendance.records WHERE user_id = '${merch.id}'`);
    assert.equal(rows.length, 1);
    assert.equal(rows[0][0], 't');
    // ---- and the mail of both steps is in the SMTP server's mailbox
    await mail.waitFor((x) => x.to === manager.email && x.subject === 'Approval needed: geofence exception');
    await mail.waitFor((x) => x.to === merch.email && x.subject === 'Your geofence exception request was approved');
    assert.deepEqual(problems, [], problems.join('\n'));
    await mgrCtx.close();
    await phoneCtx.close();
});
