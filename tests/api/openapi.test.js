// SPDX-License-Identifier: MIT
// The contract document (docs/openapi.yaml) against the code: every route a route table in src/
// registers is documented, and every documented operation is one the code registers.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { createRequire } = require('node:module');

const ROOT = path.resolve(__dirname, '..', '..');
const WEB = path.join(ROOT, 'web');
const yaml = createRequire(path.join(WEB, 'package.json'))('js-yaml');

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
