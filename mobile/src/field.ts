// SPDX-License-Identifier: MIT
// The merchandiser's day on the phone: punch-in (position, accuracy, photo), breaks, checklist ticks,
// audits and punch-out, each one a change in the outbox, plus the local picture of the shift the
// screens show while changes wait (kept in SQLite so a restart offline shows the same thing).
// When the server accepts a shift change, its attendance record (with the minute totals) replaces
// the local estimate.

import type { Attendance, BreakType, Store, Todo } from "@dtm/api-client";
import { getMeta, setMeta, type Db } from "./offline/db";
import type { Change, Outbox } from "./offline/queue";

export interface Position {
  latitude: number;
  longitude: number;
  accuracyM: number;
}

export interface LocalBreak {
  type: BreakType;
  startedAt: string;
  endedAt: string | null;
}

export interface Shift {
  chain: string;
  storeId: string;
  storeName: string;
  punchInAt: string;
  punchOutAt: string | null;
  status: "open" | "on_break" | "closed";
  breaks: LocalBreak[];
  accuracyM: number;
  withPhoto: boolean;
  /** The server's record, once it accepted a change of this shift. */
  server: Attendance | null;
}

export interface Totals {
  workedMinutes: number;
  breakMinutes: number;
  netMinutes: number;
  overtimeMinutes: number;
  /** True when the server computed them; false for the phone's estimate while changes wait. */
  confirmed: boolean;
}

const SHIFT = "shift";
const mins = (a: string, b: string) => Math.max(0, Math.round((Date.parse(b) - Date.parse(a)) / 60000));

/** Minute totals: the server's when it has the punch-out, else estimated from the capture times. */
export function totals(s: Shift, now = new Date()): Totals {
  const sv = s.server;
  if (sv && sv.status === "closed" && typeof sv.workedMinutes === "number") {
    return {
      workedMinutes: sv.workedMinutes,
      breakMinutes: sv.breakMinutes ?? 0,
      netMinutes: sv.netMinutes ?? sv.workedMinutes,
      overtimeMinutes: sv.overtimeMinutes ?? 0,
      confirmed: true,
    };
  }
  const end = s.punchOutAt ?? now.toISOString();
  const worked = mins(s.punchInAt, end);
  const brk = s.breaks.reduce((n, b) => n + mins(b.startedAt, b.endedAt ?? end), 0);
  const net = Math.max(0, worked - brk);
  return { workedMinutes: worked, breakMinutes: brk, netMinutes: net, overtimeMinutes: Math.max(0, net - 480), confirmed: false };
}

export class Field {
  private listeners = new Set<(s: Shift | null) => void>();
  private shift: Shift | null = null;

  constructor(
    private readonly db: Db,
    private readonly outbox: Outbox,
    private readonly newId: () => string,
    private readonly now: () => Date = () => new Date(),
  ) {
    outbox.onAccepted((c, body) => void this.accepted(c, body));
  }

  async load(): Promise<Shift | null> {
    this.shift = await getMeta<Shift>(this.db, SHIFT);
    return this.shift;
  }

  get current(): Shift | null {
    return this.shift;
  }

  subscribe(fn: (s: Shift | null) => void): () => void {
    this.listeners.add(fn);
    fn(this.shift);
    return () => this.listeners.delete(fn);
  }

  private async save(s: Shift | null): Promise<void> {
    this.shift = s;
    await setMeta(this.db, SHIFT, s);
    for (const fn of this.listeners) fn(s);
  }

  private async accepted(c: Change, body: unknown): Promise<void> {
    const s = this.shift;
    const att = (body as { attendance?: Attendance } | null)?.attendance;
    if (!s || c.chain !== s.chain || !att) return;
    await this.save({ ...s, server: att });
  }

  /** Adopts the server's open attendance (GET /attendance/current) when the phone knows none. */
  async adopt(att: Attendance | null, store: Store | null): Promise<void> {
    if (this.shift && this.shift.status !== "closed") return;
    if (!att || att.status === "closed") return;
    await this.save({
      chain: `attendance:${att.id}`,
      storeId: att.storeId,
      storeName: store?.name ?? "",
      punchInAt: att.punchInAt,
      punchOutAt: null,
      status: att.status,
      breaks: att.breaks.map((b) => ({ type: b.type, startedAt: b.startedAt, endedAt: b.endedAt ?? null })),
      accuracyM: att.punchIn?.accuracyM ?? 0,
      withPhoto: !!att.photoUrl,
      server: att,
    });
  }

  async punchIn(store: Store, pos: Position, photo: { mime: string; base64: string } | null): Promise<Change> {
    if (this.shift && this.shift.status !== "closed") throw new Error("You are already punched in. Punch out first.");
    const chain = `visit:${this.newId()}`;
    const at = this.now().toISOString();
    const c = await this.outbox.enqueue({
      kind: "punchIn",
      chain,
      label: `Punch-in at ${store.name}`,
      method: "POST",
      path: "/api/attendance/punch-in",
      body: { storeId: store.id, latitude: pos.latitude, longitude: pos.longitude, accuracyM: Math.max(1, Math.round(pos.accuracyM)) },
      capturedAt: at,
      photo,
    });
    await this.save({
      chain,
      storeId: store.id,
      storeName: store.name,
      punchInAt: at,
      punchOutAt: null,
      status: "open",
      breaks: [],
      accuracyM: pos.accuracyM,
      withPhoto: !!photo,
      server: null,
    });
    return c;
  }

  private need(status: Shift["status"][], what: string): Shift {
    const s = this.shift;
    if (!s || !status.includes(s.status)) throw new Error(what);
    return s;
  }

  async startBreak(type: BreakType): Promise<Change> {
    const s = this.need(["open"], "Punch in first (or end the current break).");
    const at = this.now().toISOString();
    const c = await this.outbox.enqueue({
      kind: "breakStart",
      chain: s.chain,
      label: `Start of ${type} break`,
      method: "POST",
      path: "/api/attendance/breaks/start",
      body: { type },
      capturedAt: at,
    });
    await this.save({ ...s, status: "on_break", breaks: [...s.breaks, { type, startedAt: at, endedAt: null }] });
    return c;
  }

  async endBreak(): Promise<Change> {
    const s = this.need(["on_break"], "You are not on a break.");
    const at = this.now().toISOString();
    const c = await this.outbox.enqueue({
      kind: "breakEnd",
      chain: s.chain,
      label: "End of break",
      method: "POST",
      path: "/api/attendance/breaks/end",
      capturedAt: at,
    });
    await this.save({ ...s, status: "open", breaks: s.breaks.map((b) => (b.endedAt ? b : { ...b, endedAt: at })) });
    return c;
  }

  async punchOut(pos: Position | null): Promise<Change> {
    const s = this.need(["open", "on_break"], "You are not punched in.");
    if (s.status === "on_break") await this.endBreak();
    const cur = this.shift as Shift;
    const at = this.now().toISOString();
    const body = pos ? { latitude: pos.latitude, longitude: pos.longitude, accuracyM: Math.max(1, Math.round(pos.accuracyM)) } : {};
    const c = await this.outbox.enqueue({
      kind: "punchOut",
      chain: cur.chain,
      label: `Punch-out at ${cur.storeName}`,
      method: "POST",
      path: "/api/attendance/punch-out",
      body,
      capturedAt: at,
    });
    await this.save({ ...cur, status: "closed", punchOutAt: at });
    return c;
  }

  /** Forgets a closed shift (after its totals were shown), or one whose punch-in was discarded. */
  async clear(): Promise<void> {
    await this.save(null);
  }

  async tick(todo: Todo, itemId: string, done: boolean): Promise<Change> {
    const item = todo.checklist.find((i) => i.id === itemId);
    return this.outbox.enqueue({
      kind: "checklistTick",
      chain: `todo:${todo.id}`,
      label: `${done ? "Tick" : "Untick"} "${item?.text ?? itemId}" (${todo.title})`,
      method: "PATCH",
      path: `/api/todos/${todo.id}/checklist/${itemId}`,
      body: { done },
    });
  }

  /** Starts an audit in this visit; answers and the submission refer to its id once the server gave it. */
  async startAudit(templateId: string, templateName: string): Promise<Change> {
    const s = this.need(["open", "on_break"], "Punch in at the store before starting an audit.");
    return this.outbox.enqueue({
      kind: "auditStart",
      chain: s.chain,
      label: `Start audit "${templateName}"`,
      method: "POST",
      path: "/api/audits",
      body: { templateId, storeId: s.storeId },
      noCapturedAt: true,
    });
  }

  async answer(auditKey: string, questionId: string, value: boolean | number | string, label: string): Promise<Change> {
    const s = this.need(["open", "on_break", "closed"], "No visit.");
    return this.outbox.enqueue({
      kind: "auditAnswer",
      chain: s.chain,
      label: `Answer "${label}"`,
      method: "PATCH",
      path: `/api/audits/{{ref:${auditKey}:audit.id}}`,
      body: { answers: [{ questionId, value, capturedAt: this.now().toISOString() }] },
      noCapturedAt: true,
    });
  }

  async submitAudit(auditKey: string, templateName: string): Promise<Change> {
    const s = this.need(["open", "on_break", "closed"], "No visit.");
    return this.outbox.enqueue({
      kind: "auditSubmit",
      chain: s.chain,
      label: `Submit audit "${templateName}"`,
      method: "POST",
      path: `/api/audits/{{ref:${auditKey}:audit.id}}/submit`,
      noCapturedAt: true,
    });
  }
}

/** The checklist as the person sees it: the server's copy with the ticks still waiting applied. */
export function withPendingTicks(todo: Todo, waiting: Change[]): Todo {
  const prefix = `/api/todos/${todo.id}/checklist/`;
  const done = new Map<string, boolean>();
  for (const c of waiting) {
    if (c.kind !== "checklistTick" || !c.path.startsWith(prefix) || c.status === "rejected") continue;
    done.set(c.path.slice(prefix.length), !!(c.body as { done?: boolean }).done);
  }
  if (done.size === 0) return todo;
  return { ...todo, checklist: todo.checklist.map((i) => (done.has(i.id) ? { ...i, done: done.get(i.id) as boolean } : i)) };
}

/** What to do about a rejected change, in words (the server's code decides). */
export function whatToDo(c: Change): string {
  const code = c.error?.code ?? "";
  switch (code) {
    case "outside_geofence":
      return "You were too far from the store. Go to the store, discard this punch-in and punch in again there (or ask your manager for a geofence exception).";
    case "inaccurate_location":
      return "Your location was not precise enough. Discard this punch-in, go near a window or outside, and punch in again.";
    case "already_punched_in":
      return "You were already punched in elsewhere. Discard this one and punch out of the other visit first.";
    case "not_punched_in":
    case "not_on_site":
      return "There was no open visit for this. Discard it and punch in first.";
    case "invalid_captured_at":
      return "It was captured too long ago (more than 72 h) or the phone's clock is wrong. Check the clock, discard and redo it.";
    case "idempotency_key_reused":
      return "The server already has a different change with this key. Discard it and redo it.";
    case "already_submitted":
      return "This audit was already submitted. Discard the change.";
    case "dependency_missing":
      return "An earlier change it needs was not accepted. Discard it and redo it.";
    default:
      if (c.error && c.error.status === 403) return "You are not allowed to do this. Discard it and ask your manager.";
      if (c.error && c.error.status === 404) return "It no longer exists on the server. Discard the change.";
      return "The server refused it. Discard it and redo it, or ask your manager.";
  }
}
