// SPDX-License-Identifier: MIT
// The harness's contract check (lib/contract.js) itself: it accepts what the document says, and
// fails a wrong type, a missing required field and an undocumented status, through api() too.
'use strict';

process.env.DTM_CONTRACT = '1'; // this file checks the failing mode, whatever the run asked for

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { check } = require('./lib/contract.js');
const { api } = require('./lib/harness.js');

const ID = '7d3c9a4e-1111-4222-8333-444455556666';
const USER = {
    id: ID,
    email: 'ann@example.com',
    firstName: 'Ann',
    lastName: 'Field',
    role: 'merchandiser',
    active: true,
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    lastLoginAt: null,
};
const res = (status, json) => ({ status, headers: { 'content-type': 'application/json; charset=utf-8' }, json, text: JSON.stringify(json) });
const error = (code) => ({ error: { code, message: 'm' }, requestId: 'r' });

test('a response as documented passes', () => {
    assert.deepEqual(check('GET', `/api/users/${ID}`, res(200, { user: USER })), []);
    assert.deepEqual(check('GET', '/api/attendance/current', res(200, { punchedIn: false, attendance: null })), []);
    assert.deepEqual(check('GET', '/api/todos/stats?x=1', res(401, error('unauthorized'))), [], 'any bearer route may answer 401');
    assert.deepEqual(check('GET', '/no/such/route', res(404, error('not_found'))), [], 'undocumented paths are not checked');
});

test('a wrong type, a missing required field, a wrong enum value fail', () => {
    const [v] = check('GET', `/api/users/${ID}`, res(200, { user: { ...USER, email: 5, role: 'boss', lastLoginAt: undefined } }));
    assert.equal(v.problem, 'body does not match the schema');
    const text = v.errors.join('\n');
    assert.match(text, /\/user\/email must be string/);
    assert.match(text, /lastLoginAt/);
    assert.match(text, /\/user\/role must be equal to one of the allowed values/);
});

test('an undocumented status fails; the literal route wins over {id}', () => {
    assert.match(check('GET', `/api/users/${ID}`, res(418, error('teapot')))[0].problem, /undocumented status/);
    assert.match(check('GET', '/health', res(401, error('unauthorized')))[0].problem, /undocumented status/, 'a public route has no 401');
    // GET /api/todos/stats is not GET /api/todos/{id}: a Todo body there is wrong
    assert.equal(check('GET', '/api/todos/stats', res(200, { total: 1, byStatus: {}, byPriority: {}, overdue: 0, completedLast7Days: 0 })).length, 0);
    assert.equal(check('GET', '/api/todos/stats', res(200, { todo: {} })).length, 1);
    // an idempotency answer only where the operation takes the key
    assert.deepEqual(check('POST', '/api/stores', res(409, error('request_in_progress'))), []);
    assert.equal(check('GET', '/api/stores', res(409, error('request_in_progress'))).length, 1);
});

let server;
let base;
before(async () => {
    server = http.createServer((req, r) => {
        r.setHeader('content-type', 'application/json');
        r.end(JSON.stringify({ user: { ...USER, active: 'yes' } }));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${server.address().port}`;
});
after(() => server.close());

test('api() fails the test on a violation (unless contract: false)', async () => {
    await assert.rejects(api('GET', `/api/users/${ID}`, { base }), /contract \(docs\/openapi\.yaml\): GET \/api\/users\/\{id\} -> 200: .*\/user\/active must be boolean/);
    const r = await api('GET', `/api/users/${ID}`, { base, contract: false });
    assert.equal(r.status, 200);
});
