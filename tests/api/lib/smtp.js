// SPDX-License-Identifier: MIT
// A real SMTP server for the mail tests: the npm package smtp-server (tests/package.json),
// listening on 127.0.0.1. Every message it accepts is written to `dir` as <n>.eml (the raw
// bytes dtm sent) and kept in `messages`, parsed just enough to read it back: headers, and the
// text/plain and text/html parts of a multipart/alternative body decoded from base64.
//
//   const mail = await startSmtp();           // env: {DTM_SMTP_URL: mail.url}
//   const m = await mail.waitFor((m) => m.to === 'a@example.com');
//   await mail.stop();  await mail.start();   // down for a while, then back on the same port
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { SMTPServer } = require('smtp-server');
const { freePort, sleep } = require('./harness.js');

function unfoldHeaders(text) {
    const headers = {};
    for (const line of text.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    return headers;
}

// =?UTF-8?B?...?= words of a header value.
function decodeWords(v) {
    return (v || '').replace(/=\?UTF-8\?B\?([^?]*)\?=(?:\s+(?==\?))?/gi, (_, b) => Buffer.from(b, 'base64').toString('utf8'));
}

function decodePart(raw) {
    const split = raw.indexOf('\r\n\r\n');
    const headers = unfoldHeaders(raw.slice(0, split));
    let body = raw.slice(split + 4);
    if (/base64/i.test(headers['content-transfer-encoding'] || '')) body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    return { headers, body };
}

function parse(raw) {
    const top = decodePart(raw);
    const msg = { raw, headers: top.headers, subject: decodeWords(top.headers.subject), text: null, html: null };
    const ct = top.headers['content-type'] || '';
    const b = /boundary="([^"]+)"/.exec(ct);
    if (b) {
        const parts = raw.split(`--${b[1]}`).slice(1, -1);
        for (const p of parts) {
            const part = decodePart(p.replace(/^\r\n/, ''));
            const type = part.headers['content-type'] || '';
            if (type.startsWith('text/plain')) msg.text = part.body;
            if (type.startsWith('text/html')) msg.html = part.body;
        }
    } else {
        msg.text = top.body;
    }
    return msg;
}

async function startSmtp() {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dtm-smtp-'));
    const messages = [];
    let server = null;
    let n = 0;
    const handle = {
        port,
        url: `smtp://127.0.0.1:${port}`,
        dir,
        messages,
        sessions: 0,
        async start() {
            server = new SMTPServer({
                authOptional: true,
                disabledCommands: ['STARTTLS', 'AUTH'],
                logger: false,
                onConnect(session, cb) {
                    handle.sessions++;
                    cb();
                },
                onData(stream, session, cb) {
                    const chunks = [];
                    stream.on('data', (c) => chunks.push(c));
                    stream.on('end', () => {
                        const raw = Buffer.concat(chunks).toString('utf8');
                        fs.writeFileSync(path.join(dir, `${++n}.eml`), raw);
                        const m = parse(raw);
                        m.envelope = {
                            from: session.envelope.mailFrom && session.envelope.mailFrom.address,
                            to: session.envelope.rcptTo.map((r) => r.address),
                        };
                        m.to = m.envelope.to[0];
                        messages.push(m);
                        cb();
                    });
                },
            });
            await new Promise((resolve, reject) => {
                server.once('error', reject);
                server.listen(port, '127.0.0.1', resolve);
            });
        },
        async stop() {
            if (!server) return;
            const s = server;
            server = null;
            await new Promise((resolve) => s.close(resolve));
        },
        /** Messages read back from the mailbox directory (what was really received). */
        mailbox() {
            return fs
                .readdirSync(dir)
                .filter((f) => f.endsWith('.eml'))
                .map((f) => parse(fs.readFileSync(path.join(dir, f), 'utf8')));
        },
        async waitFor(pred, timeoutMs = 15000) {
            const deadline = Date.now() + timeoutMs;
            for (;;) {
                const m = messages.find(pred);
                if (m) return m;
                if (Date.now() > deadline) throw new Error(`no such mail within ${timeoutMs} ms; have: ${messages.map((x) => `${x.to}: ${x.subject}`).join(' | ')}`);
                await sleep(50);
            }
        },
        async close() {
            await handle.stop();
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
    await handle.start();
    return handle;
}

module.exports = { startSmtp, parseMail: parse, decodeWords };
