// SPDX-License-Identifier: MIT
// The local database: the part of expo-sqlite's SQLiteDatabase the app uses (so tests can run the
// same code on another SQLite engine) and the schema, created idempotently at start.
//
//   outbox   every write, in the order it was made, with its Idempotency-Key and capturedAt
//   photos   photos waiting for upload (base64), deleted once the change carrying them is accepted
//   cache    the last answer of each read used in the field (today's plan, stores, tasks, templates)
//   meta     small values: the signed-in user, the last sync time, the local shift

export type SqlValue = string | number | null;

export interface Db {
  execAsync(source: string): Promise<void>;
  runAsync(source: string, ...params: SqlValue[]): Promise<{ changes: number; lastInsertRowId: number }>;
  getAllAsync<T>(source: string, ...params: SqlValue[]): Promise<T[]>;
  getFirstAsync<T>(source: string, ...params: SqlValue[]): Promise<T | null>;
}

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  chain TEXT NOT NULL,
  label TEXT NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  body TEXT,
  photo_id TEXT,
  captured_at TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  result TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_status ON outbox (status, seq);
CREATE TABLE IF NOT EXISTS photos (
  id TEXT PRIMARY KEY,
  mime TEXT NOT NULL,
  data TEXT NOT NULL,
  bytes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cache (
  key TEXT PRIMARY KEY,
  json TEXT NOT NULL,
  fetched_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
  k TEXT PRIMARY KEY,
  v TEXT NOT NULL
);
`;

export async function migrate(db: Db): Promise<void> {
  await db.execAsync(SCHEMA);
}

export async function getMeta<T>(db: Db, k: string): Promise<T | null> {
  const row = await db.getFirstAsync<{ v: string }>("SELECT v FROM meta WHERE k = ?", k);
  return row ? (JSON.parse(row.v) as T) : null;
}

export async function setMeta(db: Db, k: string, v: unknown): Promise<void> {
  if (v === null || v === undefined) {
    await db.runAsync("DELETE FROM meta WHERE k = ?", k);
    return;
  }
  await db.runAsync(
    "INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
    k,
    JSON.stringify(v),
  );
}
