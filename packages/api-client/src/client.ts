// SPDX-License-Identifier: MIT
// The API client: the one place that talks to /api, shared by web/ and mobile/ (@dtm/api-client).
// It depends on nothing but fetch, so it runs in browsers, React Native and Node alike.
//
// Tokens: the access token lives in memory only; the refresh token is persisted in localStorage so a
// reload keeps the session. Renewal is silent: a timer refreshes a minute before the access token
// expires, and a 401 on a call triggers one refresh and one retry. Refreshes are single-flight: every
// caller that needs a refresh while one is running awaits the same promise, because refresh tokens
// rotate on use and a second refresh with the old token would count as reuse and revoke the whole
// family. Across tabs, navigator.locks serialises refreshes and the token is re-read from storage
// inside the lock, so two tabs never spend the same refresh token.

import { ApiError, errorFromResponse } from "./errors";
import type { TokenPair, User } from "./types";

export const REFRESH_KEY = "dtm.refreshToken";

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  form?: FormData;
  signal?: AbortSignal;
  /** Do not attach the bearer token nor retry on 401 (login, refresh). */
  anonymous?: boolean;
  headers?: Record<string, string>;
  /**
   * Idempotency-Key header (shared/API.md "Offline-safe writes"): a retry with the same key and
   * body gets the first response again instead of a second record.
   */
  idempotencyKey?: string;
}

export interface Storage {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
  removeItem(k: string): void;
}

interface LockManagerLike {
  request<T>(name: string, cb: () => Promise<T>): Promise<T>;
}

export interface ClientOptions {
  baseUrl?: string;
  fetch?: typeof fetch;
  storage?: Storage;
  locks?: LockManagerLike | null;
  /** Seconds before expiry at which the renewal timer fires. */
  renewMarginS?: number;
  now?: () => number;
}

export type SessionListener = (user: User | null) => void;

/** A Storage that forgets on reload (where there is no localStorage and none was given). */
export function memoryStorage(): Storage {
  const m = new Map<string, string>();
  return {
    getItem: (k) => m.get(k) ?? null,
    setItem: (k, v) => void m.set(k, v),
    removeItem: (k) => void m.delete(k),
  };
}

export function buildQuery(q?: Query): string {
  if (!q) return "";
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === "") continue;
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

export class ApiClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;
  private readonly storage: Storage;
  private readonly locks: LockManagerLike | null;
  private readonly renewMarginS: number;
  private readonly now: () => number;

  private accessToken: string | null = null;
  private accessExpiresAt = 0;
  private refreshing: Promise<string> | null = null;
  private renewTimer: ReturnType<typeof setTimeout> | null = null;
  private listeners = new Set<SessionListener>();
  private currentUser: User | null = null;

  constructor(opts: ClientOptions = {}) {
    this.base = opts.baseUrl ?? "";
    this.fetchImpl = opts.fetch ?? ((...a: Parameters<typeof fetch>) => globalThis.fetch(...a));
    this.storage = opts.storage ?? globalThis.localStorage ?? memoryStorage();
    const nav = typeof navigator !== "undefined" ? (navigator as Navigator) : undefined;
    this.locks =
      opts.locks !== undefined
        ? opts.locks
        : nav && "locks" in nav && nav.locks
          ? (nav.locks as unknown as LockManagerLike)
          : null;
    this.renewMarginS = opts.renewMarginS ?? 60;
    this.now = opts.now ?? Date.now;
  }

  get user(): User | null {
    return this.currentUser;
  }

  hasStoredSession(): boolean {
    return !!this.storage.getItem(REFRESH_KEY);
  }

  /** Subscribe to session changes (login, logout, expiry). Returns the unsubscribe function. */
  onSession(fn: SessionListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    for (const fn of this.listeners) fn(this.currentUser);
  }

  private accept(pair: TokenPair): void {
    this.accessToken = pair.accessToken;
    const ttl = typeof pair.expiresIn === "number" && pair.expiresIn > 0 ? pair.expiresIn : 900;
    this.accessExpiresAt = this.now() + ttl * 1000;
    this.storage.setItem(REFRESH_KEY, pair.refreshToken);
    if (pair.user) this.currentUser = pair.user;
    this.scheduleRenewal(ttl);
  }

  private scheduleRenewal(ttlS: number): void {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    const delayMs = Math.max(5, ttlS - this.renewMarginS) * 1000;
    this.renewTimer = setTimeout(() => {
      this.renewTimer = null;
      this.refresh().catch(() => {
        /* refresh() already ended the session if the token was rejected */
      });
    }, delayMs);
  }

  private clearSession(): void {
    this.accessToken = null;
    this.accessExpiresAt = 0;
    this.storage.removeItem(REFRESH_KEY);
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = null;
    const had = this.currentUser !== null;
    this.currentUser = null;
    if (had) this.emit();
  }

  async login(email: string, password: string): Promise<User> {
    const pair = await this.request<TokenPair>("POST", "/api/auth/login", {
      body: { email, password },
      anonymous: true,
    });
    this.accept(pair);
    this.emit();
    return pair.user;
  }

  /** Restores a session from the stored refresh token. Returns the user, or null when there is none. */
  async restore(): Promise<User | null> {
    if (!this.hasStoredSession()) return null;
    try {
      await this.refresh();
    } catch (e) {
      if (e instanceof ApiError && e.code === "session_expired") return null;
      throw e;
    }
    if (!this.currentUser) {
      const me = await this.request<{ user: User }>("GET", "/api/auth/me");
      this.currentUser = me.user;
    }
    this.emit();
    return this.currentUser;
  }

  /**
   * Single-flight refresh: resolves with a fresh access token. Concurrent callers share one request.
   * A rejected refresh token (401) ends the session and rejects with code "session_expired".
   */
  refresh(): Promise<string> {
    if (!this.refreshing) {
      const run = () => this.doRefresh();
      const p = this.locks ? this.locks.request("dtm-refresh", run) : run();
      this.refreshing = p.finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<string> {
    const token = this.storage.getItem(REFRESH_KEY);
    if (!token) {
      this.clearSession();
      throw new ApiError(401, "session_expired", "Your session has expired.");
    }
    let pair: TokenPair;
    try {
      pair = await this.request<TokenPair>("POST", "/api/auth/refresh", {
        body: { refreshToken: token },
        anonymous: true,
      });
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        // Another tab may have rotated the token while we waited: only give up if it did not.
        if (this.storage.getItem(REFRESH_KEY) === token) this.clearSession();
        throw new ApiError(401, "session_expired", "Your session has expired.", null, e.requestId);
      }
      throw e;
    }
    this.accept(pair);
    return pair.accessToken;
  }

  /** A valid access token, refreshing first when it is missing or about to expire. */
  async token(): Promise<string> {
    if (this.refreshing) return this.refreshing;
    if (this.accessToken && this.now() < this.accessExpiresAt - 5000) return this.accessToken;
    return this.refresh();
  }

  /**
   * Forgets the session locally first (so a reload or another tab can never pick up a refresh
   * token the server is about to revoke), then tells the server with the tokens it had.
   */
  async logout(): Promise<void> {
    const refreshToken = this.storage.getItem(REFRESH_KEY);
    const access = this.accessToken;
    this.clearSession();
    if (!refreshToken || !access) return;
    try {
      await this.request("POST", "/api/auth/logout", {
        body: { refreshToken },
        anonymous: true,
        headers: { Authorization: `Bearer ${access}` },
      });
    } catch {
      // Logging out locally matters more than telling the server; the tokens expire anyway.
    }
  }

  async changePassword(currentPassword: string, newPassword: string): Promise<void> {
    await this.request("POST", "/api/auth/change-password", {
      body: { currentPassword, newPassword },
    });
  }

  /** Performs a request and returns the raw Response (2xx only; anything else throws ApiError). */
  async raw(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const url = this.base + path + buildQuery(opts.query);
    const send = async (token: string | null): Promise<Response> => {
      const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
      if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
      let body: BodyInit | undefined;
      if (opts.form) {
        body = opts.form; // the browser sets the multipart boundary
      } else if (opts.body !== undefined) {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify(opts.body);
      }
      if (token) headers.Authorization = `Bearer ${token}`;
      try {
        return await this.fetchImpl(url, { method, headers, body, signal: opts.signal });
      } catch (e) {
        // React Native has no DOMException: recognise an abort by its name.
        if ((e as { name?: unknown } | null)?.name === "AbortError") throw e;
        throw new ApiError(0, "network_error", "Cannot reach the server.");
      }
    };

    if (opts.anonymous) {
      const res = await send(null);
      if (!res.ok) throw await errorFromResponse(res);
      return res;
    }
    let res = await send(await this.token());
    if (res.status === 401) {
      // The access token was revoked or expired early (clock skew): one refresh, one retry.
      const err = await errorFromResponse(res);
      this.accessToken = null;
      let fresh: string;
      try {
        fresh = await this.refresh();
      } catch {
        throw err.code === "unauthorized" || err.code === "invalid_token"
          ? new ApiError(401, "session_expired", "Your session has expired.", null, err.requestId)
          : err;
      }
      res = await send(fresh);
    }
    if (!res.ok) throw await errorFromResponse(res);
    return res;
  }

  /** JSON request; resolves with the parsed body (undefined for 204). */
  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(method, path, opts);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(res.status, "bad_response", "The server sent an unreadable response.");
    }
  }

  get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return this.request<T>("GET", path, { query, signal });
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, { body });
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, { body });
  }
  del<T = void>(path: string): Promise<T> {
    return this.request<T>("DELETE", path);
  }

  /** Downloads a file with the bearer token and returns it as a Blob with its suggested name. */
  async download(path: string, query?: Query): Promise<{ blob: Blob; filename: string | null }> {
    const res = await this.raw("GET", path, { query, headers: { Accept: "text/csv, */*" } });
    const cd = res.headers.get("Content-Disposition") ?? "";
    const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
    return { blob: await res.blob(), filename: m ? decodeURIComponent(m[1]) : null };
  }
}
