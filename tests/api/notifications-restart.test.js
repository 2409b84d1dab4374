// SPDX-License-Identifier: MIT
// Restarts lose no notification and duplicate none (issue 13), in the microservices topology:
// the notifications process is killed (SIGKILL: no drain) with 100 todo.assigned events waiting
// in the todos outbox, brought back, killed again in the middle of consuming them, and brought
// back once more. Every event ends as exactly one inbox row and one processed event; every mail
// reaches the real SMTP server, and a kill can resend at most the one mail that was in flight
// (the documented at-least-once window of the mail queue).
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startDtm, sleep, until } = require('./lib/harness.js');
const { startSmtp } = require('./lib/smtp.js');


test('notifications killed with 100 events in the outbox, and again mid-way: all 100 exactly once', async (t) => {
    const keep = setInterval(() => {}, 1000); // dtm children are unref'd: keep the loop alive
    const mail = await startSmtp();
    const dtm = await startDtm({
        topology: 'micro',
        env: {
            DTM_SMTP_URL: mail.url,
            DTM_OUTBOX_POLL_MS: '200',
            DTM_OUTBOX_RETRY_MAX_MS: '500',
            DTM_MAIL_POLL_MS: '100',
            DTM_MAIL_RETRY_BASE_MS: '200',
            DTM_MAIL_RETRY_MAX_MS: '500',
        },
    });
    try {
        const admin = (await dtm.loginAdmin()).accessToken;
        const merch = await dtm.createUser(admin, { role: 'merchandiser' });
        const ids = [];
        for (let i = 0; i < 100; i++) {
            // The admin's own todos: no event yet.
            const r = await dtm.api('POST', '/api/todos', { token: admin, body: { title: `Batch ${i}` } });
            assert.equal(r.status, 201, r.text);
            ids.push(r.json.todo.id);
        }
        const [np] = dtm.replicas('notifications');
        np.kill('SIGKILL');
        await np.exited;

        // 100 events in one transaction; deliveries fail while notifications is down.
        const r = await dtm.api('POST', '/api/todos/bulk-assign', { token: admin, body: { todoIds: ids, assigneeId: merch.id } });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.updated, 100);
        await until(async () => {
            const [[n, tried]] = await dtm.sql(
                "SELECT count(*), count(*) FILTER (WHERE attempts >= 1) FROM todos.outbox WHERE topic = 'todo.assigned' AND delivered_at IS NULL"
            );
            return Number(n) === 100 && Number(tried) >= 1;
        }, 'failed deliveries', 30000);

        np.start();
        await np.waitHealthy();
        const count = async () => Number((await dtm.sql(`SELECT count(*) FROM notifications.notifications WHERE user_id = '${merch.id}'`))[0][0]);
        await until(async () => (await count()) >= 10, 'some consumed');
        np.kill('SIGKILL'); // in the middle of the batch
        await np.exited;
        const midway = await count();
        t.diagnostic(`${midway} of 100 consumed at the second kill`);
        np.start();
        await np.waitHealthy();

        await until(async () => (await count()) === 100, `all 100 (had ${midway} at the second kill)`, 30000);
        await sleep(1500); // more relay rounds: nothing more may appear
        assert.equal(await count(), 100);
        const [[distinct]] = await dtm.sql(`SELECT count(DISTINCT link) FROM notifications.notifications WHERE user_id = '${merch.id}'`);
        assert.equal(Number(distinct), 100, 'one per todo');
        const [[processed]] = await dtm.sql("SELECT count(*) FROM notifications.processed_events WHERE topic = 'todo.assigned'");
        assert.equal(Number(processed), 100);
        const [[pending]] = await dtm.sql("SELECT count(*) FROM todos.outbox WHERE delivered_at IS NULL");
        assert.equal(Number(pending), 0);

        await until(() => new Set(mail.messages.map((m) => m.subject)).size === 100, 'every mail', 30000);
        await sleep(1000);
        const mine = mail.messages.filter((m) => m.to === merch.email);
        assert.ok(mine.length >= 100 && mine.length <= 102, `100 mails, at most one resent per kill: ${mine.length}`);
        const [[sent]] = await dtm.sql("SELECT count(*) FROM notifications.mail_queue WHERE status = 'sent'");
        assert.equal(Number(sent), 100);
    } finally {
        await dtm.stop();
        await mail.close();
        clearInterval(keep);
    }
});
