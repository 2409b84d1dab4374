// SPDX-License-Identifier: MIT
// Serves the mobile app's web export (mobile/dist) the way a phone's web view would get it:
// static files with the cross-origin isolation expo-sqlite's web build needs (COOP/COEP, for
// SharedArrayBuffer), /api/* proxied to a dtm so the app talks to its own origin, and a history
// fallback to index.html. Writes carrying an Idempotency-Key are recorded (method, path, headers,
// body bytes) in srv.writes, so a test can replay exactly what the app sent.
//
//   const srv = await serveMobile({ dist, api: 'http://127.0.0.1:PORT' }); srv.url; await srv.close();
'use strict';

const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

const TYPES = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
    '.json': 'application/json',
    '.wasm': 'application/wasm',
    '.png': 'image/png',
    '.ico': 'image/x-icon',
    '.css': 'text/css',
    '.ttf': 'font/ttf',
};

function serveMobile({ dist, api }) {
    const target = new URL(api);
    const root = path.resolve(dist);
    const writes = [];
    const server = http.createServer((req, res) => {
        res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
        res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
        res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
        if (req.url.startsWith('/api/')) {
            const up = http.request(
                { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
                (r) => {
                    res.writeHead(r.statusCode, r.headers);
                    r.pipe(res);
                },
            );
            if (req.headers['idempotency-key']) {
                const chunks = [];
                const w = { method: req.method, path: req.url, headers: { ...req.headers }, body: null, status: null };
                writes.push(w);
                req.on('data', (c) => chunks.push(c));
                req.on('end', () => (w.body = Buffer.concat(chunks)));
                up.on('response', (r) => (w.status = r.statusCode));
            }
            up.on('error', () => {
                res.writeHead(502, { 'Content-Type': 'application/json' });
                res.end('{"error":{"code":"bad_gateway","message":"dtm unreachable"}}');
            });
            req.pipe(up);
            return;
        }
        const u = decodeURIComponent(new URL(req.url, 'http://x').pathname);
        let file = path.join(root, u);
        if (!file.startsWith(root) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) file = path.join(root, 'index.html');
        res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-store' });
        fs.createReadStream(file).pipe(res);
    });
    return new Promise((resolve) => {
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            resolve({ url: `http://127.0.0.1:${port}`, writes, close: () => new Promise((r) => server.close(r)) });
        });
    });
}

module.exports = { serveMobile };
