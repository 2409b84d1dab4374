// SPDX-License-Identifier: MIT
// The layering of shared/DESIGN.md, checked on the source tree: `core` knows nothing above it;
// `http` knows requests, routes and phases but no policy (gateway/), storage (db/) or service
// (services/), nor the commands (cli/). The layers above reach down through phase hooks and
// health probes registered at start (cli/serve.c), never by an include going up.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');

// What each checked layer may include from src/ (system headers in <...> are not checked).
const ALLOWED = {
    core: ['core'],
    http: ['core', 'http'],
};

function* sources(dir) {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) yield* sources(p);
        else if (/\.[ch]$/.test(e.name)) yield p;
    }
}

// Every `#include "..."` of the checked layers that leaves what the layer may see:
// [{file, line, include, layer}] with paths relative to srcRoot.
function violations(srcRoot) {
    const out = [];
    for (const [layer, allowed] of Object.entries(ALLOWED)) {
        const dir = path.join(srcRoot, layer);
        if (!fs.existsSync(dir)) continue;
        for (const file of sources(dir)) {
            const lines = fs.readFileSync(file, 'utf8').split('\n');
            lines.forEach((text, i) => {
                const m = /^\s*#\s*include\s*"([^"]+)"/.exec(text);
                if (!m) return;
                // "x.h" next to the file, else "dir/x.h" from src/ (the include path).
                const local = path.resolve(path.dirname(file), m[1]);
                const target = fs.existsSync(local) ? local : path.resolve(srcRoot, m[1]);
                const rel = path.relative(srcRoot, target);
                const top = rel.split(path.sep)[0];
                if (rel.startsWith('..') || !allowed.includes(top))
                    out.push({ file: path.relative(srcRoot, file), line: i + 1, include: m[1], layer });
            });
        }
    }
    return out;
}

test('http/ and core/ include nothing above their layer', () => {
    const v = violations(path.join(ROOT, 'src'));
    assert.deepEqual(
        v.map((x) => `${x.file}:${x.line} includes "${x.include}"`),
        [],
        'layer-breaking includes (register a phase hook or health probe instead)'
    );
});

test('the check finds a forbidden include (it can fail)', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dtm-layering-'));
    try {
        for (const d of ['core', 'http', 'gateway', 'db', 'services/auth']) fs.mkdirSync(path.join(tmp, d), { recursive: true });
        fs.writeFileSync(path.join(tmp, 'gateway/edge.h'), '');
        fs.writeFileSync(path.join(tmp, 'db/redis.h'), '');
        fs.writeFileSync(path.join(tmp, 'http/http.h'), '');
        fs.writeFileSync(path.join(tmp, 'core/str.h'), '');
        fs.writeFileSync(
            path.join(tmp, 'http/router.c'),
            '#include "core/str.h"\n#include "http/http.h"\n#include "http.h"\n#include <stdio.h>\n' +
                '#include "gateway/edge.h"\n#  include "../db/redis.h"\n#include "services/auth/revoke.h"\n'
        );
        fs.writeFileSync(path.join(tmp, 'core/str.c'), '#include "core/str.h"\n#include "http/http.h"\n');
        fs.writeFileSync(path.join(tmp, 'gateway/edge.c'), '#include "db/redis.h"\n#include "http/http.h"\n');
        const found = violations(tmp).map((x) => `${x.file}:${x.line} ${x.include}`);
        assert.deepEqual(found.sort(), [
            'core/str.c:2 http/http.h',
            'http/router.c:5 gateway/edge.h',
            'http/router.c:6 ../db/redis.h',
            'http/router.c:7 services/auth/revoke.h',
        ]);
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
});
