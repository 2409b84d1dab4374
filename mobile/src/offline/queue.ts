// SPDX-License-Identifier: MIT
// The durable write queue (outbox). Every write the person makes is a row here first, with its own
// Idempotency-Key and the time it was captured, and is sent to the server in the order it was made.
//
// Rules:
// - A change is deleted from "pending" only after the server answered it. A crash or a lost answer
//   leaves it pending; the replay sends the same key and body, so the server hands back its stored
//   answer (Idempotent-Replayed) instead of creating a second record.
// - Changes belong to a chain (the visit, or one task): a change rejected by the server (a 4xx that
//   retrying cannot fix, e.g. 422 outside_geofence) stops every later change of its chain, because
//   they depend on it (no punch-out for a punch-in that never happened). Other chains go on.
// - A transient failure (network, 5xx, 408, 425, 429, 409 request_in_progress) stops the pass so the
//   order holds; the sync engine retries with exponential backoff.
// - A change may refer to the server's answer to an earlier one ("{{ref:KEY:audit.id}}" in its path
//   or body), for ids the server assigns (an audit started offline, then answered).
// - Photos stay in the photos table until the change that carries them is accepted.

import type { Db } from "./db";

export type ChangeStatus = "pending" | "rejected" | "blocked" | "done";

export interface ChangeError {
  status: number;
  code: string;
  message: string;
  details?: unknown;
}

export interface Change {
  seq: number;
  key: string;
  kind: string;
  chain: string;
  label: string;
  method: string;
  path: string;
  body: unknown;
  photoId: string | null;
  capturedAt: string;
  status: ChangeStatus;
  attempts: number;
  error: ChangeError | null;
  result: unknown;
  createdAt: string;
}

export interface NewChange {
  kind: string;
  chain: string;
  label: string;
  method: "POST" | "PATCH";
  path: string;
  body?: Record<string, unknown>;
  /** The capture time; defaults to now. Sent as the body's capturedAt unless the body has one. */
  capturedAt?: string;
  photo?: { mime: string; base64: string } | null;
  /** Do not add capturedAt to the body (for writes the server takes no capture time on). */
  noCapturedAt?: boolean;
}

export interface Photo {
  id: string;
  mime: string;
  base64: string;
}

/** What the sender gets: the change with its references resolved. */
export interface Outgoing {
  key: string;
  method: string;
  path: string;
  body: unknown;
  photo: Photo | null;
}

export interface Answer {
  status: number;
  body: unknown;
}

/** Sends one change; resolves with the server's answer (any status), rejects on a network failure. */
export type Sender = (c: Outgoing) => Promise<Answer>;

export type PassResult =
  | { outcome: "synced"; sent: number }
  | { outcome: "retry"; sent: number; error: ChangeError }
  | { outcome: "auth"; sent: number; error: ChangeError };

interface Row {
  seq: number;
  key: string;
  kind: string;
  chain: string;
  label: string;
  method: string;
  path: string;
  body: string | null;
  photo_id: string | null;
  captured_at: string;
  status: ChangeStatus;
  attempts: number;
  error: string | null;
  result: string | null;
  created_at: string;
}

function toChange(r: Row): Change {
  return {
    seq: r.seq,
    key: r.key,
    kind: r.kind,
    chain: r.chain,
    label: r.label,
    method: r.method,
    path: r.path,
    body: r.body === null ? undefined : JSON.parse(r.body),
    photoId: r.photo_id,
    capturedAt: r.captured_at,
    status: r.status,
    attempts: r.attempts,
    error: r.error ? (JSON.parse(r.error) as ChangeError) : null,
    result: r.result ? JSON.parse(r.result) : null,
    createdAt: r.created_at,
  };
}

/** True for the answers that a later retry of the very same request may turn into a success. */
export function isTransient(status: number, code: string): boolean {
  if (status === 0 || status >= 500) return true;
  if (status === 408 || status === 425 || status === 429) return true;
  return status === 409 && code === "request_in_progress";
}

function errorOf(a: Answer): ChangeError {
  const b = a.body as { error?: { code?: string; message?: string; details?: unknown } } | null;
  const e = b && typeof b === "object" ? b.error : undefined;
  return {
    status: a.status,
    code: (e && typeof e.code === "string" && e.code) || `http_${a.status}`,
    message: (e && typeof e.message === "string" && e.message) || `HTTP ${a.status}`,
    details: e?.details ?? null,
  };
}

const REF = /\{\{ref:([^:}]+):([A-Za-z0-9_.]+)\}\}/g;

function pick(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const p of path.split(".")) {
    if (!cur || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

export type KeyFactory = () => string;

export class Outbox {
  private running: Promise<PassResult> | null = null;
  private listeners = new Set<() => void>();
  private accepted = new Set<(c: Change, body: unknown) => void>();
  private enqueued = new Set<(c: Change) => void>();

  constructor(
    private readonly db: Db,
    private readonly newKey: KeyFactory,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Called after every change of the queue (for the "n changes waiting" indicator). */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Called after a new change was stored (the sync engine then sends it when online). */
  onEnqueued(fn: (c: Change) => void): () => void {
    this.enqueued.add(fn);
    return () => this.enqueued.delete(fn);
  }

  /** Called when the server accepted a change, with its answer (before the row is pruned). */
  onAccepted(fn: (c: Change, body: unknown) => void): () => void {
    this.accepted.add(fn);
    return () => this.accepted.delete(fn);
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }

  /** Adds a write to the queue; resolves with it once it is stored (durably) on the device. */
  async enqueue(c: NewChange): Promise<Change> {
    const key = this.newKey();
    const at = this.now().toISOString();
    const capturedAt = c.capturedAt ?? at;
    const body = c.body ? { ...c.body } : {};
    if (!c.noCapturedAt && body.capturedAt === undefined) body.capturedAt = capturedAt;
    let photoId: string | null = null;
    if (c.photo) {
      photoId = key;
      await this.db.runAsync(
        "INSERT INTO photos (id, mime, data, bytes) VALUES (?, ?, ?, ?)",
        photoId,
        c.photo.mime,
        c.photo.base64,
        Math.floor((c.photo.base64.length * 3) / 4),
      );
    }
    // A chain that already has a rejected change takes no new ones silently: they wait behind it.
    const stopped = await this.db.getFirstAsync<{ n: number }>(
      "SELECT COUNT(*) AS n FROM outbox WHERE chain = ? AND status IN ('rejected', 'blocked')",
      c.chain,
    );
    const status: ChangeStatus = stopped && stopped.n > 0 ? "blocked" : "pending";
    await this.db.runAsync(
      `INSERT INTO outbox (key, kind, chain, label, method, path, body, photo_id, captured_at, status, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      key,
      c.kind,
      c.chain,
      c.label,
      c.method,
      c.path,
      JSON.stringify(body),
      photoId,
      capturedAt,
      status,
      at,
    );
    const row = await this.db.getFirstAsync<Row>("SELECT * FROM outbox WHERE key = ?", key);
    const change = toChange(row as Row);
    this.emit();
    for (const fn of this.enqueued) fn(change);
    return change;
  }

  /** Every change not yet accepted, oldest first. */
  async waiting(): Promise<Change[]> {
    const rows = await this.db.getAllAsync<Row>(
      "SELECT * FROM outbox WHERE status <> 'done' ORDER BY seq",
    );
    return rows.map(toChange);
  }

  async counts(): Promise<{ pending: number; rejected: number; blocked: number }> {
    const rows = await this.db.getAllAsync<{ status: string; n: number }>(
      "SELECT status, COUNT(*) AS n FROM outbox WHERE status <> 'done' GROUP BY status",
    );
    const out = { pending: 0, rejected: 0, blocked: 0 };
    for (const r of rows) if (r.status in out) out[r.status as keyof typeof out] = r.n;
    return out;
  }

  async get(key: string): Promise<Change | null> {
    const row = await this.db.getFirstAsync<Row>("SELECT * FROM outbox WHERE key = ?", key);
    return row ? toChange(row) : null;
  }

  /** Bytes the queue holds on the device (rows and photos), for the storage figure. */
  async storageBytes(): Promise<{ rows: number; rowBytes: number; photoBytes: number }> {
    const r = await this.db.getFirstAsync<{ n: number; b: number }>(
      `SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(key) + LENGTH(kind) + LENGTH(chain) + LENGTH(label) +
         LENGTH(method) + LENGTH(path) + COALESCE(LENGTH(body), 0) + LENGTH(captured_at) +
         LENGTH(created_at) + COALESCE(LENGTH(error), 0) + COALESCE(LENGTH(result), 0) + 24), 0) AS b
       FROM outbox WHERE status <> 'done'`,
    );
    const p = await this.db.getFirstAsync<{ b: number }>(
      "SELECT COALESCE(SUM(LENGTH(data)), 0) AS b FROM photos",
    );
    return { rows: r?.n ?? 0, rowBytes: r?.b ?? 0, photoBytes: p?.b ?? 0 };
  }

  /**
   * Drops a rejected change and the changes of its chain stopped behind it (the person chose to give
   * up on it, having been told what to do instead). Returns how many changes were dropped.
   */
  async discard(key: string): Promise<number> {
    const c = await this.get(key);
    if (!c || c.status !== "rejected") return 0;
    const rows = await this.db.getAllAsync<{ key: string; photo_id: string | null }>(
      "SELECT key, photo_id FROM outbox WHERE chain = ? AND seq >= ? AND status IN ('rejected', 'blocked')",
      c.chain,
      c.seq,
    );
    for (const r of rows) {
      if (r.photo_id) await this.db.runAsync("DELETE FROM photos WHERE id = ?", r.photo_id);
      await this.db.runAsync("DELETE FROM outbox WHERE key = ?", r.key);
    }
    // A chain with nothing rejected left runs again.
    const left = await this.db.getFirstAsync<{ n: number }>(
      "SELECT COUNT(*) AS n FROM outbox WHERE chain = ? AND status = 'rejected'",
      c.chain,
    );
    if (!left || left.n === 0)
      await this.db.runAsync(
        "UPDATE outbox SET status = 'pending' WHERE chain = ? AND status = 'blocked'",
        c.chain,
      );
    this.emit();
    return rows.length;
  }

  /** One replay pass; concurrent callers share it (never two sends of the queue at once). */
  flush(send: Sender): Promise<PassResult> {
    if (!this.running) {
      this.running = this.pass(send).finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  private async resolve(c: Change): Promise<Outgoing | null> {
    const refs = new Map<string, unknown>();
    const text = c.path + "\u0000" + JSON.stringify(c.body ?? null);
    for (const m of text.matchAll(REF)) {
      if (refs.has(m[1])) continue;
      const dep = await this.get(m[1]);
      if (!dep || dep.status !== "done") return null;
      refs.set(m[1], dep.result);
    }
    const sub = (s: string) =>
      s.replace(REF, (_all, key: string, path: string) => String(pick(refs.get(key), path) ?? ""));
    let photo: Photo | null = null;
    if (c.photoId) {
      const p = await this.db.getFirstAsync<{ id: string; mime: string; data: string }>(
        "SELECT id, mime, data FROM photos WHERE id = ?",
        c.photoId,
      );
      if (p) photo = { id: p.id, mime: p.mime, base64: p.data };
    }
    return {
      key: c.key,
      method: c.method,
      path: sub(c.path),
      body: c.body === undefined ? undefined : JSON.parse(sub(JSON.stringify(c.body))),
      photo,
    };
  }

  private async pass(send: Sender): Promise<PassResult> {
    let sent = 0;
    for (;;) {
      const row = await this.db.getFirstAsync<Row>(
        "SELECT * FROM outbox WHERE status = 'pending' ORDER BY seq LIMIT 1",
      );
      if (!row) break;
      const c = toChange(row);
      const out = await this.resolve(c);
      if (!out) {
        await this.reject(c, {
          status: 0,
          code: "dependency_missing",
          message: "An earlier change this one needs was not accepted.",
        });
        continue;
      }
      let answer: Answer;
      try {
        answer = await send(out);
      } catch (e) {
        const error: ChangeError = {
          status: 0,
          code: "network_error",
          message: e instanceof Error ? e.message : "Cannot reach the server.",
        };
        await this.failed(c, error);
        return { outcome: "retry", sent, error };
      }
      sent++;
      if (answer.status >= 200 && answer.status < 300) {
        await this.db.runAsync(
          "UPDATE outbox SET status = 'done', result = ?, error = NULL, attempts = attempts + 1 WHERE seq = ?",
          JSON.stringify(answer.body ?? null),
          c.seq,
        );
        if (c.photoId) await this.db.runAsync("DELETE FROM photos WHERE id = ?", c.photoId);
        for (const fn of this.accepted) fn({ ...c, status: "done", result: answer.body }, answer.body);
        this.emit();
        continue;
      }
      const error = errorOf(answer);
      if (answer.status === 401) {
        await this.failed(c, error);
        return { outcome: "auth", sent, error };
      }
      if (isTransient(answer.status, error.code)) {
        await this.failed(c, error);
        return { outcome: "retry", sent, error };
      }
      await this.reject(c, error);
    }
    await this.prune();
    return { outcome: "synced", sent };
  }

  private async failed(c: Change, error: ChangeError): Promise<void> {
    await this.db.runAsync(
      "UPDATE outbox SET attempts = attempts + 1, error = ? WHERE seq = ?",
      JSON.stringify(error),
      c.seq,
    );
    this.emit();
  }

  private async reject(c: Change, error: ChangeError): Promise<void> {
    await this.db.runAsync(
      "UPDATE outbox SET status = 'rejected', attempts = attempts + 1, error = ? WHERE seq = ?",
      JSON.stringify(error),
      c.seq,
    );
    await this.db.runAsync(
      "UPDATE outbox SET status = 'blocked' WHERE chain = ? AND seq > ? AND status = 'pending'",
      c.chain,
      c.seq,
    );
    this.emit();
  }

  /** Accepted changes are kept only while a waiting change may still refer to their answer. */
  private async prune(): Promise<void> {
    await this.db.runAsync(
      `DELETE FROM outbox WHERE status = 'done' AND chain NOT IN
         (SELECT chain FROM outbox WHERE status <> 'done')`,
    );
  }
}
