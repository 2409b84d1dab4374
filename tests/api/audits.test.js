// SPDX-License-Identifier: MIT
// Black-box tests of /api/audits (shared/API.md, Wave 2): every call and every error with all
// three roles; template versioning once used; starting only on site; partial saves; photos
// through the shared pipeline (sniffed, size-limited, access-checked); the scoring formula
// against an independent implementation on random templates and answers; corrective todos
// created exactly once when a submit is retried or two submits race; scores by store, user,
// template and week; metrics and the reporting view.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { startDtm, randomId } = require('./lib/harness.js');

const ISO_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const JPEG = Buffer.concat([
    Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'),
    crypto.randomBytes(64),
    Buffer.from('ffd9', 'hex'),
]);
const PNG = Buffer.from(
    '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a2b5e62f0000000049454e44ae426082',
    'hex'
);

function assertError(r, status, code) {
    assert.equal(r.status, status, `expected ${status} ${code || ''}, got ${r.status} ${r.text}`);
    assert.ok(r.json && r.json.error, `error body: ${r.text}`);
    if (code) assert.equal(r.json.error.code, code, r.text);
    assert.equal(typeof r.json.error.message, 'string');
    assert.ok(r.json.requestId, 'requestId in error body');
    assert.doesNotMatch(r.text, /SELECT|INSERT|UPDATE|syntax error|stack/i);
}

function assertFields(r, ...fields) {
    assertError(r, 400);
    const got = (r.json.error.details || []).map((d) => d.field);
    for (const f of fields) assert.ok(got.includes(f), `details should name ${f}: ${r.text}`);
}

let dtm;
let adminTok, managerTok, manager;
const merch = []; // {user, token}
let store, otherStore;

async function newUser(role) {
    const u = await dtm.createUser(adminTok, { role });
    const l = await dtm.login(u.email, u.password);
    return { user: l.user, token: l.accessToken };
}

async function createStore() {
    const r = await dtm.api('POST', '/api/stores', {
        token: adminTok,
        body: { code: `A-${randomId(4)}`, name: `Audit store ${randomId(3)}`, address: 'x', latitude: 48.85, longitude: 2.35 },
    });
    assert.equal(r.status, 201, r.text);
    return r.json.store;
}

const punchIn = (token, s) =>
    dtm.api('POST', '/api/attendance/punch-in', { token, body: { storeId: s.id, latitude: s.latitude, longitude: s.longitude, accuracyM: 10 } });
const punchOut = (token) => dtm.api('POST', '/api/attendance/punch-out', { token, body: {} });

function photoForm(questionId, data, type = 'image/jpeg') {
    const fd = new FormData();
    if (questionId !== undefined) fd.append('questionId', questionId);
    if (data) fd.append('photo', new Blob([data], { type }), 'p.jpg');
    return fd;
}

// The template of the e2e story and most tests: 5 questions, every type.
const FIVE = () => ({
    name: `Shelf check ${randomId(3)}`,
    description: 'Monthly shelf standards',
    passThresholdPct: 80,
    questions: [
        { id: 'facing', text: 'Products faced forward?', type: 'yes_no', required: true, weight: 30, failCreatesTask: { priority: 'high', dueInHours: 24 } },
        { id: 'price', text: 'Price tags shown?', type: 'yes_no', required: true, weight: 20, passValue: true, allowNa: true },
        { id: 'temp', text: 'Fridge temperature (C)', type: 'number', required: true, weight: 25, min: 0, max: 5, failCreatesTask: { priority: 'urgent', dueInHours: 4 } },
        { id: 'stand', text: 'Promo stand', type: 'choice', weight: 25, options: ['full', 'half', 'empty'], passOptions: ['full', 'half'], photoRequired: true },
        { id: 'notes', text: 'Notes', type: 'text' },
    ],
});

async function createTemplate(body = FIVE(), token = managerTok) {
    const r = await dtm.api('POST', '/api/audits/templates', { token, body });
    assert.equal(r.status, 201, r.text);
    return r.json.template;
}

async function startAudit(token, templateId, s = store) {
    const r = await dtm.api('POST', '/api/audits', { token, body: { templateId, storeId: s.id } });
    assert.equal(r.status, 201, r.text);
    return r.json.audit;
}

const patch = (token, id, answers) => dtm.api('PATCH', `/api/audits/${id}`, { token, body: { answers } });
const submit = (token, id) => dtm.api('POST', `/api/audits/${id}/submit`, { token });

// The audits service's own /metrics: the one process in `all`, its replica in `micro`.
function auditsMetrics() {
    const replica = dtm.topology === 'micro' ? dtm.replicas('audits')[0] : null;
    return replica ? dtm.api('GET', '/metrics', { base: replica.url }) : dtm.api('GET', '/metrics');
}

before(async () => {
    dtm = await startDtm();
    adminTok = (await dtm.loginAdmin()).accessToken;
    const m = await newUser('manager');
    manager = m.user;
    managerTok = m.token;
    for (let i = 0; i < 3; i++) merch.push(await newUser('merchandiser'));
    store = await createStore();
    otherStore = await createStore();
});

after(async () => {
    if (dtm) await dtm.stop();
});

test('every call needs a token', async () => {
    const id = crypto.randomUUID();
    for (const [method, p] of [
        ['GET', '/api/audits/templates'],
        ['POST', '/api/audits/templates'],
        ['GET', `/api/audits/templates/${id}`],
        ['PATCH', `/api/audits/templates/${id}`],
        ['DELETE', `/api/audits/templates/${id}`],
        ['POST', '/api/audits'],
        ['GET', '/api/audits'],
        ['GET', `/api/audits/${id}`],
        ['PATCH', `/api/audits/${id}`],
        ['POST', `/api/audits/${id}/photos`],
        ['POST', `/api/audits/${id}/submit`],
        ['GET', '/api/audits/scores'],
        ['GET', `/api/audits/photos/${'a'.repeat(64)}`],
    ]) {
        assertError(await dtm.api(method, p, { body: method === 'GET' || method === 'DELETE' ? undefined : {} }), 401);
    }
});

test('templates: staff write, everyone reads, each problem listed', async () => {
    for (const token of [adminTok, managerTok]) await createTemplate(FIVE(), token);
    assertError(await dtm.api('POST', '/api/audits/templates', { token: merch[0].token, body: FIVE() }), 403);

    const t = await createTemplate();
    assert.equal(t.version, 1);
    assert.equal(t.active, true);
    assert.equal(t.passThresholdPct, 80);
    assert.equal(t.questions.length, 5);
    const [facing, price, temp, stand, notes] = t.questions;
    assert.deepEqual(facing.failCreatesTask, { priority: 'high', dueInHours: 24 });
    assert.equal(facing.passValue, true);
    assert.equal(price.allowNa, true);
    assert.equal(temp.min, 0);
    assert.equal(temp.max, 5);
    assert.deepEqual(stand.passOptions, ['full', 'half']);
    assert.equal(stand.photoRequired, true);
    assert.equal(notes.weight, 1, 'weight defaults to 1');
    assert.equal(notes.required, false);
    assert.equal(notes.failCreatesTask, null);

    // Defaults and generated ids.
    const d = await createTemplate({ name: 'Minimal', questions: [{ text: 'Clean?', type: 'yes_no' }] });
    assert.equal(d.passThresholdPct, 80);
    assert.match(d.questions[0].id, /^[0-9a-f-]{36}$/);

    for (const token of [adminTok, managerTok, merch[0].token]) {
        const one = await dtm.api('GET', `/api/audits/templates/${t.id}`, { token });
        assert.equal(one.status, 200, one.text);
        assert.deepEqual(one.json.template.questions, t.questions);
        const list = await dtm.api('GET', '/api/audits/templates?limit=100', { token });
        assert.equal(list.status, 200);
        assert.ok(list.json.items.some((x) => x.id === t.id));
        assert.ok(list.json.pagination.total >= 4);
    }
    assertError(await dtm.api('GET', `/api/audits/templates/${crypto.randomUUID()}`, { token: managerTok }), 404);
    assertError(await dtm.api('GET', '/api/audits/templates/nope', { token: managerTok }), 404);
    assertError(await dtm.api('GET', `/api/audits/templates/${t.id}?version=9`, { token: managerTok }), 404);
    assertFields(await dtm.api('GET', `/api/audits/templates/${t.id}?version=x`, { token: managerTok }), 'version');
    assertFields(await dtm.api('GET', '/api/audits/templates?active=maybe', { token: managerTok }), 'active');

    // Every problem at once.
    const bad = await dtm.api('POST', '/api/audits/templates', {
        token: managerTok,
        body: {
            name: '',
            passThresholdPct: 101,
            questions: [
                { text: '', type: 'yes_no' },
                { text: 'x', type: 'colour' },
                { text: 'n', type: 'number', min: 5, max: 1, weight: 101 },
                { text: 'c', type: 'choice', options: ['a', 'b'], passOptions: ['z'] },
                { text: 'c2', type: 'choice' },
                { text: 't', type: 'text', failCreatesTask: { priority: 'low', dueInHours: 1 } },
                { id: 'dup', text: 'a', type: 'yes_no' },
                { id: 'dup', text: 'b', type: 'yes_no' },
                { id: 'bad id!', text: 'b', type: 'yes_no', passValue: 'yes' },
                { text: 'y', type: 'yes_no', failCreatesTask: { priority: 'someday', dueInHours: 0 } },
                'not an object',
            ],
        },
    });
    assertFields(
        bad,
        'name',
        'passThresholdPct',
        'questions[0].text',
        'questions[1].type',
        'questions[2].max',
        'questions[2].weight',
        'questions[3].passOptions',
        'questions[4].options',
        'questions[4].passOptions',
        'questions[5].failCreatesTask',
        'questions[7].id',
        'questions[8].id',
        'questions[8].passValue',
        'questions[9].failCreatesTask',
        'questions[10]'
    );
    assertFields(await dtm.api('POST', '/api/audits/templates', { token: managerTok, body: { name: 'x', questions: [] } }), 'questions');
    assertFields(await dtm.api('POST', '/api/audits/templates', { token: managerTok, body: { name: 'x' } }), 'questions');
    assertError(await dtm.api('POST', '/api/audits/templates', { token: managerTok, body: '{"name":' , headers: { 'content-type': 'application/json' } }), 400);
});

test('templates: edits in place until used, then a new version; the audit keeps its own', async () => {
    const t = await createTemplate();
    assertError(await dtm.api('PATCH', `/api/audits/templates/${t.id}`, { token: merch[0].token, body: { name: 'x' } }), 403);
    assertError(await dtm.api('PATCH', `/api/audits/templates/${crypto.randomUUID()}`, { token: managerTok, body: { name: 'x' } }), 404);
    assertFields(await dtm.api('PATCH', `/api/audits/templates/${t.id}`, { token: managerTok, body: { name: '', questions: [{ type: 'yes_no' }] } }), 'name', 'questions[0].text');

    let r = await dtm.api('PATCH', `/api/audits/templates/${t.id}`, { token: managerTok, body: { name: 'Renamed', passThresholdPct: 75.5 } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.template.version, 1, 'unused: edited in place');
    assert.equal(r.json.template.name, 'Renamed');
    assert.equal(r.json.template.passThresholdPct, 75.5);

    const a = await startAudit(managerTok, t.id); // staff may audit without punching in
    assert.equal(a.templateVersion, 1);
    assert.equal(a.attendanceId, null);

    const q2 = [...t.questions.slice(0, 2), { id: 'new', text: 'New question', type: 'yes_no', weight: 10 }];
    r = await dtm.api('PATCH', `/api/audits/templates/${t.id}`, { token: adminTok, body: { questions: q2 } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.template.version, 2, 'used: a new version');
    assert.equal(r.json.template.questions.length, 3);
    assert.equal(r.json.template.name, 'Renamed', 'unchanged fields carried over');
    r = await dtm.api('PATCH', `/api/audits/templates/${t.id}`, { token: adminTok, body: { description: 'v2 again' } });
    assert.equal(r.json.template.version, 2, 'version 2 unused yet: in place');

    const v1 = await dtm.api('GET', `/api/audits/templates/${t.id}?version=1`, { token: merch[0].token });
    assert.equal(v1.json.template.version, 1);
    assert.equal(v1.json.template.questions.length, 5);
    const again = await dtm.api('GET', `/api/audits/${a.id}`, { token: managerTok });
    assert.equal(again.json.audit.templateVersion, 1);
    // The old draft still answers version 1's questions.
    r = await patch(managerTok, a.id, [{ questionId: 'temp', value: 3 }]);
    assert.equal(r.status, 200, r.text);
    assertFields(await patch(managerTok, a.id, [{ questionId: 'new', value: true }]), 'answers[0].questionId');
    const b = await startAudit(managerTok, t.id);
    assert.equal(b.templateVersion, 2);

    // Deactivate: 204, still readable, no new audit.
    assertError(await dtm.api('DELETE', `/api/audits/templates/${t.id}`, { token: merch[0].token }), 403);
    assertError(await dtm.api('DELETE', `/api/audits/templates/${crypto.randomUUID()}`, { token: managerTok }), 404);
    r = await dtm.api('DELETE', `/api/audits/templates/${t.id}`, { token: managerTok });
    assert.equal(r.status, 204);
    assert.equal((await dtm.api('GET', `/api/audits/templates/${t.id}`, { token: managerTok })).json.template.active, false);
    assertError(await dtm.api('POST', '/api/audits', { token: managerTok, body: { templateId: t.id, storeId: store.id } }), 404);
    const inactive = await dtm.api('GET', '/api/audits/templates?active=false&limit=100', { token: managerTok });
    assert.ok(inactive.json.items.some((x) => x.id === t.id));
    assert.ok(inactive.json.items.every((x) => !x.active));
});

test('start: merchandisers only while punched in at that store', async () => {
    const t = await createTemplate();
    const m = merch[0];
    assertFields(await dtm.api('POST', '/api/audits', { token: m.token, body: { templateId: 'x' } }), 'templateId', 'storeId');
    assertError(await dtm.api('POST', '/api/audits', { token: m.token, body: { templateId: t.id, storeId: store.id } }), 409, 'not_on_site');
    assert.equal((await punchIn(m.token, otherStore)).status, 201);
    assertError(await dtm.api('POST', '/api/audits', { token: m.token, body: { templateId: t.id, storeId: store.id } }), 409, 'not_on_site');
    await punchOut(m.token);
    const pin = await punchIn(m.token, store);
    assert.equal(pin.status, 201, pin.text);
    assertError(await dtm.api('POST', '/api/audits', { token: m.token, body: { templateId: crypto.randomUUID(), storeId: store.id } }), 404);
    assertError(await dtm.api('POST', '/api/audits', { token: m.token, body: { templateId: t.id, storeId: crypto.randomUUID() } }), 404);
    const a = await startAudit(m.token, t.id);
    assert.equal(a.status, 'draft');
    assert.equal(a.attendanceId, pin.json.attendance.id);
    assert.equal(a.userId, m.user.id);
    assert.equal(a.storeId, store.id);
    assert.equal(a.templateId, t.id);
    assert.equal(a.templateVersion, 1);
    assert.deepEqual(a.answers, []);
    assert.equal(a.scorePct, null);
    assert.equal(a.passed, null);
    assert.deepEqual(a.correctiveTodoIds, []);
    assert.match(a.startedAt, ISO_RE);
    assert.equal(a.submittedAt, null);
    assert.ok('visitId' in a);
    await punchOut(m.token);
});

test('answers: partial saves merge; every bad value is a 400; only the author, only drafts', async () => {
    const t = await createTemplate();
    const m = merch[1];
    await punchIn(m.token, store);
    const a = await startAudit(m.token, t.id);
    let r = await patch(m.token, a.id, [{ questionId: 'facing', value: true }]);
    assert.equal(r.status, 200, r.text);
    r = await patch(m.token, a.id, [{ questionId: 'temp', value: 4.5, comment: 'cold enough' }, { questionId: 'notes', value: 'ok' }]);
    assert.equal(r.status, 200, r.text);
    let answers = Object.fromEntries(r.json.audit.answers.map((x) => [x.questionId, x]));
    assert.equal(answers.facing.value, true, 'the first save is kept');
    assert.equal(answers.temp.value, 4.5);
    assert.equal(answers.temp.comment, 'cold enough');
    assert.equal(answers.notes.value, 'ok');
    assert.match(answers.temp.receivedAt, ISO_RE);
    assert.deepEqual(r.json.audit.answers.map((x) => x.questionId), ['facing', 'temp', 'notes'], 'template order');

    // Offline capture time kept beside the server's receipt.
    const captured = new Date(Date.now() - 3600e3).toISOString();
    r = await patch(m.token, a.id, [{ questionId: 'price', na: true, capturedAt: captured }]);
    assert.equal(r.status, 200, r.text);
    answers = Object.fromEntries(r.json.audit.answers.map((x) => [x.questionId, x]));
    assert.equal(answers.price.na, true);
    assert.equal(answers.price.capturedAt, captured);
    assertError(await patch(m.token, a.id, [{ questionId: 'facing', value: false, capturedAt: new Date(Date.now() - 73 * 3600e3).toISOString() }]), 422, 'invalid_captured_at');
    assertError(await patch(m.token, a.id, [{ questionId: 'facing', value: false, capturedAt: new Date(Date.now() + 10 * 60e3).toISOString() }]), 422, 'invalid_captured_at');

    const bad = await patch(m.token, a.id, [
        { questionId: 'facing', value: 'yes' },
        { questionId: 'temp', value: 'cold' },
        { questionId: 'stand', value: 'overflowing' },
        { questionId: 'notes', value: 42 },
        { questionId: 'facing', na: true }, // not allowNa
        { questionId: 'nope', value: true },
        { questionId: 'facing', photoUrls: ['/api/audits/photos/' + 'a'.repeat(64)] },
        { questionId: 'notes', comment: 'x'.repeat(5001) },
        'x',
    ]);
    assertFields(bad, 'answers[0].value', 'answers[1].value', 'answers[2].value', 'answers[3].value', 'answers[4].na', 'answers[5].questionId', 'answers[6].photoUrls', 'answers[7].comment', 'answers[8]');
    r = await dtm.api('GET', `/api/audits/${a.id}`, { token: m.token });
    assert.equal(Object.fromEntries(r.json.audit.answers.map((x) => [x.questionId, x])).facing.value, true, 'nothing of a bad PATCH is written');
    assertFields(await dtm.api('PATCH', `/api/audits/${a.id}`, { token: m.token, body: { answers: 'x' } }), 'answers');

    assertError(await patch(merch[2].token, a.id, [{ questionId: 'facing', value: false }]), 403);
    assertError(await patch(managerTok, a.id, [{ questionId: 'facing', value: false }]), 403);
    assertError(await patch(m.token, crypto.randomUUID(), [{ questionId: 'facing', value: false }]), 404);

    // Clearing a value.
    r = await patch(m.token, a.id, [{ questionId: 'notes', value: null }]);
    assert.equal(Object.fromEntries(r.json.audit.answers.map((x) => [x.questionId, x])).notes.value, null);
    await punchOut(m.token);
});

test('photos: byte-checked, content-addressed, only the author adds them, access-checked', async () => {
    const t = await createTemplate();
    const m = merch[2];
    await punchIn(m.token, store);
    const a = await startAudit(m.token, t.id);
    const up = (token, fd, id = a.id) => dtm.api('POST', `/api/audits/${id}/photos`, { token, body: fd });

    assertError(await up(m.token, photoForm('stand', Buffer.from('not an image at all'))), 415);
    const big = Buffer.alloc(5 * 1024 * 1024 + 1, 0x41);
    JPEG.copy(big, 0, 0, 4);
    assertError(await up(m.token, photoForm('stand', big)), 413);
    assertFields(await up(m.token, photoForm(undefined, JPEG)), 'questionId');
    assertFields(await up(m.token, photoForm('stand')), 'photo');
    assertFields(await up(m.token, photoForm('nope', JPEG)), 'questionId');
    assertError(await dtm.api('POST', `/api/audits/${a.id}/photos`, { token: m.token, body: { questionId: 'stand' } }), 415);
    assertError(await dtm.api('POST', `/api/audits/${a.id}/photos`, { token: m.token, body: 'x', headers: { 'content-type': 'multipart/form-data; boundary=b' } }), 400);
    assertError(await up(merch[0].token, photoForm('stand', JPEG)), 403);
    assertError(await up(m.token, photoForm('stand', JPEG), crypto.randomUUID()), 404);

    let r = await up(m.token, photoForm('stand', JPEG));
    assert.equal(r.status, 201, r.text);
    const sha = crypto.createHash('sha256').update(JPEG).digest('hex');
    assert.equal(r.json.photoUrl, `/api/audits/photos/${sha}`);
    const file = path.join(dtm.env.DTM_DATA_DIR, 'uploads', sha.slice(0, 2), sha.slice(2));
    assert.deepEqual(fs.readFileSync(file), JPEG);
    r = await up(m.token, photoForm('stand', PNG, 'image/png'));
    assert.equal(r.status, 201, r.text);
    const pngUrl = r.json.photoUrl;
    r = await up(m.token, photoForm('stand', JPEG)); // the same bytes again: one entry
    assert.equal(r.status, 201);
    r = await dtm.api('GET', `/api/audits/${a.id}`, { token: m.token });
    const stand = r.json.audit.answers.find((x) => x.questionId === 'stand');
    assert.deepEqual(stand.photoUrls, [`/api/audits/photos/${sha}`, pngUrl]);

    for (const token of [m.token, managerTok, adminTok]) {
        const res = await fetch(dtm.url + stand.photoUrls[1], { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type'), /^image\/png/);
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), PNG);
    }
    assertError(await dtm.api('GET', stand.photoUrls[0], { token: merch[0].token }), 403);
    assertError(await dtm.api('GET', `/api/audits/photos/${'0'.repeat(64)}`, { token: managerTok }), 404);
    assertError(await dtm.api('GET', `/api/audits/photos/${sha.toUpperCase()}`, { token: managerTok }), 404);

    // A PATCH may drop a photo, never add one.
    r = await patch(m.token, a.id, [{ questionId: 'stand', photoUrls: [pngUrl] }]);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.audit.answers.find((x) => x.questionId === 'stand').photoUrls, [pngUrl]);

    await patch(m.token, a.id, [
        { questionId: 'facing', value: true },
        { questionId: 'price', value: true },
        { questionId: 'temp', value: 2 },
        { questionId: 'stand', value: 'full' },
    ]);
    assert.equal((await submit(m.token, a.id)).status, 200);
    assertError(await up(m.token, photoForm('stand', JPEG)), 409, 'already_submitted');
    assertError(await patch(m.token, a.id, [{ questionId: 'facing', value: false }]), 409, 'already_submitted');
    await punchOut(m.token);
});

test('submit: incomplete is 422 with the questions; scored; corrective todos; once', async () => {
    const t = await createTemplate();
    const m = merch[0];
    await punchIn(m.token, store);
    const a = await startAudit(m.token, t.id);
    let r = await submit(m.token, a.id);
    assertError(r, 422, 'incomplete');
    assert.deepEqual(r.json.error.details, ['facing', 'price', 'temp', 'stand']);
    await patch(m.token, a.id, [
        { questionId: 'facing', value: false }, // fails: task (high, 24 h)
        { questionId: 'price', na: true }, // N/A: not scored
        { questionId: 'temp', value: 3 }, // passes
        { questionId: 'stand', value: 'half' }, // passes, but its photo is missing
    ]);
    r = await submit(m.token, a.id);
    assertError(r, 422, 'incomplete');
    assert.deepEqual(r.json.error.details, ['stand']);
    await dtm.api('POST', `/api/audits/${a.id}/photos`, { token: m.token, body: photoForm('stand', JPEG) });
    assertError(await submit(merch[1].token, a.id), 403);
    assertError(await submit(managerTok, a.id), 403);
    assertError(await submit(m.token, crypto.randomUUID()), 404);

    const before = Date.now();
    r = await submit(m.token, a.id);
    assert.equal(r.status, 200, r.text);
    const s = r.json.audit;
    assert.equal(s.status, 'submitted');
    // (25 + 25) / (30 + 25 + 25) = 62.5 %
    assert.equal(s.scorePct, 62.5);
    assert.equal(s.passed, false);
    assert.match(s.submittedAt, ISO_RE);
    const by = Object.fromEntries(s.answers.map((x) => [x.questionId, x]));
    assert.equal(by.facing.passed, false);
    assert.equal(by.price.passed, null);
    assert.equal(by.temp.passed, true);
    assert.equal(by.stand.passed, true);
    assert.equal(s.correctiveTodoIds.length, 1);

    const todo = (await dtm.api('GET', `/api/todos/${s.correctiveTodoIds[0]}`, { token: m.token })).json.todo;
    assert.equal(todo.title, 'Products faced forward?');
    assert.equal(todo.priority, 'high');
    assert.equal(todo.assigneeId, m.user.id);
    assert.equal(todo.storeId, store.id);
    assert.equal(todo.sourceRef, `audit:${a.id}:facing`);
    const due = Date.parse(todo.dueAt) - before;
    assert.ok(due > 23.9 * 3600e3 && due < 24.1 * 3600e3, `due in 24 h: ${todo.dueAt}`);

    assertError(await submit(m.token, a.id), 409, 'already_submitted');
    const n = await dtm.sql(`SELECT count(*) FROM todos.todos WHERE source_ref LIKE 'audit:${a.id}:%'`);
    assert.equal(n[0][0], '1');

    // Nobody but a service names a sourceRef.
    assertFields(await dtm.api('POST', '/api/todos', { token: managerTok, body: { title: 'x', sourceRef: `audit:${a.id}:facing` } }), 'sourceRef');
    await punchOut(m.token);
});

test('submit retried after the todos were created, and two racing submits: one 200, one 409, each todo once', async () => {
    const body = FIVE();
    body.questions[3].photoRequired = false;
    const t = await createTemplate(body);
    const failing = [
        { questionId: 'facing', value: false },
        { questionId: 'price', value: false },
        { questionId: 'temp', value: 9 },
        { questionId: 'stand', value: 'empty' },
    ];
    for (let round = 0; round < 6; round++) {
        const a = await startAudit(managerTok, t.id);
        assert.equal((await patch(managerTok, a.id, failing)).status, 200);
        if (round === 0) {
            // A submit that died after creating the todos (simulated: the same todo made by the
            // service's own call) leaves a draft; the retry finds that todo instead of a second.
            await dtm.sql(
                `INSERT INTO todos.todos (id, title, assignee_id, created_by, store_id, source_ref)
                 VALUES (gen_random_uuid(), 'earlier attempt', '${manager.id}', '${manager.id}', '${store.id}', 'audit:${a.id}:facing')`
            );
        }
        const rs = await Promise.all([submit(managerTok, a.id), submit(managerTok, a.id)]);
        const statuses = rs.map((r) => r.status).sort();
        assert.deepEqual(statuses, [200, 409], rs.map((r) => r.text).join('\n'));
        const ok = rs.find((r) => r.status === 200).json.audit;
        assertError(rs.find((r) => r.status === 409), 409, 'already_submitted');
        assert.equal(ok.scorePct, 0);
        assert.equal(ok.correctiveTodoIds.length, 2, 'facing and temp create tasks');
        const rows = await dtm.sql(`SELECT source_ref, id FROM todos.todos WHERE source_ref LIKE 'audit:${a.id}:%' ORDER BY 1`);
        assert.deepEqual(rows.map((x) => x[0]), [`audit:${a.id}:facing`, `audit:${a.id}:temp`]);
        assert.deepEqual(new Set(rows.map((x) => x[1])), new Set(ok.correctiveTodoIds));
        if (round === 0) {
            const earlier = rows.find((x) => x[0].endsWith(':facing'))[1];
            assert.ok(ok.correctiveTodoIds.includes(earlier), 'the earlier attempt\'s todo is reused');
        }
    }
});

// ---- the scoring formula, against an independent implementation ----

function rng(seed) {
    let s = seed >>> 0;
    return () => {
        s = (s + 0x6d2b79f5) >>> 0;
        let t = s;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/** API.md: yes_no passes when value == passValue, number when min <= value <= max, choice when
 *  value in passOptions; text/photo, N/A and unanswered are not scored; score = sum of passed
 *  weights / sum of scored weights * 100, one decimal, 100 when nothing weighs. */
function expectedScore(tpl, answers) {
    let passed = 0;
    let scored = 0;
    const per = {};
    for (const q of tpl.questions) {
        const a = answers[q.id];
        let p = null;
        if (a && !a.na && a.value !== undefined && a.value !== null && ['yes_no', 'number', 'choice'].includes(q.type)) {
            if (q.type === 'yes_no') p = a.value === (q.passValue ?? true);
            else if (q.type === 'number') p = (q.min === undefined || a.value >= q.min) && (q.max === undefined || a.value <= q.max);
            else p = q.passOptions.includes(a.value);
            scored += q.weight ?? 1;
            if (p) passed += q.weight ?? 1;
        }
        per[q.id] = p;
    }
    const pct = scored === 0 ? 100 : Math.round((1000 * passed) / scored) / 10;
    return { pct, passed: pct >= tpl.passThresholdPct, per };
}

function randomTemplate(r) {
    const n = 1 + Math.floor(r() * 8);
    const qs = [];
    for (let i = 0; i < n; i++) {
        const type = ['yes_no', 'number', 'choice', 'text', 'photo'][Math.floor(r() * 5)];
        const q = { id: `q${i}`, text: `Question ${i}`, type, weight: Math.floor(r() * 101), allowNa: r() < 0.3 };
        if (type === 'yes_no' && r() < 0.5) q.passValue = r() < 0.5;
        if (type === 'number') {
            if (r() < 0.8) q.min = Math.floor(r() * 10) - 5;
            if (r() < 0.8) q.max = (q.min ?? -5) + Math.floor(r() * 10);
        }
        if (type === 'choice') {
            q.options = ['a', 'b', 'c', 'd'].slice(0, 2 + Math.floor(r() * 3));
            q.passOptions = q.options.filter(() => r() < 0.5);
            if (!q.passOptions.length) q.passOptions = [q.options[0]];
        }
        qs.push(q);
    }
    return { name: `Random ${randomId(3)}`, passThresholdPct: Math.floor(r() * 101), questions: qs };
}

function randomAnswers(r, tpl) {
    const out = {};
    for (const q of tpl.questions) {
        if (r() < 0.15 || q.type === 'photo') continue; // unanswered
        if (q.allowNa && r() < 0.3) {
            out[q.id] = { na: true };
            continue;
        }
        let value;
        if (q.type === 'yes_no') value = r() < 0.5;
        else if (q.type === 'number') value = Math.round((r() * 20 - 10) * 4) / 4;
        else if (q.type === 'choice') value = q.options[Math.floor(r() * q.options.length)];
        else value = `text ${randomId(2)}`;
        out[q.id] = { value };
    }
    return out;
}

test('scoring formula: 40 random templates and answers agree with an independent implementation', async () => {
    const seed = Number(process.env.DTM_AUDIT_SEED || Date.now() % 1e9);
    const r = rng(seed);
    for (let i = 0; i < 40; i++) {
        const tpl = randomTemplate(r);
        const t = await createTemplate(tpl);
        const a = await startAudit(managerTok, t.id);
        const answers = randomAnswers(r, tpl);
        const list = Object.entries(answers).map(([questionId, x]) => ({ questionId, ...x }));
        // Piecemeal, like an offline client: one answer per PATCH for half of them.
        const half = Math.floor(list.length / 2);
        for (const one of list.slice(0, half)) assert.equal((await patch(managerTok, a.id, [one])).status, 200);
        if (list.length > half) {
            const p = await patch(managerTok, a.id, list.slice(half));
            assert.equal(p.status, 200, p.text);
        }
        const res = await submit(managerTok, a.id);
        assert.equal(res.status, 200, `seed ${seed} #${i}: ${res.text}`);
        const want = expectedScore(tpl, answers);
        const ctx = `seed ${seed} #${i}: ${JSON.stringify(tpl)} ${JSON.stringify(answers)}`;
        assert.equal(res.json.audit.scorePct, want.pct, ctx);
        assert.equal(res.json.audit.passed, want.passed, ctx);
        for (const x of res.json.audit.answers) assert.equal(x.passed, want.per[x.questionId], `${ctx} ${x.questionId}`);
    }
});

// ---- reading ----

test('lists and reads: merchandisers see their own, filters, 403s', async () => {
    const t = await createTemplate();
    const [m0, m1] = merch;
    const mine = [];
    for (const m of [m0, m1]) {
        await punchIn(m.token, store);
        mine.push(await startAudit(m.token, t.id));
        await punchOut(m.token);
    }
    let r = await dtm.api('GET', `/api/audits?templateId=${t.id}`, { token: m0.token });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.items.map((x) => x.id), [mine[0].id]);
    assert.equal(r.json.pagination.total, 1);
    assertError(await dtm.api('GET', `/api/audits?userId=${m1.user.id}`, { token: m0.token }), 403);
    assertError(await dtm.api('GET', `/api/audits/${mine[1].id}`, { token: m0.token }), 403);
    assertError(await dtm.api('GET', `/api/audits/${crypto.randomUUID()}`, { token: m0.token }), 404);
    assert.equal((await dtm.api('GET', `/api/audits/${mine[1].id}`, { token: managerTok })).status, 200);

    r = await dtm.api('GET', `/api/audits?templateId=${t.id}&limit=1`, { token: managerTok });
    assert.equal(r.json.pagination.total, 2);
    assert.equal(r.json.items.length, 1);
    r = await dtm.api('GET', `/api/audits?templateId=${t.id}&userId=${m1.user.id}&storeId=${store.id}`, { token: adminTok });
    assert.deepEqual(r.json.items.map((x) => x.id), [mine[1].id]);
    r = await dtm.api('GET', `/api/audits?templateId=${t.id}&from=${new Date(Date.now() + 60e3).toISOString()}`, { token: adminTok });
    assert.equal(r.json.pagination.total, 0);
    r = await dtm.api('GET', `/api/audits?templateId=${t.id}&status=draft&to=${new Date().toISOString().slice(0, 10)}`, { token: adminTok });
    assert.equal(r.json.pagination.total, 2, 'a plain date as `to` includes that day');
    r = await dtm.api('GET', `/api/audits?passed=false&limit=100`, { token: adminTok });
    assert.ok(r.json.items.length > 0 && r.json.items.every((x) => x.passed === false));
    assertFields(await dtm.api('GET', '/api/audits?storeId=x&passed=maybe&from=yesterday&status=x', { token: adminTok }), 'storeId', 'passed', 'from', 'status');
    assertFields(await dtm.api('GET', '/api/audits?limit=1000', { token: adminTok }), 'limit');
});

test('scores by store, user, template and week; staff only', async () => {
    const body = FIVE();
    body.questions[3].photoRequired = false;
    const t = await createTemplate(body);
    const s2 = await createStore();
    const all = [
        { questionId: 'facing', value: true },
        { questionId: 'price', value: true },
        { questionId: 'temp', value: 2 },
        { questionId: 'stand', value: 'full' },
    ];
    // Three audits: 100 % at store, 75 % at s2 (temp fails), 100 % at s2, all by the manager.
    for (const [s, answers] of [
        [store, all],
        [s2, all.map((x) => (x.questionId === 'temp' ? { ...x, value: 40 } : x))],
        [s2, all],
    ]) {
        const a = await startAudit(managerTok, t.id, s);
        await patch(managerTok, a.id, answers);
        assert.equal((await submit(managerTok, a.id)).status, 200);
    }
    const from = new Date(Date.now() - 60e3).toISOString();
    const q = (g, extra = '') => dtm.api('GET', `/api/audits/scores?groupBy=${g}&from=${from}${extra}`, { token: managerTok });
    let r = await q('template');
    assert.equal(r.status, 200, r.text);
    const mine = r.json.items.find((x) => x.key === t.id);
    assert.deepEqual(mine, { key: t.id, audits: 3, avgScorePct: 91.7, passRatePct: 66.7 });
    r = await q('store');
    const byStore = Object.fromEntries(r.json.items.map((x) => [x.key, x]));
    assert.equal(byStore[s2.id].audits, 2);
    assert.equal(byStore[s2.id].avgScorePct, 87.5);
    assert.equal(byStore[s2.id].passRatePct, 50);
    r = await q('user');
    assert.ok(r.json.items.some((x) => x.key === manager.id && x.audits >= 3));
    r = await q('week');
    const monday = new Date();
    monday.setUTCDate(monday.getUTCDate() - ((monday.getUTCDay() + 6) % 7));
    assert.ok(r.json.items.some((x) => x.key === monday.toISOString().slice(0, 10)), r.text);
    r = await dtm.api('GET', `/api/audits/scores?groupBy=template&from=${from}&to=${from}`, { token: adminTok });
    assert.deepEqual(r.json.items, []);

    assertError(await dtm.api('GET', '/api/audits/scores', { token: merch[0].token }), 403);
    assertFields(await dtm.api('GET', '/api/audits/scores?groupBy=colour', { token: managerTok }), 'groupBy');
    assertFields(await dtm.api('GET', '/api/audits/scores?from=x', { token: managerTok }), 'from');
    assertFields(await dtm.api('GET', '/api/audits/scores?from=2026-02-01&to=2026-01-01', { token: managerTok }), 'to');
});

test('metrics and the reporting view', async () => {
    const m = await auditsMetrics();
    for (const name of ['dtm_audits_submitted_total', 'dtm_audits_started_total', 'dtm_audit_photos_stored_total', 'dtm_audit_corrective_todos_total']) {
        assert.match(m.text, new RegExp(`^${name} [1-9]`, 'm'), name);
    }
    assert.match(m.text, /http_requests_total\{service="audits",method="POST",route="\/api\/audits\/:id\/submit",status="200"\}/);
    const rows = await dtm.sql("SELECT count(*) FILTER (WHERE status = 'submitted'), count(*) FILTER (WHERE score_pct IS NOT NULL) FROM reporting.audits");
    assert.ok(Number(rows[0][0]) > 0);
    assert.equal(rows[0][0], rows[0][1]);
    const h = await dtm.api('GET', '/health');
    assert.equal(h.status, 200);
});
