// SPDX-License-Identifier: MIT
// Black-box tests of /api/todos (shared/API.md): every call and error with all three roles,
// concurrency of complete, all-or-nothing bulk assign, filters, sort, pagination, stats, metrics.
'use strict';

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { assertError, assertFieldNamed, startFieldOps, storeBody, randomId } = require('./fieldops-fixtures.js');

const NIL = '00000000-0000-4000-8000-000000000000';
let fo;
let as;
let ids;
let store;

before(async () => {
    fo = await startFieldOps();
    as = fo.as;
    ids = fo.ids;
    store = (await as('admin')('POST', '/api/stores', storeBody())).json.store;
});
after(async () => {
    if (fo) await fo.dtm.stop();
});

async function create(role, body) {
    const r = await as(role)('POST', '/api/todos', { title: `Todo ${randomId(3)}`, ...body });
    assert.equal(r.status, 201, r.text);
    return r.json.todo;
}

const TODO_KEYS = ['id', 'title', 'description', 'status', 'priority', 'dueAt', 'assigneeId', 'createdBy', 'storeId', 'checklist', 'completedAt', 'createdAt', 'updatedAt'];

describe('POST /api/todos', () => {
    test('manager creates for a merchandiser with store, due date and checklist', async () => {
        const r = await as('manager')('POST', '/api/todos', {
            title: 'Restock aisle 5',
            description: 'Top shelves first',
            priority: 'high',
            dueAt: '2030-01-02T10:00:00Z',
            assigneeId: ids.merch,
            storeId: store.id,
            checklist: ['Count', 'Fill', 'Photo'],
        });
        assert.equal(r.status, 201, r.text);
        const t = r.json.todo;
        for (const k of TODO_KEYS) assert.ok(k in t, `todo.${k}`);
        assert.equal(t.status, 'pending');
        assert.equal(t.priority, 'high');
        assert.equal(t.dueAt, '2030-01-02T10:00:00.000Z');
        assert.equal(t.assigneeId, ids.merch);
        assert.equal(t.createdBy, ids.manager);
        assert.equal(t.storeId, store.id);
        assert.equal(t.completedAt, null);
        assert.deepEqual(t.checklist.map((i) => [i.text, i.done]), [['Count', false], ['Fill', false], ['Photo', false]]);
        assert.ok(t.checklist.every((i) => /^[0-9a-f-]{36}$/.test(i.id)));
    });

    test('defaults: assignee is the caller, priority medium, no store, no due date', async () => {
        for (const role of ['admin', 'merch']) {
            const t = await create(role, {});
            assert.equal(t.assigneeId, ids[role]);
            assert.equal(t.createdBy, ids[role]);
            assert.equal(t.priority, 'medium');
            assert.equal(t.storeId, null);
            assert.equal(t.dueAt, null);
            assert.deepEqual(t.checklist, []);
        }
    });

    test('merchandiser only for themselves: 403 for someone else, 201 naming themselves', async () => {
        assertError(await as('merch')('POST', '/api/todos', { title: 'x', assigneeId: ids.merch2 }), 403);
        const t = await create('merch', { assigneeId: ids.merch });
        assert.equal(t.assigneeId, ids.merch);
    });

    test('no token: 401', async () => {
        assertError(await as(null)('POST', '/api/todos', { title: 'x' }), 401);
    });

    test('invalid fields: 400 naming them', async () => {
        const cases = [
            [{ title: '' }, 'title'],
            [{ title: 'x'.repeat(201) }, 'title'],
            [{ title: 42 }, 'title'],
            [{ title: 'ok', priority: 'asap' }, 'priority'],
            [{ title: 'ok', dueAt: 'tomorrow' }, 'dueAt'],
            [{ title: 'ok', assigneeId: 'bob' }, 'assigneeId'],
            [{ title: 'ok', storeId: 12 }, 'storeId'],
            [{ title: 'ok', checklist: 'do it' }, 'checklist'],
            [{ title: 'ok', checklist: [''] }, 'checklist'],
        ];
        for (const [body, field] of cases) assertFieldNamed(await as('manager')('POST', '/api/todos', body), field);
        assertFieldNamed(await as('manager')('POST', '/api/todos', {}), 'title');
        const ok200 = await as('manager')('POST', '/api/todos', { title: 'x'.repeat(200) });
        assert.equal(ok200.status, 201, '200 characters is the maximum');
    });

    test('dueAt: years below 1000 round-trip exactly; outside 0001..9999 is a 400', async () => {
        for (const dueAt of ['0001-01-01T00:00:00.000Z', '0999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z']) {
            const t = await create('manager', { dueAt });
            assert.equal(t.dueAt, dueAt);
            const r = await as('manager')('GET', `/api/todos/${t.id}`);
            assert.equal(r.json.todo.dueAt, dueAt, 'read back from PostgreSQL');
        }
        for (const dueAt of ['0000-06-01T00:00:00Z', '0001-01-01T00:00:00+01:00', '9999-12-31T23:00:00-02:00']) {
            assertFieldNamed(await as('manager')('POST', '/api/todos', { title: 'x', dueAt }), 'dueAt');
        }
    });

    test('unknown or inactive assignee, unknown or inactive store: 400', async () => {
        assertFieldNamed(await as('manager')('POST', '/api/todos', { title: 'x', assigneeId: NIL }), 'assigneeId');
        assertFieldNamed(await as('manager')('POST', '/api/todos', { title: 'x', storeId: NIL }), 'storeId');
        const gone = await fo.dtm.createUser(fo.tok.admin, { role: 'merchandiser' });
        assert.equal((await as('admin')('DELETE', `/api/users/${gone.id}`)).status, 204);
        assertFieldNamed(await as('manager')('POST', '/api/todos', { title: 'x', assigneeId: gone.id }), 'assigneeId');
        const closed = (await as('admin')('POST', '/api/stores', storeBody())).json.store;
        assert.equal((await as('admin')('DELETE', `/api/stores/${closed.id}`)).status, 204);
        assertFieldNamed(await as('manager')('POST', '/api/todos', { title: 'x', storeId: closed.id }), 'storeId');
    });
});

describe('GET/PATCH/DELETE /api/todos/:id', () => {
    let mine; // assigned to merch by the manager
    let created; // created by merch for themselves
    let others; // merch2's
    before(async () => {
        mine = await create('manager', { assigneeId: ids.merch, storeId: store.id, dueAt: '2030-05-01T00:00:00Z' });
        created = await create('merch', { description: 'mine' });
        others = await create('manager', { assigneeId: ids.merch2 });
    });

    test('GET: staff see everything, a merchandiser only their own (others: 404)', async () => {
        for (const role of ['admin', 'manager']) {
            assert.equal((await as(role)('GET', `/api/todos/${others.id}`)).status, 200);
        }
        const r = await as('merch')('GET', `/api/todos/${mine.id}`);
        assert.equal(r.status, 200);
        assert.deepEqual(r.json.todo, mine);
        assert.equal((await as('merch')('GET', `/api/todos/${created.id}`)).status, 200);
        assertError(await as('merch')('GET', `/api/todos/${others.id}`), 404);
        assertError(await as('admin')('GET', `/api/todos/${NIL}`), 404);
        assertError(await as('admin')('GET', '/api/todos/xyz'), 404);
        assertError(await as(null)('GET', `/api/todos/${mine.id}`), 401);
    });

    test('PATCH by staff: fields change, null clears dueAt/storeId', async () => {
        const t = await create('manager', { assigneeId: ids.merch, storeId: store.id, dueAt: '2030-01-01T00:00:00Z' });
        const r = await as('admin')('PATCH', `/api/todos/${t.id}`, { title: 'New title', priority: 'urgent', dueAt: null, storeId: null, description: 'd' });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.todo.title, 'New title');
        assert.equal(r.json.todo.priority, 'urgent');
        assert.equal(r.json.todo.dueAt, null);
        assert.equal(r.json.todo.storeId, null);
        assert.equal(r.json.todo.description, 'd');
        const r2 = await as('manager')('PATCH', `/api/todos/${t.id}`, { assigneeId: ids.merch2, checklist: ['a', { text: 'b', done: true }] });
        assert.equal(r2.json.todo.assigneeId, ids.merch2);
        assert.deepEqual(r2.json.todo.checklist.map((i) => [i.text, i.done]), [['a', false], ['b', true]]);
    });

    test('PATCH status keeps completedAt consistent', async () => {
        const t = await create('manager', { assigneeId: ids.merch });
        let r = await as('merch')('PATCH', `/api/todos/${t.id}`, { status: 'in_progress' });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.todo.status, 'in_progress');
        r = await as('merch')('PATCH', `/api/todos/${t.id}`, { status: 'completed' });
        assert.equal(r.json.todo.status, 'completed');
        assert.ok(r.json.todo.completedAt);
        r = await as('manager')('PATCH', `/api/todos/${t.id}`, { status: 'cancelled' });
        assert.equal(r.json.todo.completedAt, null);
    });

    test('PATCH rules: assignee only status (403 else), creator edits, others 404, merch cannot reassign', async () => {
        assertError(await as('merch')('PATCH', `/api/todos/${mine.id}`, { title: 'hijack' }), 403);
        assertError(await as('merch')('PATCH', `/api/todos/${others.id}`, { status: 'in_progress' }), 404);
        const r = await as('merch')('PATCH', `/api/todos/${created.id}`, { title: 'Renamed by creator', priority: 'low' });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.todo.title, 'Renamed by creator');
        assertError(await as('merch')('PATCH', `/api/todos/${created.id}`, { assigneeId: ids.merch2 }), 403);
        assertError(await as('admin')('PATCH', `/api/todos/${NIL}`, { title: 'x' }), 404);
        assertError(await as('admin')('PATCH', '/api/todos/1', { title: 'x' }), 404);
        assertError(await as('admin')('PATCH', `/api/todos/${mine.id}`, {}), 400);
        assertFieldNamed(await as('admin')('PATCH', `/api/todos/${mine.id}`, { status: 'done' }), 'status');
        assertFieldNamed(await as('admin')('PATCH', `/api/todos/${mine.id}`, { title: '' }), 'title');
        assertFieldNamed(await as('admin')('PATCH', `/api/todos/${mine.id}`, { assigneeId: NIL }), 'assigneeId');
        assertFieldNamed(await as('admin')('PATCH', `/api/todos/${mine.id}`, { storeId: NIL }), 'storeId');
    });

    test('DELETE: assignee 403, other merch 404, creator and staff 204', async () => {
        const a = await create('manager', { assigneeId: ids.merch });
        assertError(await as('merch')('DELETE', `/api/todos/${a.id}`), 403);
        assertError(await as('merch2')('DELETE', `/api/todos/${a.id}`), 404);
        const d = await as('manager')('DELETE', `/api/todos/${a.id}`);
        assert.equal(d.status, 204);
        assertError(await as('admin')('GET', `/api/todos/${a.id}`), 404);
        const b = await create('merch', {});
        assert.equal((await as('merch')('DELETE', `/api/todos/${b.id}`)).status, 204);
        const c = await create('merch', {});
        assert.equal((await as('admin')('DELETE', `/api/todos/${c.id}`)).status, 204);
        assertError(await as('admin')('DELETE', `/api/todos/${NIL}`), 404);
        assertError(await as('admin')('DELETE', '/api/todos/zzz'), 404);
    });
});

describe('complete / reopen', () => {
    test('20 parallel completes: exactly one 200, 19 × 409 already_completed', async () => {
        const t = await create('manager', { assigneeId: ids.merch });
        const tokens = ['merch', 'manager', 'admin'];
        const rs = await Promise.all(
            Array.from({ length: 20 }, (_, i) => as(tokens[i % 3])('POST', `/api/todos/${t.id}/complete`))
        );
        const ok = rs.filter((r) => r.status === 200);
        const conflicts = rs.filter((r) => r.status === 409);
        assert.equal(ok.length, 1, rs.map((r) => r.status).join(','));
        assert.equal(conflicts.length, 19);
        for (const r of conflicts) assert.equal(r.json.error.code, 'already_completed');
        assert.equal(ok[0].json.todo.status, 'completed');
        assert.match(ok[0].json.todo.completedAt, /Z$/);
    });

    test('who may complete: assignee and staff; creator who is not the assignee 403; others 404', async () => {
        const t = await create('merch', {});
        assert.equal((await as('manager')('PATCH', `/api/todos/${t.id}`, { assigneeId: ids.merch2 })).status, 200);
        assertError(await as('merch')('POST', `/api/todos/${t.id}/complete`), 403);
        // Their list is their work (assigned to them); as creator they still read it by id.
        assert.equal((await as('merch')('GET', `/api/todos/${t.id}`)).status, 200);
        const mine = (await as('merch')('GET', '/api/todos?limit=100')).json.items;
        assert.ok(!mine.some((x) => x.id === t.id), 'reassigned todo leaves the creator list');
        assert.ok((await as('merch2')('GET', '/api/todos?limit=100')).json.items.some((x) => x.id === t.id));
        const u = await create('manager', { assigneeId: ids.merch2 });
        assertError(await as('merch')('POST', `/api/todos/${u.id}/complete`), 404);
        const r = await as('merch2')('POST', `/api/todos/${u.id}/complete`);
        assert.equal(r.status, 200, r.text);
        assertError(await as('admin')('POST', `/api/todos/${NIL}/complete`), 404);
        assertError(await as('admin')('POST', '/api/todos/nope/complete'), 404);
        assertError(await as(null)('POST', `/api/todos/${u.id}/complete`), 401);
    });

    test('reopen: 200 back to pending without completedAt; again 409 not_completed', async () => {
        const t = await create('manager', { assigneeId: ids.merch });
        assertError(await as('merch')('POST', `/api/todos/${t.id}/reopen`), 409, 'not_completed');
        assert.equal((await as('merch')('POST', `/api/todos/${t.id}/complete`)).status, 200);
        const r = await as('merch')('POST', `/api/todos/${t.id}/reopen`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.todo.status, 'pending');
        assert.equal(r.json.todo.completedAt, null);
        assertError(await as('manager')('POST', `/api/todos/${t.id}/reopen`), 409, 'not_completed');
        assertError(await as('merch2')('POST', `/api/todos/${t.id}/reopen`), 404);
        assertError(await as('admin')('POST', `/api/todos/${NIL}/reopen`), 404);
    });
});

describe('PATCH /api/todos/:id/checklist/:itemId', () => {
    test('assignee ticks an item; order and other items unchanged', async () => {
        const t = await create('manager', { assigneeId: ids.merch, checklist: ['one', 'two', 'three'] });
        const item = t.checklist[1];
        const r = await as('merch')('PATCH', `/api/todos/${t.id}/checklist/${item.id}`, { done: true });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json.todo.checklist.map((i) => [i.id, i.text, i.done]), [
            [t.checklist[0].id, 'one', false],
            [item.id, 'two', true],
            [t.checklist[2].id, 'three', false],
        ]);
        const back = await as('manager')('PATCH', `/api/todos/${t.id}/checklist/${item.id.toUpperCase()}`, { done: false });
        assert.equal(back.status, 200, back.text);
        assert.equal(back.json.todo.checklist[1].done, false);
    });

    test('errors: unknown item 404, malformed 404, other merch 404, bad body 400', async () => {
        const t = await create('manager', { assigneeId: ids.merch, checklist: ['one'] });
        const item = t.checklist[0].id;
        assertError(await as('merch')('PATCH', `/api/todos/${t.id}/checklist/${NIL}`, { done: true }), 404);
        assertError(await as('merch')('PATCH', `/api/todos/${t.id}/checklist/x`, { done: true }), 404);
        assertError(await as('merch')('PATCH', `/api/todos/${NIL}/checklist/${item}`, { done: true }), 404);
        assertError(await as('merch2')('PATCH', `/api/todos/${t.id}/checklist/${item}`, { done: true }), 404);
        assertFieldNamed(await as('merch')('PATCH', `/api/todos/${t.id}/checklist/${item}`, { done: 'yes' }), 'done');
        assertFieldNamed(await as('merch')('PATCH', `/api/todos/${t.id}/checklist/${item}`, {}), 'done');
    });
});

describe('POST /api/todos/bulk-assign', () => {
    test('assigns every todo in one go', async () => {
        const ts = [];
        for (let i = 0; i < 3; i++) ts.push(await create('manager', { assigneeId: ids.merch }));
        const r = await as('manager')('POST', '/api/todos/bulk-assign', { todoIds: ts.map((t) => t.id), assigneeId: ids.merch2 });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.updated, 3);
        for (const t of ts) assert.equal((await as('admin')('GET', `/api/todos/${t.id}`)).json.todo.assigneeId, ids.merch2);
    });

    test('one unknown id: 404 naming it and nothing changes', async () => {
        const ts = [];
        for (let i = 0; i < 3; i++) ts.push(await create('manager', { assigneeId: ids.merch }));
        const missing = '11111111-2222-4333-8444-555555555555';
        const r = await as('admin')('POST', '/api/todos/bulk-assign', { todoIds: [...ts.map((t) => t.id), missing], assigneeId: ids.merch2 });
        assertError(r, 404);
        assert.ok(JSON.stringify(r.json.error.details).includes(missing), r.text);
        for (const t of ts) {
            const g = (await as('admin')('GET', `/api/todos/${t.id}`)).json.todo;
            assert.equal(g.assigneeId, ids.merch, 'nothing may change');
            assert.equal(g.updatedAt, t.updatedAt);
        }
    });

    test('parallel bulk assigns over overlapping sets in opposite orders all succeed', async () => {
        const ts = [];
        for (let i = 0; i < 12; i++) ts.push((await create('manager', { assigneeId: ids.merch })).id);
        const rev = [...ts].reverse();
        const rs = await Promise.all(
            Array.from({ length: 8 }, (_, i) =>
                as('manager')('POST', '/api/todos/bulk-assign', { todoIds: i % 2 ? rev : ts, assigneeId: i % 2 ? ids.merch : ids.merch2 })
            )
        );
        assert.deepEqual(rs.map((r) => r.status), Array(8).fill(200), rs.map((r) => r.text).join('\n'));
        const stats = (await as('admin')('GET', '/api/todos/stats')).json;
        const list = (await as('admin')('GET', '/api/todos?limit=1')).json.pagination.total;
        assert.equal(stats.total, list, 'counters stay exact');
    });

    test('bad input: 400 (malformed id, empty list, unknown assignee); merchandiser 403', async () => {
        const t = await create('manager', { assigneeId: ids.merch });
        assertFieldNamed(await as('manager')('POST', '/api/todos/bulk-assign', { todoIds: [t.id, 'nope'], assigneeId: ids.merch2 }), 'todoIds');
        assertFieldNamed(await as('manager')('POST', '/api/todos/bulk-assign', { todoIds: [], assigneeId: ids.merch2 }), 'todoIds');
        const tooMany = Array.from({ length: 501 }, () => t.id);
        assertFieldNamed(await as('manager')('POST', '/api/todos/bulk-assign', { todoIds: tooMany, assigneeId: ids.merch2 }), 'todoIds');
        assertFieldNamed(await as('manager')('POST', '/api/todos/bulk-assign', { todoIds: [t.id] }), 'assigneeId');
        assertFieldNamed(await as('manager')('POST', '/api/todos/bulk-assign', { todoIds: [t.id], assigneeId: NIL }), 'assigneeId');
        assertError(await as('merch')('POST', '/api/todos/bulk-assign', { todoIds: [t.id], assigneeId: ids.merch }), 403);
        assert.equal((await as('admin')('GET', `/api/todos/${t.id}`)).json.todo.assigneeId, ids.merch);
    });
});

describe('GET /api/todos (filters, sort, pagination) and /stats', () => {
    let lstore;
    const made = [];
    before(async () => {
        lstore = (await as('admin')('POST', '/api/stores', storeBody())).json.store;
        const specs = [
            ['Alpha shelf check', 'low', '2031-01-05T00:00:00Z', 'merch'],
            ['Beta price, "tags"', 'urgent', '2031-01-01T00:00:00Z', 'merch'],
            ['Gamma display 100%', 'high', null, 'merch2'],
            ['Delta fridge', 'medium', '2031-01-03T00:00:00Z', 'merch'],
            ['Epsilon promo_stand', 'urgent', '2031-01-02T00:00:00Z', 'merch2'],
        ];
        for (const [title, priority, dueAt, who] of specs) {
            made.push(await create('manager', { title, priority, dueAt, assigneeId: ids[who], storeId: lstore.id }));
        }
        await as('merch')('POST', `/api/todos/${made[3].id}/complete`);
        await as('merch2')('PATCH', `/api/todos/${made[2].id}`, { status: 'in_progress' });
    });
    const q = (role, query) => as(role)('GET', `/api/todos?storeId=${lstore.id}&${query}`);
    const titles = (r) => r.json.items.map((t) => t.title.split(' ')[0]);

    test('staff see all, merchandisers only theirs', async () => {
        assert.equal((await q('manager', '')).json.pagination.total, 5);
        const m = await q('merch', '');
        assert.equal(m.json.pagination.total, 3);
        assert.ok(m.json.items.every((t) => t.assigneeId === ids.merch));
        const m2 = await q('merch', `assigneeId=${ids.merch2}`);
        assert.equal(m2.json.pagination.total, 0, 'a filter never widens the scope');
    });

    test('filters: status (list), priority, assigneeId, search, dueBefore', async () => {
        assert.deepEqual(titles(await q('admin', 'status=completed')), ['Delta']);
        assert.equal((await q('admin', 'status=pending,in_progress')).json.pagination.total, 4);
        assert.deepEqual(titles(await q('admin', 'priority=urgent&sort=dueAt')), ['Beta', 'Epsilon']);
        assert.equal((await q('admin', `assigneeId=${ids.merch2}`)).json.pagination.total, 2);
        assert.deepEqual(titles(await q('admin', 'search=FRIDGE')), ['Delta']);
        assert.deepEqual(titles(await q('admin', `search=${encodeURIComponent('100%')}`)), ['Gamma']);
        assert.deepEqual(titles(await q('admin', `search=${encodeURIComponent('o_s')}`)), ['Epsilon']);
        assert.deepEqual(titles(await q('admin', 'dueBefore=2031-01-03T00:00:00Z&sort=dueAt')), ['Beta', 'Epsilon']);
    });

    test('sort orders', async () => {
        assert.deepEqual(titles(await q('admin', 'sort=dueAt')), ['Beta', 'Epsilon', 'Delta', 'Alpha', 'Gamma']);
        assert.deepEqual(titles(await q('admin', 'sort=-dueAt')), ['Alpha', 'Delta', 'Epsilon', 'Beta', 'Gamma']);
        assert.deepEqual(titles(await q('admin', 'sort=createdAt')), ['Alpha', 'Beta', 'Gamma', 'Delta', 'Epsilon']);
        assert.deepEqual(titles(await q('admin', 'sort=-createdAt')), ['Epsilon', 'Delta', 'Gamma', 'Beta', 'Alpha']);
        assert.deepEqual(titles(await q('admin', '')), ['Epsilon', 'Delta', 'Gamma', 'Beta', 'Alpha'], 'default -createdAt');
        assert.deepEqual(titles(await q('admin', 'sort=priority')), ['Beta', 'Epsilon', 'Gamma', 'Delta', 'Alpha']);
    });

    test('pagination', async () => {
        const p1 = await q('admin', 'sort=createdAt&limit=2&page=1');
        const p3 = await q('admin', 'sort=createdAt&limit=2&page=3');
        assert.deepEqual(titles(p1), ['Alpha', 'Beta']);
        assert.deepEqual(titles(p3), ['Epsilon']);
        assert.deepEqual(p3.json.pagination, { page: 3, limit: 2, total: 5, pages: 3 });
        assert.deepEqual((await q('admin', 'limit=2&page=9')).json.items, []);
    });

    test('bad filters: 400 naming each', async () => {
        const r = await as('admin')('GET', '/api/todos?status=done&priority=asap&assigneeId=x&storeId=y&dueBefore=soon&sort=title');
        for (const f of ['status', 'priority', 'assigneeId', 'storeId', 'dueBefore', 'sort']) assertFieldNamed(r, f);
        assertError(await as('admin')('GET', '/api/todos?limit=0'), 400);
        assertError(await as(null)('GET', '/api/todos'), 401);
    });

    test('stats in the caller scope', async () => {
        const past = await create('manager', { assigneeId: ids.merch, dueAt: '2020-01-01T00:00:00Z', priority: 'low' });
        for (const role of ['admin', 'manager', 'merch', 'merch2']) {
            const r = await as(role)('GET', '/api/todos/stats');
            assert.equal(r.status, 200, r.text);
            const s = r.json;
            const list = (await as(role)('GET', '/api/todos?limit=1')).json.pagination.total;
            assert.equal(s.total, list, `${role}: stats total equals list total`);
            assert.equal(Object.values(s.byStatus).reduce((a, b) => a + b, 0), s.total);
            assert.equal(Object.values(s.byPriority).reduce((a, b) => a + b, 0), s.total);
            for (const k of ['pending', 'in_progress', 'completed', 'cancelled']) assert.ok(k in s.byStatus);
            for (const k of ['low', 'medium', 'high', 'urgent']) assert.ok(k in s.byPriority);
            const completed = (await as(role)('GET', '/api/todos?status=completed&limit=1')).json.pagination.total;
            assert.equal(s.byStatus.completed, completed);
            assert.equal(s.completedLast7Days, completed, 'everything here was completed just now');
            const overdue = (await as(role)('GET', `/api/todos?status=pending,in_progress&dueBefore=${encodeURIComponent(new Date().toISOString())}&limit=1`)).json.pagination.total;
            assert.equal(s.overdue, overdue);
        }
        const m = (await as('merch')('GET', '/api/todos/stats')).json;
        assert.ok(m.overdue >= 1);
        await as('merch')('POST', `/api/todos/${past.id}/complete`);
        assert.equal((await as('merch')('GET', '/api/todos/stats')).json.overdue, m.overdue - 1);
    });
});

test('metrics count todos created and completed', async () => {
    // Counters live in the process that runs the todos service (the gateway in `all` mode).
    const base = fo.dtm.topology === 'micro' ? fo.dtm.replicas('todos')[0].url : fo.dtm.url;
    const read = async () => {
        const r = await fo.dtm.api('GET', '/metrics', { base });
        const num = (name) => {
            const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(r.text);
            return m ? Number(m[1]) : NaN;
        };
        return { created: num('dtm_todos_created_total'), completed: num('dtm_todos_completed_total') };
    };
    const before_ = await read();
    assert.ok(Number.isFinite(before_.created), 'dtm_todos_created_total exported');
    const t = await create('manager', { assigneeId: ids.merch });
    await as('merch')('POST', `/api/todos/${t.id}/complete`);
    await as('merch')('POST', `/api/todos/${t.id}/complete`); // 409: not counted
    const after_ = await read();
    assert.equal(after_.created, before_.created + 1);
    assert.equal(after_.completed, before_.completed + 1);
});
