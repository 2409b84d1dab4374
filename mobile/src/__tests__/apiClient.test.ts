// SPDX-License-Identifier: MIT
// The shared API client (packages/api-client) as the phone runs it: no DOMException, no
// localStorage, an Idempotency-Key on writes, the error shape and its sentence, one refresh and
// one retry on a 401.
import { ApiClient, ApiError, describeError, memoryStorage } from "@dtm/api-client";

interface Call {
  url: string;
  init: RequestInit;
}

function reply(status: number, body?: unknown): Response {
  const text = body === undefined ? "" : JSON.stringify(body);
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText: "",
    headers: { get: () => null },
    text: async () => text,
  } as unknown as Response;
}

const pair = (n: number) => ({
  accessToken: `at-${n}`,
  refreshToken: `rt-${n}`,
  tokenType: "Bearer",
  expiresIn: 900,
  user: { id: "u1", email: "a@b.c", firstName: "A", lastName: "B", role: "merchandiser", active: true },
});

function client(answers: ((c: Call) => Response | Promise<Response>)[]) {
  const calls: Call[] = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    const c = { url, init };
    calls.push(c);
    const next = answers.shift();
    if (!next) throw new Error(`unexpected call ${url}`);
    return next(c);
  }) as unknown as typeof fetch;
  return { api: new ApiClient({ baseUrl: "http://dtm", fetch: fetchImpl, locks: null }), calls };
}

const header = (c: Call, k: string) => (c.init.headers as Record<string, string>)[k];

test("without localStorage the session lives in memory; writes carry their Idempotency-Key", async () => {
  expect(globalThis.localStorage).toBeUndefined();
  const { api, calls } = client([() => reply(200, pair(1)), () => reply(201, { attendance: { id: "a1" } }), () => reply(200, {})]);
  await api.login("a@b.c", "pw");
  expect(api.hasStoredSession()).toBe(true);
  const r = await api.request<{ attendance: { id: string } }>("POST", "/api/attendance/punch-in", { body: { storeId: "s" }, idempotencyKey: "k-1" });
  expect(r.attendance.id).toBe("a1");
  expect(header(calls[1], "Idempotency-Key")).toBe("k-1");
  expect(header(calls[1], "Authorization")).toBe("Bearer at-1");
  await api.get("/api/visits/today");
  expect(header(calls[2], "Idempotency-Key")).toBeUndefined();
  api.logout().catch(() => undefined);
});

test("a 422 keeps code and details; describeError says what to do", async () => {
  const { api } = client([
    () => reply(200, pair(1)),
    () => reply(422, { error: { code: "outside_geofence", message: "Outside", details: { distanceM: 850, radiusM: 100 } }, requestId: "r1" }),
  ]);
  await api.login("a@b.c", "pw");
  const e = await api.post("/api/attendance/punch-in", {}).catch((x) => x);
  expect(e).toBeInstanceOf(ApiError);
  expect(e).toMatchObject({ status: 422, code: "outside_geofence", requestId: "r1", details: { distanceM: 850 } });
  expect(describeError(e)).toBe("You are 850\u00a0m from the store; punching in is allowed within 100\u00a0m. Move closer to the store and try again.");
  api.logout().catch(() => undefined);
});

test("a network failure is network_error, an abort stays an abort (React Native has no DOMException)", async () => {
  const abort = Object.assign(new Error("Aborted"), { name: "AbortError" });
  const { api } = client([
    () => reply(200, pair(1)),
    () => {
      throw new TypeError("Network request failed");
    },
    () => {
      throw abort;
    },
  ]);
  await api.login("a@b.c", "pw");
  await expect(api.get("/api/visits/today")).rejects.toMatchObject({ status: 0, code: "network_error" });
  await expect(api.get("/api/visits/today")).rejects.toBe(abort);
  api.logout().catch(() => undefined);
});

test("a 401 refreshes once (rotating the token) and retries the call", async () => {
  const storage = memoryStorage();
  const calls: Call[] = [];
  const answers = [() => reply(200, pair(1)), () => reply(401, { error: { code: "invalid_token", message: "expired" } }), () => reply(200, pair(2)), () => reply(200, { ok: true })];
  const api = new ApiClient({
    baseUrl: "",
    storage,
    locks: null,
    fetch: (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return (answers.shift() as () => Response)();
    }) as unknown as typeof fetch,
  });
  await api.login("a@b.c", "pw");
  expect(await api.get("/api/todos")).toEqual({ ok: true });
  expect(calls.map((c) => c.url)).toEqual(["/api/auth/login", "/api/todos", "/api/auth/refresh", "/api/todos"]);
  expect(JSON.parse(calls[2].init.body as string)).toEqual({ refreshToken: "rt-1" });
  expect(header(calls[3], "Authorization")).toBe("Bearer at-2");
  expect(storage.getItem("dtm.refreshToken")).toBe("rt-2");
  api.logout().catch(() => undefined);
});
