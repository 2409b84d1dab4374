// SPDX-License-Identifier: MIT
// The outbox on a real SQLite: order, durability across a crash mid-replay, duplicate replays,
// a 4xx stopping its dependents (and only them), 5xx retried with backoff, photos kept until
// uploaded, and references to ids the server assigns.
import { testDb } from "../test/sqlDb";
import { FakeServer } from "../test/fakeServer";
import { Outbox, type NewChange } from "../offline/queue";
import { SyncEngine } from "../offline/sync";
import type { Db } from "../offline/db";

let n = 0;
const key = () => `key-${++n}`;

const punchIn = (lat = 0.5, photo = false): NewChange => ({
  kind: "punchIn",
  chain: "visit:1",
  label: "Punch in",
  method: "POST",
  path: "/api/attendance/punch-in",
  body: { storeId: "s1", latitude: lat, longitude: 0.5, accuracyM: 10 },
  photo: photo ? { mime: "image/jpeg", base64: "/9j/AAAA" } : null,
});
const breakStart: NewChange = {
  kind: "breakStart",
  chain: "visit:1",
  label: "Break",
  method: "POST",
  path: "/api/attendance/breaks/start",
  body: { type: "lunch" },
};
const punchOut: NewChange = {
  kind: "punchOut",
  chain: "visit:1",
  label: "Punch out",
  method: "POST",
  path: "/api/attendance/punch-out",
  body: { latitude: 0.5, longitude: 0.5, accuracyM: 10 },
};
const tick = (item: string): NewChange => ({
  kind: "checklistTick",
  chain: "todo:t1",
  label: `Tick ${item}`,
  method: "PATCH",
  path: `/api/todos/t1/checklist/${item}`,
  body: { done: true },
});

let db: Db;
let server: FakeServer;
beforeEach(async () => {
  db = await testDb();
  server = new FakeServer();
});

test("changes are sent once each, in the order they were made, with their key and capturedAt", async () => {
  let clock = Date.parse("2026-12-04T08:00:00.000Z");
  const q = new Outbox(db, key, () => new Date((clock += 60000)));
  const made = [];
  for (const c of [punchIn(), tick("i1"), breakStart, tick("i2"), punchOut]) made.push(await q.enqueue(c));
  expect(await q.counts()).toEqual({ pending: 5, rejected: 0, blocked: 0 });
  const r = await q.flush(server.send);
  expect(r).toEqual({ outcome: "synced", sent: 5 });
  expect(server.received.map((c) => c.key)).toEqual(made.map((c) => c.key));
  expect(new Set(made.map((c) => c.key)).size).toBe(5);
  expect(server.received.map((c) => (c.body as { capturedAt: string }).capturedAt)).toEqual([
    "2026-12-04T08:01:00.000Z",
    "2026-12-04T08:02:00.000Z",
    "2026-12-04T08:03:00.000Z",
    "2026-12-04T08:04:00.000Z",
    "2026-12-04T08:05:00.000Z",
  ]);
  expect(await q.waiting()).toEqual([]);
});

test("a crash mid-replay (the app dies waiting for an answer) loses nothing and doubles nothing", async () => {
  const q1 = new Outbox(db, key);
  await q1.enqueue(punchIn(0.5, true));
  await q1.enqueue(breakStart);
  await q1.enqueue(punchOut);
  server.hangNext = true; // the punch-in reaches the server, then the app is killed
  void q1.flush(server.send);
  await new Promise((r) => setTimeout(r, 20));
  expect(server.effects).toHaveLength(1);

  // The app starts again on the same database: a fresh queue object, nothing in memory.
  const q2 = new Outbox(db, key);
  expect((await q2.waiting()).map((c) => c.kind)).toEqual(["punchIn", "breakStart", "punchOut"]);
  const r = await q2.flush(server.send);
  expect(r.outcome).toBe("synced");
  expect(server.replays).toBe(1); // the punch-in was answered from the stored response
  expect(server.effects.map((e) => e.path)).toEqual([
    "/api/attendance/punch-in",
    "/api/attendance/breaks/start",
    "/api/attendance/punch-out",
  ]);
  expect(server.effects[0].photo).toBe(true);
});

test("a lost response is replayed with the same key and body; concurrent flushes send each change once", async () => {
  const q = new Outbox(db, key);
  const a = await q.enqueue(punchIn());
  await q.enqueue(tick("i1"));
  server.loseNext = 1;
  const first = await q.flush(server.send);
  expect(first.outcome).toBe("retry");
  expect((await q.get(a.key))?.status).toBe("pending");
  const [x, y] = await Promise.all([q.flush(server.send), q.flush(server.send)]);
  expect(x).toBe(y);
  const sentKeys = server.received.map((c) => c.key);
  expect(sentKeys.filter((k) => k === a.key)).toHaveLength(2); // original + one replay
  expect(JSON.stringify(server.received[0].body)).toBe(JSON.stringify(server.received[1].body));
  expect(server.effects).toHaveLength(2); // one punch-in, one tick
  expect(server.replays).toBe(1);
});

test("a 4xx stops the changes that depend on it, not the others; discard drops them with the photo", async () => {
  const q = new Outbox(db, key);
  const pin = await q.enqueue(punchIn(48.85, true)); // far away: 422 outside_geofence
  await q.enqueue(breakStart);
  await q.enqueue(tick("i1"));
  await q.enqueue(punchOut);
  const r = await q.flush(server.send);
  expect(r.outcome).toBe("synced");
  const waiting = await q.waiting();
  expect(waiting.map((c) => [c.kind, c.status])).toEqual([
    ["punchIn", "rejected"],
    ["breakStart", "blocked"],
    ["punchOut", "blocked"],
  ]);
  expect(waiting[0].error).toMatchObject({ status: 422, code: "outside_geofence", details: { distanceM: 850 } });
  expect(server.received.map((c) => c.path)).toEqual(["/api/attendance/punch-in", "/api/todos/t1/checklist/i1"]);
  // A change made later in a stopped chain waits behind the rejection too.
  expect((await q.enqueue(breakStart)).status).toBe("blocked");
  expect(await q.storageBytes()).toMatchObject({ rows: 4 });
  expect((await q.storageBytes()).photoBytes).toBeGreaterThan(0);
  expect(await q.discard(pin.key)).toBe(4);
  expect(await q.waiting()).toEqual([]);
  expect((await q.storageBytes()).photoBytes).toBe(0);
});

test("a 5xx retries with exponential backoff and then syncs", async () => {
  jest.useFakeTimers();
  try {
    const q = new Outbox(db, key);
    server.failNext = 3;
    const sync = new SyncEngine(q, server.send, db, { baseDelayMs: 1000, random: () => 1 });
    const delays: number[] = [];
    sync.subscribe((s) => {
      if (s.nextRetryAt) delays.push(s.nextRetryAt - Date.now());
    });
    await sync.start(true);
    await q.enqueue(punchIn());
    await sync.syncNow();
    expect(sync.current.lastError).toMatchObject({ status: 503 });
    expect(sync.current.waiting).toBe(1);
    for (let i = 0; i < 3; i++) await jest.advanceTimersByTimeAsync(10000);
    expect(sync.current.waiting).toBe(0);
    expect(sync.current.syncedAt).not.toBeNull();
    expect([...new Set(delays)]).toEqual([1000, 2000, 4000]);
    expect(server.effects).toHaveLength(1);
    expect(sync.delayFor(30)).toBe(5 * 60 * 1000); // capped
    sync.stop();
  } finally {
    jest.useRealTimers();
  }
});

test("offline: nothing is sent; back online, everything goes at once with the backoff reset", async () => {
  const q = new Outbox(db, key);
  const sync = new SyncEngine(q, server.send, db);
  await sync.start(false);
  await q.enqueue(punchIn());
  await q.enqueue(tick("i1"));
  sync.kick();
  expect(server.received).toHaveLength(0);
  sync.setOnline(true);
  await new Promise((r) => setTimeout(r, 50));
  expect(server.effects).toHaveLength(2);
  expect(sync.current.waiting).toBe(0);
  sync.stop();
});

test("a change can use the id the server gave an earlier one (an audit started offline)", async () => {
  const q = new Outbox(db, key);
  await q.enqueue(punchIn());
  const start = await q.enqueue({
    kind: "auditStart",
    chain: "visit:1",
    label: "Start audit",
    method: "POST",
    path: "/api/audits",
    body: { templateId: "t", storeId: "s1" },
    noCapturedAt: true,
  });
  await q.enqueue({
    kind: "auditAnswer",
    chain: "visit:1",
    label: "Answer",
    method: "PATCH",
    path: `/api/audits/{{ref:${start.key}:audit.id}}`,
    body: { answers: [{ questionId: "q1", value: true }] },
    noCapturedAt: true,
  });
  expect((await q.flush(server.send)).outcome).toBe("synced");
  expect(server.received[2].path).toBe("/api/audits/aud-2");
  expect(server.received[1].body).toEqual({ templateId: "t", storeId: "s1" });
});
