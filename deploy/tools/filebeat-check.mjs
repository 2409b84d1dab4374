// SPDX-License-Identifier: MIT
// Filebeat is not packaged for Debian, so it cannot run here: parse its YAML and check the parts
// the pipeline depends on (ndjson parsing of dtm's lines, Logstash output).
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const f = process.argv[2];
const y = parse(readFileSync(f, 'utf8'));
const inputs = y['filebeat.inputs'] || [];
if (!inputs.some((i) => i.enabled !== false && i.parsers?.some((p) => p.ndjson?.target === 'dtm')))
    throw new Error(`${f}: no enabled input parsing ndjson into "dtm"`);
if (!y['output.logstash']?.hosts?.length) throw new Error(`${f}: no Logstash output`);
console.log(`${f}: parsed, ${inputs.length} inputs (ndjson -> dtm.*), Logstash output`);
