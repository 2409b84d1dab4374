// SPDX-License-Identifier: MIT
// One task: follow its progress, work its checklist, edit or reassign it (managers), cancel or delete.
import { useMemo, useState, type FormEvent } from "react";
import { api } from "../api/client";
import { describeError } from "../api/errors";
import { activeStores, listUsers } from "../api/lookups";
import type { Priority, Todo, TodoStatus } from "../api/types";
import { PRIORITIES, STATUSES } from "../api/types";
import { TaskCard } from "../components/TaskCard";
import { ErrorBox, Loading, Notice, PageHeader } from "../components/ui";
import { dateTime, fullName, isoToLocalInput, label, localInputToIso } from "../lib/format";
import { useAsync } from "../lib/useAsync";
import { Link, navigate } from "../router";
import type { PageProps } from "../Shell";

export default function TaskDetail({ user, params }: PageProps) {
  const staff = user.role !== "merchandiser";
  const todo = useAsync((s) => api.get<{ todo: Todo }>(`/api/todos/${encodeURIComponent(params.id)}`, undefined, s), params.id);
  const stores = useAsync((s) => activeStores(s), "stores");
  const users = useAsync((s) => (staff ? listUsers({}, s) : Promise.resolve([user])), "users");
  const storeName = useMemo(() => new Map((stores.data ?? []).map((s) => [s.id, s.name])), [stores.data]);
  const userName = useMemo(() => new Map((users.data ?? []).map((u) => [u.id, fullName(u)])), [users.data]);
  const [flash, setFlash] = useState<string | null>(null);
  const t = todo.data?.todo;

  return (
    <div>
      <PageHeader title={t ? t.title : "Task"}>
        <Link className="btn" href="/tasks">
          All tasks
        </Link>
      </PageHeader>
      {flash && <Notice>{flash}</Notice>}
      {todo.loading && !todo.data ? (
        <Loading />
      ) : todo.error ? (
        <ErrorBox error={todo.error} onRetry={todo.reload} />
      ) : t ? (
        <div className="grid-2">
          <div className="stack">
            <TaskCard
              todo={t}
              storeName={t.storeId ? storeName.get(t.storeId) : undefined}
              onChange={(n) => todo.setData({ todo: n })}
            />
            <div className="card">
              <dl className="kv kv-rows">
                <div>
                  <dt>Assignee</dt>
                  <dd>{t.assigneeId ? (userName.get(t.assigneeId) ?? t.assigneeId) : "—"}</dd>
                </div>
                <div>
                  <dt>Created by</dt>
                  <dd>{t.createdBy ? (userName.get(t.createdBy) ?? "—") : "—"}</dd>
                </div>
                <div>
                  <dt>Created</dt>
                  <dd>{dateTime(t.createdAt)}</dd>
                </div>
                <div>
                  <dt>Updated</dt>
                  <dd>{dateTime(t.updatedAt)}</dd>
                </div>
                <div>
                  <dt>Completed</dt>
                  <dd>{dateTime(t.completedAt)}</dd>
                </div>
              </dl>
            </div>
          </div>
          {(staff || t.createdBy === user.id) && (
            <EditTask
              key={t.updatedAt ?? t.id}
              todo={t}
              staff={staff}
              stores={stores.data ?? []}
              users={users.data ?? []}
              onSaved={(n) => {
                todo.setData({ todo: n });
                setFlash("Saved.");
              }}
            />
          )}
        </div>
      ) : null}
    </div>
  );
}

function EditTask({
  todo,
  staff,
  stores,
  users,
  onSaved,
}: {
  todo: Todo;
  staff: boolean;
  stores: { id: string; name: string }[];
  users: { id: string; firstName: string; lastName: string; email: string; active: boolean }[];
  onSaved: (t: Todo) => void;
}) {
  const [title, setTitle] = useState(todo.title);
  const [description, setDescription] = useState(todo.description ?? "");
  const [priority, setPriority] = useState<Priority>(todo.priority);
  const [status, setStatus] = useState<TodoStatus>(todo.status);
  const [dueAt, setDueAt] = useState(isoToLocalInput(todo.dueAt));
  const [assigneeId, setAssigneeId] = useState(todo.assigneeId ?? "");
  const [storeId, setStoreId] = useState(todo.storeId ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // Only what changed: a PATCH never rewrites fields the person did not touch.
      const body: Record<string, unknown> = {};
      const set = (k: string, v: unknown, was: unknown) => {
        if (v !== was) body[k] = v;
      };
      set("title", title.trim(), todo.title);
      set("description", description.trim() || null, todo.description || null);
      set("priority", priority, todo.priority);
      if (dueAt !== isoToLocalInput(todo.dueAt)) body.dueAt = localInputToIso(dueAt);
      set("storeId", storeId || null, todo.storeId ?? null);
      if (status !== todo.status && status !== "completed") body.status = status;
      if (staff && assigneeId && assigneeId !== todo.assigneeId) body.assigneeId = assigneeId;
      if (Object.keys(body).length === 0) {
        onSaved(todo);
        return;
      }
      const r = await api.patch<{ todo: Todo }>(`/api/todos/${todo.id}`, body);
      onSaved(r.todo);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!window.confirm(`Delete the task “${todo.title}”?`)) return;
    setBusy(true);
    setError(null);
    try {
      await api.del(`/api/todos/${todo.id}`);
      navigate("/tasks");
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  };

  return (
    <form className="card form-grid" onSubmit={save} aria-label="Edit task">
      <h2 className="span-2">Edit</h2>
      <label className="field span-2">
        <span>Title</span>
        <input type="text" required maxLength={200} value={title} onChange={(e) => setTitle(e.target.value)} />
      </label>
      <label className="field span-2">
        <span>Description</span>
        <textarea rows={3} value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      <label className="field">
        <span>Priority</span>
        <select value={priority} onChange={(e) => setPriority(e.target.value as Priority)}>
          {PRIORITIES.map((p) => (
            <option key={p} value={p}>
              {label(p)}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Status</span>
        <select value={status} onChange={(e) => setStatus(e.target.value as TodoStatus)}>
          {STATUSES.filter((s) => s !== "completed" || todo.status === "completed").map((s) => (
            <option key={s} value={s}>
              {label(s)}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Due</span>
        <input type="datetime-local" value={dueAt} onChange={(e) => setDueAt(e.target.value)} />
      </label>
      {staff && (
        <label className="field">
          <span>Assignee</span>
          <select value={assigneeId} onChange={(e) => setAssigneeId(e.target.value)}>
            {!assigneeId && <option value="">—</option>}
            {users
              .filter((u) => u.active !== false || u.id === assigneeId)
              .map((u) => (
                <option key={u.id} value={u.id}>
                  {fullName(u)}
                </option>
              ))}
          </select>
        </label>
      )}
      <label className="field">
        <span>Store</span>
        <select value={storeId} onChange={(e) => setStoreId(e.target.value)}>
          <option value="">None</option>
          {stores.map((s) => (
            <option key={s.id} value={s.id}>
              {s.name}
            </option>
          ))}
        </select>
      </label>
      {error && (
        <div className="notice notice-error span-2" role="alert">
          {error}
        </div>
      )}
      <div className="span-2 actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          Save
        </button>
        <button type="button" className="btn btn-danger" disabled={busy} onClick={remove}>
          Delete
        </button>
      </div>
    </form>
  );
}
