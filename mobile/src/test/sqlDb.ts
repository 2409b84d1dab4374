// SPDX-License-Identifier: MIT
// A real SQLite (sql.js, SQLite compiled to WebAssembly) behind the app's Db interface, for Jest,
// where expo-sqlite's native module does not exist. The same SQL runs as on the phone.
import initSqlJs from "sql.js";
import { migrate, type Db, type SqlValue } from "../offline/db";

let engine: Awaited<ReturnType<typeof initSqlJs>> | null = null;

export async function testDb(): Promise<Db> {
  if (!engine) engine = await initSqlJs();
  const raw = new engine.Database();
  const all = <T,>(sql: string, params: SqlValue[]): T[] => {
    const st = raw.prepare(sql);
    try {
      st.bind(params);
      const out: T[] = [];
      while (st.step()) out.push(st.getAsObject() as T);
      return out;
    } finally {
      st.free();
    }
  };
  const db: Db = {
    execAsync: async (sql) => {
      raw.exec(sql);
    },
    runAsync: async (sql, ...params) => {
      raw.run(sql, params);
      const id = all<{ id: number }>("SELECT last_insert_rowid() AS id", [])[0]?.id ?? 0;
      return { changes: raw.getRowsModified(), lastInsertRowId: id };
    },
    getAllAsync: async <T,>(sql: string, ...params: SqlValue[]) => all<T>(sql, params),
    getFirstAsync: async <T,>(sql: string, ...params: SqlValue[]) => all<T>(sql, params)[0] ?? null,
  };
  await migrate(db);
  return db;
}
