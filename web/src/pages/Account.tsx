// SPDX-License-Identifier: MIT
// The signed-in person: profile, password change, two-factor sign-in, sessions, own attendance
// history.
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import { describeError } from "../api/errors";
import type { Attendance, Page } from "../api/types";
import { RecoveryCodes, TotpEnrolment } from "../components/mfa";
import { Badge, Empty, ErrorBox, Loading, Notice, PageHeader, Pager } from "../components/ui";
import { dateTime, fullName, label, minutes } from "../lib/format";
import { useAsync } from "../lib/useAsync";
import type { PageProps } from "../Shell";

export function passwordProblem(pw: string, confirm: string, email: string): string | null {
  if (pw.length < 10) return "The new password needs at least 10 characters.";
  if (pw.length > 128) return "The new password can have at most 128 characters.";
  if (pw.toLowerCase() === email.toLowerCase()) return "The new password cannot be your email address.";
  if (pw !== confirm) return "The two new passwords differ.";
  return null;
}

export default function Account({ user }: PageProps) {
  return (
    <div>
      <PageHeader title="Account" />
      <div className="grid-2">
        <section className="card" aria-labelledby="profile-title">
          <h2 id="profile-title">Profile</h2>
          <dl className="kv kv-rows">
            <div>
              <dt>Name</dt>
              <dd>{fullName(user)}</dd>
            </div>
            <div>
              <dt>Email</dt>
              <dd>{user.email}</dd>
            </div>
            <div>
              <dt>Role</dt>
              <dd>{label(user.role)}</dd>
            </div>
          </dl>
        </section>
        <ChangePassword email={user.email} />
        <MailPreferences />
      </div>
      <div className="grid-2">
        <TwoFactor />
        <Sessions />
      </div>
      <History userId={user.id} />
    </div>
  );
}

function ChangePassword({ email }: { email: string }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setOk(false);
    const p = passwordProblem(next, confirm, email);
    if (p) {
      setError(p);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.changePassword(current, next);
      setOk(true);
      setCurrent("");
      setNext("");
      setConfirm("");
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card" onSubmit={submit} aria-labelledby="pw-title">
      <h2 id="pw-title">Change password</h2>
      <label className="field">
        <span>Current password</span>
        <input type="password" required autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} />
      </label>
      <label className="field">
        <span>New password (10–128 characters)</span>
        <input type="password" required autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} />
      </label>
      <label className="field">
        <span>Repeat the new password</span>
        <input type="password" required autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} />
      </label>
      {error && <Notice kind="error">{error}</Notice>}
      {ok && <Notice>Password changed. Your other sessions have been signed out.</Notice>}
      <button type="submit" className="btn btn-primary" disabled={busy}>
        Change password
      </button>
    </form>
  );
}

function TwoFactor() {
  const st = useAsync(() => api.mfaStatus(), "mfa");
  const [enrolling, setEnrolling] = useState(false);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [off, setOff] = useState("");
  const [error, setError] = useState<string | null>(null);
  const disable = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await api.totpDisable(off.trim());
      setOff("");
      st.reload();
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <section className="card" aria-labelledby="mfa-title">
      <h2 id="mfa-title">Two-factor sign-in</h2>
      {st.loading && !st.data ? (
        <Loading />
      ) : st.error ? (
        <ErrorBox error={st.error} onRetry={st.reload} />
      ) : codes ? (
        <>
          <Notice>Two-factor sign-in is on.</Notice>
          <RecoveryCodes codes={codes} />
          <button type="button" className="btn" onClick={() => setCodes(null)}>
            Done
          </button>
        </>
      ) : st.data?.totpEnabled ? (
        <form onSubmit={disable}>
          <p>
            On, with an authenticator app. {st.data.recoveryCodesLeft} recovery code{st.data.recoveryCodesLeft === 1 ? "" : "s"} left.
          </p>
          {st.data.required && <p className="muted">Your role requires it: turning it off means setting it up again at the next sign-in.</p>}
          <label className="field">
            <span>Code, to turn it off</span>
            <input name="code" autoComplete="one-time-code" inputMode="numeric" pattern="[0-9]{6}" required value={off} onChange={(e) => setOff(e.target.value)} />
          </label>
          {error && <Notice kind="error">{error}</Notice>}
          <button type="submit" className="btn">
            Turn off
          </button>
        </form>
      ) : enrolling ? (
        <TotpEnrolment
          start={() => api.totpSetup()}
          confirm={(code) => api.totpConfirm(code)}
          onDone={(c) => {
            setEnrolling(false);
            setCodes(c);
            st.reload();
          }}
        />
      ) : (
        <>
          <p>Off. With it on, signing in also asks for a code from an authenticator app.</p>
          <button type="button" className="btn btn-primary" onClick={() => setEnrolling(true)}>
            Set up
          </button>
        </>
      )}
    </section>
  );
}

function Sessions() {
  const list = useAsync(() => api.sessions(), "sessions");
  const [error, setError] = useState<string | null>(null);
  const revoke = async (id: string, current: boolean) => {
    setError(null);
    try {
      if (current) await api.logout();
      else {
        await api.revokeSession(id);
        list.reload();
      }
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <section className="card" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Sessions</h2>
      {list.loading && !list.data ? (
        <Loading />
      ) : list.error ? (
        <ErrorBox error={list.error} onRetry={list.reload} />
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">IP</th>
                <th scope="col">Signed in</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {(list.data ?? []).map((s) => (
                <tr key={s.id}>
                  <td title={s.userAgent}>
                    {s.device} {s.current && <Badge value="current" tone="ok" />}
                  </td>
                  <td>{s.ip}</td>
                  <td>{dateTime(s.createdAt)}</td>
                  <td>{dateTime(s.lastUsedAt)}</td>
                  <td>
                    <button type="button" className="btn btn-small" onClick={() => revoke(s.id, s.current)}>
                      {s.current ? "Sign out" : "Revoke"}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {error && <Notice kind="error">{error}</Notice>}
    </section>
  );
}

function History({ userId }: { userId: string }) {
  const [page, setPage] = useState(1);
  const h = useAsync((s) => api.get<Page<Attendance>>("/api/attendance", { userId, page, limit: 10 }, s), `${userId}|${page}`);
  const items = h.data?.items ?? [];
  return (
    <section className="section" aria-labelledby="hist-title">
      <h2 id="hist-title">My attendance</h2>
      {h.loading && !h.data ? (
        <Loading />
      ) : h.error ? (
        <ErrorBox error={h.error} onRetry={h.reload} />
      ) : items.length === 0 ? (
        <Empty>No attendance records yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">In</th>
                <th scope="col">Out</th>
                <th scope="col">Status</th>
                <th scope="col">Net</th>
                <th scope="col">Breaks</th>
              </tr>
            </thead>
            <tbody>
              {items.map((a) => (
                <tr key={a.id}>
                  <td>{dateTime(a.punchInAt)}</td>
                  <td>{dateTime(a.punchOutAt)}</td>
                  <td>
                    <Badge value={a.status} />
                  </td>
                  <td>{minutes(a.netMinutes)}</td>
                  <td>{minutes(a.breakMinutes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager p={h.data?.pagination} onPage={setPage} />
    </section>
  );
}

/** E-mail switch per notification type (GET/PUT /api/notifications/preferences). */
export const MAIL_TYPES: { type: string; text: string; locked?: boolean }[] = [
  { type: "todo_assigned", text: "A task is assigned to me" },
  { type: "approval_requested", text: "A request waits for my decision" },
  { type: "approval_decided", text: "My request was decided" },
  { type: "audit_failed", text: "A store audit failed (managers)" },
  { type: "visit_missed", text: "A planned visit was missed (managers)" },
  { type: "password_changed", text: "My password changed (always sent)", locked: true },
];

interface Preferences {
  email: Record<string, boolean>;
  push: Record<string, boolean>;
}

function MailPreferences() {
  const prefs = useAsync((signal) => api.get<Preferences>("/api/notifications/preferences", undefined, signal), "prefs");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const toggle = async (type: string, on: boolean) => {
    setBusy(type);
    setError(null);
    try {
      prefs.setData(await api.put<Preferences>("/api/notifications/preferences", { email: { [type]: on } }));
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(null);
    }
  };

  return (
    <section className="card" aria-labelledby="mail-title">
      <h2 id="mail-title">E-mail notifications</h2>
      {prefs.loading && !prefs.data && <Loading />}
      {prefs.error !== null && !prefs.data && <ErrorBox error={prefs.error} onRetry={prefs.reload} />}
      {error && <Notice kind="error">{error}</Notice>}
      {prefs.data && (
        <ul className="checklist">
          {MAIL_TYPES.map((t) => (
            <li key={t.type}>
              <label>
                <input
                  type="checkbox"
                  checked={t.locked ? true : prefs.data?.email[t.type] !== false}
                  disabled={t.locked || busy !== null}
                  onChange={(e) => void toggle(t.type, e.target.checked)}
                />{" "}
                {t.text}
              </label>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
