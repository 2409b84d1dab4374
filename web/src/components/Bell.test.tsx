// SPDX-License-Identifier: MIT
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../api/client";
import { json, mockFetch, sampleUser, tokenPair } from "../test/fetchMock";
import Bell from "./Bell";

afterEach(async () => {
  vi.stubGlobal("fetch", mockFetch({ "POST /api/auth/logout": () => new Response(null, { status: 204 }) }).fn);
  await api.logout();
  vi.unstubAllGlobals();
});

const note = (id: string, readAt: string | null = null) => ({
  id,
  userId: "u1",
  type: "todo_assigned",
  title: `New task: ${id}`,
  body: "Max assigned you",
  link: `/tasks/${id}`,
  readAt,
  createdAt: "2026-12-04T10:00:00.000Z",
});

describe("Bell", () => {
  it("shows the unread count, raises it live from the stream, lists and marks read", async () => {
    let push: (s: string) => void = () => undefined;
    const stream = new ReadableStream<Uint8Array>({
      start(ctl) {
        const enc = new TextEncoder();
        push = (s) => ctl.enqueue(enc.encode(s));
      },
    });
    let unread = 2;
    let readAll = false;
    const f = mockFetch({
      "POST /api/auth/login": () => json(200, tokenPair(1, sampleUser)),
      "GET /api/notifications/unread-count": () => json(200, { count: unread }),
      "GET /api/notifications": () =>
        json(200, { items: [note("t3"), note("t2"), note("t1", "2026-12-04T11:00:00.000Z")], unreadCount: unread, pagination: { page: 1, limit: 10, total: 3, pages: 1 } }),
      "POST /api/notifications/read-all": () => {
        readAll = true;
        unread = 0;
        return new Response(null, { status: 204 });
      },
      "GET /api/notifications/stream": () => new Response(stream, { status: 200, headers: { "Content-Type": "text/event-stream" } }),
    });
    vi.stubGlobal("fetch", f.fn);
    await api.login("ann@example.com", "pw");
    render(<Bell />);
    await waitFor(() => expect(screen.getByTestId("bell-count")).toHaveTextContent("2"));
    expect(screen.getByRole("button", { name: "Notifications, 2 unread" })).toBeInTheDocument();

    unread = 3;
    push(': connected\n\nid: 7\nevent: notification\ndata: {"id":"t3"}\n\n');
    await waitFor(() => expect(screen.getByTestId("bell-count")).toHaveTextContent("3"));
    const stream1 = f.calls.find((c) => c.path === "/api/notifications/stream");
    expect(stream1?.headers.authorization).toBe("Bearer access-1");

    fireEvent.click(screen.getByRole("button", { name: "Notifications, 3 unread" }));
    expect(await screen.findByText("New task: t3")).toBeInTheDocument();
    expect(screen.getByText("New task: t1").closest("li")).toHaveClass("read");
    fireEvent.click(screen.getByRole("button", { name: "Mark all read" }));
    await waitFor(() => expect(readAll).toBe(true));
    await waitFor(() => expect(screen.queryByTestId("bell-count")).toBeNull());
    expect(screen.getByRole("button", { name: "Notifications, none unread" })).toBeInTheDocument();
  });
});
