// SPDX-License-Identifier: MIT
// The contract check of the API harness: every response api() receives is held against
// docs/openapi.yaml. The operation is found by method and path (a literal segment beats a
// {param}, as in the router); the status must be one the operation documents (or a 4XX/default
// entry, or one of the answers any route may give, listed in the document's description and in
// GENERIC below); a JSON body must match the documented schema (ajv, OpenAPI 3.0's nullable
// turned into JSON Schema). Paths the document does not have are not checked (tests probe
// unknown routes on purpose); the route-table test (tests/api/openapi.test.js) keeps the two
// lists equal.
//
// On by default: a violation throws from api(), so the test that made the request fails.
// DTM_CONTRACT=log  violations are appended to test-output/contract-violations.jsonl (one JSON
//                   object a line) and the tests go on (to survey a large change)
// DTM_CONTRACT=0    off
// ajv, ajv-formats and js-yaml are in tests/package.json (scripts/test.sh installs them).
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const ROOT_ID = 'dtm-openapi';

// Answers any route may give without its operation listing them (the document's description
// says so): the request layer's and the gateway's. Bodies are still checked against Error.
const GENERIC = {
    401: ['unauthorized', 'invalid_token'], // bearer routes (security not empty)
    405: ['method_not_allowed'],
    413: ['payload_too_large'],
    415: ['unsupported_media_type'],
    429: ['rate_limited'],
    431: ['headers_too_large'],
    500: null,
    502: null,
    503: null,
    504: null,
};
// Only where the operation takes an Idempotency-Key.
const IDEMPOTENCY = { 400: ['invalid_idempotency_key'], 409: ['request_in_progress'], 422: ['idempotency_key_reused'] };

let state = null;

// OpenAPI 3.0 schema -> JSON Schema for ajv: nullable becomes a null branch (it must also hold
// around allOf/$ref, which ajv's own nullable keyword does not), $refs point into the root.
function convert(node) {
    if (Array.isArray(node)) return node.map(convert);
    if (!node || typeof node !== 'object') return node;
    const out = {};
    for (const [k, v] of Object.entries(node)) {
        if (k === 'nullable' || k === 'example') continue;
        if (k === '$ref' && typeof v === 'string' && v.startsWith('#/')) out.$ref = ROOT_ID + v;
        else if (k === 'properties' || k === 'patternProperties')
            out[k] = Object.fromEntries(Object.entries(v).map(([n, s]) => [n, convert(s)]));
        else out[k] = convert(v);
    }
    if (node.nullable === true) return { anyOf: [{ type: 'null' }, out] };
    return out;
}

function load() {
    if (state) return state;
    const yaml = require('js-yaml');
    const Ajv = require('ajv');
    const addFormats = require('ajv-formats');
    const doc = yaml.load(fs.readFileSync(path.join(ROOT, 'docs', 'openapi.yaml'), 'utf8'));
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: ROOT_ID, components: convert(doc.components) });
    const routes = [];
    for (const [p, item] of Object.entries(doc.paths)) {
        const segs = p.split('/').filter(Boolean);
        const re = new RegExp('^/' + segs.map((s) => (/^\{.*\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))).join('/') + '$');
        const literals = segs.filter((s) => !/^\{.*\}$/.test(s)).length;
        for (const m of METHODS) if (item[m]) routes.push({ method: m.toUpperCase(), path: p, re, literals, op: item[m], item });
    }
    routes.sort((a, b) => b.literals - a.literals);
    const mode = process.env.DTM_CONTRACT;
    state = { doc, ajv, routes, validators: new Map(), mode, log: path.join(ROOT, 'test-output', 'contract-violations.jsonl') };
    return state;
}

function deref(doc, obj) {
    while (obj && obj.$ref) obj = obj.$ref.slice(2).split('/').reduce((o, k) => o[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
    return obj;
}

function takesIdempotencyKey(doc, route) {
    const params = [...(route.item.parameters || []), ...(route.op.parameters || [])].map((p) => deref(doc, p));
    return params.some((p) => p && p.in === 'header' && p.name === 'Idempotency-Key');
}

function validator(s, key, schema) {
    if (!s.validators.has(key)) s.validators.set(key, s.ajv.compile(convert(schema)));
    return s.validators.get(key);
}

/** The violations of one response, [] when it keeps the contract. */
function check(method, url, res) {
    const s = load();
    const pathname = new URL(url, 'http://x').pathname;
    const route = s.routes.find((r) => r.method === method && r.re.test(pathname));
    if (!route) return [];
    const where = `${method} ${route.path} -> ${res.status}`;
    const st = String(res.status);
    let response = route.op.responses[st] || route.op.responses[`${st[0]}XX`] || route.op.responses.default;
    let schema = null;
    if (response) {
        response = deref(s.doc, response);
        const media = response.content && response.content['application/json'];
        schema = media && media.schema;
    } else {
        const code = res.json && res.json.error && res.json.error.code;
        const bearer = (route.op.security || s.doc.security || []).length > 0;
        const generic = GENERIC[res.status];
        const idem = takesIdempotencyKey(s.doc, route) ? IDEMPOTENCY[res.status] : undefined;
        const allowed =
            (generic !== undefined && (res.status !== 401 || bearer) && (generic === null || generic.includes(code))) ||
            (idem !== undefined && idem.includes(code));
        if (!allowed) return [{ where, problem: `undocumented status (error code ${code || 'none'})` }];
        schema = { $ref: '#/components/schemas/Error' };
    }
    const type = res.headers['content-type'] || '';
    if (!schema || !/^application\/json/.test(type) || !res.text) return [];
    if (res.json === null) return [{ where, problem: 'body is not JSON' }];
    const validate = validator(s, schema.$ref || `${route.method} ${route.path} ${st}`, schema);
    if (validate(res.json)) return [];
    return [{ where, problem: 'body does not match the schema', errors: validate.errors.slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message}`) }];
}

/** Called by the harness's api() for every response when DTM_CONTRACT is set. */
function enforce(method, url, res) {
    const violations = check(method, url, res);
    if (!violations.length) return;
    const s = load();
    if (s.mode === 'log') {
        fs.mkdirSync(path.dirname(s.log), { recursive: true });
        const test = process.argv[1] ? path.relative(ROOT, process.argv[1]) : '';
        for (const v of violations) fs.appendFileSync(s.log, JSON.stringify({ ...v, file: test }) + '\n');
        return;
    }
    const v = violations[0];
    throw new Error(`contract (docs/openapi.yaml): ${v.where}: ${v.problem}${v.errors ? ': ' + v.errors.join('; ') : ''}\n${res.text.slice(0, 500)}`);
}

const enabled = () => process.env.DTM_CONTRACT !== '0';

/** Parse the document and compile the shared schemas ahead of the first request (the harness
 *  calls it from startDtm()), so that timing tests do not pay for it mid-burst. */
function prepare() {
    const s = load();
    const error = { $ref: '#/components/schemas/Error' };
    validator(s, error.$ref, error);
}

module.exports = { check, enforce, enabled, prepare };
