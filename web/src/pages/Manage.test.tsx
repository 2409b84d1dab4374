// SPDX-License-Identifier: MIT
// Manager/admin views: bulk-assign, task creation, user management and stores.
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../api/client";
import type { Store, Todo, User } from "../api/types";
import { apiError, json, mockFetch, sampleUser, tokenPair, type Handler } from "../test/fetchMock";
import Stores from "./Stores";
import Tasks from "./Tasks";
import Users from "./Users";

const admin: User = { ...sampleUser, id: "ad1", role: "admin", email: "root@example.com", firstName: "Ada", lastName: "Admin" };
const mia: User = { ...sampleUser, id: "u1", firstName: "Mia", lastName: "Merch", email: "mia@example.com" };
const leo: User = { ...sampleUser, id: "u2", firstName: "Leo", lastName: "Field", email: "leo@example.com" };
const page = <T,>(items: T[]) => ({ items, pagination: { page: 1, limit: 20, total: items.length, pages: 1 } });
const store: Store = { id: "s1", code: "P1", name: "Rivoli Market", address: "1 Rue", latitude: 48.8, longitude: 2.3, geofenceRadiusM: 100, timezone: "UTC", active: true, createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z" };
const todo = (id: string, title: string, assigneeId: string): Todo => ({ id, title, status: "pending", priority: "medium", assigneeId, storeId: "s1", checklist: [] });

async function signIn(routes: Record<string, Handler>) {
  const f = mockFetch({ "POST /api/auth/login": () => json(200, tokenPair(1, admin)), ...routes });
  vi.stubGlobal("fetch", f.fn);
  await api.login(admin.email, "pw");
  return f;
}

afterEach(async () => {
  vi.stubGlobal("fetch", mockFetch({ "POST /api/auth/logout": () => new Response(null, { status: 204 }) }).fn);
  await api.logout();
  vi.unstubAllGlobals();
});

describe("Tasks (manager)", () => {
  it("bulk-assigns the selected tasks and reloads", async () => {
    let todos = [todo("t1", "Facing", "u1"), todo("t2", "Prices", "u1"), todo("t3", "Audit", "u1")];
    const f = await signIn({
      "GET /api/todos": () => json(200, page(todos)),
      "GET /api/stores": () => json(200, page([store])),
      "GET /api/users": () => json(200, page([admin, mia, leo])),
      "POST /api/todos/bulk-assign": (c) => {
        const { todoIds, assigneeId } = c.body as { todoIds: string[]; assigneeId: string };
        todos = todos.map((t) => (todoIds.includes(t.id) ? { ...t, assigneeId } : t));
        return json(200, { updated: todoIds.length });
      },
    });
    render(<Tasks user={admin} params={{}} />);
    await screen.findByRole("checkbox", { name: "Select Facing" });
    await waitFor(() => expect(screen.getAllByRole("row")[1]).toHaveTextContent("Mia Merch"));
    fireEvent.click(screen.getByRole("checkbox", { name: "Select Facing" }));
    fireEvent.click(screen.getByRole("checkbox", { name: "Select Audit" }));
    const bar = screen.getByRole("form", { name: "Bulk assign" });
    expect(bar).toHaveTextContent("2 selected");
    fireEvent.change(within(bar).getByLabelText("Assign to"), { target: { value: "u2" } });
    fireEvent.click(within(bar).getByRole("button", { name: "Assign selected" }));
    expect(await screen.findByText("2 tasks reassigned.")).toBeInTheDocument();
    expect(f.calls.find((c) => c.path === "/api/todos/bulk-assign")!.body).toEqual({ todoIds: ["t1", "t3"], assigneeId: "u2" });
    await waitFor(() => expect(screen.getByRole("row", { name: /Facing/ })).toHaveTextContent("Leo Field"));
    expect(screen.getByRole("row", { name: /Prices/ })).toHaveTextContent("Mia Merch");
    expect(screen.queryByRole("form", { name: "Bulk assign" })).toBeNull();
  });

  it("shows the API's message when bulk-assign is refused, and changes nothing", async () => {
    await signIn({
      "GET /api/todos": () => json(200, page([todo("t1", "Facing", "u1")])),
      "GET /api/stores": () => json(200, page([store])),
      "GET /api/users": () => json(200, page([mia, leo])),
      "POST /api/todos/bulk-assign": () => apiError(404, "not_found", "Unknown todo id"),
    });
    render(<Tasks user={admin} params={{}} />);
    fireEvent.click(await screen.findByRole("checkbox", { name: "Select Facing" }));
    const bar = screen.getByRole("form", { name: "Bulk assign" });
    fireEvent.change(within(bar).getByLabelText("Assign to"), { target: { value: "u2" } });
    fireEvent.click(within(bar).getByRole("button", { name: "Assign selected" }));
    expect(await within(bar).findByRole("alert")).toHaveTextContent("Not found");
  });

  it("creates a task with its checklist lines", async () => {
    const f = await signIn({
      "GET /api/todos": () => json(200, page([])),
      "GET /api/stores": () => json(200, page([store])),
      "GET /api/users": () => json(200, page([mia])),
      "POST /api/todos": (c) => json(201, { todo: { ...todo("t9", (c.body as { title: string }).title, "u1") } }),
    });
    render(<Tasks user={admin} params={{}} />);
    expect(await screen.findByText("No tasks match these filters.")).toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: "New task" }));
    const form = screen.getByRole("form", { name: "New task" });
    await waitFor(() => expect(within(form).getAllByRole("option", { name: /Mia Merch/ })).toHaveLength(1));
    fireEvent.change(within(form).getByLabelText("Title"), { target: { value: "  Build the display  " } });
    fireEvent.change(within(form).getByLabelText("Priority"), { target: { value: "urgent" } });
    fireEvent.change(within(form).getByLabelText("Assignee"), { target: { value: "u1" } });
    fireEvent.change(within(form).getByLabelText("Store"), { target: { value: "s1" } });
    fireEvent.change(within(form).getByLabelText(/Checklist/), { target: { value: "Unpack\n\n  Place  \n" } });
    fireEvent.click(within(form).getByRole("button", { name: "Create task" }));
    expect(await screen.findByText("Task “Build the display” created.")).toBeInTheDocument();
    expect(f.calls.find((c) => c.method === "POST" && c.path === "/api/todos")!.body).toEqual({
      title: "Build the display",
      priority: "urgent",
      assigneeId: "u1",
      storeId: "s1",
      checklist: ["Unpack", "Place"],
    });
  });
});

describe("Users (admin)", () => {
  it("changes a role and deactivates a user", async () => {
    let users = [admin, mia];
    const f = await signIn({
      "GET /api/users": () => json(200, page(users)),
      "PATCH /api/users/u1": (c) => {
        users = users.map((u) => (u.id === "u1" ? { ...u, ...(c.body as Partial<User>) } : u));
        return json(200, { user: users[1] });
      },
      "DELETE /api/users/u1": () => {
        users = users.map((u) => (u.id === "u1" ? { ...u, active: false } : u));
        return new Response(null, { status: 204 });
      },
    });
    vi.stubGlobal("confirm", () => true);
    render(<Users user={admin} params={{}} />);
    fireEvent.click(await screen.findByRole("button", { name: "Edit Mia Merch" }));
    const form = screen.getByRole("form", { name: "Edit Mia Merch" });
    fireEvent.change(within(form).getByLabelText("Role"), { target: { value: "manager" } });
    fireEvent.click(within(form).getByRole("button", { name: "Save user" }));
    expect(await screen.findByText("Mia Merch saved.")).toBeInTheDocument();
    expect(f.calls.find((c) => c.method === "PATCH")!.body).toEqual({
      firstName: "Mia",
      lastName: "Merch",
      email: "mia@example.com",
      role: "manager",
      active: true,
    });
    await waitFor(() => expect(screen.getByRole("row", { name: /Mia Merch/ })).toHaveTextContent("Manager"));
    // no deactivate button for oneself
    expect(screen.queryByRole("button", { name: "Deactivate Ada Admin" })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Deactivate Mia Merch" }));
    expect(await screen.findByText("Mia Merch deactivated.")).toBeInTheDocument();
    expect(f.calls.some((c) => c.method === "DELETE" && c.path === "/api/users/u1")).toBe(true);
  });

  it("reports a taken email on creation", async () => {
    await signIn({
      "GET /api/users": () => json(200, page([admin])),
      "POST /api/users": () => apiError(409, "email_taken", "Email already registered"),
    });
    render(<Users user={admin} params={{}} />);
    fireEvent.click(await screen.findByRole("button", { name: "New user" }));
    const form = screen.getByRole("form", { name: "New user" });
    fireEvent.change(within(form).getByLabelText("First name"), { target: { value: "Al" } });
    fireEvent.change(within(form).getByLabelText("Last name"), { target: { value: "Bo" } });
    fireEvent.change(within(form).getByLabelText("Email"), { target: { value: "root@example.com" } });
    fireEvent.change(within(form).getByLabelText(/Initial password/), { target: { value: "long-enough-1" } });
    fireEvent.click(within(form).getByRole("button", { name: "Create user" }));
    expect(await within(form).findByRole("alert")).toHaveTextContent("A user with this email already exists.");
  });
});

describe("Stores", () => {
  it("creates a store with numeric coordinates and shows the empty and error states", async () => {
    let stores: Store[] = [];
    let fail = true;
    const f = await signIn({
      "GET /api/stores": () => (fail ? apiError(503, "unavailable", "down") : json(200, page(stores))),
      "POST /api/stores": (c) => {
        stores = [{ ...store, ...(c.body as Partial<Store>), id: "s2" }];
        return json(201, { store: stores[0] });
      },
    });
    render(<Stores user={admin} params={{}} />);
    expect(await screen.findByRole("alert")).toHaveTextContent("temporarily unavailable");
    fail = false;
    fireEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByText(/No stores match/)).toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: "New store" }));
    const form = screen.getByRole("form", { name: "New store" });
    fireEvent.change(within(form).getByLabelText("Code"), { target: { value: "LYO-1" } });
    fireEvent.change(within(form).getByLabelText("Name"), { target: { value: "Lyon Part-Dieu" } });
    fireEvent.change(within(form).getByLabelText("Latitude"), { target: { value: "45.7606" } });
    fireEvent.change(within(form).getByLabelText("Longitude"), { target: { value: "4.8594" } });
    fireEvent.change(within(form).getByLabelText("Geofence radius (m)"), { target: { value: "150" } });
    fireEvent.change(within(form).getByLabelText("Time zone (IANA)"), { target: { value: "Europe/Paris" } });
    fireEvent.click(within(form).getByRole("button", { name: "Create store" }));
    expect(await screen.findByText("Lyon Part-Dieu created.")).toBeInTheDocument();
    expect(f.calls.find((c) => c.method === "POST" && c.path === "/api/stores")!.body).toEqual({
      code: "LYO-1",
      name: "Lyon Part-Dieu",
      address: "",
      latitude: 45.7606,
      longitude: 4.8594,
      geofenceRadiusM: 150,
      timezone: "Europe/Paris",
    });
    expect(await screen.findByRole("cell", { name: "LYO-1" })).toBeInTheDocument();
  });
});
