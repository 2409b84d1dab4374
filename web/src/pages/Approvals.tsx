// SPDX-License-Identifier: MIT
// Approvals: managers and admins decide what waits for their role (the server's inbox: pending,
// the current step is theirs, never their own request); everyone follows and withdraws their own
// requests. A decision someone else made first comes back as 409 already_decided and the list
// is reloaded.
import { useState, type ReactNode } from "react";
import { api } from "../api/client";
import { describeError } from "../api/errors";
import type { ApprovalRequest, Page } from "../api/types";
import { Badge, Empty, ErrorBox, Loading, PageHeader, Pager } from "../components/ui";
import { dateTime, label } from "../lib/format";
import { useAsync } from "../lib/useAsync";
import type { PageProps } from "../Shell";

/** One line saying what the request asks for. */
export function describeRequest(q: ApprovalRequest): string {
  const p = q.payload as Record<string, unknown>;
  switch (q.type) {
    case "leave":
      return `${label(String(p.leaveType ?? "leave"))} leave ${p.from} to ${p.to}`;
    case "attendance_correction":
      return `Correct a visit to ${dateTime(String(p.punchInAt))} – ${dateTime(String(p.punchOutAt))}`;
    case "overtime":
      return `${p.minutes} minutes of overtime`;
    case "geofence_exception":
      return `Punch-in outside the geofence (±${Math.round(Number(p.accuracyM))} m) at ${dateTime(String(p.capturedAt))}`;
  }
}

function Steps({ q }: { q: ApprovalRequest }) {
  return (
    <ol className="steps" aria-label="Steps">
      {q.steps.map((s, i) => (
        <li key={i}>
          {label(s.role)} <Badge value={s.status} />
          {s.comment && <span className="muted small"> “{s.comment}”</span>}
        </li>
      ))}
    </ol>
  );
}

function Decide({ q, onDone }: { q: ApprovalRequest; onDone: () => void }) {
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const act = async (what: "approve" | "reject") => {
    setBusy(true);
    setError(null);
    try {
      await api.post(`/api/approvals/${q.id}/${what}`, { comment: comment || undefined });
      onDone();
    } catch (e) {
      setError(describeError(e));
      setBusy(false);
    }
  };
  return (
    <div className="actions">
      <label className="field inline">
        <span>Comment</span>
        <input type="text" maxLength={500} value={comment} onChange={(e) => setComment(e.target.value)} />
      </label>
      <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void act("approve")}>
        Approve
      </button>
      <button type="button" className="btn btn-danger" disabled={busy} onClick={() => void act("reject")}>
        Reject
      </button>
      {error && (
        <div className="notice notice-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

function RequestCard({ q, children }: { q: ApprovalRequest; children?: ReactNode }) {
  return (
    <article className="card" aria-label={`${label(q.type)} request`}>
      <div className="onshift-head">
        <div>
          <h3>{label(q.type)}</h3>
          <p>{describeRequest(q)}</p>
          <p className="muted small">
            {q.requesterName ? `${q.requesterName} · ` : ""}
            {dateTime(q.createdAt)}
            {q.reason ? ` · ${q.reason}` : ""}
          </p>
        </div>
        <Badge value={q.status} />
      </div>
      <Steps q={q} />
      {children}
    </article>
  );
}

export default function Approvals({ user }: PageProps) {
  const staff = user.role !== "merchandiser";
  const [page, setPage] = useState(1);
  const [tick, setTick] = useState(0);
  const inbox = useAsync(
    (s) =>
      staff
        ? api.get<Page<ApprovalRequest>>("/api/approvals", { scope: "inbox", status: "pending", limit: 50 }, s)
        : Promise.resolve(undefined),
    `inbox-${tick}`,
  );
  const mine = useAsync((s) => api.get<Page<ApprovalRequest>>("/api/approvals", { scope: "mine", page, limit: 20 }, s), `mine-${page}-${tick}`);
  const reload = () => setTick((t) => t + 1);

  const cancel = async (q: ApprovalRequest) => {
    try {
      await api.post(`/api/approvals/${q.id}/cancel`);
    } finally {
      reload();
    }
  };

  return (
    <div>
      <PageHeader title="Approvals" />
      {staff && (
        <section className="section" aria-labelledby="inbox-title">
          <h2 id="inbox-title">Waiting for you</h2>
          {inbox.loading && !inbox.data ? (
            <Loading />
          ) : inbox.error ? (
            <ErrorBox error={inbox.error} onRetry={inbox.reload} />
          ) : (inbox.data?.items ?? []).length === 0 ? (
            <Empty>Nothing waits for your decision.</Empty>
          ) : (
            <div className="stack">
              {inbox.data!.items.map((q) => (
                <RequestCard key={q.id} q={q}>
                  <Decide q={q} onDone={reload} />
                </RequestCard>
              ))}
            </div>
          )}
        </section>
      )}
      <section className="section" aria-labelledby="mine-title">
        <h2 id="mine-title">My requests</h2>
        {mine.loading && !mine.data ? (
          <Loading />
        ) : mine.error ? (
          <ErrorBox error={mine.error} onRetry={mine.reload} />
        ) : (mine.data?.items ?? []).length === 0 ? (
          <Empty>You have not asked for anything yet.</Empty>
        ) : (
          <div className="stack">
            {mine.data!.items.map((q) => (
              <RequestCard key={q.id} q={q}>
                {q.status === "pending" && (
                  <button type="button" className="btn btn-small" onClick={() => void cancel(q)}>
                    Withdraw
                  </button>
                )}
              </RequestCard>
            ))}
            <Pager p={mine.data?.pagination} onPage={setPage} />
          </div>
        )}
      </section>
    </div>
  );
}
