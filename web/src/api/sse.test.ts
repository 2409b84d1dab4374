// SPDX-License-Identifier: MIT
import { describe, expect, it } from "vitest";
import { ApiClient, REFRESH_KEY } from "./client";
import { followEvents, SseParser, type SseEvent } from "./sse";
import { json, mockFetch, tokenPair } from "../test/fetchMock";

function feedAll(chunks: string[]): { events: SseEvent[]; p: SseParser } {
  const p = new SseParser();
  const events: SseEvent[] = [];
  for (const c of chunks) events.push(...p.feed(c));
  return { events, p };
}

describe("SseParser", () => {
  it("parses named events with JSON data", () => {
    const { events } = feedAll(['event: punch_in\ndata: {"type":"punch_in"}\n\n']);
    expect(events).toEqual([{ event: "punch_in", data: '{"type":"punch_in"}', id: "" }]);
  });

  it("handles events split anywhere across chunks", () => {
    const text = "event: punch_out\ndata: {\"a\":1}\nid: 7\n\nevent: break_start\ndata: x\n\n";
    for (let cut = 1; cut < text.length; cut++) {
      const { events } = feedAll([text.slice(0, cut), text.slice(cut)]);
      expect(events).toEqual([
        { event: "punch_out", data: '{"a":1}', id: "7" },
        { event: "break_start", data: "x", id: "7" },
      ]);
    }
  });

  it("accepts CRLF and CR line endings, including a CRLF split between chunks", () => {
    expect(feedAll(["data: a\r\n\r\ndata: b\r\r"]).events.map((e) => e.data)).toEqual(["a", "b"]);
    expect(feedAll(["data: a\r", "\n\r", "\n"]).events.map((e) => e.data)).toEqual(["a"]);
  });

  it("joins multi-line data, ignores comments and unknown fields, defaults the type to message", () => {
    const { events } = feedAll([": keep-alive\n\nfoo: bar\ndata: line1\ndata:line2\ndata\n\n"]);
    expect(events).toEqual([{ event: "message", data: "line1\nline2\n", id: "" }]);
  });

  it("does not dispatch without data or before the blank line, and resets the event type", () => {
    const { events, p } = feedAll(["event: lonely\n\n", "event: x\ndata: 1\n"]);
    expect(events).toEqual([]);
    expect(p.feed("\ndata: 2\n\n")).toEqual([
      { event: "x", data: "1", id: "" },
      { event: "message", data: "2", id: "" },
    ]);
  });

  it("reads retry (digits only), id (not with NUL) and strips a leading BOM", () => {
    const { events, p } = feedAll(["\uFEFFretry: 5000\nid: 3\ndata: a\n\nretry: soon\nid: bad\0id\ndata: b\n\n"]);
    expect(p.retryMs).toBe(5000);
    expect(events.map((e) => e.id)).toEqual(["3", "3"]);
  });
});

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(ctl) {
      for (const c of chunks) ctl.enqueue(enc.encode(c));
      ctl.close();
    },
  });
}

describe("followEvents", () => {
  it("streams with the bearer token and delivers parsed events", async () => {
    localStorage.setItem(REFRESH_KEY, "refresh-1");
    const f = mockFetch({
      "POST /api/auth/refresh": () => json(200, tokenPair(2)),
      "GET /api/attendance/events": () =>
        new Response(streamOf(["retry: 60000\n: hi\n\nevent: punch_in\nda", 'ta: {"attendance":{"userId":"u1"}}\n\n']), {
          status: 200,
          headers: { "Content-Type": "text/event-stream" },
        }),
    });
    const c = new ApiClient({ fetch: f.fn, locks: null });
    const got: SseEvent[] = [];
    const states: boolean[] = [];
    await new Promise<void>((resolve) => {
      const stop = followEvents(c, "/api/attendance/events", {
        onEvent: (e) => got.push(e),
        onState: (s) => {
          states.push(s);
          if (!s) {
            stop();
            resolve();
          }
        },
      });
    });
    expect(got).toEqual([{ event: "punch_in", data: '{"attendance":{"userId":"u1"}}', id: "" }]);
    expect(states).toEqual([true, false]);
    const call = f.calls.find((x) => x.path === "/api/attendance/events")!;
    expect(call.headers.authorization).toBe("Bearer access-2");
    expect(call.headers.accept).toBe("text/event-stream");
  });
});
