// SPDX-License-Identifier: MIT
// A fetch for the screen tests: answers the handful of dtm routes the screens call, records what
// was sent, and can be switched offline or made to refuse punch-ins (422 outside_geofence).
import type { Store, Todo, User } from "@dtm/api-client";

export const user: User = { id: "u1", email: "mia@example.com", firstName: "Mia", lastName: "Merch", role: "merchandiser", active: true, createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-01T00:00:00.000Z", lastLoginAt: null };
export const storeA: Store = { id: "s1", code: "A-1", name: "Alpha Market", address: "1 Main St", latitude: 48.8566, longitude: 2.3522, geofenceRadiusM: 100, timezone: "UTC", active: true, createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-01T00:00:00.000Z" };
export const storeB: Store = { ...storeA, id: "s2", code: "B-1", name: "Beta Foods", address: "2 Side St" };

export interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

function resp(status: number, body: unknown): Response {
  const text = body === undefined ? "" : JSON.stringify(body);
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText: "",
    headers: { get: (k: string) => (k.toLowerCase() === "content-type" ? "application/json" : null) },
    text: async () => text,
    json: async () => body,
  } as unknown as Response;
}

export class FakeApi {
  online = true;
  refusePunchIn = false;
  sent: Sent[] = [];
  errors: string[] = [];
  todo: Todo = {
    id: "t1",
    title: "Face the shelves",
    status: "pending",
    priority: "high",
    storeId: "s1",
    checklist: [
      { id: "i1", text: "Front row faced", done: false },
      { id: "i2", text: "Price tags checked", done: false },
    ],
  };

  readonly fetch = (async (url: string, init: RequestInit = {}) => {
    try { return await this.answer(url, init); } catch (e) { this.errors.push(String(e)); throw e; }
  }) as unknown as typeof fetch;

  private answer = (async (url: string, init: RequestInit = {}) => {
    if (!this.online) throw new TypeError("Network request failed");
    const u = new URL(url, "http://phone");
    const method = init.method ?? "GET";
    const headers = (init.headers ?? {}) as Record<string, string>;
    const body = typeof init.body === "string" ? JSON.parse(init.body) : init.body;
    this.sent.push({ method, path: u.pathname, headers, body });
    const p = u.pathname;
    if (p === "/api/auth/login") {
      const b = body as { password: string };
      if (b.password !== "secret-pass") return resp(401, { error: { code: "invalid_credentials", message: "no" } });
      return resp(200, { accessToken: "at", refreshToken: "rt", tokenType: "Bearer", expiresIn: 900, user });
    }
    if (p === "/api/attendance/current") return resp(200, { punchedIn: false, attendance: null });
    if (p === "/api/visits/today")
      return resp(200, {
        date: "2026-12-04",
        items: [
          { id: "v2", storeId: "s2", sequence: 1, plannedStart: "08:30", status: "planned", store: storeB },
          { id: "v1", storeId: "s1", sequence: 2, plannedStart: "10:00", status: "planned", store: storeA },
        ],
      });
    if (p === "/api/todos" && method === "GET") return resp(200, { items: [this.todo], pagination: { page: 1, limit: 100, total: 1, pages: 1 } });
    if (p === "/api/attendance/punch-in") {
      if (this.refusePunchIn) return resp(422, { error: { code: "outside_geofence", message: "Outside", details: { distanceM: 850, radiusM: 100 } } });
      return resp(201, { attendance: { id: "a1", userId: "u1", storeId: "s1", status: "open", punchInAt: "2026-12-04T09:00:00.000Z", breaks: [] } });
    }
    if (p.startsWith("/api/todos/t1/checklist/")) return resp(200, { todo: this.todo });
    return resp(404, { error: { code: "not_found", message: "Not found" } });
  }) as unknown as typeof fetch;

  writes(): Sent[] {
    return this.sent.filter((s) => s.method !== "GET" && !s.path.startsWith("/api/auth/"));
  }
}
