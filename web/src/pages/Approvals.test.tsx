// SPDX-License-Identifier: MIT
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../api/client";
import type { ApprovalRequest } from "../api/types";
import { apiError, json, mockFetch, sampleUser, tokenPair, type Handler } from "../test/fetchMock";
import Approvals, { describeRequest } from "./Approvals";

const manager = { ...sampleUser, id: "m1", role: "manager" as const, email: "max@example.com", firstName: "Max" };
const page = <T,>(items: T[]) => ({ items, pagination: { page: 1, limit: 50, total: items.length, pages: 1 } });

const geofence: ApprovalRequest = {
  id: "r1",
  type: "geofence_exception",
  requesterId: "u1",
  requesterName: "Ann Field",
  payload: { storeId: "s1", latitude: 48.9, longitude: 2.35, accuracyM: 14.6, capturedAt: "2026-12-04T09:00:00.000Z" },
  reason: "GPS drift",
  status: "pending",
  steps: [{ role: "manager", status: "pending", actorId: null, comment: null, decidedAt: null }],
  currentStep: 0,
  currentRole: "manager",
  createdAt: "2026-12-04T09:01:00.000Z",
  decidedAt: null,
};
const leave: ApprovalRequest = {
  ...geofence,
  id: "r2",
  type: "leave",
  requesterId: "m1",
  payload: { from: "2027-01-04", to: "2027-01-08", leaveType: "annual" },
  reason: "",
  steps: [
    { role: "manager", status: "pending", actorId: null, comment: null, decidedAt: null },
    { role: "admin", status: "waiting", actorId: null, comment: null, decidedAt: null },
  ],
};

async function signIn(user: typeof sampleUser, routes: Record<string, Handler>) {
  const f = mockFetch({ "POST /api/auth/login": () => json(200, tokenPair(1, user)), ...routes });
  vi.stubGlobal("fetch", f.fn);
  await api.login(user.email, "pw");
  return f;
}

afterEach(async () => {
  vi.unstubAllGlobals();
  vi.stubGlobal("fetch", mockFetch({ "POST /api/auth/logout": () => new Response(null, { status: 204 }) }).fn);
  await api.logout();
  vi.unstubAllGlobals();
});

describe("describeRequest", () => {
  it("says what each type asks for", () => {
    expect(describeRequest(leave)).toBe("Annual leave 2027-01-04 to 2027-01-08");
    expect(describeRequest({ ...geofence, payload: { ...geofence.payload, accuracyM: 14.6 } })).toMatch(/^Punch-in outside the geofence \(±15 m\) at /);
    expect(describeRequest({ ...geofence, type: "overtime", payload: { attendanceId: "a1", minutes: 45 } })).toBe("45 minutes of overtime");
  });
});

describe("Approvals (manager)", () => {
  it("lists the inbox, approves with a comment and reloads; shows own requests with Withdraw", async () => {
    let decided = false;
    const f = await signIn(manager, {
      "GET /api/approvals": (c) =>
        c.path.includes("scope=inbox") ? json(200, page(decided ? [] : [geofence])) : json(200, page([leave])),
      "POST /api/approvals/r1/approve": () => {
        decided = true;
        return json(200, { request: { ...geofence, status: "approved" } });
      },
    });
    render(<Approvals user={manager} params={{}} />);
    const inbox = await screen.findByRole("region", { name: "Waiting for you" });
    const card = await within(inbox).findByRole("article", { name: "Geofence exception request" });
    expect(card.textContent).toMatch(/Ann Field/);
    expect(card.textContent).toMatch(/GPS drift/);
    fireEvent.change(within(card).getByLabelText("Comment"), { target: { value: "seen on camera" } });
    fireEvent.click(within(card).getByRole("button", { name: "Approve" }));
    expect(await within(inbox).findByText("Nothing waits for your decision.")).toBeInTheDocument();
    const call = f.calls.find((c) => c.path === "/api/approvals/r1/approve")!;
    expect(call.body).toEqual({ comment: "seen on camera" });
    const inboxCall = f.calls.find((c) => c.path.includes("scope=inbox"))!;
    expect(inboxCall.path).toContain("status=pending");

    const mine = screen.getByRole("region", { name: "My requests" });
    expect(within(mine).getByRole("article", { name: "Leave request" })).toBeInTheDocument();
    expect(within(mine).getByRole("button", { name: "Withdraw" })).toBeInTheDocument();
  });

  it("explains a lost race (409 already_decided) and a self-approval (403)", async () => {
    await signIn(manager, {
      "GET /api/approvals": (c) => json(200, page(c.path.includes("scope=inbox") ? [geofence, { ...geofence, id: "r3" }] : [])),
      "POST /api/approvals/r1/reject": () => apiError(409, "already_decided"),
      "POST /api/approvals/r3/approve": () => apiError(403, "self_approval"),
    });
    render(<Approvals user={manager} params={{}} />);
    const cards = await screen.findAllByRole("article", { name: "Geofence exception request" });
    fireEvent.click(within(cards[0]).getByRole("button", { name: "Reject" }));
    expect(await within(cards[0]).findByRole("alert")).toHaveTextContent("Someone has already decided this step.");
    fireEvent.click(within(cards[1]).getByRole("button", { name: "Approve" }));
    expect(await within(cards[1]).findByRole("alert")).toHaveTextContent("You cannot decide your own request.");
  });
});

describe("Approvals (merchandiser)", () => {
  it("shows no inbox, only their own requests, and withdraws a pending one", async () => {
    let withdrawn = false;
    const f = await signIn(sampleUser, {
      "GET /api/approvals": () => json(200, page([{ ...geofence, status: withdrawn ? "cancelled" : "pending" }])),
      "POST /api/approvals/r1/cancel": () => {
        withdrawn = true;
        return json(200, { request: { ...geofence, status: "cancelled" } });
      },
    });
    render(<Approvals user={sampleUser} params={{}} />);
    const mine = await screen.findByRole("region", { name: "My requests" });
    fireEvent.click(await within(mine).findByRole("button", { name: "Withdraw" }));
    await waitFor(() => expect(within(mine).queryByRole("button", { name: "Withdraw" })).toBeNull());
    expect(screen.queryByRole("region", { name: "Waiting for you" })).toBeNull();
    expect(f.calls.some((c) => c.path.includes("scope=inbox"))).toBe(false);
  });
});
