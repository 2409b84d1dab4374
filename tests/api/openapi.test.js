// SPDX-License-Identifier: MIT
// The contract document (docs/openapi.yaml) against the code: every route a route table in src/
// registers is documented, and every documented operation is one the code registers. Then the
// served reference: GET /api/docs is Redoc's page from the web build with a local script (no
// CDN), GET /api/openapi.yaml (and the older /api/docs/openapi.yaml) the document itself.
//
// Environment: DTM_WEB_DIST (default web/dist; built with scripts/web.sh build when the page is
// missing), and the harness's own.
'use strict';

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const WEB = path.join(ROOT, 'web');
const DIST = path.resolve(process.env.DTM_WEB_DIST || path.join(WEB, 'dist'));
const yaml = require('js-yaml'); // tests/package.json
const { execFileSync } = require('node:child_process');
const { startDtm } = require('./lib/harness.js');

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

function cFiles(dir, out = []) {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) cFiles(p, out);
        else if (e.name.endsWith('.c')) out.push(p);
    }
    return out;
}

// "METHOD /path/{param}" for each entry of a dtm_route_t table, positional or designated:
// {"GET", "/api/users", ...} and {.method = "GET", .path = "/api/stores", ...}.
function codeRoutes() {
    const re = /\{\s*(?:\.method\s*=\s*)?"(GET|POST|PUT|PATCH|DELETE)"\s*,\s*(?:\.path\s*=\s*)?"(\/[^"]*)"/g;
    const routes = new Map();
    for (const f of cFiles(path.join(ROOT, 'src'))) {
        const text = fs.readFileSync(f, 'utf8');
        for (const m of text.matchAll(re)) {
            if (m[2] === '/*') continue; // the static files of web/dist, not an API route
            const p = m[2].replace(/:([A-Za-z0-9_]+)/g, '{$1}');
            routes.set(`${m[1]} ${p}`, path.relative(ROOT, f));
        }
    }
    return routes;
}

function documentedRoutes() {
    const doc = yaml.load(fs.readFileSync(path.join(ROOT, 'docs', 'openapi.yaml'), 'utf8'));
    const ops = new Set();
    for (const [p, item] of Object.entries(doc.paths))
        for (const m of METHODS) if (item[m]) ops.add(`${m.toUpperCase()} ${p}`);
    return ops;
}

test('every route the code registers is in docs/openapi.yaml, and no other', () => {
    const code = codeRoutes();
    const doc = documentedRoutes();
    assert.ok(code.size > 50, `found only ${code.size} routes in src/: is the route-table regex stale?`);
    const undocumented = [...code].filter(([r]) => !doc.has(r)).map(([r, f]) => `${r} (${f})`);
    const unknown = [...doc].filter((r) => !code.has(r));
    assert.deepEqual(undocumented, [], 'routes missing from docs/openapi.yaml');
    assert.deepEqual(unknown, [], 'documented operations no route table registers');
});

test('every operation has a unique operationId', () => {
    const doc = yaml.load(fs.readFileSync(path.join(ROOT, 'docs', 'openapi.yaml'), 'utf8'));
    const seen = new Map();
    for (const [p, item] of Object.entries(doc.paths))
        for (const m of METHODS) {
            if (!item[m]) continue;
            const id = item[m].operationId;
            assert.match(id || '', /^[a-z][A-Za-z0-9]*$/, `${m.toUpperCase()} ${p}: camelCase operationId`);
            assert.ok(!seen.has(id), `${id} used by ${seen.get(id)} and ${m.toUpperCase()} ${p}`);
            seen.set(id, `${m.toUpperCase()} ${p}`);
        }
});

describe('the served reference', () => {
    let dtm;
    before(async () => {
        if (!fs.existsSync(path.join(DIST, 'api-docs', 'index.html'))) {
            execFileSync(path.join(ROOT, 'scripts', 'web.sh'), ['build'], { stdio: 'inherit' });
        }
        dtm = await startDtm({ env: { DTM_WEB_DIR: DIST } });
    });
    after(() => dtm && dtm.stop());

    test('GET /api/docs is Redoc reading /api/openapi.yaml, its script served from this origin', async () => {
        const r = await dtm.api('GET', '/api/docs');
        assert.equal(r.status, 200, r.text);
        assert.match(r.headers['content-type'], /^text\/html/);
        assert.match(r.text, /<redoc spec-url="\/api\/openapi\.yaml"/);
        const scripts = [...r.text.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]);
        assert.equal(scripts.length, 1, r.text);
        assert.match(scripts[0], /^\/assets\/api-docs\/redoc\.standalone\.[0-9a-f]{12}\.js$/, 'a local, hashed script');
        assert.doesNotMatch(r.text, /https?:\/\/|\/\/[a-z]/i, 'nothing loaded from another host');
        const js = await dtm.api('GET', scripts[0]);
        assert.equal(js.status, 200);
        assert.match(js.headers['content-type'], /javascript/);
        assert.match(js.headers['cache-control'], /immutable/);
        assert.ok(js.text.length > 100000 && js.text.includes('Redoc'), 'the Redoc bundle');
    });

    for (const p of ['/api/openapi.yaml', '/api/docs/openapi.yaml']) {
        test(`GET ${p} is the document, OpenAPI 3.x YAML, without a token`, async () => {
            const r = await dtm.api('GET', p);
            assert.equal(r.status, 200, r.text);
            assert.match(r.headers['content-type'], /^application\/yaml/);
            const doc = yaml.load(r.text);
            assert.match(String(doc.openapi), /^3\.\d+\.\d+$/);
            assert.ok(doc.paths['/api/docs'] && doc.paths['/api/openapi.yaml'], 'it documents itself');
            assert.equal(r.text, fs.readFileSync(path.join(ROOT, 'docs', 'openapi.yaml'), 'utf8'), 'the embedded copy is current');
        });
    }
});
