// SPDX-License-Identifier: MIT
// The hot queries of the audits service use an index (checked, not assumed). Seeds 50,000
// audits over 200 stores, 400 users and 20 templates straight into a fresh database, then
// EXPLAINs each query the way the server runs it: a prepared statement with a generic plan. The
// SQL mirrors src/services/audits/store.c.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startDtm } = require('./lib/harness.js');

let dtm;
let user, store, template, sha;

before(async () => {
    dtm = await startDtm({ seed: false });
    await dtm.sql(`
        CREATE TEMP TABLE u AS SELECT gen_random_uuid() AS id FROM generate_series(1, 400);
        CREATE TEMP TABLE s AS SELECT gen_random_uuid() AS id FROM generate_series(1, 200);
        INSERT INTO audits.templates (id, created_by) SELECT gen_random_uuid(), gen_random_uuid() FROM generate_series(1, 20);
        INSERT INTO audits.template_versions (template_id, version, name, questions)
        SELECT id, 1, 'T', '[{"id":"a","text":"A","type":"yes_no","weight":1}]' FROM audits.templates;
        INSERT INTO audits.audits (id, template_id, template_version, store_id, user_id, status, score_pct, passed,
                                   started_at, submitted_at)
        SELECT gen_random_uuid(), ts.ids[1 + g % 20], 1, ss.ids[1 + g % 200], us.ids[1 + (g / 3) % 400],
               CASE WHEN g % 10 = 0 THEN 'draft' ELSE 'submitted' END,
               CASE WHEN g % 10 = 0 THEN NULL ELSE (g % 1001) / 10.0 END,
               CASE WHEN g % 10 = 0 THEN NULL ELSE g % 1001 >= 800 END,
               c, CASE WHEN g % 10 = 0 THEN NULL ELSE c + interval '20 minutes' END
        FROM generate_series(1, 50000) g
        CROSS JOIN (SELECT array_agg(id) AS ids FROM u) us
        CROSS JOIN (SELECT array_agg(id) AS ids FROM s) ss
        CROSS JOIN (SELECT array_agg(id) AS ids FROM audits.templates) ts
        CROSS JOIN LATERAL (SELECT now() - (g % 365) * interval '1 day' - (g % 13) * interval '1 hour' AS c) x;
        INSERT INTO audits.photos (audit_id, question_id, sha256, content_type, bytes)
        SELECT id, 'a', encode(sha256(id::text::bytea), 'hex'), 'image/jpeg', 1000
        FROM audits.audits WHERE status = 'submitted';`);
    for (const t of ['audits.audits', 'audits.photos', 'audits.templates', 'audits.template_versions']) await dtm.sql(`VACUUM ANALYZE ${t}`);
    [[user, store, template]] = await dtm.sql('SELECT user_id, store_id, template_id FROM audits.audits LIMIT 1');
    [[sha]] = await dtm.sql('SELECT sha256 FROM audits.photos LIMIT 1');
});
after(async () => {
    if (dtm) await dtm.stop();
});

const ISO = (c) => `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const AUDIT_COLS =
    'a.id, a.template_id, a.template_version, v.name AS template_name, a.store_id, a.user_id, a.visit_id, a.attendance_id, ' +
    'a.status, a.answers::text AS answers, a.revision, a.score_pct::text AS score_pct, a.passed, ' +
    `array_to_json(a.corrective_todo_ids)::text AS corrective_todo_ids, ${ISO('a.started_at')} AS started_at, ` +
    `${ISO('a.submitted_at')} AS submitted_at, ${ISO('a.updated_at')} AS updated_at, v.questions::text AS questions, ` +
    'v.pass_threshold_pct::text AS pass_threshold_pct';
const LIST =
    `SELECT ${AUDIT_COLS} FROM audits.audits a JOIN audits.template_versions v ` +
    'ON v.template_id = a.template_id AND v.version = a.template_version WHERE true';
const ORDER = 'ORDER BY a.started_at DESC, a.id DESC';

async function plan(query, args) {
    const rows = await dtm.sql(
        `SET plan_cache_mode = force_generic_plan; PREPARE q AS ${query}; EXPLAIN (FORMAT JSON) EXECUTE q${args ? `(${args})` : ''}`
    );
    const doc = JSON.parse(rows.map((r) => r.join('\t')).join('\n'));
    const nodes = [];
    const walk = (n) => {
        nodes.push(n);
        for (const c of n.Plans || []) walk(c);
    };
    walk(doc[0].Plan);
    return nodes;
}

function assertIndexed(nodes, index, what) {
    const text = JSON.stringify(nodes.map((n) => [n['Node Type'], n['Relation Name'], n['Index Name']]));
    const seq = nodes.filter((n) => n['Node Type'] === 'Seq Scan' && ['audits', 'photos'].includes(n['Relation Name']));
    assert.equal(seq.length, 0, `${what}: no sequential scan of audits: ${text}`);
    assert.ok(nodes.some((n) => index.test(n['Index Name'] || '')), `${what}: uses ${index}: ${text}`);
}

test('list: newest first for staff, a merchandiser, a store, a template', async () => {
    assertIndexed(await plan(`${LIST} ${ORDER} LIMIT $1 OFFSET $2`, '20, 0'), /^audits_started_idx$/, 'staff page');
    assertIndexed(await plan(`${LIST} AND a.user_id = $1 ${ORDER} LIMIT $2 OFFSET $3`, `'${user}', 20, 0`), /^audits_user_started_idx$/, 'merchandiser page');
    assertIndexed(await plan(`${LIST} AND a.store_id = $1 ${ORDER} LIMIT $2 OFFSET $3`, `'${store}', 20, 0`), /^audits_store_started_idx$/, 'store page');
    assertIndexed(await plan(`${LIST} AND a.template_id = $1 ${ORDER} LIMIT $2 OFFSET $3`, `'${template}', 20, 0`), /^audits_template_started_idx$/, 'template page');
    assertIndexed(await plan('SELECT count(*) AS n FROM audits.audits a WHERE true AND a.user_id = $1', `'${user}'`), /^audits_user_started_idx$/, 'merchandiser count');
});

test('scores: a period of submitted audits is read from audits_scores_idx', async () => {
    for (const key of ['store_id::text', "to_char(date_trunc('week', submitted_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"]) {
        const nodes = await plan(
            `SELECT ${key} AS key, count(*) AS audits, round(avg(score_pct), 1)::text AS avg_score_pct, ` +
                'round(100.0 * count(*) FILTER (WHERE passed) / count(*), 1)::text AS pass_rate_pct ' +
                "FROM audits.audits WHERE status = 'submitted' AND submitted_at >= $1 AND submitted_at < $2 GROUP BY 1 ORDER BY 1",
            "now() - interval '30 days', now()"
        );
        assertIndexed(nodes, /^audits_scores_idx$/, `scores by ${key}`);
    }
});

test('photo access is an index lookup', async () => {
    assertIndexed(
        await plan('SELECT p.content_type FROM audits.photos p JOIN audits.audits a ON a.id = p.audit_id WHERE p.sha256 = $1 AND a.user_id = $2 LIMIT 1', `'${sha}', '${user}'`),
        /^photos_sha256_idx$/,
        'photo of an owner'
    );
});
