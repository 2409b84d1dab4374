// SPDX-License-Identifier: MIT
// Writes deploy/k8s/base/*.yaml: one Deployment, Service, HPA, PDB and NetworkPolicy per dtm
// target, plus the shared objects and the backup CronJobs. Seven near-identical Deployments are
// easier to keep consistent generated than by hand; the output is plain YAML, committed, and
// `node generate.mjs --check` (in make deploy-check) fails when it is stale.
// Environment-specific values live in the kustomize overlays (overlays/{dev,staging,prod}).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const NS = 'digital-tracking';
const IMAGE = 'dtm'; // overlays pin it with `images:` (registry + tag)
const UID = 10001;

// Targets and their default ports (DESIGN.md). `uploads`: reads/writes DTM_DATA_DIR/uploads.
// `mail`: gets the SMTP settings.
const TARGETS = [
    { name: 'gateway', port: 3000, tier: 'gateway' },
    { name: 'auth', port: 3001, tier: 'service' },
    { name: 'users', port: 3002, tier: 'service' },
    { name: 'todos', port: 3003, tier: 'service', uploads: true },
    { name: 'stores', port: 3004, tier: 'service' },
    { name: 'attendance', port: 3005, tier: 'service', uploads: true },
    { name: 'reports', port: 3006, tier: 'service' },
    { name: 'notifications', port: 3007, tier: 'service', mail: true },
    { name: 'visits', port: 3008, tier: 'service' },
    { name: 'audits', port: 3009, tier: 'service', uploads: true },
    { name: 'approvals', port: 3010, tier: 'service' },
];
const SERVICES = TARGETS.filter((t) => t.tier === 'service');

// Backup schedules of the operations guide. Each day exactly one backup runs at 02:00 UTC:
// the monthly archive on the 1st, else the weekly full on Sundays, else the daily. The overlap
// is resolved in the command because cron cannot say "Sundays except the 1st".
const BACKUPS = [
    { name: 'daily', schedule: '0 2 * * *', args: 'run',
      skip: '[ "$(date -u +%d)" = 01 ] || [ "$(date -u +%u)" = 7 ]' },
    { name: 'weekly', schedule: '0 2 * * 0', args: 'run --full', skip: '[ "$(date -u +%d)" = 01 ]' },
    { name: 'monthly', schedule: '0 2 1 * *', args: 'run --archive', skip: '' },
    // Retention (7 daily, 4 weekly, 12 monthly), after the night's backup.
    { name: 'prune', schedule: '30 5 * * *', args: 'prune', skip: '' },
];

const labels = (component, tier) => ({
    'app.kubernetes.io/name': 'dtm',
    'app.kubernetes.io/part-of': 'digital-tracking',
    'app.kubernetes.io/component': component,
    ...(tier ? { 'dtm.io/tier': tier } : {}),
});
const selector = (component) => ({
    'app.kubernetes.io/name': 'dtm',
    'app.kubernetes.io/component': component,
});
const meta = (name, component, tier, extra = {}) => ({
    name, namespace: NS, labels: labels(component, tier), ...extra,
});

const secretEnv = [
    { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'dtm-secrets', key: 'DATABASE_URL' } } },
    { name: 'REDIS_URL', valueFrom: { secretKeyRef: { name: 'dtm-secrets', key: 'REDIS_URL' } } },
    { name: 'DTM_JWT_SECRET', valueFrom: { secretKeyRef: { name: 'dtm-secrets', key: 'DTM_JWT_SECRET' } } },
    { name: 'DTM_JWT_PREVIOUS_SECRETS',
      valueFrom: { secretKeyRef: { name: 'dtm-secrets', key: 'DTM_JWT_PREVIOUS_SECRETS', optional: true } } },
];

// `mail`: sends e-mail (services/common/smtp.h); the SMTP URL may carry credentials.
const mailEnv = [
    { name: 'DTM_SMTP_URL', valueFrom: { secretKeyRef: { name: 'dtm-secrets', key: 'DTM_SMTP_URL', optional: true } } },
    { name: 'DTM_MAIL_FROM', valueFrom: { secretKeyRef: { name: 'dtm-secrets', key: 'DTM_MAIL_FROM', optional: true } } },
];

const podSecurity = {
    runAsNonRoot: true,
    runAsUser: UID,
    runAsGroup: UID,
    fsGroup: UID,
    seccompProfile: { type: 'RuntimeDefault' },
};
const containerSecurity = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
};

function deployment(t) {
    const volumes = [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }];
    const mounts = [{ name: 'tmp', mountPath: '/tmp' }];
    if (t.uploads) {
        volumes.push({ name: 'data', persistentVolumeClaim: { claimName: 'dtm-data' } });
        mounts.push({ name: 'data', mountPath: '/var/lib/dtm/data' });
    }
    if (t.name === 'gateway') {
        // The gateway reports the age of the last good backup (it reads the catalogue).
        volumes.push({ name: 'backups', persistentVolumeClaim: { claimName: 'dtm-backups', readOnly: true } });
        mounts.push({ name: 'backups', mountPath: '/var/lib/dtm/backups', readOnly: true });
    }
    const probe = (path, extra) => ({
        httpGet: { path, port: 'http' },
        timeoutSeconds: 10,
        ...extra,
    });
    const container = {
        name: 'dtm',
        image: IMAGE,
        imagePullPolicy: 'IfNotPresent',
        args: ['serve', '--target', t.name],
        ports: [{ name: 'http', containerPort: t.port, protocol: 'TCP' }],
        env: [{ name: 'DTM_PORT', value: String(t.port) }, ...secretEnv, ...(t.mail ? mailEnv : [])],
        envFrom: [{ configMapRef: { name: 'dtm-config' } }],
        // /livez: the process serves (no dependency); /readyz: 503 while a database it needs
        // is down (not when Redis is: degraded), which takes the pod out of rotation without
        // restarting it: restarting every pod would not bring the database back.
        startupProbe: probe('/livez', { periodSeconds: 5, failureThreshold: 24 }),
        readinessProbe: probe('/readyz', { periodSeconds: 10, failureThreshold: 3 }),
        livenessProbe: probe('/livez', { periodSeconds: 15, failureThreshold: 4 }),
        resources: {
            requests: { cpu: '100m', memory: '128Mi' },
            limits: { cpu: '1', memory: '512Mi' },
        },
        securityContext: containerSecurity,
        volumeMounts: mounts,
    };
    const initContainers = t.tier === 'service' ? [{
        // Forward-only, recorded migrations; every replica runs it, the runner serialises.
        name: 'migrate',
        image: IMAGE,
        imagePullPolicy: 'IfNotPresent',
        args: ['migrate'],
        env: [secretEnv[0]],
        envFrom: [{ configMapRef: { name: 'dtm-config' } }],
        resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
        securityContext: containerSecurity,
    }] : undefined;
    return {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: meta(`dtm-${t.name}`, t.name, t.tier),
        spec: {
            replicas: 2,
            revisionHistoryLimit: 5,
            selector: { matchLabels: selector(t.name) },
            strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
            template: {
                metadata: {
                    labels: labels(t.name, t.tier),
                    annotations: {
                        'prometheus.io/scrape': 'true',
                        'prometheus.io/port': String(t.port),
                        'prometheus.io/path': '/metrics',
                    },
                },
                spec: {
                    serviceAccountName: 'dtm',
                    automountServiceAccountToken: false,
                    terminationGracePeriodSeconds: 30,
                    securityContext: podSecurity,
                    topologySpreadConstraints: [{
                        maxSkew: 1,
                        topologyKey: 'kubernetes.io/hostname',
                        whenUnsatisfiable: 'ScheduleAnyway',
                        labelSelector: { matchLabels: selector(t.name) },
                    }],
                    ...(initContainers ? { initContainers } : {}),
                    containers: [container],
                    volumes,
                },
            },
        },
    };
}

const service = (t) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(`dtm-${t.name}`, t.name, t.tier),
    spec: {
        type: 'ClusterIP',
        selector: selector(t.name),
        ports: [{ name: 'http', port: t.port, targetPort: 'http', protocol: 'TCP' }],
    },
});

const hpa = (t) => ({
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta(`dtm-${t.name}`, t.name, t.tier),
    spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: `dtm-${t.name}` },
        minReplicas: 2,
        maxReplicas: 10,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
        behavior: {
            // The guide's 300 s cooldown before scaling down.
            scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] },
            scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 60 }] },
        },
    },
});

const pdb = (t) => ({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(`dtm-${t.name}`, t.name, t.tier),
    spec: { maxUnavailable: 1, selector: { matchLabels: selector(t.name) } },
});

const monitoringPeer = {
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
};
const netpols = [
    {
        apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
        metadata: meta('default-deny-ingress', 'network', null),
        spec: { podSelector: {}, policyTypes: ['Ingress'] },
    },
    {
        // The gateway is the only entry point: from the ingress controller and from Prometheus.
        apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
        metadata: meta('dtm-gateway-ingress', 'gateway', 'gateway'),
        spec: {
            podSelector: { matchLabels: selector('gateway') },
            policyTypes: ['Ingress'],
            ingress: [{
                from: [
                    { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
                    monitoringPeer,
                ],
                ports: [{ protocol: 'TCP', port: 3000 }],
            }],
        },
    },
    ...SERVICES.map((t) => ({
        // Services answer the gateway and in-cluster service-to-service calls (auth -> users,
        // ...) from other dtm services, and Prometheus scrapes; nothing else.
        apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
        metadata: meta(`dtm-${t.name}-ingress`, t.name, t.tier),
        spec: {
            podSelector: { matchLabels: selector(t.name) },
            policyTypes: ['Ingress'],
            ingress: [{
                from: [
                    { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'dtm', 'dtm.io/tier': 'gateway' } } },
                    { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'dtm', 'dtm.io/tier': 'service' } } },
                    monitoringPeer,
                ],
                ports: [{ protocol: 'TCP', port: t.port }],
            }],
        },
    })),
];

const upstreams = Object.fromEntries(SERVICES.map((t) => [
    `DTM_UPSTREAM_${t.name.toUpperCase()}`, `http://dtm-${t.name}.${NS}.svc.cluster.local:${t.port}`,
]));
// Non-secret settings: a generated ConfigMap (name gets a content hash, so a change rolls the
// Deployments). Overlays merge their own values (configMapGenerator behavior: merge).
const config = {
    DTM_HOST: '0.0.0.0',
    DTM_LOG_LEVEL: 'info',
    DTM_DATA_DIR: '/var/lib/dtm/data',
    DTM_BACKUP_DIR: '/var/lib/dtm/backups',
    DTM_PG_POOL_SIZE: '16',
    DTM_TRUSTED_PROXIES: '10.0.0.0/8',
    ...upstreams,
};
const shared = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: {
        'kubernetes.io/metadata.name': NS,
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/audit': 'restricted',
    } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('dtm', 'dtm', null), automountServiceAccountToken: false },
    ...['dtm-data', 'dtm-backups'].map((name) => ({
        // ReadWriteMany: several replicas (and the backup jobs) share uploads and backups.
        // Overlays set the storage class (e.g. EFS on AWS).
        apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: meta(name, 'storage', null),
        spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: name === 'dtm-data' ? '20Gi' : '100Gi' } } },
    })),
    {
        apiVersion: 'networking.k8s.io/v1', kind: 'Ingress',
        metadata: meta('dtm', 'gateway', 'gateway', { annotations: {
            'nginx.ingress.kubernetes.io/proxy-body-size': '16m',
            'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600', // SSE streams
            'nginx.ingress.kubernetes.io/ssl-redirect': 'true',
        } }),
        spec: {
            ingressClassName: 'nginx',
            tls: [{ hosts: ['digital-tracking.com'], secretName: 'dtm-tls' }],
            rules: [{ host: 'digital-tracking.com', http: { paths: [{
                path: '/', pathType: 'Prefix',
                backend: { service: { name: 'dtm-gateway', port: { name: 'http' } } },
            }] } }],
        },
    },
];

const cronjob = (b) => ({
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: meta(`dtm-backup-${b.name}`, 'backup', 'backup'),
    spec: {
        schedule: b.schedule,
        timeZone: 'Etc/UTC',
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: 3600,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 5,
        jobTemplate: {
            metadata: { labels: labels('backup', 'backup') },
            spec: {
                backoffLimit: 2,
                activeDeadlineSeconds: 4 * 3600, // RTO budget: a backup never runs longer
                template: {
                    metadata: { labels: labels('backup', 'backup') },
                    spec: {
                        restartPolicy: 'Never',
                        serviceAccountName: 'dtm',
                        automountServiceAccountToken: false,
                        securityContext: podSecurity,
                        containers: [{
                            name: 'backup',
                            image: IMAGE,
                            imagePullPolicy: 'IfNotPresent',
                            command: ['/bin/sh', '-c'],
                            args: [b.skip
                                ? `if ${b.skip}; then echo "a larger backup runs today"; exit 0; fi; exec dtm backup ${b.args}`
                                : `exec dtm backup ${b.args}`],
                            env: [
                                ...secretEnv.slice(0, 3),
                                { name: 'DTM_BACKUP_S3_URL', valueFrom: { secretKeyRef: { name: 'dtm-backup-s3', key: 'DTM_BACKUP_S3_URL', optional: true } } },
                                { name: 'DTM_BACKUP_S3_REGION', valueFrom: { secretKeyRef: { name: 'dtm-backup-s3', key: 'DTM_BACKUP_S3_REGION', optional: true } } },
                                { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 'dtm-backup-s3', key: 'AWS_ACCESS_KEY_ID', optional: true } } },
                                { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 'dtm-backup-s3', key: 'AWS_SECRET_ACCESS_KEY', optional: true } } },
                            ],
                            envFrom: [{ configMapRef: { name: 'dtm-config' } }],
                            resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '1Gi' } },
                            securityContext: containerSecurity,
                            volumeMounts: [
                                { name: 'tmp', mountPath: '/tmp' },
                                { name: 'data', mountPath: '/var/lib/dtm/data', readOnly: true },
                                { name: 'backups', mountPath: '/var/lib/dtm/backups' },
                            ],
                        }],
                        volumes: [
                            { name: 'tmp', emptyDir: { sizeLimit: '2Gi' } },
                            { name: 'data', persistentVolumeClaim: { claimName: 'dtm-data', readOnly: true } },
                            { name: 'backups', persistentVolumeClaim: { claimName: 'dtm-backups' } },
                        ],
                    },
                },
            },
        },
    },
});

// --- a small YAML writer (block style; strings quoted whenever plain style could misread) ---
function scalar(v) {
    if (v === null) return 'null';
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    const s = String(v);
    const plain = /^[A-Za-z_/][A-Za-z0-9_./-]*$/.test(s) &&
        !/^(true|false|yes|no|on|off|null|y|n|~)$/i.test(s);
    return plain ? s : JSON.stringify(s);
}
function yaml(v, indent = '') {
    if (Array.isArray(v)) {
        if (!v.length) return ' []';
        return v.map((item) => {
            if (item && typeof item === 'object' && !Array.isArray(item) && Object.keys(item).length) {
                const body = yaml(item, indent + '  ').replace(/^\n\s*/, '');
                return `\n${indent}- ${body}`;
            }
            return `\n${indent}-${yaml(item, indent + '  ')}`;
        }).join('');
    }
    if (v && typeof v === 'object') {
        const keys = Object.keys(v).filter((k) => v[k] !== undefined);
        if (!keys.length) return ' {}';
        return keys.map((k) => `\n${indent}${scalar(k)}:${yaml(v[k], indent + '  ')}`).join('');
    }
    return ' ' + scalar(v);
}
const doc = (objs) => objs.map((o) => '---' + yaml(o) + '\n').join('');

const header = '# SPDX-License-Identifier: MIT\n# Generated by deploy/k8s/generate.mjs: edit that, then run `node deploy/k8s/generate.mjs`.\n';
const files = {
    'shared.yaml': shared,
    'network-policies.yaml': netpols,
    'backup-cronjobs.yaml': BACKUPS.map(cronjob),
    ...Object.fromEntries(TARGETS.map((t) => [`${t.name}.yaml`, [deployment(t), service(t), hpa(t), pdb(t)]])),
};
files['kustomization.yaml'] = null;
const kustomization = header + doc([{
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace: NS,
    resources: Object.keys(files).filter((f) => f !== 'kustomization.yaml'),
    labels: [{ pairs: { 'app.kubernetes.io/managed-by': 'kustomize' }, includeSelectors: false }],
    configMapGenerator: [{
        name: 'dtm-config',
        options: { labels: labels('config', null) },
        literals: Object.entries(config).map(([k, v]) => `${k}=${v}`),
    }],
}]);

const base = join(here, 'base');
mkdirSync(base, { recursive: true });
let stale = 0;
for (const [name, objs] of Object.entries(files)) {
    const text = objs ? header + doc(objs) : kustomization;
    const file = join(base, name);
    if (process.argv.includes('--check')) {
        let old = '';
        try { old = readFileSync(file, 'utf8'); } catch { /* missing */ }
        if (old !== text) { console.error(`stale: ${file} (run node deploy/k8s/generate.mjs)`); stale++; }
    } else {
        writeFileSync(file, text);
    }
}
if (!process.argv.includes('--check')) console.log(`wrote ${Object.keys(files).length} files to ${base}`);
process.exit(stale ? 1 : 0);
