// SPDX-License-Identifier: MIT
// End-to-end story of issue 13 (notifications half), in Debian's Chromium against a dtm started by
// the API harness with a real SMTP server: a merchandiser has the app open on a phone; a manager
// assigns them a task; the bell's count rises live (over the notifications stream), the
// merchandiser opens the bell, follows the notification to the task, and the count falls; the
// e-mail is in the SMTP server's mailbox. Screenshots go to test-output/e2e/notifications-*.png.
//
//   node --test tests/e2e/notifications.test.js   (environment as tests/e2e/web.test.js)
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

let dtm;
let mail;
let browser;
const problems = [];

before(async () => {
    fs.mkdirSync(OUT, { recursive: true });
    if (!fs.existsSync(path.join(DIST, 'index.html'))) execFileSync('npm', ['run', '--silent', 'build'], { cwd: WEB, stdio: 'inherit' });
    if (!process.env.DTM_TEST_PORTS) process.env.DTM_TEST_PORTS = '47300-47399';
    mail = await startSmtp();
    dtm = await startDtm({
        env: {
            DTM_WEB_DIR: DIST,
            DTM_SMTP_URL: mail.url,
            DTM_MAIL_POLL_MS: '200',
            DTM_OUTBOX_POLL_MS: '200',
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
    if (mail) await mail.close();
});

test('the bell counts a new task live; following it opens the task and the count falls; the mail arrives', { timeout: 180000 }, async () => {
    const adminTok = (await dtm.loginAdmin()).accessToken;
    const manager = await dtm.createUser(adminTok, { role: 'manager', firstName: 'Max', lastName: 'Manager' });
    const merch = await dtm.createUser(adminTok, { role: 'merchandiser', firstName: 'Mia', lastName: 'Merch' });
    const managerTok = (await dtm.login(manager.email, manager.password)).accessToken;

    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: 'en-GB', timezoneId: 'UTC' });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (msg) => {
        if (msg.type() === 'error') problems.push(`${msg.text()} (${(msg.location() && msg.location().url) || ''})`);
    });
    await page.goto(dtm.url + '/');
    await page.getByLabel('Email').fill(merch.email);
    await page.getByLabel('Password').fill(merch.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const bell = page.getByRole('button', { name: /^Notifications,/ });
    await bell.waitFor();
    assert.equal(await bell.getAttribute('aria-label'), 'Notifications, none unread');

    // The manager assigns a task (through the API: the todos UI has its own story).
    const r = await dtm.api('POST', '/api/todos', { token: managerTok, body: { title: 'Refill the promo stand', assigneeId: merch.id, priority: 'high' } });
    assert.equal(r.status, 201, r.text);
    const todo = r.json.todo;
    await page.getByRole('button', { name: 'Notifications, 1 unread' }).waitFor({ timeout: 15000 });
    assert.equal(await page.getByTestId('bell-count').textContent(), '1');
    await page.screenshot({ path: path.join(OUT, 'notifications-bell.png') });

    await page.getByRole('button', { name: 'Notifications, 1 unread' }).click();
    const panel = page.getByRole('region', { name: 'Notifications' });
    await panel.getByText('New task: Refill the promo stand').waitFor();
    await panel.getByText('Max Manager assigned you').waitFor();
    await page.screenshot({ path: path.join(OUT, 'notifications-panel.png') });
    await panel.getByText('New task: Refill the promo stand').click();
    await page.waitForURL(`**/tasks/${todo.id}`);
    await page.getByRole('heading', { name: 'Refill the promo stand' }).first().waitFor();
    await page.getByRole('button', { name: 'Notifications, none unread' }).waitFor();

    const m = await mail.waitFor((x) => x.to === merch.email && x.subject === 'New task: Refill the promo stand');
    assert.ok(m.html.includes(`/tasks/${todo.id}`));
    assert.deepEqual(problems, []);
    await ctx.close();
});
