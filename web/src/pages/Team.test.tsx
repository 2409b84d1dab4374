// SPDX-License-Identifier: MIT
import { render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../api/client";
import { json, mockFetch, sampleUser, tokenPair } from "../test/fetchMock";
import Team, { describeEvent } from "./Team";

const manager = { ...sampleUser, id: "m1", role: "manager" as const, email: "max@example.com", firstName: "Max" };

afterEach(async () => {
  vi.stubGlobal("fetch", mockFetch({ "POST /api/auth/logout": () => new Response(null, { status: 204 }) }).fn);
  await api.logout();
  vi.unstubAllGlobals();
});

describe("describeEvent", () => {
  const names = new Map([["u1", "Ann Field"]]);
  it("names the person and the action from the attendance service's events", () => {
    expect(describeEvent({ event: "punch_in", data: '{"type":"punch_in","attendance":{"userId":"u1"}}', id: "" }, names)).toBe(
      "Ann Field punched in",
    );
    expect(describeEvent({ event: "break_start", data: '{"attendance":{"userId":"u1"}}', id: "" }, names)).toBe(
      "Ann Field started a break",
    );
    expect(describeEvent({ event: "punch_out", data: "not json", id: "" }, names)).toBe("Someone punched out");
    expect(describeEvent({ event: "message", data: '{"type":"break_end","userId":"zz"}', id: "" }, names)).toBe("Someone ended a break");
  });
});

describe("Team (live)", () => {
  it("updates the team status when an event arrives on the stream", async () => {
    let push: (s: string) => void = () => undefined;
    const stream = new ReadableStream<Uint8Array>({
      start(ctl) {
        const enc = new TextEncoder();
        push = (s) => ctl.enqueue(enc.encode(s));
      },
    });
    let punched = false;
    let left = false;
    const member = (present: boolean) => ({
      user: sampleUser,
      status: left ? "done" : present ? "present" : "absent",
      attendance: present ? { id: "a1", userId: "u1", storeId: "s1", status: "open", punchInAt: new Date().toISOString(), breaks: [] } : null,
    });
    const f = mockFetch({
      "POST /api/auth/login": () => json(200, tokenPair(1, manager)),
      "GET /api/stores": () => json(200, { items: [{ id: "s1", name: "Near Shop" }], pagination: { page: 1, limit: 100, total: 1, pages: 1 } }),
      "GET /api/attendance/team": () =>
        json(200, { summary: { total: 1, present: punched ? 1 : 0, onBreak: 0, absent: punched ? 0 : 1 }, members: [member(punched)] }),
      "GET /api/attendance/events": () => new Response(stream, { status: 200, headers: { "Content-Type": "text/event-stream" } }),
    });
    vi.stubGlobal("fetch", f.fn);
    await api.login("max@example.com", "pw");
    render(<Team user={manager} params={{}} />);
    expect(await screen.findByText("Live")).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId("present-count")).toHaveTextContent("0"));
    expect(screen.getByTestId("member-ann@example.com")).toHaveTextContent("Absent");

    punched = true;
    push('event: punch_in\ndata: {"type":"punch_in","attendance":{"userId":"u1","storeId":"s1"}}\n\n');
    await waitFor(() => expect(screen.getByTestId("present-count")).toHaveTextContent("1"));
    expect(screen.getByTestId("member-ann@example.com")).toHaveTextContent(/Near Shop · in/);
    expect(screen.getByTestId("member-ann@example.com")).toHaveTextContent("Present");
    expect(screen.getByText(/Ann Field punched in/)).toBeInTheDocument();
    const teamCalls = f.calls.filter((c) => c.path.startsWith("/api/attendance/team"));
    expect(teamCalls.length).toBe(2);

    left = true;
    push('event: punch_out\ndata: {"type":"punch_out","attendance":{"userId":"u1","storeId":"s1"}}\n\n');
    await waitFor(() => expect(screen.getByTestId("member-ann@example.com")).toHaveTextContent("Punched out"));
    expect(screen.getByText(/Ann Field punched out/)).toBeInTheDocument();
    expect(teamCalls[0].path).toMatch(/date=\d{4}-\d{2}-\d{2}/);
  });
});
