// SPDX-License-Identifier: MIT
// Tasks: filters, list, create, assign and bulk-assign (managers and admins); merchandisers see and
// work through their own tasks here too.
import { useMemo, useState, type FormEvent } from "react";
import { api, type Query } from "../api/client";
import { describeError } from "../api/errors";
import { activeStores, listUsers } from "../api/lookups";
import type { Page, Priority, Store, Todo, User } from "../api/types";
import { PRIORITIES, STATUSES } from "../api/types";
import { isOverdue, TaskCard } from "../components/TaskCard";
import { Badge, Empty, ErrorBox, Loading, Notice, PageHeader, Pager } from "../components/ui";
import { dateTime, fullName, label, localInputToIso } from "../lib/format";
import { useAsync } from "../lib/useAsync";
import { Link } from "../router";
import type { PageProps } from "../Shell";

export default function Tasks({ user }: PageProps) {
  const staff = user.role !== "merchandiser";
  const [filters, setFilters] = useState({ status: "", priority: "", assigneeId: "", storeId: "", search: "", sort: "dueAt" });
  const [page, setPage] = useState(1);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [creating, setCreating] = useState(false);
  const [flash, setFlash] = useState<string | null>(null);
  const query: Query = { ...filters, page, limit: 20 };
  const todos = useAsync((s) => api.get<Page<Todo>>("/api/todos", query, s), JSON.stringify(query));
  const stores = useAsync((s) => activeStores(s), "stores");
  const users = useAsync((s) => (staff ? listUsers({ active: true }, s) : Promise.resolve([user])), "users");
  const storeName = useMemo(() => new Map((stores.data ?? []).map((s) => [s.id, s.name])), [stores.data]);
  const userName = useMemo(() => new Map((users.data ?? []).map((u) => [u.id, fullName(u)])), [users.data]);

  const set = (k: keyof typeof filters, v: string) => {
    setFilters((f) => ({ ...f, [k]: v }));
    setPage(1);
    setSelected(new Set());
  };
  const items = todos.data?.items ?? [];
  const toggle = (id: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  return (
    <div>
      <PageHeader title={staff ? "Tasks" : "My tasks"}>
        <button type="button" className="btn btn-primary" onClick={() => setCreating((c) => !c)} aria-expanded={creating}>
          {creating ? "Close form" : "New task"}
        </button>
      </PageHeader>
      {flash && <Notice>{flash}</Notice>}
      {creating && (
        <TaskForm
          staff={staff}
          stores={stores.data ?? []}
          users={(users.data ?? []).filter((u) => u.active !== false)}
          onCreated={(t) => {
            setCreating(false);
            setFlash(`Task “${t.title}” created.`);
            todos.reload();
          }}
        />
      )}
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Task filters">
        <label className="field">
          <span>Search</span>
          <input type="search" value={filters.search} onChange={(e) => set("search", e.target.value)} />
        </label>
        <label className="field">
          <span>Status</span>
          <select value={filters.status} onChange={(e) => set("status", e.target.value)}>
            <option value="">Any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {label(s)}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Priority</span>
          <select value={filters.priority} onChange={(e) => set("priority", e.target.value)}>
            <option value="">Any</option>
            {PRIORITIES.map((s) => (
              <option key={s} value={s}>
                {label(s)}
              </option>
            ))}
          </select>
        </label>
        {staff && (
          <label className="field">
            <span>Assignee</span>
            <select value={filters.assigneeId} onChange={(e) => set("assigneeId", e.target.value)}>
              <option value="">Anyone</option>
              {(users.data ?? []).map((u) => (
                <option key={u.id} value={u.id}>
                  {fullName(u)}
                </option>
              ))}
            </select>
          </label>
        )}
        <label className="field">
          <span>Store</span>
          <select value={filters.storeId} onChange={(e) => set("storeId", e.target.value)}>
            <option value="">Any</option>
            {(stores.data ?? []).map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Sort</span>
          <select value={filters.sort} onChange={(e) => set("sort", e.target.value)}>
            <option value="dueAt">Due date</option>
            <option value="-dueAt">Due date, latest first</option>
            <option value="-createdAt">Newest</option>
            <option value="createdAt">Oldest</option>
            <option value="priority">Priority</option>
          </select>
        </label>
      </form>

      {staff && selected.size > 0 && (
        <BulkAssign
          ids={[...selected]}
          users={(users.data ?? []).filter((u) => u.active !== false)}
          onDone={(n) => {
            setSelected(new Set());
            setFlash(`${n} task${n === 1 ? "" : "s"} reassigned.`);
            todos.reload();
          }}
        />
      )}

      {todos.loading && !todos.data ? (
        <Loading />
      ) : todos.error ? (
        <ErrorBox error={todos.error} onRetry={todos.reload} />
      ) : items.length === 0 ? (
        <Empty>No tasks match these filters.</Empty>
      ) : staff ? (
        <div className="table-wrap">
          <table className="table-tasks">
            <thead>
              <tr>
                <th scope="col">
                  <input
                    type="checkbox"
                    aria-label="Select all tasks on this page"
                    checked={items.every((t) => selected.has(t.id))}
                    onChange={(e) => setSelected(e.target.checked ? new Set(items.map((t) => t.id)) : new Set())}
                  />
                </th>
                <th scope="col">Task</th>
                <th scope="col">Status</th>
                <th scope="col">Priority</th>
                <th scope="col">Assignee</th>
                <th scope="col">Store</th>
                <th scope="col">Due</th>
                <th scope="col">Checklist</th>
              </tr>
            </thead>
            <tbody>
              {items.map((t) => (
                <tr key={t.id}>
                  <td>
                    <input type="checkbox" aria-label={`Select ${t.title}`} checked={selected.has(t.id)} onChange={() => toggle(t.id)} />
                  </td>
                  <th scope="row">
                    <Link href={`/tasks/${t.id}`}>{t.title}</Link>
                  </th>
                  <td>
                    <Badge value={t.status} /> {isOverdue(t) && <Badge value="overdue" />}
                  </td>
                  <td>
                    <Badge value={t.priority} />
                  </td>
                  <td>{t.assigneeId ? (userName.get(t.assigneeId) ?? "—") : "—"}</td>
                  <td>{t.storeId ? (storeName.get(t.storeId) ?? "—") : "—"}</td>
                  <td>{dateTime(t.dueAt)}</td>
                  <td>
                    {(t.checklist ?? []).filter((c) => c.done).length}/{(t.checklist ?? []).length}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <div className="stack">
          {items.map((t) => (
            <TaskCard
              key={t.id}
              todo={t}
              storeName={t.storeId ? storeName.get(t.storeId) : undefined}
              onChange={(n) => todos.data && todos.setData({ ...todos.data, items: todos.data.items.map((x) => (x.id === n.id ? n : x)) })}
            />
          ))}
        </div>
      )}
      <Pager p={todos.data?.pagination} onPage={setPage} />
    </div>
  );
}

function BulkAssign({ ids, users, onDone }: { ids: string[]; users: User[]; onDone: (n: number) => void }) {
  const [assigneeId, setAssigneeId] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!assigneeId) return;
    setBusy(true);
    setError(null);
    try {
      const r = await api.post<{ updated: number }>("/api/todos/bulk-assign", { todoIds: ids, assigneeId });
      onDone(typeof r?.updated === "number" ? r.updated : ids.length);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card bulkbar" onSubmit={submit} aria-label="Bulk assign">
      <span>{ids.length} selected</span>
      <label className="field inline">
        <span>Assign to</span>
        <select value={assigneeId} onChange={(e) => setAssigneeId(e.target.value)} required>
          <option value="">Choose…</option>
          {users.map((u) => (
            <option key={u.id} value={u.id}>
              {fullName(u)} ({label(u.role)})
            </option>
          ))}
        </select>
      </label>
      <button type="submit" className="btn btn-primary" disabled={busy || !assigneeId}>
        Assign selected
      </button>
      {error && (
        <div className="notice notice-error" role="alert">
          {error}
        </div>
      )}
    </form>
  );
}

export function TaskForm({
  staff,
  stores,
  users,
  onCreated,
}: {
  staff: boolean;
  stores: Store[];
  users: User[];
  onCreated: (t: Todo) => void;
}) {
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [priority, setPriority] = useState<Priority>("medium");
  const [dueAt, setDueAt] = useState("");
  const [assigneeId, setAssigneeId] = useState("");
  const [storeId, setStoreId] = useState("");
  const [checklist, setChecklist] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = {
        title: title.trim(),
        priority,
        checklist: checklist
          .split("\n")
          .map((s) => s.trim())
          .filter(Boolean),
      };
      if (description.trim()) body.description = description.trim();
      const due = localInputToIso(dueAt);
      if (due) body.dueAt = due;
      if (assigneeId) body.assigneeId = assigneeId;
      if (storeId) body.storeId = storeId;
      const r = await api.post<{ todo: Todo }>("/api/todos", body);
      onCreated(r.todo);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form-grid" onSubmit={submit} aria-label="New task">
      <label className="field span-2">
        <span>Title</span>
        <input type="text" required maxLength={200} value={title} onChange={(e) => setTitle(e.target.value)} />
      </label>
      <label className="field span-2">
        <span>Description</span>
        <textarea rows={2} value={description} onChange={(e) => setDescription(e.target.value)} />
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
        <span>Due</span>
        <input type="datetime-local" value={dueAt} onChange={(e) => setDueAt(e.target.value)} />
      </label>
      {staff && (
        <label className="field">
          <span>Assignee</span>
          <select value={assigneeId} onChange={(e) => setAssigneeId(e.target.value)}>
            <option value="">Me</option>
            {users.map((u) => (
              <option key={u.id} value={u.id}>
                {fullName(u)} ({label(u.role)})
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
      <label className="field span-2">
        <span>Checklist (one item per line)</span>
        <textarea rows={3} value={checklist} onChange={(e) => setChecklist(e.target.value)} />
      </label>
      {error && (
        <div className="notice notice-error span-2" role="alert">
          {error}
        </div>
      )}
      <div className="span-2">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? "Creating…" : "Create task"}
        </button>
      </div>
    </form>
  );
}
