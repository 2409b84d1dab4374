// SPDX-License-Identifier: MIT
// Black-box tests of /api/stores (shared/API.md): every call and error, with all three roles.
'use strict';

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { assertError, assertFieldNamed, startFieldOps, storeBody } = require('./fieldops-fixtures.js');

let fo;
let as;
before(async () => {
    fo = await startFieldOps();
    as = fo.as;
});
after(async () => {
    if (fo) await fo.dtm.stop();
});

const STORE_KEYS = ['id', 'code', 'name', 'address', 'latitude', 'longitude', 'geofenceRadiusM', 'timezone', 'active', 'createdAt', 'updatedAt'];

describe('POST /api/stores', () => {
    test('admin creates a store with the defaults: radius 100, UTC, active', async () => {
        const body = storeBody();
        const r = await as('admin')('POST', '/api/stores', body);
        assert.equal(r.status, 201, r.text);
        const s = r.json.store;
        for (const k of STORE_KEYS) assert.ok(k in s, `store.${k}: ${r.text}`);
        assert.equal(s.code, body.code);
        assert.equal(s.geofenceRadiusM, 100);
        assert.equal(s.timezone, 'UTC');
        assert.equal(s.active, true);
        assert.equal(s.latitude, 48.8566);
        assert.match(s.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    });

    test('manager creates a store with radius and IANA timezone', async () => {
        const r = await as('manager')('POST', '/api/stores', storeBody({ geofenceRadiusM: 250, timezone: 'America/New_York' }));
        assert.equal(r.status, 201, r.text);
        assert.equal(r.json.store.geofenceRadiusM, 250);
        assert.equal(r.json.store.timezone, 'America/New_York');
    });

    test('merchandiser: 403; no token: 401', async () => {
        assertError(await as('merch')('POST', '/api/stores', storeBody()), 403);
        assertError(await as(null)('POST', '/api/stores', storeBody()), 401);
    });

    test('missing fields: 400 naming each one', async () => {
        const r = await as('admin')('POST', '/api/stores', {});
        for (const f of ['code', 'name', 'latitude', 'longitude']) assertFieldNamed(r, f);
    });

    test('out-of-range values: 400 naming the field', async () => {
        const cases = [
            [{ latitude: 90.0001 }, 'latitude'],
            [{ latitude: -91 }, 'latitude'],
            [{ longitude: 180.5 }, 'longitude'],
            [{ longitude: 'east' }, 'longitude'],
            [{ geofenceRadiusM: 9 }, 'geofenceRadiusM'],
            [{ geofenceRadiusM: 5001 }, 'geofenceRadiusM'],
            [{ geofenceRadiusM: 50.5 }, 'geofenceRadiusM'],
            [{ timezone: 'Mars/Olympus_Mons' }, 'timezone'],
            [{ timezone: 'EST5EDT; DROP TABLE' }, 'timezone'],
            [{ code: 'has space' }, 'code'],
            [{ code: '' }, 'code'],
            [{ code: 'C'.repeat(51) }, 'code'],
            [{ name: 'x'.repeat(201) }, 'name'],
        ];
        for (const [extra, field] of cases) {
            const r = await as('admin')('POST', '/api/stores', storeBody(extra));
            assertFieldNamed(r, field);
        }
    });

    test('edge values are accepted: radius 10 and 5000, poles, antimeridian', async () => {
        for (const extra of [
            { geofenceRadiusM: 10, latitude: 90, longitude: 180 },
            { geofenceRadiusM: 5000, latitude: -90, longitude: -180 },
            { code: 'C'.repeat(44) + Math.random().toString(36).slice(2, 8) },
        ]) {
            const r = await as('admin')('POST', '/api/stores', storeBody(extra));
            assert.equal(r.status, 201, r.text);
        }
    });

    test('duplicate code (any case): 409 code_taken', async () => {
        const body = storeBody();
        assert.equal((await as('admin')('POST', '/api/stores', body)).status, 201);
        assertError(await as('admin')('POST', '/api/stores', storeBody({ code: body.code })), 409, 'code_taken');
        assertError(await as('manager')('POST', '/api/stores', storeBody({ code: body.code.toLowerCase() })), 409, 'code_taken');
    });

    test('malformed JSON: 400; wrong content type: 415', async () => {
        const r = await fo.dtm.api('POST', '/api/stores', {
            token: fo.tok.admin,
            body: '{"code": ',
            headers: { 'content-type': 'application/json' },
        });
        assertError(r, 400);
        const r2 = await fo.dtm.api('POST', '/api/stores', {
            token: fo.tok.admin,
            body: 'code=x',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        assertError(r2, 415);
    });
});

describe('GET /api/stores', () => {
    let tagged = [];
    before(async () => {
        for (let i = 0; i < 3; i++) {
            const r = await as('admin')('POST', '/api/stores', storeBody({ name: `Zebra Mart ${i}`, address: `${i} 100% Real_Street` }));
            tagged.push(r.json.store);
        }
    });

    test('every role lists; pagination shape', async () => {
        for (const role of ['admin', 'manager', 'merch']) {
            const r = await as(role)('GET', '/api/stores?page=1&limit=2');
            assert.equal(r.status, 200, r.text);
            assert.equal(r.json.items.length, 2);
            const p = r.json.pagination;
            assert.equal(p.page, 1);
            assert.equal(p.limit, 2);
            assert.ok(p.total >= 3);
            assert.equal(p.pages, Math.ceil(p.total / 2));
        }
        assertError(await as(null)('GET', '/api/stores'), 401);
    });

    test('pages do not overlap and cover everything', async () => {
        const all = (await as('admin')('GET', '/api/stores?limit=100')).json;
        const seen = new Set();
        for (let page = 1; page <= Math.ceil(all.pagination.total / 3); page++) {
            const r = await as('admin')('GET', `/api/stores?limit=3&page=${page}`);
            for (const s of r.json.items) {
                assert.ok(!seen.has(s.id), 'overlap');
                seen.add(s.id);
            }
        }
        assert.equal(seen.size, all.pagination.total);
    });

    test('search matches name, code and address; wildcards are literal', async () => {
        let r = await as('merch')('GET', '/api/stores?search=zebra%20mart');
        assert.equal(r.status, 200);
        assert.equal(r.json.pagination.total, 3);
        r = await as('merch')('GET', `/api/stores?search=${encodeURIComponent(tagged[0].code)}`);
        assert.equal(r.json.items[0].id, tagged[0].id);
        r = await as('merch')('GET', `/api/stores?search=${encodeURIComponent('100% Real_')}`);
        assert.equal(r.json.pagination.total, 3);
        r = await as('merch')('GET', `/api/stores?search=${encodeURIComponent('%')}`);
        assert.equal(r.json.pagination.total, 3, 'a lone % matches only stores containing %');
    });

    test('bad filters: 400', async () => {
        assertFieldNamed(await as('admin')('GET', '/api/stores?active=maybe'), 'active');
        assertError(await as('admin')('GET', '/api/stores?limit=101'), 400);
        assertError(await as('admin')('GET', '/api/stores?page=0'), 400);
    });
});

describe('GET/PATCH/DELETE /api/stores/:id', () => {
    let store;
    before(async () => {
        store = (await as('admin')('POST', '/api/stores', storeBody())).json.store;
    });

    test('GET: every role 200; unknown 404; malformed id 404', async () => {
        for (const role of ['admin', 'manager', 'merch']) {
            const r = await as(role)('GET', `/api/stores/${store.id}`);
            assert.equal(r.status, 200, r.text);
            assert.deepEqual(r.json.store, store);
        }
        assertError(await as('admin')('GET', '/api/stores/00000000-0000-4000-8000-000000000000'), 404);
        assertError(await as('admin')('GET', '/api/stores/not-a-uuid'), 404);
        assertError(await as(null)('GET', `/api/stores/${store.id}`), 401);
    });

    test('PATCH by manager changes only the given fields', async () => {
        const r = await as('manager')('PATCH', `/api/stores/${store.id}`, { name: 'Renamed', geofenceRadiusM: 300, timezone: 'Europe/Paris' });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.store.name, 'Renamed');
        assert.equal(r.json.store.geofenceRadiusM, 300);
        assert.equal(r.json.store.timezone, 'Europe/Paris');
        assert.equal(r.json.store.code, store.code);
        assert.equal(r.json.store.latitude, store.latitude);
        assert.ok(r.json.store.updatedAt >= store.updatedAt);
    });

    test('PATCH errors: 403 merch, 404 unknown/malformed, 400 bad or empty, 409 code taken', async () => {
        assertError(await as('merch')('PATCH', `/api/stores/${store.id}`, { name: 'x' }), 403);
        assertError(await as('admin')('PATCH', '/api/stores/00000000-0000-4000-8000-000000000000', { name: 'x' }), 404);
        assertError(await as('admin')('PATCH', '/api/stores/123', { name: 'x' }), 404);
        assertFieldNamed(await as('admin')('PATCH', `/api/stores/${store.id}`, { latitude: 100 }), 'latitude');
        assertFieldNamed(await as('admin')('PATCH', `/api/stores/${store.id}`, { timezone: 'Nowhere/City' }), 'timezone');
        assertError(await as('admin')('PATCH', `/api/stores/${store.id}`, {}), 400);
        const other = (await as('admin')('POST', '/api/stores', storeBody())).json.store;
        assertError(await as('admin')('PATCH', `/api/stores/${store.id}`, { code: other.code }), 409, 'code_taken');
    });

    test('DELETE deactivates (204), the store stays readable and can be reactivated', async () => {
        const s = (await as('admin')('POST', '/api/stores', storeBody({ name: 'Closing soon' }))).json.store;
        assertError(await as('merch')('DELETE', `/api/stores/${s.id}`), 403);
        const d = await as('manager')('DELETE', `/api/stores/${s.id}`);
        assert.equal(d.status, 204, d.text);
        assert.equal(d.text, '');
        const g = await as('merch')('GET', `/api/stores/${s.id}`);
        assert.equal(g.json.store.active, false);
        const act = await as('admin')('GET', '/api/stores?active=true&limit=100');
        assert.ok(!act.json.items.some((x) => x.id === s.id));
        const inact = await as('admin')('GET', '/api/stores?active=false&limit=100');
        assert.ok(inact.json.items.some((x) => x.id === s.id));
        const re = await as('admin')('PATCH', `/api/stores/${s.id}`, { active: true });
        assert.equal(re.json.store.active, true);
        assertError(await as('admin')('DELETE', '/api/stores/00000000-0000-4000-8000-000000000000'), 404);
        assertError(await as('admin')('DELETE', '/api/stores/nope'), 404);
    });
});
