// SPDX-License-Identifier: MIT
// Generates the Grafana dashboards in ./dashboards/ from one description, so panels stay
// consistent (same datasource, units, legends). Run `node generate.mjs` after editing and commit
// the JSON; `node generate.mjs --check` (in make deploy-check) fails when the committed JSON is
// stale. Every PromQL expression is also parsed by promtool in scripts/deploy-check.sh.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const DS = { type: 'prometheus', uid: 'prometheus' };
const SEL = 'job=~"$job", service=~"$service"';
const PSEL = 'job=~"$job", instance=~"$instance"';

let nextId = 1;
function panel(title, type, targets, opts = {}) {
    const { w = 12, h = 8, unit = 'short', description = '', stack = false, min } = opts;
    const p = {
        id: nextId++,
        type,
        title,
        description,
        datasource: DS,
        gridPos: { h, w, x: 0, y: 0 },
        targets: targets.map(([expr, legendFormat], i) => ({
            refId: String.fromCharCode(65 + i),
            datasource: DS,
            expr,
            legendFormat,
            range: type !== 'table',
            instant: type === 'table',
            format: type === 'table' ? 'table' : 'time_series',
        })),
        fieldConfig: {
            defaults: { unit, ...(min !== undefined ? { min } : {}) },
            overrides: [],
        },
        options: {},
    };
    if (type === 'timeseries') {
        p.fieldConfig.defaults.custom = {
            drawStyle: 'line',
            lineWidth: 1,
            fillOpacity: stack ? 30 : 10,
            stacking: { mode: stack ? 'normal' : 'none', group: 'A' },
        };
        p.options = {
            legend: { displayMode: 'table', placement: 'bottom', calcs: ['mean', 'max', 'lastNotNull'] },
            tooltip: { mode: 'multi', sort: 'desc' },
        };
    }
    if (type === 'stat') {
        p.options = { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area' };
        if (opts.thresholds) p.fieldConfig.defaults.thresholds = { mode: 'absolute', steps: opts.thresholds };
    }
    if (type === 'table') {
        p.transformations = [{ id: 'organize', options: { excludeByName: { Time: true } } }];
    }
    return p;
}
function row(title) {
    return { id: nextId++, type: 'row', title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: 0 }, panels: [] };
}
// Lay panels out left to right, wrapping at 24 columns.
function layout(panels) {
    let x = 0, y = 0, rowH = 0;
    for (const p of panels) {
        const { w, h } = p.gridPos;
        if (p.type === 'row' || x + w > 24) { y += rowH; x = 0; rowH = 0; }
        p.gridPos.x = x; p.gridPos.y = y;
        x += w; rowH = Math.max(rowH, h);
        if (p.type === 'row') { y += h; x = 0; rowH = 0; }
    }
    return panels;
}
function variable(name, label, query, { includeAll = true, multi = true } = {}) {
    return {
        name, label, type: 'query', datasource: DS,
        query: { query, refId: `${name}-var` }, definition: query,
        refresh: 2, includeAll, multi, allValue: '.*', sort: 1,
        current: { selected: true, text: ['All'], value: ['$__all'] },
    };
}
function dashboard(uid, title, description, tags, templating, panels) {
    nextId = 1;
    return {
        uid, title, description, tags,
        editable: true, graphTooltip: 1, schemaVersion: 39, version: 1,
        time: { from: 'now-6h', to: 'now' }, refresh: '30s', timezone: 'utc',
        templating: { list: templating },
        annotations: { list: [] },
        links: [{ title: 'dtm dashboards', type: 'dashboards', tags: ['dtm'], asDropdown: false }],
        panels: layout(panels()),
    };
}

const jobVar = variable('job', 'Job', 'label_values(up{job=~"dtm.*"}, job)');

const application = dashboard(
    'dtm-application', 'dtm / Application',
    'Request rate, latency percentiles, errors by status, route and service, and business KPIs.',
    ['dtm', 'application'],
    [jobVar, variable('service', 'Service', 'label_values(http_requests_total{job=~"$job"}, service)')],
    () => [
        row('Traffic'),
        panel('Request rate by service', 'timeseries',
            [[`sum by (service) (rate(http_requests_total{${SEL}}[$__rate_interval]))`, '{{service}}']],
            { unit: 'reqps', stack: true, w: 12 }),
        panel('Availability (non-5xx share)', 'stat',
            [[`1 - (sum(rate(http_requests_total{${SEL}, status=~"5.."}[$__range])) or vector(0)) / sum(rate(http_requests_total{${SEL}}[$__range]))`, 'availability']],
            { unit: 'percentunit', w: 6, thresholds: [{ color: 'red', value: null }, { color: 'orange', value: 0.99 }, { color: 'green', value: 0.999 }] }),
        panel('Targets up', 'stat',
            [['sum(up{job=~"$job"})', 'up'], ['count(up{job=~"$job"})', 'total']],
            { w: 6 }),
        panel('Requests by method', 'timeseries',
            [[`sum by (method) (rate(http_requests_total{${SEL}}[$__rate_interval]))`, '{{method}}']],
            { unit: 'reqps', w: 12 }),
        panel('Top 10 routes by rate', 'timeseries',
            [[`topk(10, sum by (service, route) (rate(http_requests_total{${SEL}}[$__rate_interval])))`, '{{service}} {{route}}']],
            { unit: 'reqps', w: 12 }),
        row('Latency'),
        panel('Latency percentiles (all selected services)', 'timeseries', [
            [`histogram_quantile(0.50, sum by (le) (rate(http_request_duration_seconds_bucket{${SEL}}[$__rate_interval])))`, 'p50'],
            [`histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{${SEL}}[$__rate_interval])))`, 'p95'],
            [`histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{${SEL}}[$__rate_interval])))`, 'p99'],
        ], { unit: 's', w: 12 }),
        panel('p95 latency by service', 'timeseries',
            [[`histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket{${SEL}}[$__rate_interval])))`, '{{service}}']],
            { unit: 's', w: 12 }),
        panel('Slowest routes (p95 over the range)', 'table',
            [[`topk(15, histogram_quantile(0.95, sum by (service, route, le) (rate(http_request_duration_seconds_bucket{${SEL}}[$__range]))))`, '']],
            { unit: 's', w: 12 }),
        panel('Mean latency by service', 'timeseries',
            [[`sum by (service) (rate(http_request_duration_seconds_sum{${SEL}}[$__rate_interval])) / sum by (service) (rate(http_request_duration_seconds_count{${SEL}}[$__rate_interval]))`, '{{service}}']],
            { unit: 's', w: 12 }),
        row('Errors'),
        panel('Errors by status', 'timeseries',
            [[`sum by (status) (rate(http_requests_total{${SEL}, status=~"[45].."}[$__rate_interval]))`, '{{status}}']],
            { unit: 'reqps', stack: true, w: 8 }),
        panel('5xx by service', 'timeseries',
            [[`sum by (service) (rate(http_requests_total{${SEL}, status=~"5.."}[$__rate_interval]))`, '{{service}}']],
            { unit: 'reqps', w: 8, description: 'HighErrorRate fires above 0.1/s for 2 minutes.' }),
        panel('Error ratio by service', 'timeseries',
            [[`sum by (service) (rate(http_requests_total{${SEL}, status=~"5.."}[$__rate_interval])) / sum by (service) (rate(http_requests_total{${SEL}}[$__rate_interval]))`, '{{service}}']],
            { unit: 'percentunit', w: 8 }),
        panel('Errors by route (top 15 over the range)', 'table',
            [[`topk(15, sum by (service, route, status) (increase(http_requests_total{${SEL}, status=~"[45].."}[$__range])))`, '']],
            { w: 24 }),
        row('Business KPIs'),
        panel('Todos created / completed', 'timeseries', [
            ['sum(increase(dtm_todos_created_total{job=~"$job"}[1h]))', 'created per hour'],
            ['sum(increase(dtm_todos_completed_total{job=~"$job"}[1h]))', 'completed per hour'],
        ], { w: 8 }),
        panel('Punch-ins per hour', 'timeseries',
            [['sum(increase(dtm_punch_ins_total{job=~"$job"}[1h]))', 'punch-ins']], { w: 8 }),
        panel('Logins per hour by result', 'timeseries',
            [['sum by (result) (increase(dtm_logins_total{job=~"$job"}[1h]))', '{{result}}']], { w: 8 }),
        panel('Todos created today', 'stat',
            [['sum(increase(dtm_todos_created_total{job=~"$job"}[1d]))', 'created']], { w: 6 }),
        panel('Todos completed today', 'stat',
            [['sum(increase(dtm_todos_completed_total{job=~"$job"}[1d]))', 'completed']], { w: 6 }),
        panel('Punch-ins today', 'stat',
            [['sum(increase(dtm_punch_ins_total{job=~"$job"}[1d]))', 'punch-ins']], { w: 6 }),
        panel('Users created today', 'stat',
            [['sum(increase(dtm_users_created_total{job=~"$job"}[1d]))', 'users']], { w: 6 }),
    ]);

const infrastructure = dashboard(
    'dtm-infrastructure', 'dtm / Infrastructure',
    'Process CPU, memory and file descriptors, PostgreSQL pool, Redis, backups and disks.',
    ['dtm', 'infrastructure'],
    [jobVar, variable('instance', 'Instance', 'label_values(up{job=~"$job"}, instance)')],
    () => [
        row('Processes'),
        panel('CPU (cores used)', 'timeseries',
            [[`rate(process_cpu_seconds_total{${PSEL}}[$__rate_interval])`, '{{job}} {{instance}}']],
            { unit: 'short', w: 8, min: 0 }),
        panel('Resident memory', 'timeseries',
            [[`process_resident_memory_bytes{${PSEL}}`, '{{job}} {{instance}}']],
            { unit: 'bytes', w: 8, min: 0 }),
        panel('Open file descriptors', 'timeseries',
            [[`process_open_fds{${PSEL}}`, '{{job}} {{instance}}']],
            { w: 8, min: 0 }),
        panel('Uptime', 'table',
            [[`time() - process_start_time_seconds{${PSEL}}`, '']],
            { unit: 's', w: 12 }),
        panel('Scrape targets', 'timeseries',
            [[`up{${PSEL}}`, '{{job}} {{instance}}']],
            { w: 12, min: 0 }),
        row('PostgreSQL'),
        panel('DB pool connections by state', 'timeseries',
            [[`sum by (instance, state) (dtm_db_pool_connections{${PSEL}})`, '{{instance}} {{state}}']],
            { w: 12, min: 0 }),
        panel('DB pool saturation (in use / max)', 'timeseries',
            [[`dtm_db_pool_connections{${PSEL}, state="in_use"} / ignoring (state) dtm_db_pool_connections{${PSEL}, state="max"}`, '{{instance}}']],
            { unit: 'percentunit', w: 12, min: 0, description: 'DBPoolSaturated fires above 90 % for 5 minutes.' }),
        panel('DB pool checkouts, timeouts and errors', 'timeseries', [
            [`sum by (instance) (rate(dtm_db_pool_acquires_total{${PSEL}}[$__rate_interval]))`, '{{instance}} acquires'],
            [`sum by (instance) (rate(dtm_db_pool_timeouts_total{${PSEL}}[$__rate_interval]))`, '{{instance}} timeouts'],
            [`sum by (instance) (rate(dtm_db_pool_errors_total{${PSEL}}[$__rate_interval]))`, '{{instance}} errors'],
        ], { unit: 'ops', w: 12 }),
        panel('Redis commands and errors', 'timeseries', [
            [`sum by (instance) (rate(dtm_redis_commands_total{${PSEL}}[$__rate_interval]))`, '{{instance}} commands'],
            [`sum by (instance) (rate(dtm_redis_errors_total{${PSEL}}[$__rate_interval]))`, '{{instance}} errors'],
        ], { unit: 'ops', w: 12 }),
        panel('PostgreSQL reachable', 'stat',
            [[`min(dtm_dependency_up{${PSEL}, dependency="postgres", target!="gateway"})`, 'postgres']],
            { w: 6, thresholds: [{ color: 'red', value: null }, { color: 'green', value: 1 }] }),
        panel('Redis reachable', 'stat',
            [[`min(dtm_dependency_up{${PSEL}, dependency="redis"})`, 'redis']],
            { w: 6, thresholds: [{ color: 'red', value: null }, { color: 'green', value: 1 }] }),
        panel('Dependency status over time', 'timeseries',
            [[`dtm_dependency_up{${PSEL}}`, '{{instance}} {{dependency}}']],
            { w: 12, min: 0 }),
        row('Backups'),
        panel('Age of the last good backup', 'stat',
            [['time() - max(dtm_backup_last_success_timestamp_seconds)', 'age']],
            { unit: 's', w: 8, thresholds: [{ color: 'green', value: null }, { color: 'orange', value: 86400 }, { color: 'red', value: 93600 }], description: 'BackupTooOld fires above 26 h.' }),
        panel('Duration of the newest backup', 'timeseries',
            [['max(dtm_backup_duration_seconds)', 'duration']],
            { unit: 's', w: 16 }),
        row('Hosts'),
        panel('Filesystem free space', 'timeseries',
            [['node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"}', '{{instance}} {{mountpoint}}']],
            { unit: 'percentunit', w: 12, min: 0 }),
        panel('Host CPU busy', 'timeseries',
            [['1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[$__rate_interval]))', '{{instance}}']],
            { unit: 'percentunit', w: 12, min: 0 }),
    ]);

const out = {
    'application.json': application,
    'infrastructure.json': infrastructure,
};
let stale = 0;
for (const [name, dash] of Object.entries(out)) {
    const file = join(here, 'dashboards', name);
    const text = JSON.stringify(dash, null, 2) + '\n';
    if (process.argv.includes('--check')) {
        let old = '';
        try { old = readFileSync(file, 'utf8'); } catch { /* missing */ }
        if (old !== text) { console.error(`stale: ${file} (run node ${join(here, 'generate.mjs')})`); stale++; }
    } else {
        writeFileSync(file, text);
        console.log(`wrote ${file}`);
    }
}
process.exit(stale ? 1 : 0);
