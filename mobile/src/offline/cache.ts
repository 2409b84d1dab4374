// SPDX-License-Identifier: MIT
// Reads used in the field, cached: ask the server, keep its answer; without a network, answer from
// the last copy (with its age), so the day's plan, stores, tasks and templates work offline.
import { ApiError, type ApiClient, type Query } from "@dtm/api-client";
import type { Db } from "./db";

export interface Cached<T> {
  data: T;
  fetchedAt: string;
  fromCache: boolean;
}

export async function cachedGet<T>(db: Db, api: ApiClient, path: string, query?: Query): Promise<Cached<T>> {
  const key = path + JSON.stringify(query ?? {});
  try {
    const data = await api.get<T>(path, query);
    const fetchedAt = new Date().toISOString();
    await db.runAsync(
      "INSERT INTO cache (key, json, fetched_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET json = excluded.json, fetched_at = excluded.fetched_at",
      key,
      JSON.stringify(data),
      fetchedAt,
    );
    return { data, fetchedAt, fromCache: false };
  } catch (e) {
    const offline = e instanceof ApiError && (e.status === 0 || e.status >= 500);
    if (!offline) throw e;
    const row = await db.getFirstAsync<{ json: string; fetched_at: string }>(
      "SELECT json, fetched_at FROM cache WHERE key = ?",
      key,
    );
    if (!row) throw e;
    return { data: JSON.parse(row.json) as T, fetchedAt: row.fetched_at, fromCache: true };
  }
}
