// SPDX-License-Identifier: MIT
// Black-box tests of /api/notifications (shared/API.md "Wave 2"): every call and error with all
// three roles, in either topology (DTM_TEST_TOPOLOGY=micro). Events come the real way: a todo
// assignment commits todo.assigned into the todos outbox and the relay delivers it; topics
// whose publishers are other issues' work (approvals, password mails) are written into an
// outbox table as their publisher would, and the same relay delivers them. Mail goes to a real
// SMTP server (npm smtp-server, tests/api/lib/smtp.js) that the tests read back, including
// while it is down for a while (each mail arrives once it is back, exactly once). The SSE
// stream is read live and resumed with Last-Event-ID.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { assertError, assertFieldNamed } = require('./fieldops-fixtures.js');
const { startDtm, sleep, until, randomId } = require('./lib/harness.js');
const { startSmtp, decodeWords } = require('./lib/smtp.js');

let dtm, mail;
const tok = {};
const users = {};
const as = (role) => (method, p, body, extra = {}) => dtm.api(method, p, { token: tok[role], body, ...extra });


before(async () => {
    mail = await startSmtp();
    dtm = await startDtm({
        env: {
            DTM_SMTP_URL: mail.url,
            DTM_MAIL_FROM: 'dtm test <no-reply@dtm.test>',
            DTM_PUBLIC_URL: 'https://dtm.test',
            DTM_MAIL_POLL_MS: '100',
            DTM_MAIL_RETRY_BASE_MS: '200',
            DTM_MAIL_RETRY_MAX_MS: '800',
            DTM_OUTBOX_POLL_MS: '100',
            DTM_OUTBOX_RETRY_MAX_MS: '500',
            DTM_LOGIN_LIMIT_PER_IP: '100000',
            DTM_LOGIN_LIMIT_PER_EMAIL: '100000',
        },
    });
    const a = await dtm.loginAdmin();
    tok.admin = a.accessToken;
    users.admin = a.user;
    for (const [role, apiRole, first] of [
        ['manager', 'manager', 'Maria'],
        ['manager2', 'manager', 'Mona'],
        ['merch', 'merchandiser', 'Émile'],
        ['merch2', 'merchandiser', 'Nora'],
    ]) {
        const u = await dtm.createUser(tok.admin, { role: apiRole, firstName: first, lastName: 'Tester' });
        tok[role] = (await dtm.login(u.email, u.password)).accessToken;
        users[role] = u;
    }
});

after(async () => {
    await dtm?.stop();
    await mail?.close();
});

async function inbox(role, query = '') {
    const r = await as(role)('GET', `/api/notifications${query}`);
    assert.equal(r.status, 200, r.text);
    return r.json;
}

async function unread(role) {
    const r = await as(role)('GET', '/api/notifications/unread-count');
    assert.equal(r.status, 200, r.text);
    return r.json.count;
}

async function assignTodo(by, to, title = `Restock ${randomId(4)}`, extra = {}) {
    const r = await as(by)('POST', '/api/todos', { title, assigneeId: users[to].id, ...extra });
    assert.equal(r.status, 201, r.text);
    return r.json.todo;
}

// The notification of `type` whose link names `ref`, once it is there.
async function waitNotification(role, pred, what) {
    return until(async () => (await inbox(role, '?limit=100')).items.find(pred), what);
}

// Writes an event into an outbox as its publisher would (one row for the notifications
// consumer); the todos relay delivers it.
async function publish(topic, payload) {
    const [[id]] = await dtm.sql(
        `INSERT INTO todos.outbox (event_id, consumer, topic, payload) VALUES (gen_random_uuid(), 'notifications', '${topic}', '${JSON.stringify(payload).replace(/'/g, "''")}'::jsonb) RETURNING event_id`
    );
    // Wake the relay now rather than at its next poll.
    await dtm.redis('PUBLISH', 'dtm:outbox:todos', 'x').catch(() => {});
    return id;
}

function metricsUrl() {
    const p = dtm.topology === 'micro' ? dtm.replicas('notifications')[0] : dtm.main;
    return p.url + '/metrics';
}
async function metric(name) {
    const text = await (await fetch(metricsUrl())).text();
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : null;
}

test('every call needs a token; the event route is for services only', async () => {
    for (const [m, p] of [
        ['GET', '/api/notifications'],
        ['GET', '/api/notifications/unread-count'],
        ['POST', '/api/notifications/read-all'],
        ['POST', '/api/notifications/00000000-0000-4000-8000-000000000000/read'],
        ['GET', '/api/notifications/stream'],
        ['GET', '/api/notifications/preferences'],
        ['PUT', '/api/notifications/preferences'],
    ]) {
        assertError(await dtm.api(m, p, { body: m === 'GET' ? undefined : {} }), 401);
    }
    for (const role of ['admin', 'manager', 'merch']) {
        const r = await as(role)('POST', '/api/notifications/events', {
            eventId: '00000000-0000-4000-8000-000000000001',
            topic: 'todo.assigned',
            payload: { todoId: users.merch.id, title: 'forged', assigneeId: users[role].id },
        });
        assertError(r, 403);
    }
});

test('todo assigned: the assignee gets an inbox entry and a multipart mail; one\'s own todo tells nobody', async () => {
    const before = await unread('merch');
    const title = `Check the shelf ${randomId(4)} “promo”`;
    const todo = await assignTodo('manager', 'merch', title, { dueAt: '2031-05-01T09:00:00.000Z' });
    const n = await waitNotification('merch', (x) => x.link === `/tasks/${todo.id}`, 'todo_assigned notification');
    assert.equal(n.type, 'todo_assigned');
    assert.equal(n.userId, users.merch.id);
    assert.equal(n.title, `New task: ${title}`);
    assert.match(n.body, /Maria Tester assigned you/);
    assert.match(n.body, /2031-05-01/);
    assert.equal(n.readAt, null);
    assert.match(n.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(Object.keys(n).sort(), ['body', 'createdAt', 'id', 'link', 'readAt', 'title', 'type', 'userId']);
    assert.equal(await unread('merch'), before + 1);

    const m = await mail.waitFor((x) => x.to === users.merch.email && x.subject === `New task: ${title}`);
    assert.equal(m.envelope.from, 'no-reply@dtm.test');
    assert.match(m.headers['content-type'], /^multipart\/alternative; boundary=/);
    assert.equal(decodeWords(m.headers.to), `Émile Tester <${users.merch.email}>`, 'RFC 2047 display name');
    assert.match(m.headers['message-id'], /^<.+@dtm\.test>$/);
    assert.ok(m.headers.date);
    assert.match(m.text, /Maria Tester assigned you/);
    assert.ok(m.text.includes(`https://dtm.test/tasks/${todo.id}`), m.text);
    assert.ok(m.html.includes(`<a href="https://dtm.test/tasks/${todo.id}">`), m.html);
    assert.ok(m.html.includes('“promo”'), 'UTF-8 survives');
    // The mailbox on disk holds what the server received.
    assert.ok(mail.mailbox().some((x) => x.subject === `New task: ${title}`));

    // A todo the merchandiser makes for themselves, or a manager for themselves: nothing.
    const mine = await as('merch')('POST', '/api/todos', { title: 'my own' });
    assert.equal(mine.status, 201);
    const own = await as('manager')('POST', '/api/todos', { title: 'manager own', assigneeId: users.manager.id });
    assert.equal(own.status, 201);
    await sleep(600);
    assert.ok(!(await inbox('merch', '?limit=100')).items.some((x) => x.link === `/tasks/${mine.json.todo.id}`));
    assert.ok(!(await inbox('manager', '?limit=100')).items.some((x) => x.link === `/tasks/${own.json.todo.id}`));
});

test('reassigning (PATCH) and bulk assign notify the new assignee once', async () => {
    const todo = await assignTodo('manager', 'merch');
    let r = await as('manager')('PATCH', `/api/todos/${todo.id}`, { assigneeId: users.merch2.id });
    assert.equal(r.status, 200, r.text);
    await waitNotification('merch2', (x) => x.link === `/tasks/${todo.id}`, 'reassigned');
    // A PATCH that does not move it tells nobody again.
    r = await as('manager')('PATCH', `/api/todos/${todo.id}`, { title: 'renamed', assigneeId: users.merch2.id });
    assert.equal(r.status, 200, r.text);

    const t2 = await assignTodo('admin', 'merch2');
    const t3 = await assignTodo('admin', 'merch');
    r = await as('manager')('POST', '/api/todos/bulk-assign', { todoIds: [t2.id, t3.id], assigneeId: users.merch.id });
    assert.equal(r.status, 200, r.text);
    await waitNotification('merch', (x) => x.link === `/tasks/${t2.id}`, 'bulk assigned');
    await sleep(600);
    const items = (await inbox('merch2', '?limit=100')).items.filter((x) => x.link === `/tasks/${todo.id}`);
    assert.equal(items.length, 1, 'one notification for one assignment');
    // t3 was already the merchandiser's: one notification (its creation), not two.
    assert.equal((await inbox('merch', '?limit=100')).items.filter((x) => x.link === `/tasks/${t3.id}`).length, 1);
});

test('list, unread filter, pagination, read, read-all and their errors', async () => {
    for (let i = 0; i < 3; i++) await assignTodo('admin', 'merch2', `page ${i}`);
    await until(async () => (await inbox('merch2')).items.filter((x) => /^New task: page/.test(x.title)).length === 3, 'three');
    let j = await inbox('merch2', '?page=1&limit=2');
    assert.equal(j.items.length, 2);
    assert.equal(j.pagination.page, 1);
    assert.equal(j.pagination.limit, 2);
    const total = j.pagination.total;
    assert.ok(total >= 3);
    assert.equal(j.pagination.pages, Math.ceil(total / 2));
    assert.equal(j.unreadCount, await unread('merch2'));
    assert.ok(j.items[0].createdAt >= j.items[1].createdAt, 'newest first');
    const page2 = await inbox('merch2', '?page=2&limit=2');
    assert.notEqual(page2.items[0].id, j.items[0].id);

    const first = j.items[0];
    const count = await unread('merch2');
    let r = await as('merch2')('POST', `/api/notifications/${first.id}/read`);
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, '');
    assert.equal(await unread('merch2'), count - 1);
    r = await as('merch2')('POST', `/api/notifications/${first.id}/read`);
    assert.equal(r.status, 204, 'reading twice is fine');
    assert.equal(await unread('merch2'), count - 1);
    j = await inbox('merch2', '?unread=true&limit=100');
    assert.ok(!j.items.some((x) => x.id === first.id));
    assert.ok(j.items.every((x) => x.readAt === null));
    j = await inbox('merch2', '?unread=false&limit=100');
    assert.ok(j.items.find((x) => x.id === first.id).readAt);

    // Someone else's id, a made-up one and a malformed one all look unknown.
    for (const role of ['admin', 'manager', 'merch']) {
        assertError(await as(role)('POST', `/api/notifications/${first.id}/read`), 404, 'not_found');
    }
    assertError(await as('merch2')('POST', '/api/notifications/00000000-0000-4000-8000-000000000000/read'), 404);
    assertError(await as('merch2')('POST', '/api/notifications/nope/read'), 404);
    assertFieldNamed(await as('merch2')('GET', '/api/notifications?unread=maybe'), 'unread');
    assertError(await as('merch2')('GET', '/api/notifications?limit=101'), 400);
    assertError(await as('merch2')('GET', '/api/notifications?page=0'), 400);

    // Others' inboxes are untouched by read-all.
    const merchCount = await unread('merch');
    r = await as('merch2')('POST', '/api/notifications/read-all');
    assert.equal(r.status, 204, r.text);
    assert.equal(await unread('merch2'), 0);
    assert.equal((await inbox('merch2', '?unread=true')).items.length, 0);
    assert.equal(await unread('merch'), merchCount);
    // Every role has an inbox of its own.
    for (const role of ['admin', 'manager', 'manager2', 'merch']) {
        const x = await inbox(role);
        assert.ok(x.items.every((n) => n.userId === users[role].id));
    }
});

test('preferences: defaults, per-type e-mail switch honoured, and every error', async () => {
    let r = await as('merch2')('GET', '/api/notifications/preferences');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.email.todo_assigned, true);
    assert.equal(r.json.push.approval_requested, true);
    for (const t of ['todo_assigned', 'approval_requested', 'approval_decided', 'audit_failed', 'visit_missed', 'password_changed']) {
        assert.equal(typeof r.json.email[t], 'boolean', t);
    }
    r = await as('merch2')('PUT', '/api/notifications/preferences', { email: { todo_assigned: false }, push: { visit_missed: false } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.email.todo_assigned, false);
    assert.equal(r.json.push.visit_missed, false);
    assert.equal(r.json.email.approval_decided, true);
    r = await as('merch2')('GET', '/api/notifications/preferences');
    assert.equal(r.json.email.todo_assigned, false, 'stored');
    // Another user's preferences are their own.
    assert.equal((await as('merch')('GET', '/api/notifications/preferences')).json.email.todo_assigned, true);

    const quiet = await assignTodo('manager', 'merch2', `quiet ${randomId(4)}`);
    const loud = await assignTodo('manager', 'merch', `loud ${randomId(4)}`);
    await waitNotification('merch2', (x) => x.link === `/tasks/${quiet.id}`, 'in-app still arrives');
    await mail.waitFor((x) => x.subject === `New task: ${loud.title}`);
    await sleep(500);
    assert.ok(!mail.messages.some((x) => x.subject === `New task: ${quiet.title}`), 'no mail when switched off');

    assertFieldNamed(await as('merch2')('PUT', '/api/notifications/preferences', { email: { nonsense: true } }), 'email.nonsense');
    assertFieldNamed(await as('merch2')('PUT', '/api/notifications/preferences', { email: { todo_assigned: 'no' } }), 'email.todo_assigned');
    assertFieldNamed(await as('merch2')('PUT', '/api/notifications/preferences', { sms: {} }), 'sms');
    assertFieldNamed(await as('merch2')('PUT', '/api/notifications/preferences', { email: [] }), 'email');
    assertFieldNamed(await as('merch2')('PUT', '/api/notifications/preferences', { email: { password_changed: false } }), 'email.password_changed');
    assertError(await as('merch2')('PUT', '/api/notifications/preferences', [1]), 400);
    r = await dtm.api('PUT', '/api/notifications/preferences', { token: tok.merch2, body: 'x', headers: { 'content-type': 'text/plain' } });
    assertError(r, 415);
    r = await as('merch2')('PUT', '/api/notifications/preferences', { email: { todo_assigned: true } });
    assert.equal(r.json.email.todo_assigned, true);
});

test('approval requested (each decider but the requester) and decided (the requester), once per event', async () => {
    const requestId = '11111111-1111-4111-8111-' + String(Date.now()).slice(-12);
    const payload = {
        requestId,
        type: 'leave',
        requesterId: users.merch.id,
        requesterName: 'Émile Tester',
        deciderUserIds: [users.manager.id, users.manager2.id, users.merch.id],
        step: 1,
    };
    const eventId = await publish('approval.requested', payload);
    for (const role of ['manager', 'manager2']) {
        const n = await waitNotification(role, (x) => x.link === `/approvals/${requestId}`, `${role} told`);
        assert.equal(n.type, 'approval_requested');
        assert.match(n.body, /Émile Tester is waiting for your decision on a leave request \(step 1\)/);
    }
    // The same event delivered again (the relay is at least once) changes nothing.
    await dtm.sql(`UPDATE todos.outbox SET delivered_at = NULL, next_attempt_at = now() WHERE event_id = '${eventId}' AND consumer = 'notifications'`);
    await dtm.redis('PUBLISH', 'dtm:outbox:todos', 'x').catch(() => {});
    await until(async () => {
        const [[done]] = await dtm.sql(`SELECT delivered_at IS NOT NULL FROM todos.outbox WHERE event_id = '${eventId}' AND consumer = 'notifications'`);
        return done === 't' || done === true;
    }, 'redelivered');
    assert.equal((await inbox('manager', '?limit=100')).items.filter((x) => x.link === `/approvals/${requestId}`).length, 1, 'deduplicated by event id');
    assert.ok(!(await inbox('merch', '?limit=100')).items.some((x) => x.type === 'approval_requested' && x.link === `/approvals/${requestId}`));
    const [[rows]] = await dtm.sql(`SELECT count(*)::int FROM notifications.notifications WHERE event_id = '${eventId}'`);
    assert.equal(Number(rows), 2);

    await publish('approval.decided', { requestId, type: 'leave', requesterId: users.merch.id, decision: 'rejected', decidedBy: users.manager.id, comment: 'Busy week' });
    const n = await waitNotification('merch', (x) => x.type === 'approval_decided' && x.link === `/approvals/${requestId}`, 'requester told');
    assert.equal(n.title, 'Your leave request was rejected');
    assert.equal(n.body, 'Comment: Busy week');
    await mail.waitFor((x) => x.to === users.merch.email && x.subject === 'Your leave request was rejected');
});

test('audit failed and visit missed go to every manager; security mails ignore preferences and the inbox', async () => {
    const auditId = '22222222-2222-4222-8222-' + String(Date.now()).slice(-12);
    await publish('audit.failed', { auditId, storeId: users.admin.id, userId: users.merch.id, templateId: users.admin.id, scorePct: 62.5, passThresholdPct: 80 });
    for (const role of ['manager', 'manager2']) {
        const n = await waitNotification(role, (x) => x.link === `/audits/${auditId}`, 'audit_failed');
        assert.equal(n.type, 'audit_failed');
        assert.equal(n.title, 'Audit failed (62.5%)');
    }
    assert.ok(!(await inbox('admin', '?limit=100')).items.some((x) => x.link === `/audits/${auditId}`), 'admins are not managers');

    const visitId = '33333333-3333-4333-8333-' + String(Date.now()).slice(-12);
    await publish('visits.visit_missed', { visitId, userId: users.merch.id, storeId: users.admin.id, plannedDate: '2026-01-05', planId: null });
    const n = await waitNotification('manager2', (x) => x.type === 'visit_missed' && x.title === 'Visit missed on 2026-01-05', 'visit_missed');
    assert.match(n.body, /Émile Tester did not visit/);

    // Security mail: sent even with every e-mail preference off, never in the inbox.
    let r = await as('merch2')('PUT', '/api/notifications/preferences', { email: { todo_assigned: false, approval_decided: false } });
    assert.equal(r.status, 200);
    const before = await unread('merch2');
    await publish('auth.password_changed', { userId: users.merch2.id, email: users.merch2.email, name: 'Nora Tester', at: '2026-12-04T10:00:00.000Z' });
    const m = await mail.waitFor((x) => x.to === users.merch2.email && x.subject === 'Your dtm password was changed');
    assert.match(m.text, /Hello Nora Tester/);
    assert.match(m.text, /https:\/\/dtm\.test\/forgot-password/);
    await publish('auth.password_reset_requested', {
        userId: users.merch2.id,
        email: users.merch2.email,
        name: 'Nora Tester',
        resetUrl: 'https://dtm.test/reset-password?token=abc<&>',
        expiresAt: '2026-12-04T11:00:00.000Z',
    });
    const reset = await mail.waitFor((x) => x.to === users.merch2.email && x.subject === 'Reset your dtm password');
    assert.ok(reset.text.includes('https://dtm.test/reset-password?token=abc<&>'));
    assert.ok(reset.html.includes('token=abc&lt;&amp;&gt;'), 'HTML escaped');
    assert.equal(await unread('merch2'), before);
    r = await as('merch2')('PUT', '/api/notifications/preferences', { email: { todo_assigned: true, approval_decided: true } });
    assert.equal(r.status, 200);
});

test('a real failed audit tells every manager (audits publish audit.failed in the submit transaction)', async () => {
    const { storeBody } = require('./fieldops-fixtures.js');
    let r = await as('admin')('POST', '/api/stores', storeBody());
    assert.equal(r.status, 201, r.text);
    const store = r.json.store;
    r = await as('admin')('POST', '/api/audits/templates', { name: `Clean ${randomId(3)}`, questions: [{ id: 'clean', text: 'Clean?', type: 'yes_no', required: true, weight: 10 }] });
    assert.equal(r.status, 201, r.text);
    const template = r.json.template;
    const passing = await as('manager')('POST', '/api/audits', { templateId: template.id, storeId: store.id });
    assert.equal(passing.status, 201, passing.text);
    const failing = await as('manager')('POST', '/api/audits', { templateId: template.id, storeId: store.id });
    for (const [a, value] of [
        [passing.json.audit, true],
        [failing.json.audit, false],
    ]) {
        r = await as('manager')('PATCH', `/api/audits/${a.id}`, { answers: [{ questionId: 'clean', value }] });
        assert.equal(r.status, 200, r.text);
        r = await as('manager')('POST', `/api/audits/${a.id}/submit`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.audit.passed, value);
    }
    for (const role of ['manager', 'manager2']) {
        const n = await waitNotification(role, (x) => x.link === `/audits/${failing.json.audit.id}`, 'audit_failed');
        assert.equal(n.title, 'Audit failed (0.0%)');
    }
    await sleep(500);
    assert.ok(!(await inbox('manager2', '?limit=100')).items.some((x) => x.link === `/audits/${passing.json.audit.id}`), 'a passed audit tells nobody');
    const [[events]] = await dtm.sql(`SELECT count(*) FROM audits.outbox WHERE topic = 'audit.failed' AND payload->>'auditId' = '${failing.json.audit.id}'`);
    assert.equal(Number(events), 1);
});

test('/metrics counts sent mail and shows the queue', async () => {
    await until(async () => (await metric('dtm_mail_queue_depth')) === 0, 'queue drained');
    assert.ok((await metric('dtm_mail_sent_total')) >= 3);
    assert.notEqual(await metric('dtm_mail_failed_total'), null);
    assert.notEqual(await metric('dtm_mail_dead_total'), null);
    assert.equal(await metric('dtm_mail_queue_oldest_age_seconds'), 0);
});

// GET /api/notifications/stream; {events: [{id, event, data}], status, close()}.
async function openStream(role, headers = {}) {
    const ac = new AbortController();
    const res = await fetch(`${dtm.url}/api/notifications/stream`, {
        headers: { authorization: `Bearer ${tok[role]}`, accept: 'text/event-stream', ...headers },
        signal: ac.signal,
    });
    const events = [];
    let connected = false;
    const reader =
        res.status !== 200
            ? Promise.resolve()
            : (async () => {
                  const dec = new TextDecoder();
                  let buf = '';
                  try {
                      for await (const chunk of res.body) {
                          buf += dec.decode(chunk, { stream: true });
                          let i;
                          while ((i = buf.indexOf('\n\n')) >= 0) {
                              const block = buf.slice(0, i);
                              buf = buf.slice(i + 2);
                              if (block.startsWith(': connected')) connected = true;
                              const id = /^id: ?(.*)$/m.exec(block);
                              const ev = /^event: ?(.*)$/m.exec(block);
                              const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.replace(/^data: ?/, '')).join('\n');
                              if (ev && data) events.push({ id: id ? Number(id[1]) : null, event: ev[1], data: JSON.parse(data) });
                          }
                      }
                  } catch {}
              })();
    if (res.status === 200) await until(() => connected, 'stream connected');
    return {
        res,
        status: res.status,
        events,
        close: async () => {
            ac.abort();
            await reader;
        },
    };
}

test('SSE: live notifications, then a resume with Last-Event-ID gets what was missed, once', async () => {
    const s = await openStream('merch');
    assert.equal(s.status, 200);
    assert.match(s.res.headers.get('content-type'), /^text\/event-stream/);
    assert.equal(s.res.headers.get('cache-control'), 'no-cache');
    const t1 = await assignTodo('manager', 'merch', `live ${randomId(4)}`);
    const other = await assignTodo('manager', 'merch2', `not yours ${randomId(4)}`);
    const e1 = await until(() => s.events.find((e) => e.data.link === `/tasks/${t1.id}`), 'live event');
    assert.equal(e1.event, 'notification');
    assert.ok(Number.isInteger(e1.id) && e1.id > 0, 'events carry an id');
    assert.equal(e1.data.type, 'todo_assigned');
    assert.equal(e1.data.userId, users.merch.id);
    await waitNotification('merch2', (x) => x.link === `/tasks/${other.id}`, 'the other one');
    assert.ok(!s.events.some((e) => e.data.userId !== users.merch.id), 'only one\'s own');
    await s.close();

    // Missed while away: two assignments.
    const missed = [];
    for (let i = 0; i < 2; i++) missed.push(await assignTodo('admin', 'merch', `missed ${i} ${randomId(3)}`));
    for (const t of missed) await waitNotification('merch', (x) => x.link === `/tasks/${t.id}`, 'stored');
    const r = await openStream('merch', { 'last-event-id': String(e1.id) });
    assert.equal(r.status, 200);
    await until(() => r.events.length >= 2, 'backlog');
    assert.deepEqual(r.events.slice(0, 2).map((e) => e.data.link), missed.map((t) => `/tasks/${t.id}`), 'oldest first');
    assert.ok(r.events[0].id > e1.id && r.events[1].id > r.events[0].id);
    const t4 = await assignTodo('manager', 'merch', `after resume ${randomId(4)}`);
    await until(() => r.events.some((e) => e.data.link === `/tasks/${t4.id}`), 'live after the backlog');
    const ids = r.events.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, 'no event twice');
    assert.ok(!ids.includes(e1.id), 'nothing at or before Last-Event-ID');
    await r.close();

    // ?lastEventId for a first connection; a malformed one is refused.
    const q = await fetch(`${dtm.url}/api/notifications/stream?lastEventId=abc`, { headers: { authorization: `Bearer ${tok.merch}` } });
    assert.equal(q.status, 400);
    await q.text();
    const bad = await openStream('merch', { 'last-event-id': '-5' });
    assert.equal(bad.status, 400);
});

test('SSE resume while notifications keep coming: every one exactly once', async () => {
    const s = await openStream('merch2');
    const t0 = await assignTodo('manager', 'merch2', `mark ${randomId(4)}`);
    const mark = await until(() => s.events.find((e) => e.data.link === `/tasks/${t0.id}`), 'mark');
    await s.close();
    // Twenty assignments race with the reconnection and its backlog query.
    const made = Promise.all(Array.from({ length: 20 }, (_, i) => assignTodo(i % 2 ? 'admin' : 'manager', 'merch2', `race ${i} ${randomId(3)}`)));
    await sleep(20);
    const r = await openStream('merch2', { 'last-event-id': String(mark.id) });
    const todos = await made;
    const want = new Set(todos.map((t) => `/tasks/${t.id}`));
    await until(() => [...want].every((l) => r.events.some((e) => e.data.link === l)), 'all twenty', 20000);
    await sleep(500);
    const links = r.events.map((e) => e.data.link);
    assert.equal(new Set(links).size, links.length, `no duplicates: ${links.length} events`);
    const [[stored]] = await dtm.sql(`SELECT count(*) FROM notifications.notifications WHERE user_id = '${users.merch2.id}' AND seq > ${mark.id}`);
    assert.equal(r.events.length, Number(stored), 'exactly what was stored after the mark');
    await r.close();
});

test('SMTP server down for a while: the mail is retried with backoff and arrives once it is back, exactly once', async () => {
    const failedBefore = await metric('dtm_mail_failed_total');
    await mail.stop();
    const t = await assignTodo('manager', 'merch', `while down ${randomId(4)}`);
    const subject = `New task: ${t.title}`;
    const row = async () => (await dtm.sql(`SELECT attempts, status FROM notifications.mail_queue WHERE subject = '${subject.replace(/'/g, "''")}'`))[0];
    await until(async () => Number((await row())?.[0]) >= 3, 'three failed attempts');
    assert.equal((await row())[1], 'pending');
    assert.ok((await metric('dtm_mail_failed_total')) >= failedBefore + 3);
    assert.ok((await metric('dtm_mail_queue_depth')) >= 1);
    assert.ok((await metric('dtm_mail_queue_oldest_age_seconds')) > 0);
    assert.ok(!mail.messages.some((m) => m.subject === subject));
    await mail.start();
    await mail.waitFor((m) => m.subject === subject);
    await sleep(2000); // several poll rounds and a full retry interval
    assert.equal(mail.messages.filter((m) => m.subject === subject).length, 1, 'exactly once');
    assert.equal(mail.mailbox().filter((m) => m.subject === subject).length, 1);
    assert.equal((await row())[1], 'sent');
});

test('after 8 failed attempts a mail is dead: counted, and never sent later', async () => {
    const deadBefore = await metric('dtm_mail_dead_total');
    await mail.stop();
    const t = await assignTodo('manager', 'merch', `never ${randomId(4)}`);
    const subject = `New task: ${t.title}`;
    const row = async () => (await dtm.sql(`SELECT attempts, status, last_error FROM notifications.mail_queue WHERE subject = '${subject.replace(/'/g, "''")}'`))[0];
    await until(async () => (await row())?.[1] === 'dead', 'dead', 20000);
    const [attempts, , lastError] = await row();
    assert.equal(Number(attempts), 8);
    assert.ok(lastError && lastError.length > 0);
    assert.equal(await metric('dtm_mail_dead_total'), deadBefore + 1);
    await mail.start();
    const probe = await assignTodo('manager', 'merch', `probe ${randomId(4)}`);
    await mail.waitFor((m) => m.subject === `New task: ${probe.title}`);
    assert.ok(!mail.messages.some((m) => m.subject === subject), 'a dead mail stays dead');
});

test('event streams are bounded per process (DTM_SSE_MAX_CLIENTS): 503 with Retry-After past it', async () => {
    const small = await startDtm({ env: { DTM_SSE_MAX_CLIENTS: '2', DTM_LOGIN_LIMIT_PER_IP: '100000' } });
    try {
        const a = await small.loginAdmin();
        const open = async () => {
            const ac = new AbortController();
            const res = await fetch(`${small.url}/api/notifications/stream`, { headers: { authorization: `Bearer ${a.accessToken}` }, signal: ac.signal });
            return { res, ac };
        };
        const s1 = await open();
        const s2 = await open();
        assert.equal(s1.res.status, 200);
        assert.equal(s2.res.status, 200);
        const s3 = await open();
        assert.equal(s3.res.status, 503);
        assert.equal(s3.res.headers.get('retry-after'), '5');
        assert.equal((await s3.res.json()).error.code, 'too_many_streams');
        s1.ac.abort();
        await until(async () => {
            const s = await open();
            if (s.res.status === 200) {
                s.ac.abort();
                return true;
            }
            await s.res.text();
            return false;
        }, 'a slot again');
        s2.ac.abort();
    } finally {
        await small.stop();
    }
});
