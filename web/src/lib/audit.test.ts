// SPDX-License-Identifier: MIT
import { describe, expect, it } from "vitest";
import { move, newQuestion, score, toBody } from "./audit";

describe("audit helpers", () => {
  it("moves questions and clamps at the ends", () => {
    expect(move(["a", "b", "c"], 2, -1)).toEqual(["a", "c", "b"]);
    expect(move(["a", "b", "c"], 0, -1)).toEqual(["a", "b", "c"]);
    expect(move(["a", "b", "c"], 0, 5)).toEqual(["b", "c", "a"]);
  });

  it("sends only the fields of the question's type", () => {
    const q = { ...newQuestion("number"), text: " Fridge ", min: 0, max: 5, failCreatesTask: { priority: "high" as const, dueInHours: 4 } };
    expect(toBody(q)).toEqual({ text: "Fridge", type: "number", required: true, weight: 10, allowNa: false, photoRequired: false, min: 0, max: 5, failCreatesTask: { priority: "high", dueInHours: 4 } });
    const t = { ...newQuestion("text"), text: "Notes", failCreatesTask: { priority: "low" as const, dueInHours: 1 } };
    expect(toBody(t)).not.toHaveProperty("failCreatesTask");
  });

  it("scores like API.md: weights, N/A and unscored types, one decimal", () => {
    const qs = [
      { id: "a", type: "yes_no" as const, passValue: true, min: null, max: null, passOptions: [], weight: 30 },
      { id: "b", type: "yes_no" as const, passValue: true, min: null, max: null, passOptions: [], weight: 20 },
      { id: "c", type: "number" as const, passValue: null, min: 0, max: 5, passOptions: [], weight: 25 },
      { id: "d", type: "choice" as const, passValue: null, min: null, max: null, passOptions: ["full"], weight: 25 },
      { id: "e", type: "text" as const, passValue: null, min: null, max: null, passOptions: [], weight: 100 },
    ];
    expect(score(qs, { a: { value: false }, b: { na: true }, c: { value: 3 }, d: { value: "full" }, e: { value: "x" } }, 80)).toEqual({ pct: 62.5, passed: false });
    expect(score(qs, {}, 80)).toEqual({ pct: 100, passed: true });
    expect(score(qs.slice(0, 2), { a: { value: true }, b: { value: false } }, 60)).toEqual({ pct: 60, passed: true });
  });
});
