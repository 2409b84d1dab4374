// SPDX-License-Identifier: MIT
// Validates rendered Kubernetes manifests (`kubectl kustomize deploy/k8s/overlays/X`):
//   1. schema: every object against the Kubernetes OpenAPI schema compiled into the
//      `kubernetes-models` package (types, required fields, formats, enums); an apiVersion/kind
//      it does not know (a typo, a removed beta API) is an error;
//   2. no unknown fields: every key is looked up in the typed models of
//      `@kubernetes/client-node` (the OpenAPI schema leaves additionalProperties open, so a
//      misspelt `livenesProbe` would otherwise pass silently);
//   3. the platform's rules (docs/operations.md): probes on /health, resources, hardened
//      security context, HPA at 70 % CPU + PDB + Service per Deployment, NetworkPolicies,
//      backup CronJobs on the guide's schedules, no Secret objects or secret-looking literals.
// Usage: node k8s-validate.mjs NAME=FILE...   Exit 1 on any problem.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import * as k8s from '@kubernetes/client-node';

const NS = 'digital-tracking';
const problems = [];
const fail = (where, msg) => problems.push(`${where}: ${msg}`);

async function modelClass(apiVersion, kind) {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : [null, apiVersion];
    const mod = group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`;
    try {
        const m = await import(mod);
        return m[kind] || null;
    } catch {
        return null;
    }
}

// --- unknown-field walk over @kubernetes/client-node's attribute maps ---
function checkFields(value, type, path, where) {
    if (value === null || value === undefined) return;
    let m = /^Array<(.+)>$/.exec(type);
    if (m) {
        if (!Array.isArray(value)) return fail(where, `${path} should be a list`);
        value.forEach((v, i) => checkFields(v, m[1], `${path}[${i}]`, where));
        return;
    }
    m = /^\{ \[key: string\]: (.+); \}$/.exec(type);
    if (m) {
        if (typeof value !== 'object' || Array.isArray(value)) return fail(where, `${path} should be a map`);
        for (const [k, v] of Object.entries(value)) checkFields(v, m[1], `${path}.${k}`, where);
        return;
    }
    const cls = k8s[type];
    if (!cls || typeof cls.getAttributeTypeMap !== 'function') return; // scalar, IntOrString, any
    if (typeof value !== 'object' || Array.isArray(value)) return fail(where, `${path} should be an object`);
    const attrs = new Map(cls.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
    for (const [k, v] of Object.entries(value)) {
        if (!attrs.has(k)) fail(where, `unknown field ${path ? path + '.' : ''}${k}`);
        else checkFields(v, attrs.get(k), `${path ? path + '.' : ''}${k}`, where);
    }
}
function typedName(apiVersion, kind) {
    const version = apiVersion.split('/').pop();
    return version.charAt(0).toUpperCase() + version.slice(1) + kind;
}

// --- platform rules ---
const isSecretish = (name, value) =>
    /(SECRET|PASSWORD|TOKEN|ACCESS_KEY|DATABASE_URL|REDIS_URL)/.test(name) && value !== undefined;

function podChecks(where, podSpec, { probes }) {
    const sc = podSpec.securityContext || {};
    if (sc.runAsNonRoot !== true) fail(where, 'pod securityContext.runAsNonRoot must be true');
    if (sc.seccompProfile?.type !== 'RuntimeDefault') fail(where, 'pod seccompProfile must be RuntimeDefault');
    if (podSpec.automountServiceAccountToken !== false) fail(where, 'automountServiceAccountToken must be false');
    const containers = [...(podSpec.initContainers || []), ...(podSpec.containers || [])];
    for (const c of containers) {
        const cw = `${where} container ${c.name}`;
        const s = c.securityContext || {};
        if (s.readOnlyRootFilesystem !== true) fail(cw, 'readOnlyRootFilesystem must be true');
        if (s.allowPrivilegeEscalation !== false) fail(cw, 'allowPrivilegeEscalation must be false');
        if (!(s.capabilities?.drop || []).includes('ALL')) fail(cw, 'capabilities must drop ALL');
        for (const k of ['requests', 'limits'])
            for (const r of ['cpu', 'memory'])
                if (!c.resources?.[k]?.[r]) fail(cw, `resources.${k}.${r} missing`);
        for (const e of c.env || [])
            if (isSecretish(e.name, e.value)) fail(cw, `${e.name} is a literal; use a secretKeyRef`);
        if (/:latest$/.test(c.image) || !c.image) fail(cw, `image ${c.image} must be pinned`);
    }
    if (probes) {
        for (const c of podSpec.containers) {
            // Liveness never depends on a database (a restart would not bring it back); readiness does.
            for (const [p, path] of [['livenessProbe', '/livez'], ['readinessProbe', '/readyz']]) {
                if (c[p]?.httpGet?.path !== path) fail(`${where} container ${c.name}`, `${p} must GET ${path}`);
            }
        }
    }
}

function platformChecks(name, objs) {
    const by = (kind) => objs.filter((o) => o.kind === kind);
    const where = (o) => `${name} ${o.kind}/${o.metadata?.name}`;
    const clusterScoped = new Set(['Namespace']);
    for (const o of objs) {
        if (!clusterScoped.has(o.kind) && o.metadata?.namespace !== NS) fail(where(o), `namespace must be ${NS}`);
        if (o.kind === 'Secret') fail(where(o), 'Secrets are created out of band, never committed');
    }
    if (!by('Namespace').some((n) => n.metadata.name === NS)) fail(name, `Namespace ${NS} missing`);
    const deployments = by('Deployment');
    if (deployments.length < 7) fail(name, `expected a Deployment per target (7), found ${deployments.length}`);
    for (const d of deployments) {
        const w = where(d);
        const sel = d.spec.selector.matchLabels;
        const tl = d.spec.template.metadata.labels;
        for (const [k, v] of Object.entries(sel)) if (tl[k] !== v) fail(w, `template labels do not match selector ${k}`);
        podChecks(w, d.spec.template.spec, { probes: true });
        const hpa = by('HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.name === d.metadata.name);
        if (!hpa) fail(w, 'no HorizontalPodAutoscaler');
        else {
            const cpu = hpa.spec.metrics?.find((m) => m.resource?.name === 'cpu');
            if (cpu?.resource.target.averageUtilization !== 70) fail(w, 'HPA must target 70 % CPU');
            if (hpa.spec.minReplicas > hpa.spec.maxReplicas) fail(w, 'HPA minReplicas > maxReplicas');
        }
        const matches = (s) => s && Object.entries(s).every(([k, v]) => tl[k] === v);
        if (!by('PodDisruptionBudget').some((p) => matches(p.spec.selector.matchLabels))) fail(w, 'no PodDisruptionBudget');
        const svc = by('Service').find((s) => matches(s.spec.selector));
        if (!svc) fail(w, 'no Service');
        const port = d.spec.template.spec.containers[0].ports[0].containerPort;
        const tier = tl['dtm.io/tier'];
        const np = by('NetworkPolicy').find((p) => matches(p.spec.podSelector.matchLabels) && Object.keys(p.spec.podSelector.matchLabels || {}).length);
        if (!np) fail(w, 'no NetworkPolicy for its pods');
        else if (tier === 'service') {
            const peers = (np.spec.ingress || []).flatMap((r) => r.from || []);
            const fromGateway = peers.some((p) => p.podSelector?.matchLabels?.['dtm.io/tier'] === 'gateway');
            const openToAll = (np.spec.ingress || []).some((r) => !r.from || !r.from.length);
            if (!fromGateway) fail(w, 'service NetworkPolicy must admit the gateway');
            if (openToAll) fail(w, 'service NetworkPolicy must not admit everyone');
            if (!(np.spec.ingress || []).every((r) => (r.ports || []).every((p) => p.port === port)))
                fail(w, `service NetworkPolicy must only open port ${port}`);
        }
    }
    if (!by('NetworkPolicy').some((p) => !Object.keys(p.spec.podSelector || {}).length && p.spec.policyTypes?.includes('Ingress') && !p.spec.ingress))
        fail(name, 'no default-deny ingress NetworkPolicy');
    if (!by('Ingress').length) fail(name, 'no Ingress');
    const want = { '0 2 * * *': 'run', '0 2 * * 0': 'run --full', '0 2 1 * *': 'run --archive' };
    const cron = by('CronJob');
    for (const [schedule, args] of Object.entries(want)) {
        const c = cron.find((j) => j.spec.schedule === schedule);
        if (!c) { fail(name, `no backup CronJob on "${schedule}"`); continue; }
        const ps = c.spec.jobTemplate.spec.template.spec;
        const cmd = [...(ps.containers[0].command || []), ...(ps.containers[0].args || [])].join(' ');
        if (!cmd.includes(`dtm backup ${args}`) || (args === 'run' && /run --/.test(cmd)))
            fail(where(c), `must run "dtm backup ${args}" (has: ${cmd})`);
        if (c.spec.concurrencyPolicy !== 'Forbid') fail(where(c), 'concurrencyPolicy must be Forbid');
        podChecks(where(c), ps, { probes: false });
    }
}

let total = 0;
for (const arg of process.argv.slice(2)) {
    const [name, file] = arg.includes('=') ? arg.split('=') : [arg, arg];
    const docs = parseAllDocuments(readFileSync(file, 'utf8'));
    const objs = [];
    for (const d of docs) {
        if (d.errors.length) { fail(name, `YAML: ${d.errors[0].message}`); continue; }
        const o = d.toJS();
        if (o) objs.push(o);
    }
    for (const o of objs) {
        const w = `${name} ${o.kind}/${o.metadata?.name}`;
        const Cls = await modelClass(o.apiVersion, o.kind);
        if (!Cls) { fail(w, `unknown apiVersion/kind ${o.apiVersion} ${o.kind}`); continue; }
        try {
            new Cls(o).validate();
        } catch (e) {
            fail(w, `schema: ${e.message}`);
        }
        checkFields(o, typedName(o.apiVersion, o.kind), '', w);
    }
    platformChecks(name, objs);
    total += objs.length;
    console.log(`k8s-validate: ${name}: ${objs.length} objects checked`);
}
if (problems.length) {
    for (const p of problems) console.error(`k8s-validate: ${p}`);
    console.error(`k8s-validate: ${problems.length} problem(s)`);
    process.exit(1);
}
console.log(`k8s-validate: ${total} objects valid (schema, fields, platform rules)`);
