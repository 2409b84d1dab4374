// SPDX-License-Identifier: MIT
// Small shared pieces: loading, error, empty states, badges, pagination.
import type { ReactNode } from "react";
import { describeError } from "../api/errors";
import type { Pagination } from "../api/types";
import { label } from "../lib/format";

export function Loading({ text = "Loading…" }: { text?: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {text}
    </div>
  );
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div className="state state-error" role="alert">
      <p>{describeError(error)}</p>
      {onRetry && (
        <button type="button" className="btn" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

export function Notice({ kind = "ok", children }: { kind?: "ok" | "warn" | "error"; children: ReactNode }) {
  return (
    <div className={`notice notice-${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}

export function Badge({ value, tone }: { value: string; tone?: string }) {
  return <span className={`badge badge-${tone ?? value}`}>{label(value)}</span>;
}

export function Pager({ p, onPage }: { p: Pagination | undefined; onPage: (n: number) => void }) {
  if (!p || p.pages <= 1) return null;
  return (
    <nav className="pager" aria-label="Pagination">
      <button type="button" className="btn" disabled={p.page <= 1} onClick={() => onPage(p.page - 1)}>
        Previous
      </button>
      <span>
        Page {p.page} of {p.pages} ({p.total})
      </span>
      <button type="button" className="btn" disabled={p.page >= p.pages} onClick={() => onPage(p.page + 1)}>
        Next
      </button>
    </nav>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="page-header">
      <h1>{title}</h1>
      {children && <div className="page-actions">{children}</div>}
    </div>
  );
}
