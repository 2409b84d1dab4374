// SPDX-License-Identifier: MIT
// User management (admins): list, search, create, edit, change role, deactivate.
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import { describeError } from "../api/errors";
import type { Page, Role, User } from "../api/types";
import { ROLES } from "../api/types";
import { Badge, Empty, ErrorBox, Loading, Notice, PageHeader, Pager } from "../components/ui";
import { dateTime, fullName, label } from "../lib/format";
import { useAsync } from "../lib/useAsync";
import { Link } from "../router";
import type { PageProps } from "../Shell";

export default function Users({ user: me }: PageProps) {
  const [search, setSearch] = useState("");
  const [role, setRole] = useState("");
  const [active, setActive] = useState("true");
  const [page, setPage] = useState(1);
  const [editing, setEditing] = useState<User | "new" | null>(null);
  const [flash, setFlash] = useState<string | null>(null);
  const q = { search, role, active, page, limit: 20 };
  const users = useAsync((s) => api.get<Page<User>>("/api/users", q, s), JSON.stringify(q));
  const items = users.data?.items ?? [];

  const deactivate = async (u: User) => {
    if (!window.confirm(`Deactivate ${fullName(u)}? They will no longer be able to sign in.`)) return;
    try {
      await api.del(`/api/users/${u.id}`);
      setFlash(`${fullName(u)} deactivated.`);
      users.reload();
    } catch (e) {
      setFlash(describeError(e));
    }
  };

  const resetMfa = async (u: User) => {
    if (!window.confirm(`Reset two-factor sign-in of ${fullName(u)}? They sign in with the password only (or set it up again if their role requires it).`)) return;
    try {
      await api.del(`/api/users/${u.id}/mfa`);
      setFlash(`Two-factor sign-in of ${fullName(u)} reset.`);
    } catch (e) {
      setFlash(describeError(e));
    }
  };

  return (
    <div>
      <PageHeader title="Users">
        <Link href="/audit-log" className="btn">
          Audit log
        </Link>
        <button type="button" className="btn btn-primary" onClick={() => setEditing(editing ? null : "new")} aria-expanded={editing !== null}>
          {editing ? "Close form" : "New user"}
        </button>
      </PageHeader>
      {flash && <Notice>{flash}</Notice>}
      {editing && (
        <UserForm
          key={editing === "new" ? "new" : editing.id}
          user={editing === "new" ? null : editing}
          isSelf={editing !== "new" && editing.id === me.id}
          onSaved={(u, created) => {
            setEditing(null);
            setFlash(`${fullName(u)} ${created ? "created" : "saved"}.`);
            users.reload();
          }}
        />
      )}
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="User filters">
        <label className="field">
          <span>Search</span>
          <input
            type="search"
            value={search}
            onChange={(e) => {
              setSearch(e.target.value);
              setPage(1);
            }}
          />
        </label>
        <label className="field">
          <span>Role</span>
          <select
            value={role}
            onChange={(e) => {
              setRole(e.target.value);
              setPage(1);
            }}
          >
            <option value="">Any</option>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {label(r)}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Show</span>
          <select
            value={active}
            onChange={(e) => {
              setActive(e.target.value);
              setPage(1);
            }}
          >
            <option value="true">Active</option>
            <option value="false">Deactivated</option>
            <option value="">All</option>
          </select>
        </label>
      </form>
      {users.loading && !users.data ? (
        <Loading />
      ) : users.error ? (
        <ErrorBox error={users.error} onRetry={users.reload} />
      ) : items.length === 0 ? (
        <Empty>No users match.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">Last login</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((u) => (
                <tr key={u.id}>
                  <th scope="row">{fullName(u)}</th>
                  <td>{u.email}</td>
                  <td>
                    <Badge value={u.role} />
                  </td>
                  <td>
                    <Badge value={u.active ? "active" : "inactive"} />
                  </td>
                  <td>{dateTime(u.lastLoginAt)}</td>
                  <td className="row-actions">
                    <button type="button" className="btn btn-small" onClick={() => setEditing(u)} aria-label={`Edit ${fullName(u)}`}>
                      Edit
                    </button>
                    {u.id !== me.id && (
                      <button type="button" className="btn btn-small" onClick={() => resetMfa(u)} aria-label={`Reset two-factor sign-in of ${fullName(u)}`}>
                        Reset 2FA
                      </button>
                    )}
                    {u.active && u.id !== me.id && (
                      <button type="button" className="btn btn-small btn-danger" onClick={() => deactivate(u)} aria-label={`Deactivate ${fullName(u)}`}>
                        Deactivate
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager p={users.data?.pagination} onPage={setPage} />
    </div>
  );
}

function UserForm({ user, isSelf, onSaved }: { user: User | null; isSelf: boolean; onSaved: (u: User, created: boolean) => void }) {
  const [firstName, setFirstName] = useState(user?.firstName ?? "");
  const [lastName, setLastName] = useState(user?.lastName ?? "");
  const [email, setEmail] = useState(user?.email ?? "");
  const [role, setRole] = useState<Role>(user?.role ?? "merchandiser");
  const [active, setActive] = useState(user?.active ?? true);
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      let r: { user: User };
      if (user) {
        const body: Record<string, unknown> = { firstName: firstName.trim(), lastName: lastName.trim(), email: email.trim() };
        if (!isSelf) {
          body.role = role;
          body.active = active;
        }
        r = await api.patch<{ user: User }>(`/api/users/${user.id}`, body);
      } else {
        r = await api.post<{ user: User }>("/api/users", {
          email: email.trim(),
          password,
          firstName: firstName.trim(),
          lastName: lastName.trim(),
          role,
        });
      }
      onSaved(r.user, !user);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form-grid" onSubmit={submit} aria-label={user ? `Edit ${fullName(user)}` : "New user"}>
      <label className="field">
        <span>First name</span>
        <input type="text" required maxLength={100} value={firstName} onChange={(e) => setFirstName(e.target.value)} />
      </label>
      <label className="field">
        <span>Last name</span>
        <input type="text" required maxLength={100} value={lastName} onChange={(e) => setLastName(e.target.value)} />
      </label>
      <label className="field">
        <span>Email</span>
        <input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="off" />
      </label>
      <label className="field">
        <span>Role</span>
        <select value={role} onChange={(e) => setRole(e.target.value as Role)} disabled={isSelf}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {label(r)}
            </option>
          ))}
        </select>
      </label>
      {!user && (
        <label className="field">
          <span>Initial password (10–128 characters)</span>
          <input
            type="password"
            required
            minLength={10}
            maxLength={128}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoComplete="new-password"
          />
        </label>
      )}
      {user && !isSelf && (
        <label className="check">
          <input type="checkbox" checked={active} onChange={(e) => setActive(e.target.checked)} />
          <span>Active</span>
        </label>
      )}
      {isSelf && <p className="muted small span-2">You cannot change your own role or deactivate yourself.</p>}
      {error && (
        <div className="notice notice-error span-2" role="alert">
          {error}
        </div>
      )}
      <div className="span-2">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {user ? "Save user" : "Create user"}
        </button>
      </div>
    </form>
  );
}
