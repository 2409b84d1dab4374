// SPDX-License-Identifier: MIT
// The audit log (admin): every write by an admin or manager, newest first, with filters and a
// CSV export of what the filters select. Its integrity is checked by `dtm audit verify`.
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import { describeError } from "../api/errors";
import type { Page } from "../api/types";
import { Empty, ErrorBox, Loading, Notice, PageHeader, Pager } from "../components/ui";
import { saveBlob } from "../lib/download";
import { dateTime } from "../lib/format";
import { useAsync } from "../lib/useAsync";

export interface AuditEntry {
  id: number;
  at: string;
  actorId: string | null;
  actorRole: string;
  action: string;
  entity: string;
  entityId: string;
  ip: string;
  requestId: string;
  changes: Record<string, unknown>;
}

interface Filters {
  action: string;
  entity: string;
  entityId: string;
  actorId: string;
  from: string;
  to: string;
}

const EMPTY: Filters = { action: "", entity: "", entityId: "", actorId: "", from: "", to: "" };

/** The filters as API query parameters (dates as the start of that day, UTC; "to" exclusive of the next day). */
export function auditQuery(f: Filters): Record<string, string> {
  const q: Record<string, string> = {};
  for (const k of ["action", "entity", "entityId", "actorId"] as const) if (f[k].trim()) q[k] = f[k].trim();
  if (f.from) q.from = `${f.from}T00:00:00Z`;
  if (f.to) q.to = new Date(Date.parse(`${f.to}T00:00:00Z`) + 86400000).toISOString();
  return q;
}

/** "role: merchandiser → manager; active: true → false" */
export function describeChanges(changes: Record<string, unknown>): string {
  return Object.entries(changes)
    .map(([k, v]) => {
      if (v && typeof v === "object" && "to" in v) {
        const c = v as { from?: unknown; to: unknown };
        return `${k}: ${c.from === undefined || c.from === null ? "" : `${JSON.stringify(c.from)} → `}${JSON.stringify(c.to)}`;
      }
      return `${k}: ${JSON.stringify(v)}`;
    })
    .join("; ");
}

export default function AuditLog() {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [page, setPage] = useState(1);
  const [error, setError] = useState<string | null>(null);
  const query = auditQuery(filters);
  const list = useAsync((s) => api.get<Page<AuditEntry>>("/api/audit-log", { ...query, page, limit: 50 }, s), `${JSON.stringify(query)}|${page}`);
  const apply = (e: FormEvent) => {
    e.preventDefault();
    setPage(1);
    setFilters(draft);
  };
  const exportCsv = async () => {
    setError(null);
    try {
      const { blob, filename } = await api.download("/api/audit-log", { ...query, format: "csv" });
      saveBlob(blob, filename ?? "audit-log.csv");
    } catch (err) {
      setError(describeError(err));
    }
  };
  const field = (k: keyof Filters, text: string, type = "text") => (
    <label className="field">
      <span>{text}</span>
      <input type={type} value={draft[k]} onChange={(e) => setDraft({ ...draft, [k]: e.target.value })} />
    </label>
  );
  const items = list.data?.items ?? [];
  return (
    <div>
      <PageHeader title="Audit log">
        <button type="button" className="btn" onClick={exportCsv}>
          Export CSV
        </button>
      </PageHeader>
      <form className="card filters" onSubmit={apply} aria-label="Audit log filters">
        {field("action", "Action (e.g. user.update)")}
        {field("entity", "Entity (user, store, template)")}
        {field("entityId", "Entity id")}
        {field("actorId", "Actor id")}
        {field("from", "From", "date")}
        {field("to", "To", "date")}
        <button type="submit" className="btn btn-primary">
          Filter
        </button>
      </form>
      {error && <Notice kind="error">{error}</Notice>}
      {list.loading && !list.data ? (
        <Loading />
      ) : list.error ? (
        <ErrorBox error={list.error} onRetry={list.reload} />
      ) : items.length === 0 ? (
        <Empty>No entries.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">What</th>
                <th scope="col">Changes</th>
                <th scope="col">IP</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr key={e.id}>
                  <td>{dateTime(e.at)}</td>
                  <td title={e.actorId ?? ""}>{e.actorRole}</td>
                  <td>{e.action}</td>
                  <td title={e.entityId}>
                    {e.entity} {e.entityId.slice(0, 8)}
                  </td>
                  <td>{describeChanges(e.changes)}</td>
                  <td title={`request ${e.requestId}`}>{e.ip}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager p={list.data?.pagination} onPage={setPage} />
    </div>
  );
}
