// SPDX-License-Identifier: MIT
// Attendance and task reports with date, store and user filters; preview as a table, download as CSV
// (fetched with the bearer token, then saved from a Blob).
import { useMemo, useState } from "react";
import { api } from "../api/client";
import { describeError } from "../api/errors";
import { activeStores, listUsers } from "../api/lookups";
import type { Pagination } from "../api/types";
import { Empty, ErrorBox, Loading, Notice, PageHeader, Pager } from "../components/ui";
import { saveBlob } from "../lib/download";
import { dateTime, fullName, isoDay } from "../lib/format";
import { columnLabel } from "../lib/summary";
import { useAsync } from "../lib/useAsync";
import type { PageProps } from "../Shell";

type Kind = "attendance" | "todos";

/** The rows of a JSON report, whatever its envelope ({items}, {rows}, a bare array...). */
export function reportRows(body: unknown): Record<string, unknown>[] {
  const isRows = (v: unknown): v is Record<string, unknown>[] => Array.isArray(v);
  if (isRows(body)) return body;
  if (body && typeof body === "object") {
    const o = body as Record<string, unknown>;
    for (const k of ["items", "rows", "data", "records"]) if (isRows(o[k])) return o[k] as Record<string, unknown>[];
    for (const v of Object.values(o)) if (isRows(v)) return v;
  }
  return [];
}

/**
 * What the preview table shows: ids give way to names (the CSV keeps everything). A name column
 * the server left empty is filled from the user list, e.g. when the users view is unavailable.
 */
export function displayRows(rows: Record<string, unknown>[], names: Map<string, string>): { columns: string[]; rows: Record<string, unknown>[] } {
  if (!rows.length) return { columns: [], rows };
  const keys = Object.keys(rows[0]);
  const pairs: [string, string][] = [
    ["userId", "userName"],
    ["assigneeId", "assigneeName"],
  ];
  const out = rows.map((r) => {
    const n = { ...r };
    for (const [idKey, nameKey] of pairs) {
      if (idKey in r && !r[nameKey] && typeof r[idKey] === "string") n[nameKey] = names.get(r[idKey] as string) ?? r[idKey];
    }
    return n;
  });
  const columns = [...new Set([...keys, ...pairs.filter(([i]) => keys.includes(i)).map(([, nm]) => nm)])].filter(
    (k) => k !== "id" && !/Id$/.test(k),
  );
  return { columns, rows: out };
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

export default function Reports(_props: PageProps) {
  const [kind, setKind] = useState<Kind>("attendance");
  const [from, setFrom] = useState(() => isoDay(new Date(Date.now() - 6 * 86400000)));
  const [to, setTo] = useState(isoDay());
  const [storeId, setStoreId] = useState("");
  const [userId, setUserId] = useState("");
  const [downloading, setDownloading] = useState(false);
  const [dlError, setDlError] = useState<string | null>(null);
  const [dlDone, setDlDone] = useState<string | null>(null);
  const stores = useAsync((s) => activeStores(s), "stores");
  const users = useAsync((s) => listUsers({}, s), "users");
  const [page, setPage] = useState(1);
  const query = { from, to, storeId, userId };
  const report = useAsync(
    (s) => api.get<unknown>(`/api/reports/${kind}`, { ...query, format: "json", page, limit: 100 }, s),
    JSON.stringify([kind, query, page]),
  );
  const pagination = (report.data as { pagination?: Pagination } | undefined)?.pagination;
  const names = useMemo(() => new Map((users.data ?? []).map((u) => [u.id, fullName(u)])), [users.data]);
  const { columns, rows } = displayRows(reportRows(report.data), names);

  const download = async () => {
    setDownloading(true);
    setDlError(null);
    setDlDone(null);
    try {
      const { blob, filename } = await api.download(`/api/reports/${kind}`, { ...query, format: "csv" });
      const name = filename ?? `${kind}-${from}-${to}.csv`;
      saveBlob(blob, name);
      setDlDone(`Downloaded ${name}.`);
    } catch (e) {
      setDlError(describeError(e));
    } finally {
      setDownloading(false);
    }
  };

  return (
    <div>
      <PageHeader title="Reports">
        <button type="button" className="btn btn-primary" onClick={download} disabled={downloading}>
          {downloading ? "Preparing…" : "Download CSV"}
        </button>
      </PageHeader>
      {dlError && <Notice kind="error">{dlError}</Notice>}
      {dlDone && <Notice>{dlDone}</Notice>}
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Report filters">
        <label className="field">
          <span>Report</span>
          <select value={kind} onChange={(e) => {
            setKind(e.target.value as Kind);
            setPage(1);
          }}>
            <option value="attendance">Attendance</option>
            <option value="todos">Tasks</option>
          </select>
        </label>
        <label className="field">
          <span>From</span>
          <input type="date" value={from} max={to} onChange={(e) => {
            setFrom(e.target.value);
            setPage(1);
          }} />
        </label>
        <label className="field">
          <span>To</span>
          <input type="date" value={to} min={from} onChange={(e) => {
            setTo(e.target.value);
            setPage(1);
          }} />
        </label>
        <label className="field">
          <span>Store</span>
          <select value={storeId} onChange={(e) => {
            setStoreId(e.target.value);
            setPage(1);
          }}>
            <option value="">All stores</option>
            {(stores.data ?? []).map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>User</span>
          <select value={userId} onChange={(e) => {
            setUserId(e.target.value);
            setPage(1);
          }}>
            <option value="">Everyone</option>
            {(users.data ?? []).map((u) => (
              <option key={u.id} value={u.id}>
                {fullName(u)}
              </option>
            ))}
          </select>
        </label>
      </form>
      {report.loading && !report.data ? (
        <Loading />
      ) : report.error ? (
        <ErrorBox error={report.error} onRetry={report.reload} />
      ) : rows.length === 0 ? (
        <Empty>No records for these filters.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table-report">
            <caption className="sr-only">
              {kind === "attendance" ? "Attendance" : "Tasks"} from {from} to {to}
            </caption>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th key={c} scope="col">
                    {columnLabel(c)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.slice(0, 500).map((r, i) => (
                <tr key={i}>
                  {columns.map((c) => (
                    <td key={c}>{/At$/.test(c) ? dateTime(cell(r[c]) || null) : cell(r[c])}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          {rows.length > 500 && <p className="muted small">Showing 500 of {rows.length} rows; download the CSV for all.</p>}
        </div>
      )}
      <Pager p={pagination} onPage={setPage} />
    </div>
  );
}
