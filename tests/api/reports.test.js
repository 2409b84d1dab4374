// SPDX-License-Identifier: MIT
// Black-box tests of /api/reports (shared/API.md): roles, the summary's per-store local day,
// JSON pages and RFC 4180 CSV (parsed here, including titles with commas, quotes and newlines),
// streamed across several keyset batches.
'use strict';

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { assertError, assertFieldNamed, startFieldOps, storeBody } = require('./fieldops-fixtures.js');

let fo;
let as;
let ids;
let tokyo; // a store whose local day differs from UTC's

before(async () => {
    fo = await startFieldOps();
    as = fo.as;
    ids = fo.ids;
    tokyo = (await as('admin')('POST', '/api/stores', storeBody({ timezone: 'Asia/Tokyo', latitude: 35.6812, longitude: 139.7671 }))).json.store;
});
after(async () => {
    if (fo) await fo.dtm.stop();
});

/** RFC 4180 parser: returns rows of fields; throws on malformed input. */
function parseCsv(text) {
    const rows = [];
    let row = [];
    let field = '';
    let i = 0;
    let quoted = false;
    let fieldStarted = false;
    while (i < text.length) {
        const c = text[i];
        if (quoted) {
            if (c === '"') {
                if (text[i + 1] === '"') {
                    field += '"';
                    i += 2;
                    continue;
                }
                quoted = false;
                i++;
                if (i < text.length && text[i] !== ',' && text[i] !== '\r') throw new Error(`garbage after quote at ${i}`);
                continue;
            }
            field += c;
            i++;
            continue;
        }
        if (c === '"') {
            if (fieldStarted && field !== '') throw new Error(`quote inside unquoted field at ${i}`);
            quoted = true;
            fieldStarted = true;
            i++;
        } else if (c === ',') {
            row.push(field);
            field = '';
            fieldStarted = false;
            i++;
        } else if (c === '\r') {
            if (text[i + 1] !== '\n') throw new Error(`bare CR at ${i}`);
            row.push(field);
            rows.push(row);
            row = [];
            field = '';
            fieldStarted = false;
            i += 2;
        } else if (c === '\n') {
            throw new Error(`bare LF outside quotes at ${i}`);
        } else {
            field += c;
            fieldStarted = true;
            i++;
        }
    }
    if (quoted) throw new Error('unterminated quote');
    if (field !== '' || row.length) throw new Error('last record not terminated by CRLF');
    return rows;
}

describe('roles', () => {
    test('merchandisers get 403, anonymous 401, staff 200', async () => {
        for (const p of ['/api/reports/summary', '/api/reports/todos', '/api/reports/attendance', '/api/reports/todos?format=csv']) {
            assertError(await as('merch')('GET', p), 403);
            assertError(await as(null)('GET', p), 401);
        }
        for (const role of ['admin', 'manager']) {
            assert.equal((await as(role)('GET', '/api/reports/summary')).status, 200);
            assert.equal((await as(role)('GET', '/api/reports/todos')).status, 200);
        }
    });
});

describe('GET /api/reports/summary', () => {
    before(async () => {
        const mk = (body) => as('manager')('POST', '/api/todos', { title: 'Summary task', storeId: tokyo.id, assigneeId: ids.merch, ...body });
        // 2030-06-15 in Tokyo is 2030-06-14T15:00Z .. 2030-06-15T15:00Z
        await mk({ dueAt: '2030-06-14T16:00:00Z' }); // local 06-15 01:00: due that day
        await mk({ dueAt: '2030-06-15T14:59:00Z' }); // local 06-15 23:59: due that day
        await mk({ dueAt: '2030-06-15T16:00:00Z' }); // local 06-16: not
        await mk({ dueAt: '2020-01-01T00:00:00Z' }); // overdue
        const done = (await mk({ dueAt: '2020-01-02T00:00:00Z' })).json.todo; // completed now
        assert.equal((await as('merch')('POST', `/api/todos/${done.id}/complete`)).status, 200);
        await as('manager')('POST', '/api/todos', { title: 'No store, overdue', assigneeId: ids.merch2, dueAt: '2020-01-01T00:00:00Z' });
    });

    test('per store: due on the store-local date, overdue, completed today', async () => {
        const r = await as('manager')('GET', `/api/reports/summary?storeId=${tokyo.id}&date=2030-06-15`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.stores.length, 1);
        const s = r.json.stores[0];
        assert.equal(s.storeId, tokyo.id);
        assert.equal(s.timezone, 'Asia/Tokyo');
        assert.equal(s.date, '2030-06-15');
        assert.equal(s.tasksDue, 2);
        assert.equal(s.tasksOverdue, 1);
        assert.equal(s.tasksCompleted, 0, 'nothing completed on 2030-06-15');
        const today = (await as('admin')('GET', `/api/reports/summary?storeId=${tokyo.id}`)).json;
        assert.equal(today.stores[0].tasksCompleted, 1);
        assert.equal(today.stores[0].tasksOverdue, 1);
        assert.equal(today.totals.tasksCompleted, 1);
    });

    test('totals cover every active store plus todos without a store', async () => {
        const r = (await as('admin')('GET', '/api/reports/summary')).json;
        for (const k of ['present', 'onBreak', 'absent', 'tasksDue', 'tasksOverdue', 'tasksCompleted', 'stores']) assert.ok(k in r.totals, k);
        assert.equal(r.totals.tasksOverdue, 2, 'tokyo overdue + the one without a store');
        assert.equal(r.totals.stores, r.stores.length);
        assert.ok(r.stores.some((s) => s.storeId === tokyo.id));
    });

    test('attendance: present and on break from the attendance view', async () => {
        const pin = await as('merch')('POST', '/api/attendance/punch-in', { storeId: tokyo.id, latitude: tokyo.latitude, longitude: tokyo.longitude, accuracyM: 10 });
        assert.equal(pin.status, 201, pin.text);
        let r = (await as('admin')('GET', `/api/reports/summary?storeId=${tokyo.id}`)).json;
        assert.equal(r.stores[0].present, 1);
        assert.equal(r.stores[0].workingNow, 1);
        assert.equal(r.stores[0].onBreak, 0);
        assert.equal((await as('merch')('POST', '/api/attendance/breaks/start', { type: 'coffee' })).status, 201);
        r = (await as('admin')('GET', `/api/reports/summary?storeId=${tokyo.id}`)).json;
        assert.equal(r.stores[0].onBreak, 1);
        assert.equal(r.totals.onBreak, 1);
        assert.equal(r.totals.present, 1);
        if (r.sources.users) assert.equal(r.totals.absent, r.totals.merchandisers - 1);
        assert.equal((await as('merch')('POST', '/api/attendance/breaks/end')).status, 200);
    });

    test('bad filters: 400', async () => {
        const r = await as('admin')('GET', '/api/reports/summary?date=2030-02-30&storeId=x');
        assertFieldNamed(r, 'date');
        assertFieldNamed(r, 'storeId');
    });
});

describe('GET /api/reports/todos', () => {
    let rstore;
    const tricky = 'Shelf A, row "3"\nthen, the fridge';
    before(async () => {
        rstore = (await as('admin')('POST', '/api/stores', storeBody({ name: 'Report, "Store"' }))).json.store;
        const r = await as('manager')('POST', '/api/todos', { title: tricky, storeId: rstore.id, assigneeId: ids.merch, checklist: ['a', { text: 'b', done: true }] });
        assert.equal(r.status, 201);
        // 2,500 more rows straight into the table: enough for three CSV batches of 1,000.
        await fo.dtm.sql(
            `INSERT INTO todos.todos (id, title, assignee_id, created_by, store_id, created_at)
             SELECT gen_random_uuid(), 'Bulk ' || g, '${ids.merch2}', '${ids.manager}', '${rstore.id}',
                    now() - interval '1 hour' + g * interval '1 millisecond'
             FROM generate_series(1, 2500) g`
        );
    });

    test('JSON: pages with store and checklist columns, filters', async () => {
        const r = await as('manager')('GET', `/api/reports/todos?storeId=${rstore.id}&userId=${ids.merch}`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.pagination.total, 1);
        const row = r.json.items[0];
        assert.equal(row.title, tricky);
        assert.equal(row.storeCode, rstore.code);
        assert.equal(row.storeName, rstore.name);
        assert.equal(row.assigneeId, ids.merch);
        assert.equal(row.checklistTotal, 2);
        assert.equal(row.checklistDone, 1);
        assert.ok('assigneeName' in row);
        const all = await as('admin')('GET', `/api/reports/todos?storeId=${rstore.id}&limit=100&page=2`);
        assert.equal(all.json.pagination.total, 2501);
        assert.equal(all.json.items.length, 100);
        const none = await as('admin')('GET', `/api/reports/todos?storeId=${rstore.id}&to=2000-01-01`);
        assert.equal(none.json.pagination.total, 0);
        const fromNow = await as('admin')('GET', `/api/reports/todos?storeId=${rstore.id}&from=${encodeURIComponent(new Date(Date.now() - 60000).toISOString())}`);
        assert.equal(fromNow.json.pagination.total, 1, 'only the todo created through the API is that recent');
    });

    test('CSV: RFC 4180, header row, text/csv, every row exactly once across batches', async () => {
        const r = await as('admin')('GET', `/api/reports/todos?storeId=${rstore.id}&format=csv`);
        assert.equal(r.status, 200, r.text.slice(0, 300));
        assert.match(r.headers['content-type'], /^text\/csv/);
        // The handler's no-store survives the stream start (which defaults to no-cache), once.
        assert.equal(r.headers['cache-control'], 'no-store');
        const rows = parseCsv(r.text);
        const header = rows[0];
        assert.deepEqual(header.slice(0, 4), ['id', 'title', 'status', 'priority']);
        assert.equal(rows.length, 1 + 2501);
        assert.ok(rows.every((x) => x.length === header.length), 'same number of fields on every row');
        const idCol = header.indexOf('id');
        assert.equal(new Set(rows.slice(1).map((x) => x[idCol])).size, 2501, 'no duplicates across batches');
        const t = rows.find((x) => x[header.indexOf('title')] === tricky);
        assert.ok(t, 'the title with comma, quotes and newline survives a round trip');
        assert.equal(t[header.indexOf('storeName')], 'Report, "Store"');
        // (created_at, id) order
        const created = rows.slice(1).map((x) => x[header.indexOf('createdAt')]);
        assert.deepEqual(created, [...created].sort());
    });

    test('CSV: cells that a spreadsheet would run as formulas are prefixed with an apostrophe', async () => {
        const st = await as('admin')('POST', '/api/stores', { code: `F${Date.now() % 1e6}`, name: 'Formula store', latitude: 1, longitude: 1 });
        assert.equal(st.status, 201, st.text);
        const titles = ['=HYPERLINK("http://evil.example/","click")', '=2*3', '+x', '@SUM(1)', '-2+3', 'safe = text'];
        for (const title of titles) {
            const r = await as('manager')('POST', '/api/todos', { title, storeId: st.json.store.id });
            assert.equal(r.status, 201, r.text);
        }
        const r = await as('admin')('GET', `/api/reports/todos?storeId=${st.json.store.id}&format=csv`);
        assert.equal(r.status, 200, r.text.slice(0, 300));
        const rows = parseCsv(r.text);
        const col = rows[0].indexOf('title');
        const got = rows.slice(1).map((x) => x[col]).sort();
        const want = titles.map((t) => (/^[=+\-@\t\r]/.test(t) ? `'${t}` : t)).sort();
        assert.deepEqual(got, want);
        // JSON keeps the value as written: neutralising is for spreadsheets only.
        const j = await as('admin')('GET', `/api/reports/todos?storeId=${st.json.store.id}`);
        assert.deepEqual(j.json.items.map((x) => x.title).sort(), [...titles].sort());
    });

    test('bad filters: 400 naming each', async () => {
        const r = await as('admin')('GET', '/api/reports/todos?from=yesterday&to=x&storeId=1&userId=2&format=xml');
        for (const f of ['from', 'to', 'storeId', 'userId', 'format']) assertFieldNamed(r, f);
        assertFieldNamed(await as('admin')('GET', '/api/reports/todos?from=2030-01-03&to=2030-01-01'), 'to');
        assertError(await as('admin')('GET', '/api/reports/todos?limit=1000'), 400);
    });
});

describe('GET /api/reports/attendance', () => {
    test('JSON and CSV rows of visits, filtered by store and user', async () => {
        const st = (await as('admin')('POST', '/api/stores', storeBody({ name: 'Visit, "here"' }))).json.store;
        const pin = await as('merch2')('POST', '/api/attendance/punch-in', { storeId: st.id, latitude: st.latitude, longitude: st.longitude, accuracyM: 5 });
        assert.equal(pin.status, 201, pin.text);
        const r = await as('manager')('GET', `/api/reports/attendance?storeId=${st.id}`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.pagination.total, 1);
        const row = r.json.items[0];
        assert.equal(row.userId, ids.merch2);
        assert.equal(row.storeCode, st.code);
        assert.equal(row.status, 'open');
        assert.equal(row.punchOutAt, null);
        for (const k of ['punchInAt', 'workedMinutes', 'breakMinutes', 'netMinutes', 'overtimeMinutes', 'userName']) assert.ok(k in row, k);
        assert.equal((await as('admin')('GET', `/api/reports/attendance?storeId=${st.id}&userId=${ids.merch}`)).json.pagination.total, 0);
        const csv = await as('admin')('GET', `/api/reports/attendance?storeId=${st.id}&format=csv`);
        assert.equal(csv.status, 200);
        assert.match(csv.headers['content-type'], /^text\/csv/);
        assert.equal(csv.headers['cache-control'], 'no-store', 'attendance rows are personal data');
        const rows = parseCsv(csv.text);
        assert.equal(rows.length, 2);
        assert.equal(rows[1][rows[0].indexOf('storeName')], 'Visit, "here"');
        assert.equal(rows[1][rows[0].indexOf('userId')], ids.merch2);
        await as('merch2')('POST', '/api/attendance/punch-out', { latitude: st.latitude, longitude: st.longitude, accuracyM: 5 });
    });

    test('bad filters: 400', async () => {
        assertFieldNamed(await as('admin')('GET', '/api/reports/attendance?from=nope'), 'from');
        assertFieldNamed(await as('admin')('GET', '/api/reports/attendance?format=pdf'), 'format');
    });
});
