// SPDX-License-Identifier: MIT
// One task with its checklist, as the assignee works through it.
import { useState } from "react";
import { api } from "../api/client";
import { describeError } from "../api/errors";
import type { Todo } from "../api/types";
import { dateTime } from "../lib/format";
import { Link } from "../router";
import { Badge } from "./ui";

export function isOverdue(t: Todo, now = Date.now()): boolean {
  return !!t.dueAt && t.status !== "completed" && t.status !== "cancelled" && new Date(t.dueAt).getTime() < now;
}

export function TaskCard({
  todo,
  storeName,
  onChange,
}: {
  todo: Todo;
  storeName?: string;
  onChange: (t: Todo) => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Checklist ticks show at once; the server's answer confirms them (or an error reverts them).
  const [pending, setPending] = useState<Record<string, boolean>>({});
  const done = todo.status === "completed";
  const closed = done || todo.status === "cancelled";
  const checklist = todo.checklist ?? [];
  const isDone = (c: { id: string; done: boolean }) => pending[c.id] ?? c.done;
  const doneCount = checklist.filter(isDone).length;

  const run = async (fn: () => Promise<{ todo: Todo }>, itemId?: string) => {
    setBusy(true);
    setError(null);
    try {
      const r = await fn();
      onChange(r.todo);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
      if (itemId)
        setPending((p) => {
          const n = { ...p };
          delete n[itemId];
          return n;
        });
    }
  };

  const headingId = `task-${todo.id}`;
  return (
    <article className={`card task ${done ? "task-done" : ""}`} aria-labelledby={headingId}>
      <div className="task-head">
        <h3 id={headingId}>
          <Link href={`/tasks/${todo.id}`}>{todo.title}</Link>
        </h3>
        <div className="badges">
          <Badge value={todo.priority} />
          <Badge value={todo.status} />
          {isOverdue(todo) && <Badge value="overdue" />}
        </div>
      </div>
      <p className="muted small">
        {storeName && <>{storeName} · </>}
        {todo.dueAt ? <>Due {dateTime(todo.dueAt)}</> : "No due date"}
      </p>
      {todo.description && <p className="task-desc">{todo.description}</p>}
      {checklist.length > 0 && (
        <fieldset className="checklist" disabled={busy || closed}>
          <legend>
            Checklist ({doneCount}/{checklist.length})
          </legend>
          {checklist.map((c) => (
            <label key={c.id} className="check">
              <input
                type="checkbox"
                checked={isDone(c)}
                onChange={(e) => {
                  const v = e.target.checked;
                  setPending((p) => ({ ...p, [c.id]: v }));
                  void run(() => api.patch<{ todo: Todo }>(`/api/todos/${todo.id}/checklist/${c.id}`, { done: v }), c.id);
                }}
              />
              <span>{c.text}</span>
            </label>
          ))}
        </fieldset>
      )}
      {error && (
        <div className="notice notice-error" role="alert">
          {error}
        </div>
      )}
      <div className="actions">
        {todo.status === "pending" && (
          <button
            type="button"
            className="btn"
            disabled={busy}
            onClick={() => run(() => api.patch<{ todo: Todo }>(`/api/todos/${todo.id}`, { status: "in_progress" }))}
          >
            Start
          </button>
        )}
        {!closed && (
          <button
            type="button"
            className="btn btn-primary"
            disabled={busy}
            onClick={() => run(() => api.post<{ todo: Todo }>(`/api/todos/${todo.id}/complete`))}
          >
            Complete{checklist.length > 0 && doneCount < checklist.length ? ` (${checklist.length - doneCount} open)` : ""}
          </button>
        )}
        {done && (
          <button
            type="button"
            className="btn"
            disabled={busy}
            onClick={() => run(() => api.post<{ todo: Todo }>(`/api/todos/${todo.id}/reopen`))}
          >
            Reopen
          </button>
        )}
      </div>
    </article>
  );
}
