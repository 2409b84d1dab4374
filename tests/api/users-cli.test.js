// SPDX-License-Identifier: MIT
// `dtm seed [--demo]` and `dtm user create-admin | list` against a running dtm's database.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startDtm, randomId } = require('./lib/harness.js');

let dtm;

before(async () => {
    // No seed: these tests run it themselves.
    dtm = await startDtm({ seed: false });
});

after(async () => {
    if (dtm) await dtm.stop();
});

const count = async (where = 'true') => Number((await dtm.sql(`SELECT count(*) FROM users.users WHERE ${where}`))[0][0]);

test('seed without --demo creates only the admin, from DTM_ADMIN_PASSWORD; idempotent', async () => {
    const first = await dtm.dtm(['seed']);
    assert.match(first.stdout, /admin admin@example\.com created; password from DTM_ADMIN_PASSWORD/);
    assert.ok(!first.stdout.includes(dtm.admin.password), 'a given password is not echoed');
    assert.equal(await count(), 1);
    assert.equal((await dtm.loginAdmin()).user.role, 'admin');
    const again = await dtm.dtm(['seed']);
    assert.match(again.stdout, /already exists .*left unchanged/);
    assert.equal(await count(), 1);
    // an existing admin keeps its password even if the variable changes
    await dtm.dtm(['seed'], { DTM_ADMIN_PASSWORD: 'another-password-1' });
    assert.equal((await dtm.loginAdmin()).user.email, 'admin@example.com');
});

test('seed generates and prints a password once when none is given', async () => {
    const email = `root-${randomId()}@example.com`;
    const r = await dtm.dtm(['seed'], { DTM_ADMIN_EMAIL: email.toUpperCase(), DTM_ADMIN_PASSWORD: '' });
    const m = /\(generated, shown once\): (\S+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(m[1].length >= 20);
    const l = await dtm.login(email, m[1]);
    assert.equal(l.user.role, 'admin');
    assert.equal(l.user.email, email, 'e-mail normalised');
    const again = await dtm.dtm(['seed'], { DTM_ADMIN_EMAIL: email, DTM_ADMIN_PASSWORD: '' });
    assert.doesNotMatch(again.stdout, /generated/);
});

test('seed rejects a weak DTM_ADMIN_PASSWORD and a bad DTM_ADMIN_EMAIL', async () => {
    await assert.rejects(dtm.dtm(['seed'], { DTM_ADMIN_EMAIL: 'weak@example.com', DTM_ADMIN_PASSWORD: 'short' }), /at least 10/);
    await assert.rejects(dtm.dtm(['seed'], { DTM_ADMIN_EMAIL: 'not an email' }), /not a valid e-mail/);
    assert.equal(await count("email = 'weak@example.com'"), 0);
});

test('seed --demo adds 2 managers and 10 merchandisers once, with the demo password', async () => {
    const before = await count();
    const r = await dtm.dtm(['seed', '--demo']);
    assert.match(r.stdout, /12 created now; demo password: dtm-demo-password/);
    assert.equal(await count(), before + 12);
    assert.equal(await count("role = 'manager'"), 2);
    assert.equal(await count("role = 'merchandiser'"), 10);
    const m = await dtm.login('manager1@example.com', 'dtm-demo-password');
    assert.equal(m.user.role, 'manager');
    const s = await dtm.login('merch10@example.com', 'dtm-demo-password');
    assert.equal(s.user.role, 'merchandiser');
    const again = await dtm.dtm(['seed', '--demo']);
    assert.match(again.stdout, /0 created now/);
    assert.equal(await count(), before + 12);
});

test('user create-admin: new account with a generated password, or promote and reset', async () => {
    const email = `ops-${randomId()}@example.com`;
    const r = await dtm.dtm(['user', 'create-admin', '--email', email]);
    const m = /generated password \(shown once\): (\S+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.equal((await dtm.login(email, m[1])).user.role, 'admin');

    // promote a deactivated merchandiser and reset its password
    const merch = 'merch01@example.com';
    await dtm.sql(`UPDATE users.users SET active = false WHERE email = '${merch}'`);
    const p = await dtm.dtm(['user', 'create-admin', '--email', merch.toUpperCase(), '--password', 'recovered-pass-1']);
    assert.match(p.stdout, /is an active admin/);
    const l = await dtm.login(merch, 'recovered-pass-1');
    assert.equal(l.user.role, 'admin');
    assert.equal(l.user.active, true);

    await assert.rejects(dtm.dtm(['user', 'create-admin', '--email', 'x@example.com', '--password', 'short']), /at least 10/);
    await assert.rejects(dtm.dtm(['user', 'create-admin', 'extra']), /Usage/);

    // without --email: the configured admin, with DTM_ADMIN_PASSWORD (resets it: recovery)
    await dtm.sql("UPDATE users.users SET role = 'manager', active = false WHERE email = 'admin@example.com'");
    const d = await dtm.dtm(['user', 'create-admin'], { DTM_ADMIN_PASSWORD: 'reset-by-env-1' });
    assert.match(d.stdout, /admin admin@example\.com .* is an active admin\npassword set from DTM_ADMIN_PASSWORD/);
    assert.equal((await dtm.login('admin@example.com', 'reset-by-env-1')).user.role, 'admin');
    await dtm.dtm(['user', 'create-admin']); // back to the harness's password for later tests
    await dtm.loginAdmin();
    await assert.rejects(dtm.dtm(['user', 'frobnicate']), /unknown subcommand/);
});

test('user list prints every account', async () => {
    const r = await dtm.dtm(['user', 'list']);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length - 1, await count());
    assert.match(r.stdout, /manager1@example\.com\s+manager\s+yes/);
    const managers = await dtm.dtm(['user', 'list', '--role', 'manager']);
    assert.equal(managers.stdout.trim().split('\n').length - 1, 2);
});
