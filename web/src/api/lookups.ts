// SPDX-License-Identifier: MIT
// Lists used to fill pickers (stores, users): every page up to a cap, limit 100 (the API's maximum).
import { api, type Query } from "./client";
import type { Page, Store, User } from "./types";

export async function allPages<T>(path: string, query: Query = {}, signal?: AbortSignal, maxPages = 10): Promise<T[]> {
  const out: T[] = [];
  for (let page = 1; page <= maxPages; page++) {
    const r = await api.get<Page<T>>(path, { ...query, page, limit: 100 }, signal);
    out.push(...r.items);
    if (!r.pagination || page >= r.pagination.pages) break;
  }
  return out;
}

export function activeStores(signal?: AbortSignal): Promise<Store[]> {
  return allPages<Store>("/api/stores", { active: true }, signal);
}

export function listUsers(query: Query = {}, signal?: AbortSignal): Promise<User[]> {
  return allPages<User>("/api/users", query, signal);
}
