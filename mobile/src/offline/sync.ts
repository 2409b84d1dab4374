// SPDX-License-Identifier: MIT
// The sync engine: replays the outbox when the phone is online, after every new change, when the app
// returns to the foreground and when connectivity comes back; after a transient failure it waits
// with exponential backoff (base × 2^(failures−1), capped, with jitter) before the next pass.
// It also keeps the status the "n changes waiting / synced at" indicator shows.

import { ApiError, type ApiClient } from "@dtm/api-client";
import { getMeta, setMeta, type Db } from "./db";
import type { Change, ChangeError, Outbox, Sender } from "./queue";

export interface SyncStatus {
  online: boolean;
  syncing: boolean;
  /** Changes waiting to be sent (pending). */
  waiting: number;
  /** Changes the server refused, with their error, and the ones stopped behind them. */
  rejected: Change[];
  blocked: number;
  syncedAt: string | null;
  lastError: ChangeError | null;
  nextRetryAt: number | null;
  needsLogin: boolean;
}

export interface SyncOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
  now?: () => number;
}

/** A photo as the platform's FormData wants it (a Blob in browsers, {uri, name, type} natively). */
export type PhotoPart = (photo: { mime: string; base64: string }) => Promise<Blob | object>;

/** Sends outbox changes through the shared API client, with their Idempotency-Key. */
export function apiSender(api: ApiClient, photoPart: PhotoPart): Sender {
  return async (c) => {
    try {
      let res: Response;
      if (c.photo) {
        const form = new FormData();
        for (const [k, v] of Object.entries((c.body ?? {}) as Record<string, unknown>)) {
          if (v !== undefined && v !== null) form.append(k, String(v));
        }
        const ext = c.photo.mime === "image/png" ? "png" : c.photo.mime === "image/webp" ? "webp" : "jpg";
        form.append("photo", (await photoPart(c.photo)) as Blob, `photo.${ext}`);
        res = await api.raw(c.method, c.path, { form, idempotencyKey: c.key });
      } else {
        res = await api.raw(c.method, c.path, { body: c.body, idempotencyKey: c.key });
      }
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    } catch (e) {
      if (e instanceof ApiError && e.status !== 0) {
        return {
          status: e.status,
          body: { error: { code: e.code, message: e.message, details: e.details } },
        };
      }
      throw e;
    }
  };
}

export class SyncEngine {
  private status: SyncStatus = {
    online: true,
    syncing: false,
    waiting: 0,
    rejected: [],
    blocked: 0,
    syncedAt: null,
    lastError: null,
    nextRetryAt: null,
    needsLogin: false,
  };
  private listeners = new Set<(s: SyncStatus) => void>();
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private again = false;
  private run: Promise<void> | null = null;
  private readonly base: number;
  private readonly max: number;
  private readonly random: () => number;
  private readonly now: () => number;
  private stopped = false;

  constructor(
    private readonly outbox: Outbox,
    private readonly send: Sender,
    private readonly db: Db,
    opts: SyncOptions = {},
  ) {
    this.base = opts.baseDelayMs ?? 1000;
    this.max = opts.maxDelayMs ?? 5 * 60 * 1000;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    outbox.onChange(() => {
      void this.refresh();
    });
    outbox.onEnqueued(() => this.kick());
  }

  async start(online: boolean): Promise<void> {
    this.status.online = online;
    this.status.syncedAt = await getMeta<string>(this.db, "syncedAt");
    await this.refresh();
    if (online) void this.syncNow();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  get current(): SyncStatus {
    return this.status;
  }

  subscribe(fn: (s: SyncStatus) => void): () => void {
    this.listeners.add(fn);
    fn(this.status);
    return () => this.listeners.delete(fn);
  }

  private set(patch: Partial<SyncStatus>): void {
    this.status = { ...this.status, ...patch };
    for (const fn of this.listeners) fn(this.status);
  }

  private async refresh(): Promise<void> {
    const waiting = await this.outbox.waiting();
    this.set({
      waiting: waiting.filter((c) => c.status === "pending").length,
      rejected: waiting.filter((c) => c.status === "rejected"),
      blocked: waiting.filter((c) => c.status === "blocked").length,
    });
  }

  /** Connectivity changed (NetInfo). Coming back online syncs at once, with the backoff reset. */
  setOnline(online: boolean): void {
    const was = this.status.online;
    this.set({ online });
    if (online && !was) {
      this.failures = 0;
      void this.syncNow();
    }
  }

  /** The app came to the foreground: try now rather than at the next backoff step. */
  foreground(): void {
    if (this.status.online) void this.syncNow();
  }

  /** After a new change or a new sign-in (a pending backoff timer keeps its turn). */
  kick(): void {
    if (this.status.needsLogin) this.set({ needsLogin: false });
    if (this.status.online && !this.timer) void this.syncNow();
  }

  /** Delay before the next try after `failures` transient failures in a row. */
  delayFor(failures: number): number {
    const d = Math.min(this.max, this.base * 2 ** Math.max(0, failures - 1));
    return Math.round(d * (0.5 + this.random() / 2));
  }

  /** Runs a sync (or joins the running one, which then makes one more pass). */
  syncNow(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.run) {
      this.again = true; // a change arrived during the pass: one more pass after it
      return this.run;
    }
    this.run = this.loop().finally(() => {
      this.run = null;
    });
    return this.run;
  }

  private async loop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.set({ syncing: true, nextRetryAt: null });
    try {
      do {
        this.again = false;
        const r = await this.outbox.flush(this.send);
        if (r.outcome === "synced") {
          this.failures = 0;
          const at = new Date(this.now()).toISOString();
          await setMeta(this.db, "syncedAt", at);
          this.set({ syncedAt: at, lastError: null });
        } else if (r.outcome === "auth") {
          this.set({ needsLogin: true, lastError: r.error });
          this.again = false;
        } else {
          this.failures++;
          const delay = this.delayFor(this.failures);
          this.set({ lastError: r.error, nextRetryAt: this.now() + delay });
          this.timer = setTimeout(() => {
            this.timer = null;
            void this.syncNow();
          }, delay);
          this.again = false;
        }
      } while (this.again && !this.stopped);
    } finally {
      this.set({ syncing: false });
      await this.refresh();
    }
  }
}
