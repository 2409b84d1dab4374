// SPDX-License-Identifier: MIT
// Checks the Grafana dashboards and provisioning files, and writes every panel query as a
// Prometheus recording rule so that `promtool check rules` parses each one (Grafana's
// variables replaced by values of the right kind first).
// Usage: node dashboards-promql.mjs OUT.yml PROVISIONING.yml... -- DASHBOARD.json...
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';

const args = process.argv.slice(2);
const out = args.shift();
const sep = args.indexOf('--');
const provisioning = args.slice(0, sep);
const dashboards = args.slice(sep + 1);
for (const f of provisioning) {
    const y = parse(readFileSync(f, 'utf8'));
    if (y.apiVersion !== 1) throw new Error(`${f}: apiVersion 1 expected`);
    if (!y.datasources && !y.providers) throw new Error(`${f}: neither datasources nor providers`);
}
const rules = [];
for (const f of dashboards) {
    const d = JSON.parse(readFileSync(f, 'utf8'));
    if (!d.uid || !Array.isArray(d.panels)) throw new Error(`${f}: not a dashboard`);
    const ids = new Set();
    for (const p of d.panels) {
        if (ids.has(p.id)) throw new Error(`${f}: duplicate panel id ${p.id}`);
        ids.add(p.id);
        for (const t of p.targets || []) {
            if (t.datasource?.uid !== 'prometheus') throw new Error(`${f}: ${p.title}: datasource must be uid prometheus`);
            const expr = t.expr
                .replace(/\$__rate_interval|\$__interval/g, '1m')
                .replace(/\$__range/g, '1h')
                .replace(/\$[a-z_]+/g, '.*');
            rules.push({ record: `dashboard:${d.uid.replace(/-/g, '_')}:q${rules.length}`, expr });
        }
    }
}
writeFileSync(out, stringify({ groups: [{ name: 'dashboards', rules }] }));
console.log(`${dashboards.length} dashboards, ${rules.length} queries extracted, ${provisioning.length} provisioning files ok`);
