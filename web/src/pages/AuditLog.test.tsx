// SPDX-License-Identifier: MIT
import { describe, expect, it } from "vitest";
import { auditQuery, describeChanges } from "./AuditLog";

describe("audit log helpers", () => {
  it("turns the filters into query parameters (dates as whole UTC days, 'to' inclusive)", () => {
    expect(auditQuery({ action: " user.update ", entity: "", entityId: "", actorId: "", from: "2026-12-01", to: "2026-12-03" })).toEqual({
      action: "user.update",
      from: "2026-12-01T00:00:00Z",
      to: "2026-12-04T00:00:00.000Z",
    });
  });
  it("describes changes", () => {
    expect(describeChanges({ role: { from: "merchandiser", to: "manager" }, active: { to: false } })).toBe('role: "merchandiser" → "manager"; active: false');
    expect(describeChanges({ request: { name: "X" } })).toBe('request: {"name":"X"}');
  });
});
