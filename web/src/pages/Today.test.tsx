// SPDX-License-Identifier: MIT
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api } from "../api/client";
import type { Store, Todo } from "../api/types";
import { apiError, json, mockFetch, sampleUser, tokenPair, type Handler } from "../test/fetchMock";
import Today from "./Today";

const page = <T,>(items: T[]) => ({ items, pagination: { page: 1, limit: 100, total: items.length, pages: 1 } });

const stores: Store[] = [
  { id: "s-far", code: "F1", name: "Far Mart", address: "9 Far Road", latitude: 48.9, longitude: 2.35, geofenceRadiusM: 100, timezone: "UTC", active: true, createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z" },
  { id: "s-near", code: "N1", name: "Near Shop", address: "1 Near St", latitude: 48.85661, longitude: 2.35221, geofenceRadiusM: 100, timezone: "UTC", active: true, createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z" },
];

const todo: Todo = {
  id: "t1",
  title: "Restock shelf 4",
  status: "pending",
  priority: "high",
  dueAt: null,
  assigneeId: "u1",
  storeId: "s-near",
  checklist: [
    { id: "c1", text: "Count facings", done: false },
    { id: "c2", text: "Photo of shelf", done: false },
  ],
};

const openAttendance = {
  id: "a1",
  userId: "u1",
  storeId: "s-near",
  status: "open",
  punchInAt: new Date().toISOString(),
  punchIn: { latitude: 48.8566, longitude: 2.3522, accuracyM: 8, distanceM: 3 },
  breaks: [],
};

function setGeo(impl: (ok: PositionCallback, err: PositionErrorCallback) => void) {
  vi.stubGlobal("navigator", { ...navigator, geolocation: { getCurrentPosition: impl } });
}

async function signIn(routes: Record<string, Handler>) {
  const f = mockFetch({ "POST /api/auth/login": () => json(200, tokenPair(1)), ...routes });
  vi.stubGlobal("fetch", f.fn);
  await api.login("ann@example.com", "pw");
  return f;
}

beforeEach(() => {
  setGeo((ok) => ok({ coords: { latitude: 48.8566, longitude: 2.3522, accuracy: 8 } } as GeolocationPosition));
});
afterEach(async () => {
  vi.unstubAllGlobals();
  vi.stubGlobal("fetch", mockFetch({ "POST /api/auth/logout": () => new Response(null, { status: 204 }) }).fn);
  await api.logout();
  vi.unstubAllGlobals();
});

describe("Today (merchandiser)", () => {
  it("lists stores nearest first, is refused outside the geofence, then punches in", async () => {
    let attempts = 0;
    const f = await signIn({
      "GET /api/attendance/current": () => json(200, { punchedIn: false, attendance: null }),
      "GET /api/stores": () => json(200, page(stores)),
      "GET /api/attendance": () => json(200, page([])),
      "GET /api/todos": () => json(200, page([todo])),
      "POST /api/attendance/punch-in": () =>
        ++attempts === 1
          ? apiError(422, "outside_geofence", "Outside the store's geofence", { distanceM: 250, radiusM: 100 })
          : json(201, { attendance: openAttendance }),
    });
    render(<Today user={sampleUser} params={{}} />);
    await screen.findByText("In range");
    const list = screen.getByRole("group", { name: /Store/ });
    const options = within(list).getAllByRole("radio");
    expect(options).toHaveLength(2);
    expect(options[0].closest("label")!.textContent).toMatch(/Near Shop.*In range/);
    expect(options[1].closest("label")!.textContent).toMatch(/Far Mart.*km.*Too far/);
    expect(options[0]).toBeChecked();

    fireEvent.click(screen.getByRole("button", { name: "Punch in" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toBe(
      "You are 250\u00a0m from the store; punching in is allowed within 100\u00a0m. Move closer to the store and try again.",
    );
    const body = f.calls.find((c) => c.path === "/api/attendance/punch-in")!.body;
    expect(body).toEqual({ storeId: "s-near", latitude: 48.8566, longitude: 2.3522, accuracyM: 8 });

    fireEvent.click(screen.getByRole("button", { name: "Punch in" }));
    expect(await screen.findByRole("button", { name: "Punch out" })).toBeEnabled();
    expect(screen.getByText("Near Shop")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Start break" })).toBeInTheDocument();
  });

  it("offers a geofence exception after a 422 outside_geofence, carrying the refused reading", async () => {
    const f = await signIn({
      "GET /api/attendance/current": () => json(200, { punchedIn: false, attendance: null }),
      "GET /api/stores": () => json(200, page(stores)),
      "GET /api/attendance": () => json(200, page([])),
      "GET /api/todos": () => json(200, page([])),
      "POST /api/attendance/punch-in": () => apiError(422, "outside_geofence", "Outside", { distanceM: 250, radiusM: 100 }),
      "POST /api/approvals": (c) => json(201, { request: { id: "r1", type: "geofence_exception", status: "pending", payload: (c.body as { payload: unknown }).payload } }),
    });
    render(<Today user={sampleUser} params={{}} />);
    await screen.findByText("In range");
    expect(screen.queryByRole("button", { name: "Request an exception" })).toBeNull();
    const before = Date.now();
    fireEvent.click(screen.getByRole("button", { name: "Punch in" }));
    const ask = await screen.findByRole("button", { name: "Request an exception" });
    fireEvent.change(screen.getByLabelText("Reason (optional)"), { target: { value: "GPS drift in the mall" } });
    fireEvent.click(ask);
    expect(await screen.findByText(/Exception requested/)).toBeInTheDocument();
    const body = f.calls.find((c) => c.path === "/api/approvals")!.body as {
      type: string;
      reason: string;
      payload: { storeId: string; latitude: number; longitude: number; accuracyM: number; capturedAt: string };
    };
    expect(body.type).toBe("geofence_exception");
    expect(body.reason).toBe("GPS drift in the mall");
    const { capturedAt, ...rest } = body.payload;
    expect(rest).toEqual({ storeId: "s-near", latitude: 48.8566, longitude: 2.3522, accuracyM: 8 });
    expect(Date.parse(capturedAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(capturedAt)).toBeLessThanOrEqual(Date.now());
  });

  it("offers no exception for other refusals", async () => {
    await signIn({
      "GET /api/attendance/current": () => json(200, { punchedIn: false, attendance: null }),
      "GET /api/stores": () => json(200, page(stores)),
      "GET /api/attendance": () => json(200, page([])),
      "GET /api/todos": () => json(200, page([])),
      "POST /api/attendance/punch-in": () => apiError(422, "inaccurate_location", "Inaccurate"),
    });
    render(<Today user={sampleUser} params={{}} />);
    await screen.findByText("In range");
    fireEvent.click(screen.getByRole("button", { name: "Punch in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(/not precise enough/);
    expect(screen.queryByRole("button", { name: "Request an exception" })).toBeNull();
  });

  it("explains what to do when location permission is denied", async () => {
    setGeo((_ok, err) => err({ code: 1, message: "User denied Geolocation" } as GeolocationPositionError));
    await signIn({
      "GET /api/attendance/current": () => json(200, { punchedIn: false, attendance: null }),
      "GET /api/stores": () => json(200, page(stores)),
      "GET /api/attendance": () => json(200, page([])),
      "GET /api/todos": () => json(200, page([])),
    });
    render(<Today user={sampleUser} params={{}} />);
    expect(await screen.findByText(/Location needed/)).toBeInTheDocument();
    expect(screen.getByText(/Allow location for this site in your browser's settings/)).toBeInTheDocument();
    // without a position the stores are still offered, by name
    expect(await screen.findByRole("group", { name: /Store/ })).toBeInTheDocument();
    expect(await screen.findByText("No tasks for today.")).toBeInTheDocument();
  });

  it("sends the photo as multipart", async () => {
    const f = await signIn({
      "GET /api/attendance/current": () => json(200, { punchedIn: false, attendance: null }),
      "GET /api/stores": () => json(200, page(stores)),
      "GET /api/attendance": () => json(200, page([])),
      "GET /api/todos": () => json(200, page([])),
      "POST /api/attendance/punch-in": () => json(201, { attendance: openAttendance }),
    });
    vi.stubGlobal("URL", Object.assign(URL, { createObjectURL: () => "blob:x", revokeObjectURL: () => undefined }));
    render(<Today user={sampleUser} params={{}} />);
    await screen.findByRole("group", { name: /Store/ });
    const file = new File([new Uint8Array([0xff, 0xd8, 0xff, 0xe0])], "shelf.jpg", { type: "image/jpeg" });
    fireEvent.change(screen.getByLabelText("Photo (optional)"), { target: { files: [file] } });
    fireEvent.click(screen.getByRole("button", { name: "Punch in" }));
    await screen.findByRole("button", { name: "Punch out" });
    const body = f.calls.find((c) => c.path === "/api/attendance/punch-in")!.body as FormData;
    expect(body).toBeInstanceOf(FormData);
    expect(body.get("storeId")).toBe("s-near");
    expect(body.get("accuracyM")).toBe("8");
    expect((body.get("photo") as File).name).toBe("shelf.jpg");
  });

  it("works through a task's checklist and completes it", async () => {
    let current: Todo = todo;
    const f = await signIn({
      "GET /api/attendance/current": () => json(200, { punchedIn: true, attendance: openAttendance }),
      "GET /api/stores": () => json(200, page(stores)),
      "GET /api/attendance": () => json(200, page([])),
      "GET /api/todos": () => json(200, page([current])),
      "PATCH /api/todos/t1/checklist/c1": (c) => {
        current = { ...current, checklist: current.checklist.map((x) => (x.id === "c1" ? { ...x, done: (c.body as { done: boolean }).done } : x)) };
        return json(200, { todo: current });
      },
      "POST /api/todos/t1/complete": () => {
        current = { ...current, status: "completed", completedAt: new Date().toISOString() };
        return json(200, { todo: current });
      },
    });
    render(<Today user={sampleUser} params={{}} />);
    const box = await screen.findByRole("checkbox", { name: "Count facings" });
    await act(async () => {
      fireEvent.click(box);
    });
    await waitFor(() => expect(screen.getByRole("checkbox", { name: "Count facings" })).toBeChecked());
    expect(f.calls.find((c) => c.path === "/api/todos/t1/checklist/c1")!.body).toEqual({ done: true });
    expect(screen.getByText("Checklist (1/2)")).toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: /Complete/ }));
    expect(await screen.findByText("Done today")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Reopen" })).toBeInTheDocument();
  });

  it("punches out and shows the totals", async () => {
    await signIn({
      "GET /api/attendance/current": () => json(200, { punchedIn: true, attendance: openAttendance }),
      "GET /api/stores": () => json(200, page(stores)),
      "GET /api/attendance": () => json(200, page([])),
      "GET /api/todos": () => json(200, page([])),
      "POST /api/attendance/punch-out": () =>
        json(200, {
          attendance: { ...openAttendance, status: "closed", punchOutAt: new Date().toISOString(), workedMinutes: 545, breakMinutes: 30, netMinutes: 515, overtimeMinutes: 35 },
        }),
    });
    render(<Today user={sampleUser} params={{}} />);
    fireEvent.click(await screen.findByRole("button", { name: "Punch out" }));
    const totals = await screen.findByLabelText("Punched out");
    expect(totals.textContent).toMatch(/Worked9 h 05 min/);
    expect(totals.textContent).toMatch(/Net8 h 35 min/);
    expect(totals.textContent).toMatch(/Overtime35 min/);
    expect(screen.getByRole("button", { name: "Punch in" })).toBeInTheDocument();
  });
});
