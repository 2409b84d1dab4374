// SPDX-License-Identifier: MIT
// End-to-end story of issue 14 in Debian's Chromium: an admin turns on two-factor sign-in on the
// Account page (the key shown beside the QR code goes into oathtool, standing in for the phone's
// authenticator app), saves the recovery codes, sees their session, logs out, and signs in
// again with password + code. Screenshots go to test-output/e2e/account-*.png.
//
//   node --test tests/e2e/account.test.js   (environment as tests/e2e/web.test.js)
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
const { chromium } = createRequire(path.join(WEB, 'package.json'))('playwright-core');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const DIST = path.resolve(process.env.DTM_WEB_DIST || path.join(WEB, 'dist'));
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let dtm;
let browser;
const problems = [];

function totp(secret, offsetS = 0) {
    const at = Math.floor(Date.now() / 1000) + offsetS;
    return execFileSync('oathtool', ['--totp', '-b', secret, '-N', `@${at}`], { encoding: 'utf8' }).trim();
}

before(async () => {
    fs.mkdirSync(OUT, { recursive: true });
    if (!fs.existsSync(path.join(DIST, 'index.html'))) execFileSync('npm', ['run', '--silent', 'build'], { cwd: WEB, stdio: 'inherit' });
    if (!process.env.DTM_TEST_PORTS) process.env.DTM_TEST_PORTS = '47300-47399';
    dtm = await startDtm({ env: { DTM_WEB_DIR: DIST, DTM_RATE_LIMIT_PER_IP: '100000', DTM_RATE_LIMIT_PER_USER: '100000', DTM_LOGIN_LIMIT_PER_IP: '1000' } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});

after(async () => {
    if (browser) await browser.close();
    if (dtm) await dtm.stop();
});

test('account: an admin enrols TOTP, logs out, and signs in with a code', { timeout: 120000 }, async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (msg) => {
        if (msg.type() === 'error') problems.push(`${msg.text()} (${(msg.location() && msg.location().url) || ''})`);
    });
    const signIn = async () => {
        await page.goto(dtm.url + '/');
        await page.getByLabel('Email').fill(dtm.admin.email);
        await page.getByLabel('Password').fill(dtm.admin.password);
        await page.getByRole('button', { name: 'Sign in' }).click();
    };
    await signIn();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();

    const mfa = page.getByRole('region', { name: 'Two-factor sign-in' });
    await mfa.getByRole('button', { name: 'Set up' }).click();
    const secret = (await mfa.getByTestId('totp-secret').textContent()).trim();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    const qr = mfa.getByAltText('QR code of the authenticator key');
    await qr.waitFor();
    assert.ok((await qr.evaluate((img) => img.naturalWidth)) > 0, 'the QR code renders');
    await page.screenshot({ path: path.join(OUT, 'account-setup.png'), fullPage: true });
    await mfa.getByLabel('Code').fill(totp(secret));
    await mfa.getByRole('button', { name: 'Turn on' }).click();
    const codes = mfa.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
    await codes.first().waitFor();
    assert.equal(await codes.count(), 10);
    const recovery = (await codes.first().textContent()).trim();
    await page.screenshot({ path: path.join(OUT, 'account-recovery-codes.png'), fullPage: true });
    await mfa.getByRole('button', { name: 'Done' }).click();
    await mfa.getByText('10 recovery codes left').waitFor();

    const sessions = page.getByRole('region', { name: 'Sessions' });
    await sessions.getByText('current').waitFor();
    assert.match(await sessions.textContent(), /Chrome on Linux/);

    await page.getByRole('button', { name: 'Log out' }).click();
    await signIn();
    const code = page.getByLabel('Code from your authenticator app');
    await code.waitFor();
    await code.fill(totp(secret, 30)); // the next step: the confirmation used the current one
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    await page.screenshot({ path: path.join(OUT, 'account-signed-in.png'), fullPage: true });

    // The admin's audit log: a role change made through the API, filtered, exported as CSV.
    // (both TOTP steps of the window are spent: a recovery code, saved from the page, signs the API in)
    const login = await dtm.api('POST', '/api/auth/login', { body: { email: dtm.admin.email, password: dtm.admin.password } });
    const v = await dtm.api('POST', '/api/auth/mfa/verify', { body: { mfaToken: login.json.mfaToken, recoveryCode: recovery } });
    assert.equal(v.status, 200, v.text);
    const adminTok = v.json.accessToken;
    const u = await dtm.createUser(adminTok, { role: 'merchandiser' });
    assert.equal((await dtm.api('PATCH', `/api/users/${u.id}`, { token: adminTok, body: { role: 'manager' } })).status, 200);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    await page.getByRole('link', { name: 'Audit log' }).click();
    const filters = page.getByRole('form', { name: 'Audit log filters' });
    await filters.getByLabel('Action (e.g. user.update)').fill('user.update');
    await filters.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('role: "merchandiser" → "manager"').waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    const csv = fs.readFileSync(await download.path(), 'utf8');
    assert.match(csv, /^id,at,actorId,actorRole,action,entity,entityId,ip,requestId,changes\r\n/);
    assert.match(csv, /,admin,user\.update,user,/);
    await page.screenshot({ path: path.join(OUT, 'account-audit-log.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await ctx.close();
});
