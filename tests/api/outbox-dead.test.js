// SPDX-License-Identifier: MIT
// The outbox's dead letters (src/db/outbox.h): an event its consumer refuses (400/422) is not
// retried forever; it is kept with dead_at set, counted in /metrics, listed by `dtm outbox
// status` (exit 1), and delivered after `dtm outbox requeue` once it can be taken.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startDtm, until } = require('./lib/harness.js');

let dtm;
before(async () => {
    dtm = await startDtm({ env: { DTM_OUTBOX_POLL_MS: '100', DTM_OUTBOX_RETRY_MAX_MS: '50' } });
});
after(async () => {
    if (dtm) await dtm.stop();
});

// The relay runs where todos runs: the one process in `all`, the todos process in `micro`.
const deadCount = async () => {
    const replica = dtm.topology === 'micro' ? dtm.replicas('todos')[0] : null;
    const m = await dtm.api('GET', '/metrics', replica ? { base: replica.url } : {});
    const x = /^dtm_outbox_dead_letters_total\{schema="todos"\} (\S+)$/m.exec(m.text);
    return x ? Number(x[1]) : 0;
};

test('a refused event is dead-lettered, reported, and delivered after a requeue', async () => {
    const { user, accessToken } = await dtm.loginAdmin();
    const before = await deadCount();
    // An event the notifications consumer cannot take: no assignee.
    await dtm.sql(`INSERT INTO todos.outbox (event_id, consumer, topic, payload)
                   VALUES (gen_random_uuid(), 'notifications', 'todo.assigned', '{"title":"no assignee"}')`);
    await until(async () => (await dtm.sql(`SELECT count(*) FROM todos.outbox WHERE dead_at IS NOT NULL`))[0][0] === '1', 'dead-lettered');
    const [[attempts, next, delivered]] = await dtm.sql(`SELECT attempts, next_attempt_at = 'infinity', delivered_at IS NULL FROM todos.outbox WHERE dead_at IS NOT NULL`);
    assert.equal(attempts, '1', 'refused for good after one try, not retried');
    assert.equal(next, 't');
    assert.equal(delivered, 't');
    assert.equal(await deadCount(), before + 1);

    let status = await dtm.dtm(['outbox', 'status']).then(
        () => ({ code: 0 }),
        (e) => ({ code: 1, text: e.message })
    );
    assert.equal(status.code, 1, 'status exits 1 while a dead letter waits');
    assert.match(status.text, /todos\s+\d+\s+\d+\s+1\b/);

    // Fixed (here: the payload; in life: the consumer), then requeued: delivered once.
    await dtm.sql(`UPDATE todos.outbox SET payload = jsonb_build_object('todoId', gen_random_uuid(), 'title', 'requeued',
                   'assigneeId', '${user.id}', 'assignedBy', '${user.id}') WHERE dead_at IS NOT NULL`);
    const rq = await dtm.dtm(['outbox', 'requeue', 'todos']);
    assert.match(rq.stdout, /^1 dead letter of todos requeued/m);
    await until(async () => (await dtm.sql(`SELECT count(*) FROM todos.outbox WHERE delivered_at IS NOT NULL AND payload->>'title' = 'requeued'`))[0][0] === '1', 'delivered after the requeue');
    const inbox = await dtm.api('GET', '/api/notifications', { token: accessToken });
    assert.equal(inbox.status, 200, inbox.text);
    assert.ok(JSON.stringify(inbox.json).includes('requeued'), 'the notification arrived');
    status = await dtm.dtm(['outbox', 'status']);
    assert.match(status.stdout, /todos\s+\d+\s+\d+\s+0\b/);

    const bad = await dtm.dtm(['outbox', 'requeue', 'users']).then(() => 0, (e) => e.message);
    assert.match(String(bad), /not a service with an outbox/);
});
