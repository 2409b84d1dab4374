// SPDX-License-Identifier: MIT
// Server-Sent Events over fetch(). EventSource cannot send an Authorization header, so the stream is
// read with fetch() and parsed here, following the WHATWG "event stream" interpretation rules:
// lines end in CRLF, LF or CR; "data" lines accumulate joined by "\n"; a blank line dispatches;
// lines starting with ":" are comments (keep-alives); "id" sets the last event id (unless it contains
// NUL); "retry" with only digits sets the reconnection delay; a leading BOM is dropped.

import type { ApiClient } from "./client";
import { ApiError } from "./errors";

export interface SseEvent {
  event: string;
  data: string;
  id: string;
}

export class SseParser {
  private buf = "";
  private data: string[] = [];
  private eventType = "";
  private sawData = false;
  private started = false;
  private pendingCR = false;
  lastEventId = "";
  retryMs: number | null = null;

  /** Feeds a decoded chunk; returns the events it completed. */
  feed(chunk: string): SseEvent[] {
    if (!this.started && chunk.length > 0) {
      this.started = true;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    // A CR at the end of the previous chunk may be the first half of a CRLF.
    if (this.pendingCR) {
      this.pendingCR = false;
      if (chunk.startsWith("\n")) chunk = chunk.slice(1);
    }
    this.buf += chunk;
    const out: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.buf.slice(start, i);
      if (c === 13) {
        if (i + 1 < this.buf.length) {
          if (this.buf.charCodeAt(i + 1) === 10) i++;
        } else {
          this.pendingCR = true;
        }
      }
      start = i + 1;
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    this.buf = this.buf.slice(start);
    return out;
  }

  private line(line: string): SseEvent | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    let field = line;
    let value = "";
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
    }
    switch (field) {
      case "data":
        this.data.push(value);
        this.sawData = true;
        break;
      case "event":
        this.eventType = value;
        break;
      case "id":
        if (!value.includes("\0")) this.lastEventId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
    }
    return null;
  }

  private dispatch(): SseEvent | null {
    const type = this.eventType || "message";
    this.eventType = "";
    if (!this.sawData) return null;
    const data = this.data.join("\n");
    this.data = [];
    this.sawData = false;
    return { event: type, data, id: this.lastEventId };
  }
}

export interface StreamHandlers {
  onEvent: (ev: SseEvent) => void;
  /** Called with true when the stream is open, false when it dropped (it reconnects by itself). */
  onState?: (connected: boolean, err?: unknown) => void;
}

/**
 * Follows an SSE endpoint with the client's bearer token, reconnecting with backoff (honouring
 * "retry:" and sending Last-Event-ID). Returns a function that stops it.
 */
export function followEvents(client: ApiClient, path: string, h: StreamHandlers): () => void {
  const ctl = new AbortController();
  let stopped = false;
  let lastId = "";
  let delay = 1000;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      ctl.signal.addEventListener("abort", () => {
        clearTimeout(t);
        resolve();
      });
    });

  const loop = async () => {
    while (!stopped) {
      const parser = new SseParser();
      try {
        const headers: Record<string, string> = { Accept: "text/event-stream" };
        if (lastId) headers["Last-Event-ID"] = lastId;
        const res = await client.raw("GET", path, { headers, signal: ctl.signal });
        if (!res.body) throw new ApiError(res.status, "bad_response", "No event stream.");
        h.onState?.(true);
        delay = 1000;
        const reader = res.body.getReader();
        const dec = new TextDecoder();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const ev of parser.feed(dec.decode(value, { stream: true }))) {
            lastId = ev.id;
            h.onEvent(ev);
          }
        }
        if (parser.retryMs !== null) delay = parser.retryMs;
        h.onState?.(false);
      } catch (e) {
        if (stopped) return;
        h.onState?.(false, e);
        if (e instanceof ApiError && (e.code === "session_expired" || e.status === 403)) return;
        if (parser.retryMs !== null) delay = parser.retryMs;
      }
      if (stopped) return;
      await sleep(delay);
      delay = Math.min(delay * 2, 30000);
    }
  };
  void loop();
  return () => {
    stopped = true;
    ctl.abort();
  };
}
