// SPDX-License-Identifier: MIT
// Strict HTTP/1.1 at every process that reads requests (RFC 9110 / 9112), over raw sockets so
// nothing between the test and the server fixes a request up: Host rules, versions, framing
// that smuggles (space before the colon, obs-fold, Content-Length with Transfer-Encoding, chunk
// data without its CRLF), reason phrases, error bodies that never name parser internals, no
// chunked responses to HTTP/1.0, 413 on every route (JSON within DTM_MAX_BODY, multipart within
// the route's upload limit), one `photo` part, no %00 in a query.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { startDtm } = require('./lib/harness.js');

const MAX_BODY = 65536;
let dtm;
let token;
before(async () => {
    dtm = await startDtm({ env: { DTM_MAX_BODY: String(MAX_BODY), DTM_RATE_LIMIT_PER_IP: '100000' } });
    token = (await dtm.loginAdmin()).accessToken;
});
after(async () => {
    if (dtm) await dtm.stop();
});

/** Parses one response from buf: {status, reason, headers, body, chunked, rest} or null. */
function parseResponse(buf, ended) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const head = buf.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) (.*)$/.exec(head[0]);
    assert.ok(m, `status line: ${JSON.stringify(head[0])}`);
    const headers = {};
    for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        const name = line.slice(0, i).toLowerCase();
        headers[name] = headers[name] === undefined ? line.slice(i + 1).trim() : `${headers[name]}, ${line.slice(i + 1).trim()}`;
    }
    const res = { status: Number(m[1]), reason: m[2], headers, chunked: /chunked/i.test(headers['transfer-encoding'] || '') };
    let rest = buf.subarray(end + 4);
    if (headers['content-length'] !== undefined) {
        const n = Number(headers['content-length']);
        if (rest.length < n) return null;
        res.body = rest.subarray(0, n);
        res.rest = rest.subarray(n);
    } else if (res.chunked) {
        const parts = [];
        for (;;) {
            const nl = rest.indexOf('\r\n');
            if (nl < 0) return null;
            const size = parseInt(rest.subarray(0, nl).toString(), 16);
            if (rest.length < nl + 2 + size + 2) return null;
            if (size === 0) {
                rest = rest.subarray(nl + 4);
                break;
            }
            parts.push(rest.subarray(nl + 2, nl + 2 + size));
            rest = rest.subarray(nl + 2 + size + 2);
        }
        res.body = Buffer.concat(parts);
        res.rest = rest;
    } else {
        if (!ended) return null; // close-delimited
        res.body = rest;
        res.rest = Buffer.alloc(0);
    }
    res.text = res.body.toString();
    try {
        res.json = JSON.parse(res.text);
    } catch {
        res.json = null;
    }
    return res;
}

/** Sends raw bytes on a fresh connection; resolves with the first response and whether the
 *  server closed the connection after it. */
function raw(data, { port = dtm.port, timeoutMs = 10000 } = {}) {
    return new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        let buf = Buffer.alloc(0);
        let res = null;
        const timer = setTimeout(() => {
            s.destroy();
            if (res) resolve({ ...res, closed: false });
            else reject(new Error(`no complete response in ${timeoutMs} ms: ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`));
        }, timeoutMs);
        const done = (closed) => {
            clearTimeout(timer);
            s.destroy();
            resolve({ ...res, closed });
        };
        s.on('error', () => {}); // a reset after the answer (unread body) is fine
        s.on('data', (d) => {
            buf = Buffer.concat([buf, d]);
            if (!res) res = parseResponse(buf, false);
            // keep reading a little: a server that closes does so right after the response
        });
        s.on('close', () => {
            if (!res) res = parseResponse(buf, true);
            if (!res) {
                clearTimeout(timer);
                reject(new Error(`connection closed without a response: ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`));
                return;
            }
            done(true);
        });
        s.on('connect', () => {
            for (const piece of [].concat(data)) s.write(piece);
        });
        // A keep-alive answer is complete without a close: stop waiting shortly after it.
        const poll = setInterval(() => {
            if (res) {
                clearInterval(poll);
                setTimeout(() => {
                    if (!s.destroyed) done(false);
                }, 300);
            }
        }, 20);
        s.on('close', () => clearInterval(poll));
    });
}

/** A 4xx/5xx with the API's JSON error body, and nothing of the parser in it. */
function assertJsonError(r, status, code) {
    assert.equal(r.status, status, `${r.status} ${r.reason}: ${r.text}`);
    assert.match(r.headers['content-type'] || '', /^application\/json/);
    assert.ok(r.json && r.json.error, r.text);
    if (code) assert.equal(r.json.error.code, code, r.text);
    assert.equal(typeof r.json.error.message, 'string');
    assert.ok(r.json.error.message.length > 0);
    assert.doesNotMatch(r.text, /HPE_|JSON_ALLOW|llhttp|http_parser/, 'no parser internals in the body');
}

test('Host: exactly one on HTTP/1.1 (400 without or with two); HTTP/1.0 needs none', async () => {
    assertJsonError(await raw('GET /health HTTP/1.1\r\n\r\n'), 400, 'bad_request');
    assertJsonError(await raw('GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'), 400, 'bad_request');
    assertJsonError(await raw('GET /health HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n'), 400, 'bad_request');
    const ok = await raw('GET /health HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(ok.status, 200, ok.text);
    const old = await raw('GET /health HTTP/1.0\r\n\r\n');
    assert.equal(old.status, 200, old.text);
    assert.equal(old.closed, true, 'HTTP/1.0 without keep-alive: closed after the answer');
});

test('versions: 505 for HTTP/2.0 or 0.9 in a request line and the HTTP/2 preface; 400 without one', async () => {
    for (const v of ['HTTP/2.0', 'HTTP/0.9', 'HTTP/1.2', 'HTTP/3.0']) {
        const r = await raw(`GET /health ${v}\r\nHost: a\r\n\r\n`);
        assertJsonError(r, 505, 'http_version_not_supported');
        assert.equal(r.reason, 'HTTP Version Not Supported');
        assert.equal(r.closed, true);
    }
    assertJsonError(await raw('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 505, 'http_version_not_supported');
    assertJsonError(await raw('GET /health\r\n\r\n'), 400, 'bad_request'); // HTTP/0.9 simple request
    assertJsonError(await raw('GET /health HTTP/x.y\r\nHost: a\r\n\r\n'), 400, 'bad_request');
});

test('framing that smuggles is a 400 with a JSON body in words', async () => {
    const post = (headers, body = '') => `POST /api/auth/login HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n${headers}\r\n${body}`;
    const cases = {
        'space before the colon': post('Content-Length : 2\r\n', '{}'),
        'obs-fold': 'GET /health HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n',
        'obs-fold with a tab': 'GET /health HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n\ttwo\r\n\r\n',
        'Content-Length with Transfer-Encoding': post('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'),
        'chunk data without CRLF': post('Transfer-Encoding: chunked\r\n', '2\r\n{}XX0\r\n\r\n'),
        'two Content-Lengths that differ': post('Content-Length: 2\r\nContent-Length: 3\r\n', '{}'),
        'a list as Content-Length': post('Content-Length: 2, 2\r\n', '{}'),
        'Transfer-Encoding not ending with chunked': post('Transfer-Encoding: chunked, gzip\r\n', '0\r\n\r\n'),
        'bare LF line ends': 'GET /health HTTP/1.1\nHost: a\n\n',
        'a control character in a header value': 'GET /health HTTP/1.1\r\nHost: a\r\nX-A: a\x01b\r\n\r\n',
    };
    for (const [what, req] of Object.entries(cases)) {
        const r = await raw(req);
        assert.equal(r.status, 400, `${what}: ${r.status} ${r.text}`);
        assertJsonError(r, 400, 'bad_request');
        assert.equal(r.reason, 'Bad Request');
        assert.equal(r.closed, true, `${what}: the connection closes after a framing error`);
    }
    // Splitting the same bytes across reads changes nothing: obs-fold cut right after the LF.
    const split = await raw(['GET /health HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n', ' two\r\n\r\n']);
    assertJsonError(split, 400, 'bad_request');
    // An empty value is a value, not a fold, wherever the read ends (Idempotency-Key: "" is
    // the idempotency layer's 400, not the parser's).
    for (const parts of [['GET /health HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-B: b\r\n\r\n'],
        ['GET /health HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n', 'X-B: b\r\n\r\n'],
        ['GET /health HTTP/1.1\r\nHost: a\r\nX-Empty: \r\n\r\n']]) {
        const r = await raw(parts);
        assert.equal(r.status, 200, `${JSON.stringify(parts)}: ${r.status} ${r.text}`);
    }
});

test('status lines carry reason phrases (414, 417, 404, 405)', async () => {
    const long = await raw(`GET /${'a'.repeat(20000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
    assertJsonError(long, 414, 'uri_too_long');
    assert.equal(long.reason, 'URI Too Long');
    const expect = await raw('POST /api/auth/login HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}');
    assertJsonError(expect, 417, 'expectation_failed');
    assert.equal(expect.reason, 'Expectation Failed');
    const nf = await raw('GET /api/nothing HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(nf.status, 404);
    assert.equal(nf.reason, 'Not Found');
    const na = await raw('DELETE /api/auth/login HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(na.status, 405);
    assert.equal(na.reason, 'Method Not Allowed');
});

test('a NUL byte in JSON is a 400 that does not name jansson flags', async () => {
    const body = '{"email":"a\\u0000b","password":"x"}';
    const r = await raw(`POST /api/auth/login HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    assertJsonError(r, 400, 'malformed_json');
});

test('HTTP/1.0 clients never get a chunked response: streams are close-delimited', async () => {
    const req = (v) => `GET /api/reports/todos?format=csv ${v}\r\nHost: a\r\nAuthorization: Bearer ${token}\r\n\r\n`;
    const r11 = await raw(req('HTTP/1.1'));
    assert.equal(r11.status, 200, r11.text);
    assert.equal(r11.chunked, true, 'HTTP/1.1: the stream is chunked (what the 1.0 case must avoid)');
    const r10 = await raw(req('HTTP/1.0'));
    assert.equal(r10.status, 200, r10.text);
    assert.equal(r10.headers['transfer-encoding'], undefined, JSON.stringify(r10.headers));
    assert.equal(r10.closed, true, 'the body ends with the connection');
    assert.equal(r10.text, r11.text, 'the same CSV, without chunk framing');
    assert.match(r10.text, /^\uFEFF?[^\r\n]*,/, 'starts with the CSV header row');
    // Keep-alive asked by a 1.0 client: still no chunking, the connection closes.
    const ka = await raw(req('HTTP/1.0').replace('\r\n\r\n', '\r\nConnection: keep-alive\r\n\r\n'));
    assert.equal(ka.headers['transfer-encoding'], undefined);
    assert.equal(ka.closed, true);
});

test('a %00 or malformed escape in the query string is a 400', async () => {
    for (const q of ['x=%00', 'a=1&b=%00c', 'x=%zz', 'x=%4']) {
        const r = await raw(`GET /api/todos?${q} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\n\r\n`);
        assertJsonError(r, 400, 'bad_request');
    }
    const ok = await raw(`GET /api/todos?limit=1&q=%41 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    assert.equal(ok.status, 200, ok.text);
});

/** The ports to check: the client-facing one, and in the micro topology a service's own. */
function ports(service) {
    const list = [['edge', dtm.port]];
    if (dtm.upstreams && dtm.upstreams[service]) list.push([service, Number(new URL(dtm.upstreams[service][0]).port)]);
    return list;
}

test('413 JSON over DTM_MAX_BODY on every route, punch-in included, at the edge and the service', async () => {
    const big = JSON.stringify({ note: 'x'.repeat(MAX_BODY) });
    const head = (path, extra = '') =>
        `POST ${path} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n${extra}`;
    for (const [where, port] of ports('attendance')) {
        // A service's own port serves only its routes.
        const paths = where === 'edge' ? ['/api/attendance/punch-in', '/api/todos', '/api/auth/login'] : ['/api/attendance/punch-in'];
        for (const path of paths) {
            const r = await raw(`${head(path, `Content-Length: ${big.length}\r\n`)}\r\n${big}`, { port });
            assertJsonError(r, 413, 'payload_too_large');
            assert.equal(r.reason, 'Content Too Large', `${where} ${path}`);
            // The limit named is DTM_MAX_BODY, or a route's smaller one (auth takes 16 KiB).
            const limit = Number((/(\d+) bytes/.exec(r.json.error.message) || [])[1]);
            assert.ok(limit > 0 && limit <= MAX_BODY, r.json.error.message);
            // Without a length up front (chunked), the limit holds while reading.
            const chunked = await raw(`${head(path, 'Transfer-Encoding: chunked\r\n')}\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`, { port });
            assertJsonError(chunked, 413, 'payload_too_large');
        }
    }
});

/** A multipart body with the given parts [{name, filename?, data}]. */
function multipart(parts) {
    const b = 'strictboundary';
    const chunks = [];
    for (const p of parts) {
        const disp = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
        chunks.push(Buffer.from(`--${b}\r\nContent-Disposition: ${disp}\r\n${p.filename ? 'Content-Type: application/octet-stream\r\n' : ''}\r\n`));
        chunks.push(Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data));
        chunks.push(Buffer.from('\r\n'));
    }
    chunks.push(Buffer.from(`--${b}--\r\n`));
    return { type: `multipart/form-data; boundary=${b}`, body: Buffer.concat(chunks) };
}

function postMultipart(path, form, port) {
    const head = `POST ${path} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\nContent-Type: ${form.type}\r\nContent-Length: ${form.body.length}\r\n\r\n`;
    return raw([head, form.body], { port, timeoutMs: 20000 });
}

test('multipart keeps its own limit: above DTM_MAX_BODY is read, above the upload limit is 413', async () => {
    const fields = [
        { name: 'storeId', data: '00000000-0000-4000-8000-000000000000' },
        { name: 'latitude', data: '1' },
        { name: 'longitude', data: '1' },
        { name: 'accuracyM', data: '5' },
    ];
    for (const [where, port] of ports('attendance')) {
        // 200 KiB of not-an-image: over DTM_MAX_BODY, under the photo limit, so it is read and
        // judged by its bytes (415), not refused for its size.
        const mid = await postMultipart('/api/attendance/punch-in', multipart([...fields, { name: 'photo', filename: 'a.bin', data: Buffer.alloc(200 * 1024, 1) }]), port);
        assertJsonError(mid, 415, 'unsupported_media_type');
        // Over the punch-in upload limit (5 MiB photo + 256 KiB): 413 JSON before the body is read.
        const huge = await postMultipart('/api/attendance/punch-in', multipart([...fields, { name: 'photo', filename: 'a.bin', data: Buffer.alloc(5 * 1024 * 1024 + 300 * 1024, 1) }]), port);
        assertJsonError(huge, 413, 'payload_too_large');
        assert.equal(huge.reason, 'Content Too Large', where);
    }
});

test('a repeated photo part is a 400 like any repeated field (punch-in and audit photos)', async () => {
    const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(64, 0)]);
    const fields = [
        { name: 'storeId', data: '00000000-0000-4000-8000-000000000000' },
        { name: 'latitude', data: '1' },
        { name: 'longitude', data: '1' },
        { name: 'accuracyM', data: '5' },
    ];
    const two = multipart([...fields, { name: 'photo', filename: 'a.jpg', data: JPEG }, { name: 'photo', filename: 'b.jpg', data: JPEG }]);
    const r = await postMultipart('/api/attendance/punch-in', two);
    assertJsonError(r, 400, 'validation_failed');
    assert.deepEqual(r.json.error.details.map((d) => d.field), ['photo'], r.text);
    const note = await postMultipart('/api/attendance/punch-in', multipart([...fields, { name: 'note', data: 'a' }, { name: 'note', data: 'b' }]));
    assertJsonError(note, 400, 'validation_failed');
    assert.deepEqual(note.json.error.details.map((d) => d.field), ['note'], note.text);
    const audit = await postMultipart(
        '/api/audits/00000000-0000-4000-8000-000000000000/photos',
        multipart([{ name: 'questionId', data: 'q1' }, { name: 'photo', filename: 'a.jpg', data: JPEG }, { name: 'photo', filename: 'b.jpg', data: JPEG }]),
    );
    assertJsonError(audit, 400, 'validation_failed');
    assert.ok(audit.json.error.details.some((d) => d.field === 'photo'), audit.text);
});

test('pipelined requests still work, and bytes after Connection: close are not answered', async () => {
    const two = await new Promise((resolve) => {
        const s = net.connect(dtm.port, '127.0.0.1');
        let buf = '';
        s.on('data', (d) => (buf += d.toString('latin1')));
        s.on('close', () => resolve(buf));
        s.write('GET /health HTTP/1.1\r\nHost: a\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\n\r\n');
    });
    assert.equal((two.match(/HTTP\/1\.1 200 OK/g) || []).length, 2, two);
    assert.doesNotMatch(two, /HTTP\/1\.1 400/);
});
