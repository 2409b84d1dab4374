// SPDX-License-Identifier: MIT
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiClient, buildQuery, REFRESH_KEY } from "./client";
import { ApiError, describeError } from "./errors";
import { apiError, json, mockFetch, sampleUser, tokenPair } from "../test/fetchMock";

function memStorage() {
  const m = new Map<string, string>();
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
    m,
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("ApiClient auth", () => {
  it("logs in, keeps the access token in memory and persists only the refresh token", async () => {
    const storage = memStorage();
    const f = mockFetch({
      "POST /api/auth/login": () => json(200, tokenPair(1)),
      "GET /api/todos": (c) => json(200, { items: [], pagination: { page: 1, limit: 20, total: 0, pages: 0 }, auth: c.headers.authorization }),
    });
    const c = new ApiClient({ fetch: f.fn, storage, locks: null });
    const seen: unknown[] = [];
    c.onSession((u) => seen.push(u?.id ?? null));
    const user = await c.login("ann@example.com", "correct horse battery");
    expect(user.email).toBe("ann@example.com");
    expect(storage.m.get(REFRESH_KEY)).toBe("refresh-1");
    expect([...storage.m.values()]).not.toContain("access-1");
    expect(seen).toEqual(["u1"]);
    const r = await c.get<{ auth: string }>("/api/todos");
    expect(r.auth).toBe("Bearer access-1");
    expect(f.calls[0].body).toEqual({ email: "ann@example.com", password: "correct horse battery" });
    expect(f.calls[0].headers.authorization).toBeUndefined();
  });

  it("refreshes once for many concurrent 401s (single flight) and retries each call", async () => {
    const storage = memStorage();
    storage.setItem(REFRESH_KEY, "refresh-1");
    let refreshes = 0;
    const f = mockFetch({
      "POST /api/auth/refresh": async (c) => {
        refreshes++;
        expect(c.body).toEqual({ refreshToken: "refresh-1" });
        await new Promise((r) => setTimeout(r, 5));
        return json(200, tokenPair(2));
      },
      "GET /api/stores": (c) => (c.headers.authorization === "Bearer access-2" ? json(200, { ok: 1 }) : apiError(401, "invalid_token")),
    });
    const c = new ApiClient({ fetch: f.fn, storage, locks: null });
    // Pretend we hold a stale access token: set it via a first login-like accept.
    (c as unknown as { accessToken: string; accessExpiresAt: number }).accessToken = "stale";
    (c as unknown as { accessExpiresAt: number }).accessExpiresAt = Date.now() + 600000;
    const results = await Promise.all([c.get("/api/stores"), c.get("/api/stores"), c.get("/api/stores"), c.get("/api/stores")]);
    expect(results).toEqual([{ ok: 1 }, { ok: 1 }, { ok: 1 }, { ok: 1 }]);
    expect(refreshes).toBe(1);
    expect(storage.getItem(REFRESH_KEY)).toBe("refresh-2");
  });

  it("refreshes before a call when there is no access token yet (reload), one refresh for parallel calls", async () => {
    const storage = memStorage();
    storage.setItem(REFRESH_KEY, "refresh-7");
    const f = mockFetch({
      "POST /api/auth/refresh": () => json(200, tokenPair(8)),
      "GET /api/auth/me": () => json(200, { user: sampleUser }),
      "GET /api/todos/stats": (c) => json(200, { auth: c.headers.authorization }),
    });
    const c = new ApiClient({ fetch: f.fn, storage, locks: null });
    const [a, b] = await Promise.all([c.get<{ auth: string }>("/api/todos/stats"), c.get<{ auth: string }>("/api/todos/stats")]);
    expect(a.auth).toBe("Bearer access-8");
    expect(b.auth).toBe("Bearer access-8");
    expect(f.calls.filter((x) => x.path === "/api/auth/refresh")).toHaveLength(1);
  });

  it("ends the session when the refresh token is rejected", async () => {
    const storage = memStorage();
    const f = mockFetch({
      "POST /api/auth/login": () => json(200, tokenPair(1, sampleUser)),
      "POST /api/auth/refresh": () => apiError(401, "invalid_token", "token reused"),
      "GET /api/todos": () => apiError(401, "invalid_token"),
    });
    const c = new ApiClient({ fetch: f.fn, storage, locks: null });
    await c.login("a@b.c", "x");
    const seen: unknown[] = [];
    c.onSession((u) => seen.push(u));
    const err = await c.get("/api/todos").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe("session_expired");
    expect(storage.getItem(REFRESH_KEY)).toBeNull();
    expect(c.user).toBeNull();
    expect(seen).toEqual([null]);
    expect(describeError(err)).toMatch(/sign in again/i);
  });

  it("restores a session from the stored refresh token", async () => {
    const storage = memStorage();
    storage.setItem(REFRESH_KEY, "refresh-3");
    const f = mockFetch({ "POST /api/auth/refresh": () => json(200, tokenPair(4)) });
    const c = new ApiClient({ fetch: f.fn, storage, locks: null });
    const u = await c.restore();
    expect(u?.id).toBe("u1");
    expect(storage.getItem(REFRESH_KEY)).toBe("refresh-4");
  });

  it("restore() without a stored token makes no request", async () => {
    const f = mockFetch({});
    const c = new ApiClient({ fetch: f.fn, storage: memStorage(), locks: null });
    expect(await c.restore()).toBeNull();
    expect(f.calls).toHaveLength(0);
  });

  it("renews silently a minute before the access token expires", async () => {
    vi.useFakeTimers();
    const storage = memStorage();
    let n = 1;
    const f = mockFetch({
      "POST /api/auth/login": () => json(200, tokenPair(1, sampleUser, 120)),
      "POST /api/auth/refresh": () => json(200, tokenPair(++n, sampleUser, 120)),
    });
    const c = new ApiClient({ fetch: f.fn, storage, locks: null });
    await c.login("a@b.c", "x");
    await vi.advanceTimersByTimeAsync(59000);
    expect(f.calls.filter((x) => x.path === "/api/auth/refresh")).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(2000);
    expect(f.calls.filter((x) => x.path === "/api/auth/refresh")).toHaveLength(1);
    expect(storage.getItem(REFRESH_KEY)).toBe("refresh-2");
    await vi.advanceTimersByTimeAsync(60000);
    expect(storage.getItem(REFRESH_KEY)).toBe("refresh-3");
  });

  it("serialises refreshes through the lock manager and re-reads the token inside the lock", async () => {
    const storage = memStorage();
    storage.setItem(REFRESH_KEY, "refresh-1");
    const used: string[] = [];
    const f = mockFetch({
      "POST /api/auth/refresh": (c) => {
        const t = (c.body as { refreshToken: string }).refreshToken;
        used.push(t);
        return json(200, tokenPair(Number(t.split("-")[1]) + 1));
      },
    });
    let chain = Promise.resolve();
    const locks = {
      request<T>(_name: string, cb: () => Promise<T>): Promise<T> {
        const p = chain.then(() => {
          // another tab rotated the token while we queued for the lock
          storage.setItem(REFRESH_KEY, "refresh-5");
          return cb();
        });
        chain = p.then(() => undefined);
        return p;
      },
    };
    const c = new ApiClient({ fetch: f.fn, storage, locks });
    await c.refresh();
    expect(used).toEqual(["refresh-5"]);
    expect(storage.getItem(REFRESH_KEY)).toBe("refresh-6");
  });

  it("logout tells the server, then forgets the tokens even if the server fails", async () => {
    const storage = memStorage();
    const f = mockFetch({
      "POST /api/auth/login": () => json(200, tokenPair(1)),
      "POST /api/auth/logout": () => apiError(503, "unavailable"),
    });
    const c = new ApiClient({ fetch: f.fn, storage, locks: null });
    await c.login("a@b.c", "x");
    const done = c.logout();
    // already forgotten locally while the server is being told
    expect(storage.getItem(REFRESH_KEY)).toBeNull();
    expect(c.user).toBeNull();
    await done;
    expect(f.calls.at(-1)?.body).toEqual({ refreshToken: "refresh-1" });
    expect(f.calls.at(-1)?.headers.authorization).toBe("Bearer access-1");
    expect(storage.getItem(REFRESH_KEY)).toBeNull();
    expect(c.user).toBeNull();
  });
});

describe("error mapping", () => {
  const client = (h: () => Response | Promise<Response>) =>
    new ApiClient({ fetch: mockFetch({ "POST /api/auth/login": h }).fn, storage: memStorage(), locks: null });

  it("maps the JSON error body to code, message, details and request id", async () => {
    const e = (await client(() => apiError(423, "account_locked", "locked")).login("a", "b").catch((x: unknown) => x)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(423);
    expect(e.code).toBe("account_locked");
    expect(e.requestId).toBe("req-1");
    expect(describeError(e)).toMatch(/locked for 15 minutes/);
  });

  it("outside_geofence shows distance and radius", async () => {
    const e = (await client(() => apiError(422, "outside_geofence", "outside", { distanceM: 1234, radiusM: 100 }))
      .login("a", "b")
      .catch((x: unknown) => x)) as ApiError;
    expect(describeError(e)).toBe(
      "You are 1.2\u00a0km from the store; punching in is allowed within 100\u00a0m. Move closer to the store and try again.",
    );
  });

  it("uses the status when the body is not JSON, and Retry-After for 429", async () => {
    const e1 = (await client(() => new Response("<html>bad gateway</html>", { status: 502 })).login("a", "b").catch((x: unknown) => x)) as ApiError;
    expect(e1.code).toBe("bad_gateway");
    expect(describeError(e1)).toMatch(/temporarily unavailable/);
    const e2 = (await client(() => apiError(429, "rate_limited", "slow down")).login("a", "b").catch((x: unknown) => x)) as ApiError;
    expect(describeError(e2)).toMatch(/Too many requests/);
    const e3 = (await client(() => new Response("", { status: 429, headers: { "Retry-After": "30" } })).login("a", "b").catch((x: unknown) => x)) as ApiError;
    expect(e3.retryAfterS).toBe(30);
    expect(describeError(e3)).toBe("Too many requests. Try again in 30 s.");
  });

  it("maps a network failure to network_error", async () => {
    const c = new ApiClient({
      fetch: (() => Promise.reject(new TypeError("Failed to fetch"))) as unknown as typeof fetch,
      storage: memStorage(),
      locks: null,
    });
    const e = (await c.login("a", "b").catch((x: unknown) => x)) as ApiError;
    expect(e.code).toBe("network_error");
    expect(describeError(e)).toMatch(/Cannot reach the server/);
  });

  it("lists validation details", async () => {
    const e = (await client(() =>
      apiError(400, "validation_failed", "invalid body", [{ field: "title", message: "must be 1..200 characters" }]),
    )
      .login("a", "b")
      .catch((x: unknown) => x)) as ApiError;
    expect(describeError(e)).toBe("invalid body: title must be 1..200 characters");
  });
});

describe("requests", () => {
  it("sends multipart bodies untouched (the browser sets the boundary)", async () => {
    const storage = memStorage();
    const f = mockFetch({
      "POST /api/auth/login": () => json(200, tokenPair(1)),
      "POST /api/attendance/punch-in": () => json(201, { attendance: { id: "a1" } }),
    });
    const c = new ApiClient({ fetch: f.fn, storage, locks: null });
    await c.login("a", "b");
    const form = new FormData();
    form.append("storeId", "s1");
    form.append("photo", new Blob([new Uint8Array([0xff, 0xd8, 0xff])], { type: "image/jpeg" }), "p.jpg");
    await c.request("POST", "/api/attendance/punch-in", { form });
    const call = f.calls.at(-1)!;
    expect(call.body).toBeInstanceOf(FormData);
    expect(call.headers["content-type"]).toBeUndefined();
  });

  it("builds query strings without empty values", () => {
    expect(buildQuery({ a: 1, b: "", c: undefined, d: null, e: "x y", f: false })).toBe("?a=1&e=x+y&f=false");
    expect(buildQuery({})).toBe("");
  });

  it("downloads a CSV as a Blob with its file name", async () => {
    const storage = memStorage();
    const f = mockFetch({
      "POST /api/auth/login": () => json(200, tokenPair(1)),
      "GET /api/reports/attendance": () =>
        new Response("user,store\nAnn,S1\n", {
          status: 200,
          headers: { "Content-Type": "text/csv", "Content-Disposition": 'attachment; filename="attendance.csv"' },
        }),
    });
    const c = new ApiClient({ fetch: f.fn, storage, locks: null });
    await c.login("a", "b");
    const { blob, filename } = await c.download("/api/reports/attendance", { format: "csv", from: "2026-11-01" });
    expect(filename).toBe("attendance.csv");
    expect(await blob.text()).toBe("user,store\nAnn,S1\n");
    expect(f.calls.at(-1)!.path).toBe("/api/reports/attendance?format=csv&from=2026-11-01");
    expect(f.calls.at(-1)!.headers.authorization).toBe("Bearer access-1");
  });
});
