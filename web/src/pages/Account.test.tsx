// SPDX-License-Identifier: MIT
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../api/client";
import { json, mockFetch, sampleUser, tokenPair } from "../test/fetchMock";
import Account from "./Account";

afterEach(async () => {
  vi.stubGlobal("fetch", mockFetch({ "POST /api/auth/logout": () => new Response(null, { status: 204 }) }).fn);
  await api.logout();
  vi.unstubAllGlobals();
});

describe("Account: e-mail notifications", () => {
  it("shows each type's switch and saves a change with PUT; security mail cannot be turned off", async () => {
    let email: Record<string, boolean> = { todo_assigned: true, approval_requested: true, approval_decided: false, audit_failed: true, visit_missed: true, password_changed: true };
    const f = mockFetch({
      "POST /api/auth/login": () => json(200, tokenPair(1, sampleUser)),
      "GET /api/notifications/preferences": () => json(200, { email, push: {} }),
      "PUT /api/notifications/preferences": (c) => {
        email = { ...email, ...(c.body as { email: Record<string, boolean> }).email };
        return json(200, { email, push: {} });
      },
      "GET /api/attendance": () => json(200, { items: [], pagination: { page: 1, limit: 20, total: 0, pages: 0 } }),
    });
    vi.stubGlobal("fetch", f.fn);
    await api.login("ann@example.com", "pw");
    render(<Account user={sampleUser} params={{}} />);
    const task = await screen.findByLabelText("A task is assigned to me");
    expect(task).toBeChecked();
    expect(screen.getByLabelText("My request was decided")).not.toBeChecked();
    const security = screen.getByLabelText("My password changed (always sent)");
    expect(security).toBeChecked();
    expect(security).toBeDisabled();

    fireEvent.click(task);
    await waitFor(() => expect(screen.getByLabelText("A task is assigned to me")).not.toBeChecked());
    const put = f.calls.find((c) => c.method === "PUT");
    expect(put?.body).toEqual({ email: { todo_assigned: false } });
  });
});
