// SPDX-License-Identifier: MIT
// Reading /api/reports/summary. API.md names its content (present, on break, absent, tasks
// due/overdue/completed, per store) but not its exact nesting, so the dashboard reads it
// structurally: numbers become KPI tiles (one level of nesting is flattened: {todos: {overdue: 3}}
// → "Todos overdue"), and arrays of objects become per-row tables and charts.
import { label } from "./format";

export interface Kpi {
  key: string;
  label: string;
  value: number;
}

export interface Table {
  key: string;
  title: string;
  nameKey: string;
  columns: string[];
  rows: Record<string, unknown>[];
}

/** Groups whose members read well alone ({totals: {present: 3}} → "Present"). */
const GROUP_ONLY = new Set(["totals", "total", "kpis", "today", "summary"]);

const NAME_KEYS = ["name", "storeName", "store", "code", "label", "date", "userName", "email"];

function words(k: string): string {
  return label(k.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase());
}

export function summaryKpis(summary: unknown): Kpi[] {
  const out: Kpi[] = [];
  if (!summary || typeof summary !== "object") return out;
  for (const [k, v] of Object.entries(summary as Record<string, unknown>)) {
    if (typeof v === "number" && Number.isFinite(v)) {
      out.push({ key: k, label: words(k), value: v });
    } else if (v && typeof v === "object" && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) {
        if (typeof v2 === "number" && Number.isFinite(v2))
          out.push({ key: `${k}.${k2}`, label: GROUP_ONLY.has(k) ? words(k2) : `${words(k)} ${words(k2).toLowerCase()}`, value: v2 });
      }
    }
  }
  return out;
}

export function summaryTables(summary: unknown): Table[] {
  const out: Table[] = [];
  if (!summary || typeof summary !== "object") return out;
  const visit = (key: string, v: unknown) => {
    if (!Array.isArray(v) || v.length === 0 || typeof v[0] !== "object" || v[0] === null) return;
    const rows = v.filter((r): r is Record<string, unknown> => !!r && typeof r === "object");
    const first = rows[0];
    const nameKey = NAME_KEYS.find((n) => typeof first[n] === "string") ?? Object.keys(first).find((n) => typeof first[n] === "string") ?? "";
    const columns = Object.keys(first).filter((c) => rows.some((r) => typeof r[c] === "number"));
    out.push({ key, title: words(key), nameKey, columns, rows });
  };
  for (const [k, v] of Object.entries(summary as Record<string, unknown>)) {
    if (Array.isArray(v)) visit(k, v);
    else if (v && typeof v === "object") for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) visit(`${k}.${k2}`, v2);
  }
  return out;
}

export { words as columnLabel };
