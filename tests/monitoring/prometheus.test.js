// SPDX-License-Identifier: MIT
// A real Prometheus (Debian's package) on loopback scrapes a running dtm — all-in-one, and the
// microservices layout with a gateway and one process per service — loads the shipped alert
// rules, and through its HTTP API we check that every target is up and the key series exist.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startDtm, freePort, sleep, ROOT } = require('../api/lib/harness.js');

const RULES = path.join(ROOT, 'deploy', 'monitoring', 'rules', 'dtm-alerts.yml');
const cleanups = [];
after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function startPrometheus(jobs) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dtm-prom-'));
    const port = await freePort();
    const scrape = jobs
        .map((j) => `  - job_name: ${j.name}\n    static_configs: [{targets: [${j.targets.map((t) => `"${t}"`).join(', ')}]}]`)
        .join('\n');
    fs.writeFileSync(
        path.join(dir, 'prometheus.yml'),
        `global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: ["${RULES}"]\nscrape_configs:\n${scrape}\n`,
    );
    const child = spawn('prometheus', [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d) => (log += d));
    const base = `http://127.0.0.1:${port}`;
    cleanups.push(async () => {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
        fs.rmSync(dir, { recursive: true, force: true });
    });
    for (let i = 0; i < 100; i++) {
        try {
            if ((await fetch(`${base}/-/ready`)).ok) return { base, log: () => log };
        } catch {}
        await sleep(200);
    }
    throw new Error(`prometheus did not become ready:\n${log}`);
}

async function promGet(p, pathAndQuery) {
    const r = await fetch(p.base + pathAndQuery);
    const j = await r.json();
    assert.equal(j.status, 'success', JSON.stringify(j));
    return j.data;
}

async function waitTargetsUp(p, n) {
    let active = [];
    for (let i = 0; i < 100; i++) {
        active = (await promGet(p, '/api/v1/targets')).activeTargets;
        if (active.length === n && active.every((t) => t.health === 'up')) return active;
        await sleep(300);
    }
    assert.fail(`targets not all up: ${JSON.stringify(active.map((t) => [t.scrapeUrl, t.health, t.lastError]))}`);
}

async function series(p, expr) {
    for (let i = 0; i < 50; i++) {
        const d = await promGet(p, `/api/v1/query?query=${encodeURIComponent(expr)}`);
        if (d.result.length) return d.result;
        await sleep(300);
    }
    return [];
}

const KEY_SERIES = [
    'http_requests_total',
    'http_request_duration_seconds_bucket',
    'process_resident_memory_bytes',
    'process_cpu_seconds_total',
    'process_open_fds',
    'dtm_dependency_up{dependency="postgres"}',
    'dtm_dependency_up{dependency="redis"}',
    'dtm_db_pool_connections',
    'dtm_logins_total',
    'dtm_backup_last_success_timestamp_seconds',
];

test('all-in-one: the target is up, the key series exist and the alert rules load', async () => {
    const dtm = await startDtm();
    cleanups.push(() => dtm.stop());
    await dtm.loginAdmin();
    await dtm.api('GET', '/api/nope');
    const p = await startPrometheus([{ name: 'dtm', targets: [`127.0.0.1:${dtm.port}`] }]);
    await waitTargetsUp(p, 1);
    for (const s of KEY_SERIES) assert.ok((await series(p, s)).length > 0, `series ${s} exists`);
    const login = await series(p, 'http_requests_total{route="/api/auth/login",method="POST",status="200"}');
    assert.ok(login.length === 1 && Number(login[0].value[1]) >= 1, 'per-route request counter');
    const rules = await promGet(p, '/api/v1/rules');
    const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.type === 'alerting');
    assert.ok(alerts.some((r) => r.name === 'HighErrorRate'), 'the guide\'s HighErrorRate rule is loaded');
    assert.ok(alerts.every((r) => r.health === 'ok'), `rules evaluate: ${JSON.stringify(alerts.filter((r) => r.health !== 'ok'))}`);
});

test('microservices: gateway and every service process are scraped on their metrics ports', async () => {
    // As deployed (DTM_METRICS_ADDR, deploy/monitoring/prometheus.yml): each process's private
    // listener; the all-in-one test above scrapes the public port (DTM_METRICS_ADDR unset).
    const dtm = await startDtm({ topology: 'micro', metricsAddr: true });
    cleanups.push(() => dtm.stop());
    await dtm.loginAdmin();
    const hostPort = (u) => new URL(u).host;
    const jobs = [{ name: 'dtm-gateway', targets: [hostPort(dtm.main.metricsUrl)] }];
    const byService = {};
    for (const proc of dtm.processes.filter((x) => x.service)) {
        (byService[proc.service] ||= []).push(hostPort(proc.metricsUrl));
    }
    for (const [s, targets] of Object.entries(byService)) jobs.push({ name: `dtm-${s}`, targets });
    const p = await startPrometheus(jobs);
    await waitTargetsUp(p, jobs.reduce((n, j) => n + j.targets.length, 0));
    const svc = await series(p, 'count by (service) (http_requests_total)');
    const names = svc.map((r) => r.metric.service);
    assert.ok(names.includes('auth'), `auth requests counted by the auth process: ${names}`);
    const up = await series(p, 'up');
    assert.equal(up.length, jobs.reduce((n, j) => n + j.targets.length, 0));
});
