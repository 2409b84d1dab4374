// SPDX-License-Identifier: MIT
// Shared set-up of the stores/todos/reports API tests: one dtm, an admin, a manager and two
// merchandisers with tokens, and small assertion helpers. (Not a test file itself.)
'use strict';

const assert = require('node:assert/strict');
const { startDtm, randomId } = require('./lib/harness.js');

function assertError(r, status, code) {
    assert.equal(r.status, status, `expected ${status} ${code || ''}, got ${r.status} ${r.text}`);
    assert.ok(r.json && r.json.error, `error body: ${r.text}`);
    if (code) assert.equal(r.json.error.code, code, r.text);
    assert.ok(r.json.requestId, r.text);
    assert.doesNotMatch(r.text, /SELECT|INSERT|UPDATE|syntax error|violates|pg_/i);
}

function assertFieldNamed(r, field) {
    assertError(r, 400);
    const details = r.json.error.details || [];
    assert.ok(
        details.some((d) => d.field === field || String(d.field).startsWith(field + '[')),
        `details should name ${field}: ${r.text}`
    );
}

/** {dtm, tok: {admin, manager, merch, merch2}, ids: {...}, as(role)(method, path, body)} */
async function startFieldOps(opts = {}) {
    const dtm = await startDtm({
        env: { DTM_LOGIN_LIMIT_PER_IP: '100000', DTM_LOGIN_LIMIT_PER_EMAIL: '100000', DTM_RATE_LIMIT_PER_IP: '1000000', DTM_RATE_LIMIT_PER_USER: '1000000' },
        ...opts,
    });
    const tok = {};
    const ids = {};
    const a = await dtm.loginAdmin();
    tok.admin = a.accessToken;
    ids.admin = a.user.id;
    for (const [role, apiRole] of [
        ['manager', 'manager'],
        ['merch', 'merchandiser'],
        ['merch2', 'merchandiser'],
    ]) {
        const u = await dtm.createUser(tok.admin, { role: apiRole, firstName: role, lastName: 'Tester' });
        tok[role] = (await dtm.login(u.email, u.password)).accessToken;
        ids[role] = u.id;
    }
    const as = (role) => (method, p, body, extra = {}) =>
        dtm.api(method, p, { token: role ? tok[role] : undefined, body, ...extra });
    return { dtm, tok, ids, as };
}

let storeSeq = 0;
function storeBody(extra = {}) {
    storeSeq++;
    return {
        code: `T-${randomId(3)}-${storeSeq}`,
        name: `Test store ${storeSeq}`,
        address: `${storeSeq} Test Street`,
        latitude: 48.8566,
        longitude: 2.3522,
        ...extra,
    };
}

module.exports = { assertError, assertFieldNamed, startFieldOps, storeBody, randomId };
