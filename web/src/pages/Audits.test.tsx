// SPDX-License-Identifier: MIT
// Audits: the manager's template builder (add, reorder, preview, save), the merchandiser's audit
// form (answers saved as given, camera photos, submit and score), results with the breakdown,
// and the dashboard's score card.
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../api/client";
import type { Audit, AuditQuestion, AuditTemplate, Store, User } from "../api/types";
import { apiError, json, mockFetch, sampleUser, tokenPair, type Handler } from "../test/fetchMock";
import AuditDetail from "./AuditDetail";
import Audits from "./Audits";
import Dashboard from "./Dashboard";

const manager: User = { ...sampleUser, id: "m1", role: "manager", email: "max@example.com", firstName: "Max", lastName: "Boss" };
const page = <T,>(items: T[]) => ({ items, pagination: { page: 1, limit: 100, total: items.length, pages: 1 } });
const store: Store = { id: "s1", code: "P1", name: "Rivoli Market", address: "1 Rue", latitude: 48.8, longitude: 2.3, geofenceRadiusM: 100, timezone: "UTC", active: true, createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z" };

const q = (id: string, text: string, extra: Partial<AuditQuestion>): AuditQuestion => ({
  id,
  text,
  type: "yes_no",
  required: true,
  weight: 10,
  allowNa: false,
  passValue: true,
  min: null,
  max: null,
  options: [],
  passOptions: [],
  photoRequired: false,
  failCreatesTask: null,
  ...extra,
});
const template: AuditTemplate = {
  id: "t1",
  name: "Shelf check",
  description: "",
  version: 1,
  active: true,
  passThresholdPct: 80,
  questions: [
    q("facing", "Products faced?", { weight: 30, failCreatesTask: { priority: "high", dueInHours: 24 } }),
    q("temp", "Fridge temperature", { type: "number", passValue: null, min: 0, max: 5, weight: 20, photoRequired: true }),
  ],
};
const draft: Audit = {
  id: "a1",
  templateId: "t1",
  templateVersion: 1,
  templateName: "Shelf check",
  storeId: "s1",
  userId: sampleUser.id,
  visitId: null,
  attendanceId: "att1",
  status: "draft",
  answers: [],
  scorePct: null,
  passed: null,
  correctiveTodoIds: [],
  startedAt: new Date().toISOString(),
  submittedAt: null,
};

async function signIn(user: User, routes: Record<string, Handler>) {
  const f = mockFetch({ "POST /api/auth/login": () => json(200, tokenPair(1, user)), ...routes });
  vi.stubGlobal("fetch", f.fn);
  await api.login(user.email, "pw");
  return f;
}

afterEach(async () => {
  vi.stubGlobal("fetch", mockFetch({ "POST /api/auth/logout": () => new Response(null, { status: 204 }) }).fn);
  await api.logout();
  vi.unstubAllGlobals();
});

describe("template builder (manager)", () => {
  it("adds and reorders questions, previews the score and saves the template", async () => {
    const f = await signIn(manager, {
      "GET /api/audits/templates": () => json(200, page([])),
      "GET /api/audits": () => json(200, page([])),
      "GET /api/stores": () => json(200, page([store])),
      "POST /api/audits/templates": (c) => json(201, { template: { ...template, ...(c.body as object), id: "t9", version: 1 } }),
    });
    render(<Audits user={manager} params={{}} />);
    await screen.findByText("No templates yet.");
    fireEvent.click(screen.getByRole("button", { name: "New template" }));
    const form = screen.getByRole("form", { name: "Template builder" });
    fireEvent.change(within(form).getByLabelText("Name"), { target: { value: "Shelf check" } });
    const q1 = within(form).getByRole("listitem", { name: "Question 1" });
    fireEvent.change(within(q1).getByLabelText("Text"), { target: { value: "Faced?" } });
    fireEvent.click(within(q1).getByLabelText("A failure creates a task"));
    fireEvent.click(within(form).getByRole("button", { name: "Add number question" }));
    const q2 = within(form).getByRole("listitem", { name: "Question 2" });
    fireEvent.change(within(q2).getByLabelText("Text"), { target: { value: "Temperature" } });
    fireEvent.change(within(q2).getByLabelText("Minimum"), { target: { value: "0" } });
    fireEvent.change(within(q2).getByLabelText("Maximum"), { target: { value: "5" } });
    // Move the number question first.
    fireEvent.click(within(form).getByRole("button", { name: "Move question 2 up" }));
    expect(within(within(form).getByRole("listitem", { name: "Question 1" })).getByLabelText("Text")).toHaveValue("Temperature");

    // Preview: temperature passes (10), facing fails (10) → 50 %.
    const preview = within(form).getByRole("region", { name: "Preview" });
    fireEvent.change(within(preview).getByLabelText("Preview answer Temperature"), { target: { value: "3" } });
    fireEvent.change(within(preview).getByLabelText("Preview answer Faced?"), { target: { value: "no" } });
    expect(within(preview).getByRole("status")).toHaveTextContent("Score 50 % · fails (threshold 80 %)");

    fireEvent.click(within(form).getByRole("button", { name: "Save template" }));
    expect(await screen.findByText('Template "Shelf check" saved (version 1).')).toBeInTheDocument();
    const body = f.calls.find((c) => c.method === "POST" && c.path === "/api/audits/templates")!.body as { questions: Record<string, unknown>[] };
    expect(body.questions).toEqual([
      { text: "Temperature", type: "number", required: true, weight: 10, allowNa: false, photoRequired: false, min: 0, max: 5 },
      { text: "Faced?", type: "yes_no", required: true, weight: 10, allowNa: false, photoRequired: false, passValue: true, failCreatesTask: { priority: "high", dueInHours: 24 } },
    ]);
  });

  it("shows what the server rejects", async () => {
    await signIn(manager, {
      "GET /api/audits/templates": () => json(200, page([template])),
      "GET /api/audits": () => json(200, page([])),
      "GET /api/stores": () => json(200, page([store])),
      "PATCH /api/audits/templates/t1": () => apiError(400, "validation_failed", "Template is not valid", [{ field: "name", message: "is required" }]),
    });
    render(<Audits user={manager} params={{}} />);
    fireEvent.click(await screen.findByRole("button", { name: "Edit Shelf check" }));
    fireEvent.click(screen.getByRole("button", { name: "Save template" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(/not valid|name/i);
  });
});

describe("audit form (merchandiser)", () => {
  it("saves each answer, uploads a camera photo, lists what is missing, then shows the score", async () => {
    let audit: Audit = { ...draft };
    let submits = 0;
    const f = await signIn(sampleUser, {
      "GET /api/audits/a1": () => json(200, { audit }),
      "GET /api/audits/templates/t1": () => json(200, { template }),
      "PATCH /api/audits/a1": (c) => {
        const [a] = (c.body as { answers: { questionId: string; value: unknown }[] }).answers;
        audit = { ...audit, answers: [...audit.answers.filter((x) => x.questionId !== a.questionId), { questionId: a.questionId, value: a.value as boolean, na: false, comment: null, photoUrls: [], passed: null }] };
        return json(200, { audit });
      },
      "POST /api/audits/a1/photos": () => {
        audit = { ...audit, answers: audit.answers.map((x) => (x.questionId === "temp" ? { ...x, photoUrls: ["/api/audits/photos/abc"] } : x)) };
        return json(201, { photoUrl: "/api/audits/photos/abc" });
      },
      "GET /api/audits/photos/abc": () => new Response(new Blob(["x"], { type: "image/jpeg" }), { status: 200 }),
      "POST /api/audits/a1/submit": () => {
        if (++submits === 1) return apiError(422, "incomplete", "Answer every required question", ["temp"]);
        audit = { ...audit, status: "submitted", scorePct: 40, passed: false, correctiveTodoIds: ["todo1"], answers: audit.answers.map((x) => ({ ...x, passed: x.questionId === "temp" })) };
        return json(200, { audit });
      },
    });
    render(<AuditDetail user={sampleUser} params={{ id: "a1" }} />);
    const form = await screen.findByRole("form", { name: "Audit form" });
    const q1 = within(form).getByRole("listitem", { name: "Question 1" });
    fireEvent.click(within(q1).getByRole("button", { name: "No" }));
    await waitFor(() => expect(within(q1).getByRole("button", { name: "No" })).toHaveAttribute("aria-pressed", "true"));
    const patch = f.calls.find((c) => c.method === "PATCH")!.body as { answers: { questionId: string; value: unknown; capturedAt: string }[] };
    expect(patch.answers[0]).toMatchObject({ questionId: "facing", value: false });
    expect(patch.answers[0].capturedAt).toMatch(/^\d{4}-/);

    fireEvent.click(within(form).getByRole("button", { name: "Submit audit" }));
    expect(await screen.findByText("This question needs an answer.")).toBeInTheDocument();

    const q2 = within(form).getByRole("listitem", { name: "Question 2" });
    const temp = within(q2).getByLabelText("Fridge temperature");
    fireEvent.change(temp, { target: { value: "3" } });
    fireEvent.blur(temp);
    await waitFor(() => expect(f.calls.filter((c) => c.method === "PATCH")).toHaveLength(2));
    const file = new File([new Uint8Array([0xff, 0xd8, 0xff])], "shot.jpg", { type: "image/jpeg" });
    const input = within(q2).getByLabelText("Photo for question 2");
    expect(input).toHaveAttribute("capture", "environment");
    fireEvent.change(input, { target: { files: [file] } });
    await within(q2).findByAltText("Photo for question 2");
    const upload = f.calls.find((c) => c.path === "/api/audits/a1/photos")!;
    expect((upload.body as FormData).get("questionId")).toBe("temp");

    fireEvent.click(within(form).getByRole("button", { name: "Submit audit" }));
    expect(await screen.findByText("Score 40 %")).toBeInTheDocument();
    const table = screen.getByRole("table", { name: "Score breakdown" });
    expect(within(table).getByRole("row", { name: /Products faced/ })).toHaveTextContent(/No.*30.*Failed/);
    expect(within(table).getByRole("row", { name: /Fridge/ })).toHaveTextContent(/3.*20.*Passed/);
    expect(screen.getByRole("link", { name: "Corrective task 1" })).toHaveAttribute("href", "/tasks/todo1");
  });
});

describe("dashboard", () => {
  it("shows audit scores by store", async () => {
    await signIn(manager, {
      "GET /api/reports/summary": () => json(200, {}),
      "GET /api/todos/stats": () => json(200, { total: 0, byStatus: {}, byPriority: {}, overdue: 0, completedLast7Days: 0 }),
      "GET /api/attendance/team": () => json(200, { summary: { total: 0, present: 0, onBreak: 0, absent: 0 }, members: [] }),
      "GET /api/audits/scores": (c) => {
        expect(c.path).toContain("groupBy=store");
        return json(200, { items: [{ key: "s1", audits: 3, avgScorePct: 91.7, passRatePct: 66.7 }] });
      },
      "GET /api/stores": () => json(200, page([store])),
    });
    render(<Dashboard user={manager} params={{}} />);
    const card = await screen.findByRole("region", { name: "Audit scores" });
    await within(card).findByText(/3 audits/);
    expect(card).toHaveTextContent("Rivoli Market");
    expect(card).toHaveTextContent("91.7");
  });
});
