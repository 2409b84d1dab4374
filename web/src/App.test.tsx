// SPDX-License-Identifier: MIT
import { fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, REFRESH_KEY } from "./api/client";
import { App } from "./App";
import { apiError, json, mockFetch, sampleUser, tokenPair } from "./test/fetchMock";

const admin = { ...sampleUser, id: "ad1", role: "admin" as const, email: "root@example.com", firstName: "Ada", lastName: "Admin" };
const emptyPage = { items: [], pagination: { page: 1, limit: 20, total: 0, pages: 0 } };

afterEach(async () => {
  vi.stubGlobal("fetch", mockFetch({ "POST /api/auth/logout": () => new Response(null, { status: 204 }) }).fn);
  await api.logout();
  vi.unstubAllGlobals();
  window.history.replaceState(null, "", "/");
});

describe("App", () => {
  it("shows a labelled login form and the API's error for wrong credentials", async () => {
    vi.stubGlobal("fetch", mockFetch({ "POST /api/auth/login": () => apiError(401, "invalid_credentials", "Invalid email or password") }).fn);
    render(<App />);
    fireEvent.change(screen.getByLabelText("Email"), { target: { value: "x@example.com" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "nope" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong email or password.");
    expect(localStorage.getItem(REFRESH_KEY)).toBeNull();
  });

  it("signs in, shows the role's navigation, and logs out", async () => {
    const f = mockFetch({
      "POST /api/auth/login": () => json(200, tokenPair(1, admin)),
      "POST /api/auth/logout": () => new Response(null, { status: 204 }),
      "GET /api/reports/summary": () => json(200, { attendance: { present: 2, onBreak: 1, absent: 3 }, todos: { due: 4, overdue: 1, completed: 5 } }),
      "GET /api/todos/stats": () => json(200, { total: 9, byStatus: { pending: 4, completed: 5 }, byPriority: { high: 2 }, overdue: 1, completedLast7Days: 5 }),
      "GET /api/attendance/team": () => json(200, { summary: { total: 6, present: 2, onBreak: 1, absent: 3 }, members: [] }),
      "GET /api/users": () => json(200, emptyPage),
    });
    vi.stubGlobal("fetch", f.fn);
    render(<App />);
    fireEvent.change(screen.getByLabelText("Email"), { target: { value: "root@example.com" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "secret-secret" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    const nav = await screen.findByRole("navigation", { name: "Main" }, { timeout: 5000 });
    expect([...nav.querySelectorAll("a")].map((a) => a.textContent)).toEqual(["Dashboard", "Team", "Tasks", "Stores", "Reports", "Audits", "Approvals", "Users", "Account"]);
    expect(await screen.findByText("Attendance on break", {}, { timeout: 5000 })).toBeInTheDocument();
    expect(screen.getByText("Todos overdue")).toBeInTheDocument();
    fireEvent.click(screen.getByRole("link", { name: "Users" }));
    expect(await screen.findByRole("heading", { name: "Users" }, { timeout: 5000 })).toBeInTheDocument();
    expect(window.location.pathname).toBe("/users");
    fireEvent.click(screen.getByRole("button", { name: "Log out" }));
    expect(await screen.findByRole("button", { name: "Sign in" })).toBeInTheDocument();
    expect(localStorage.getItem(REFRESH_KEY)).toBeNull();
    expect(f.calls.some((c) => c.path === "/api/auth/logout")).toBe(true);
  });

  it("keeps the session across a reload with the stored refresh token", async () => {
    localStorage.setItem(REFRESH_KEY, "refresh-9");
    const merch = sampleUser;
    vi.stubGlobal(
      "fetch",
      mockFetch({
        "POST /api/auth/refresh": () => json(200, tokenPair(10, merch)),
        "GET /api/attendance/current": () => json(200, { punchedIn: false, attendance: null }),
        "GET /api/stores": () => json(200, emptyPage),
        "GET /api/attendance": () => json(200, emptyPage),
        "GET /api/todos": () => json(200, emptyPage),
      }).fn,
    );
    vi.stubGlobal("navigator", { ...navigator, geolocation: { getCurrentPosition: () => undefined } });
    render(<App />);
    expect(screen.getByText("Signing you in…")).toBeInTheDocument();
    expect(await screen.findByRole("link", { name: "Today" }, { timeout: 5000 })).toBeInTheDocument();
    expect(await screen.findByText("No active stores yet. Ask your manager to add one.", {}, { timeout: 5000 })).toBeInTheDocument();
    expect(localStorage.getItem(REFRESH_KEY)).toBe("refresh-10");
  });
});
