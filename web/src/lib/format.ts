// SPDX-License-Identifier: MIT
// Formatting helpers shared by the views.

export function minutes(m: number | null | undefined): string {
  if (m === null || m === undefined || !Number.isFinite(m)) return "—";
  const v = Math.max(0, Math.round(m));
  const h = Math.floor(v / 60);
  const r = v % 60;
  return h ? `${h} h ${String(r).padStart(2, "0")} min` : `${r} min`;
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function time(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** YYYY-MM-DD of a date in the browser's local time zone. */
export function isoDay(d: Date = new Date()): string {
  const y = d.getFullYear();
  const m = String(d.getMonth() + 1).padStart(2, "0");
  const day = String(d.getDate()).padStart(2, "0");
  return `${y}-${m}-${day}`;
}

/** Start of the local day as an ISO instant. */
export function startOfDay(d: Date = new Date()): string {
  const s = new Date(d.getFullYear(), d.getMonth(), d.getDate());
  return s.toISOString();
}

/** End of the local day (exclusive: next midnight) as an ISO instant. */
export function endOfDay(d: Date = new Date()): string {
  const s = new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1);
  return s.toISOString();
}

/** Value for <input type="datetime-local"> → ISO instant (null when empty). */
export function localInputToIso(v: string): string | null {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function isoToLocalInput(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fullName(u: { firstName?: string; lastName?: string; email?: string } | null | undefined): string {
  if (!u) return "—";
  const n = `${u.firstName ?? ""} ${u.lastName ?? ""}`.trim();
  return n || u.email || "—";
}

export function label(s: string): string {
  return s.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}
