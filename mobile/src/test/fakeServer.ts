// SPDX-License-Identifier: MIT
// A stand-in for dtm's HTTP side in the queue tests: the rules the queue depends on (Idempotency-Key
// answers stored and replayed, a geofence 422, one open attendance, ids for audits), plus switches
// for the failures the queue must survive (offline, 5xx, a response lost after the write happened,
// a request that never returns because the app died). The real server is exercised end to end in
// tests/e2e/mobile.test.js.
import type { Answer, Outgoing, Sender } from "../offline/queue";

export interface Effect {
  key: string;
  method: string;
  path: string;
  body: Record<string, unknown>;
  photo: boolean;
}

export class FakeServer {
  online = true;
  failNext = 0;
  loseNext = 0;
  hangNext = false;
  replays = 0;
  received: Outgoing[] = [];
  effects: Effect[] = [];
  private answers = new Map<string, Answer>();
  private open: string | null = null;
  private audits = new Set<string>();
  private n = 0;

  readonly send: Sender = async (c) => {
    if (!this.online) throw new Error("Network request failed");
    this.received.push(c);
    if (this.failNext > 0) {
      this.failNext--;
      return { status: 503, body: { error: { code: "unavailable", message: "down" } } };
    }
    const stored = this.answers.get(c.key);
    if (stored) {
      this.replays++;
      return stored;
    }
    const a = this.handle(c);
    this.answers.set(c.key, a);
    if (this.hangNext) {
      this.hangNext = false;
      return new Promise<Answer>(() => {}); // the app dies while waiting
    }
    if (this.loseNext > 0) {
      this.loseNext--;
      throw new Error("connection reset");
    }
    return a;
  };

  private handle(c: Outgoing): Answer {
    const body = (c.body ?? {}) as Record<string, unknown>;
    const ok = (status: number, b: unknown): Answer => {
      this.effects.push({ key: c.key, method: c.method, path: c.path, body, photo: !!c.photo });
      return { status, body: b };
    };
    const err = (status: number, code: string, details: unknown = null): Answer => ({
      status,
      body: { error: { code, message: code, details } },
    });
    if (c.path === "/api/attendance/punch-in") {
      if (Number(body.latitude) > 1) return err(422, "outside_geofence", { distanceM: 850, radiusM: 100 });
      if (this.open) return err(409, "already_punched_in");
      this.open = `att-${++this.n}`;
      return ok(201, { attendance: { id: this.open, status: "open" } });
    }
    if (c.path.startsWith("/api/attendance/")) {
      if (!this.open) return err(409, "not_punched_in");
      const id = this.open;
      if (c.path.endsWith("punch-out")) this.open = null;
      return ok(200, { attendance: { id, status: this.open ? "open" : "closed" } });
    }
    if (c.path === "/api/audits") {
      if (!this.open) return err(409, "not_on_site");
      const id = `aud-${++this.n}`;
      this.audits.add(id);
      return ok(201, { audit: { id, status: "draft" } });
    }
    const m = /^\/api\/audits\/([^/]+)/.exec(c.path);
    if (m) {
      if (!this.audits.has(m[1])) return err(404, "not_found");
      return ok(200, { audit: { id: m[1] } });
    }
    if (c.path.startsWith("/api/todos/")) return ok(200, { todo: { id: c.path.split("/")[3] } });
    return err(404, "not_found");
  }
}
