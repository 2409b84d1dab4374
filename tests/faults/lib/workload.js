// SPDX-License-Identifier: MIT
// The client side of the fault matrix (tests/faults): a writer that behaves like a real offline-
// safe client (one Idempotency-Key per logical write, retried with the same key on 5xx, 409
// request_in_progress, timeouts and connection errors) and records every write the server
// acknowledged; a reader that fires idempotent GETs and classifies each answer; and the check
// that every acknowledged write is readable afterwards.
//
// A GET counts as failed when it was not answered within HUNG_MS (hung), was answered 503 later
// than 1 s (a slow refusal is as bad as a hang to a client), or was answered anything other than
// 2xx or 503 (a 502/504/500 or a dropped connection: the platform gave up instead of refusing).
// A 2xx slower than 1 s is not a failure but is counted (slowGets) and shows in the maximum.
'use strict';

const crypto = require('node:crypto');
const { api, sleep } = require('../../api/lib/harness.js');

const HUNG_MS = 5000;
const REFUSE_MS = 1000;
const WRITE_ATTEMPT_MS = 10000;

/** One HTTP request that never throws: {status (0 on a network error or timeout), ms, json, text, error}. */
async function call(base, method, path, { token, body, headers = {}, timeoutMs = HUNG_MS } = {}) {
    const t0 = performance.now();
    try {
        const r = await api(method, path, { base: base(), token, body, headers, timeoutMs });
        return { status: r.status, ms: r.durationMs, json: r.json, text: r.text };
    } catch (e) {
        const why = e.name === 'TimeoutError' ? 'timeout' : e.cause?.code || e.message;
        return { status: 0, ms: performance.now() - t0, error: why };
    }
}

const retryable = (r) => r.status === 0 || r.status >= 500 || (r.status === 409 && r.json?.error?.code === 'request_in_progress');

/**
 * A workload against `base()` (a function: the front URL may move when a process restarts).
 *   write(seq) -> {method, path, body, token, ack(r) -> id|null, after(r), maxAttempts, info}: one
 *                logical write (body may be a function: a FormData is built afresh per attempt)
 *   reads: [() => {path, token}] idempotent GETs, chosen round-robin
 *   writers, readers: concurrency
 */
class Workload {
    constructor({ base, write, reads, writers = 2, readers = 2, pauseMs = 25 }) {
        Object.assign(this, { base, write, reads, writers, readers, pauseMs });
        this.acked = []; // {id, seq, key, info}
        this.unacked = []; // {seq, last}
        this.gets = 0;
        this.failedGets = [];
        this.maxGetMs = 0;
        this.slowGets = 0; // answered 2xx, but after more than 1 s
        this.maxWriteMs = 0; // a logical write, retries included
        this.statuses = {};
        this.seq = 0;
        this.readsPaused = false;
        this.stopping = false;
    }
    start() {
        this.t0 = Date.now();
        this.tasks = [];
        for (let i = 0; i < this.writers; i++) this.tasks.push(this.writerLoop());
        for (let i = 0; i < this.readers; i++) this.tasks.push(this.readerLoop(i));
        return this;
    }
    /** Stop issuing new requests; writes in flight keep retrying until `drainMs` from now. */
    async stop(drainMs = 30000) {
        this.stopping = true;
        this.drainDeadline = Date.now() + drainMs;
        await Promise.all(this.tasks);
    }
    async writerLoop() {
        while (!this.stopping) {
            await this.oneWrite(++this.seq);
            await sleep(this.pauseMs);
        }
    }
    async oneWrite(seq) {
        const w = this.write(seq);
        const key = `faults-${crypto.randomUUID()}`;
        const t0 = performance.now();
        let last;
        for (let attempt = 1; ; attempt++) {
            const r = await call(this.base, w.method, w.path, {
                token: w.token,
                body: typeof w.body === 'function' ? w.body() : w.body,
                headers: { 'idempotency-key': key },
                timeoutMs: WRITE_ATTEMPT_MS,
            });
            last = r.status ? `${r.status} ${r.text.slice(0, 120)}` : r.error;
            const id = r.status >= 200 && r.status < 300 ? w.ack(r) : null;
            if (id) {
                this.acked.push({ id, seq, key, info: w.info, ms: performance.now() - t0 });
                this.maxWriteMs = Math.max(this.maxWriteMs, performance.now() - t0);
                if (w.after) await w.after(r); // e.g. the punch-out after a punch-in
                return;
            }
            const again = retryable(r) && attempt < (w.maxAttempts || Infinity) && !(this.stopping && Date.now() > this.drainDeadline);
            if (!again) {
                this.unacked.push({ seq, last });
                return;
            }
            await sleep(Math.min(1000, 100 * attempt));
        }
    }
    async readerLoop(i) {
        let n = i;
        while (!this.stopping) {
            if (this.readsPaused) {
                await sleep(50);
                continue;
            }
            const q = this.reads[n++ % this.reads.length]();
            if (q) {
                const r = await call(this.base, 'GET', q.path, { token: q.token, timeoutMs: HUNG_MS });
                this.gets++;
                this.maxGetMs = Math.max(this.maxGetMs, r.ms);
                const k = r.status || r.error;
                this.statuses[k] = (this.statuses[k] || 0) + 1;
                let bad = null;
                if (r.status === 0) bad = r.error === 'timeout' ? `hung > ${HUNG_MS} ms` : `no answer (${r.error})`;
                else if (r.status === 503 && r.ms > REFUSE_MS) bad = `503 after ${Math.round(r.ms)} ms`;
                else if (r.status !== 503 && (r.status < 200 || r.status >= 300)) bad = `${r.status} ${r.text.slice(0, 160)}`;
                if (!bad && r.status !== 503 && r.ms > REFUSE_MS) this.slowGets++;
                if (bad) this.failedGets.push({ path: q.path, at: Date.now() - this.t0, why: bad });
            }
            await sleep(this.pauseMs);
        }
    }
    /** The acknowledged writes that `readBack(ack)` (true when found) does not find within `graceMs`. */
    async lost(readBack, graceMs = 15000) {
        const missing = [];
        const deadline = Date.now() + graceMs; // for the whole set: the platform should be back
        for (const a of this.acked) {
            let ok = false;
            let why;
            for (;;) {
                const r = await readBack(a);
                ok = r === true;
                why = r;
                if (ok || Date.now() > deadline) break;
                await sleep(250);
            }
            if (!ok) missing.push({ ...a, why });
        }
        return missing;
    }
}

module.exports = { Workload, call, HUNG_MS, REFUSE_MS };
