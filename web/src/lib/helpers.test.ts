// SPDX-License-Identifier: MIT
import { describe, expect, it } from "vitest";
import { passwordProblem } from "../pages/Account";
import { displayRows, reportRows } from "../pages/Reports";
import { minutes } from "./format";
import { summaryKpis, summaryTables } from "./summary";

describe("summary", () => {
  const s = {
    date: "2026-11-26",
    attendance: { present: 3, onBreak: 1, absent: 2 },
    todos: { dueToday: 4, overdue: 1, completedToday: 5 },
    stores: [
      { storeId: "s1", name: "Near Shop", present: 2, overdue: 0 },
      { storeId: "s2", name: "Far Mart", present: 1, overdue: 1 },
    ],
    users: 7,
  };
  it("turns numbers into labelled KPIs, one level deep", () => {
    expect(summaryKpis(s)).toEqual([
      { key: "attendance.present", label: "Attendance present", value: 3 },
      { key: "attendance.onBreak", label: "Attendance on break", value: 1 },
      { key: "attendance.absent", label: "Attendance absent", value: 2 },
      { key: "todos.dueToday", label: "Todos due today", value: 4 },
      { key: "todos.overdue", label: "Todos overdue", value: 1 },
      { key: "todos.completedToday", label: "Todos completed today", value: 5 },
      { key: "users", label: "Users", value: 7 },
    ]);
    expect(summaryKpis(null)).toEqual([]);
    expect(summaryKpis({ totals: { tasksOverdue: 2 }, sources: { users: true } })).toEqual([
      { key: "totals.tasksOverdue", label: "Tasks overdue", value: 2 },
    ]);
  });
  it("turns arrays of objects into tables keyed by their name column", () => {
    const [t] = summaryTables(s);
    expect(t.title).toBe("Stores");
    expect(t.nameKey).toBe("name");
    expect(t.columns).toEqual(["present", "overdue"]);
    expect(t.rows).toHaveLength(2);
  });
});

describe("reportRows", () => {
  it("finds the rows whatever the envelope", () => {
    expect(reportRows([{ a: 1 }])).toEqual([{ a: 1 }]);
    expect(reportRows({ items: [{ a: 2 }], pagination: {} })).toEqual([{ a: 2 }]);
    expect(reportRows({ from: "x", records: [{ a: 3 }] })).toEqual([{ a: 3 }]);
    expect(reportRows({ nothing: 1 })).toEqual([]);
  });
});

describe("displayRows", () => {
  it("hides ids and fills empty names from the user list", () => {
    const d = displayRows([{ id: "a", userId: "u1", userName: "", storeId: "s", storeCode: "P1", status: "closed" }], new Map([["u1", "Mia Merch"]]));
    expect(d.columns).toEqual(["userName", "storeCode", "status"]);
    expect(d.rows[0].userName).toBe("Mia Merch");
  });
});

describe("passwordProblem", () => {
  it("applies the API's password rules before sending", () => {
    expect(passwordProblem("short", "short", "a@b.c")).toMatch(/at least 10/);
    expect(passwordProblem("x".repeat(129), "x".repeat(129), "a@b.c")).toMatch(/at most 128/);
    expect(passwordProblem("Ann@Example.com", "Ann@Example.com", "ann@example.com")).toMatch(/email/);
    expect(passwordProblem("long enough pw", "long enough pX", "a@b.c")).toMatch(/differ/);
    expect(passwordProblem("long enough pw", "long enough pw", "a@b.c")).toBeNull();
  });
});

describe("minutes", () => {
  it("formats durations", () => {
    expect(minutes(0)).toBe("0 min");
    expect(minutes(545)).toBe("9 h 05 min");
    expect(minutes(null)).toBe("—");
  });
});
