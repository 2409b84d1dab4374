// SPDX-License-Identifier: MIT
// The password-reset story end to end (issue 14): forgot-password → the auth outbox → the
// notifications service → a real SMTP server (tests/api/lib/smtp.js) → the link in the received
// mail resets the password once; the "password changed" mail follows.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startDtm } = require('./lib/harness.js');
const { startSmtp } = require('./lib/smtp.js');

let dtm, mail, admin;

before(async () => {
    mail = await startSmtp();
    dtm = await startDtm({
        env: {
            DTM_SMTP_URL: mail.url,
            DTM_MAIL_FROM: 'dtm test <no-reply@dtm.test>',
            DTM_PUBLIC_URL: 'https://dtm.test/',
            DTM_MAIL_POLL_MS: '100',
            DTM_OUTBOX_POLL_MS: '100',
        },
    });
    admin = await dtm.loginAdmin();
});

after(async () => {
    await dtm?.stop();
    await mail?.close();
});

test('the link from the received mail works once; every session ends; a "password changed" mail follows', async () => {
    const u = await dtm.createUser(admin.accessToken, { firstName: 'Rita', lastName: 'Reset' });
    const s = await dtm.login(u.email, u.password);
    const r = await dtm.api('POST', '/api/auth/forgot-password', { body: { email: u.email.toUpperCase() } });
    assert.equal(r.status, 202, r.text);
    const m = await mail.waitFor((x) => [].concat(x.to).includes(u.email) && /Reset your dtm password/.test(x.subject), 15000);
    assert.match(m.text, /Hello Rita Reset/);
    const link = /https:\/\/dtm\.test\/reset-password\?token=([A-Za-z0-9_-]+)/.exec(m.text);
    assert.ok(link, `a reset link in the mail: ${m.text}`);
    const token = link[1];
    const ok = await dtm.api('POST', '/api/auth/reset-password', { body: { token, newPassword: 'From-the-mail-123' } });
    assert.equal(ok.status, 204, ok.text);
    const again = await dtm.api('POST', '/api/auth/reset-password', { body: { token, newPassword: 'From-the-mail-456' } });
    assert.equal(again.status, 401, again.text);
    assert.equal(again.json.error.code, 'invalid_token');
    assert.equal((await dtm.api('GET', '/api/auth/me', { token: s.accessToken })).status, 401, 'the old session ended');
    assert.equal((await dtm.login(u.email, 'From-the-mail-123')).user.id, u.id);
    await mail.waitFor((x) => [].concat(x.to).includes(u.email) && /password was changed/.test(x.subject), 15000);
    // no mail for an unknown address
    assert.equal((await dtm.api('POST', '/api/auth/forgot-password', { body: { email: 'nobody@example.com' } })).status, 202);
    await new Promise((res) => setTimeout(res, 1500));
    assert.ok(!mail.messages.some((x) => [].concat(x.to).includes('nobody@example.com')));
});
