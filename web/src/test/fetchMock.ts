// SPDX-License-Identifier: MIT
// A scripted fetch for unit tests: each route answers with a handler; every call is recorded.
import { vi } from "vitest";
import type { User } from "../api/types";

export interface Call {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

export type Handler = (call: Call) => Response | Promise<Response>;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

export function apiError(status: number, code: string, message = code, details?: unknown): Response {
  return json(status, { error: { code, message, details }, requestId: "req-1" }, { "X-Request-Id": "req-1" });
}

export function mockFetch(routes: Record<string, Handler>) {
  const calls: Call[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(typeof input === "string" ? input : input.toString(), "http://localhost");
    const method = (init.method ?? "GET").toUpperCase();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries((init.headers ?? {}) as Record<string, string>)) headers[k.toLowerCase()] = v;
    let body: unknown = init.body;
    if (typeof init.body === "string") {
      try {
        body = JSON.parse(init.body);
      } catch {
        body = init.body;
      }
    }
    const call = { method, path: url.pathname + url.search, headers, body };
    calls.push(call);
    const h = routes[`${method} ${url.pathname + url.search}`] ?? routes[`${method} ${url.pathname}`];
    if (!h) return apiError(404, "not_found", `no mock for ${method} ${url.pathname}`);
    return h(call);
  });
  return { fn: fn as unknown as typeof fetch, calls };
}

export const sampleUser: User = {
  id: "u1",
  email: "ann@example.com",
  firstName: "Ann",
  lastName: "Field",
  role: "merchandiser",
  active: true,
  createdAt: "2026-01-01T00:00:00Z",
  updatedAt: "2026-01-01T00:00:00Z",
  lastLoginAt: null,
};

export function tokenPair(n: number, user: User = sampleUser, expiresIn = 900) {
  return { accessToken: `access-${n}`, refreshToken: `refresh-${n}`, tokenType: "Bearer", expiresIn, user };
}
