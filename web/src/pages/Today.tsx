// SPDX-License-Identifier: MIT
// The merchandiser's day, phone first: punch in at a nearby store (GPS + optional photo), breaks,
// today's tasks and their checklists, punch out with the day's totals.
import { useCallback, useEffect, useMemo, useState, type FormEvent } from "react";
import { api } from "../api/client";
import { ApiError, describeError } from "../api/errors";
import { activeStores } from "../api/lookups";
import type { ApprovalRequest, Attendance, Audit, AuditTemplate, BreakType, Page, Store, Todo } from "../api/types";
import { BREAK_TYPES } from "../api/types";
import { AuthImage } from "../components/AuthImage";
import { TaskCard } from "../components/TaskCard";
import { Badge, Empty, ErrorBox, Loading, Notice } from "../components/ui";
import { formatDistance } from "../api/errors";
import { currentPosition, GeoError, sortByDistance, type Position } from "../lib/geo";
import { endOfDay, label, minutes, startOfDay, time } from "../lib/format";
import { useAsync } from "../lib/useAsync";
import type { PageProps } from "../Shell";
import { navigate } from "../router";

interface Current {
  punchedIn: boolean;
  attendance: Attendance | null;
}

export default function Today(_props: PageProps) {
  const current = useAsync((s) => api.get<Current>("/api/attendance/current", undefined, s), "current");
  const stores = useAsync((s) => activeStores(s), "stores");
  const storeById = useMemo(() => new Map((stores.data ?? []).map((s) => [s.id, s])), [stores.data]);
  const [closed, setClosed] = useState<Attendance | null>(null);
  const [dayTick, setDayTick] = useState(0);

  const onAttendance = (a: Attendance) => {
    current.setData({ punchedIn: a.status !== "closed", attendance: a.status !== "closed" ? a : null });
    if (a.status === "closed") setClosed(a);
    else setClosed(null);
    setDayTick((t) => t + 1);
  };

  return (
    <div className="today">
      <h1 className="sr-only">Today</h1>
      <section aria-labelledby="att-title" className="section">
        <h2 id="att-title">Attendance</h2>
        {current.loading && !current.data ? (
          <Loading />
        ) : current.error ? (
          <ErrorBox error={current.error} onRetry={current.reload} />
        ) : current.data?.punchedIn && current.data.attendance ? (
          <OnShift attendance={current.data.attendance} store={storeById.get(current.data.attendance.storeId)} onChange={onAttendance} />
        ) : (
          <>
            {closed && <Totals a={closed} title="Punched out" />}
            <PunchIn stores={stores} onPunchedIn={onAttendance} />
          </>
        )}
      </section>
      <DayTotals tick={dayTick} />
      <TodayTasks storeById={storeById} />
    </div>
  );
}

function Totals({ a, title }: { a: Attendance; title: string }) {
  return (
    <div className="card totals" aria-label={title}>
      <h3>{title}</h3>
      <dl className="kv">
        <div>
          <dt>Worked</dt>
          <dd>{minutes(a.workedMinutes)}</dd>
        </div>
        <div>
          <dt>Breaks</dt>
          <dd>{minutes(a.breakMinutes)}</dd>
        </div>
        <div>
          <dt>Net</dt>
          <dd>{minutes(a.netMinutes)}</dd>
        </div>
        <div>
          <dt>Overtime</dt>
          <dd>{minutes(a.overtimeMinutes)}</dd>
        </div>
      </dl>
    </div>
  );
}

function usePosition() {
  const [pos, setPos] = useState<Position | null>(null);
  const [error, setError] = useState<GeoError | null>(null);
  const [locating, setLocating] = useState(false);
  const locate = useCallback(async (): Promise<Position | null> => {
    setLocating(true);
    try {
      const p = await currentPosition();
      setPos(p);
      setError(null);
      return p;
    } catch (e) {
      setError(e instanceof GeoError ? e : new GeoError("unavailable", String(e)));
      return null;
    } finally {
      setLocating(false);
    }
  }, []);
  return { pos, error, locating, locate };
}

function PunchIn({
  stores,
  onPunchedIn,
}: {
  stores: ReturnType<typeof useAsync<Store[]>>;
  onPunchedIn: (a: Attendance) => void;
}) {
  const geo = usePosition();
  const { locate } = geo;
  const [storeId, setStoreId] = useState("");
  const [photo, setPhoto] = useState<File | null>(null);
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [refused, setRefused] = useState<Reading | null>(null);

  useEffect(() => {
    void locate();
  }, [locate]);

  const sorted = useMemo(() => sortByDistance(stores.data ?? [], geo.pos), [stores.data, geo.pos]);
  const selected = storeId || (sorted[0]?.id ?? "");
  const preview = useMemo(() => (photo ? URL.createObjectURL(photo) : null), [photo]);
  useEffect(() => () => {
    if (preview) URL.revokeObjectURL(preview);
  }, [preview]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!selected) return;
    setBusy(true);
    setError(null);
    setRefused(null);
    let reading: Reading | null = null;
    try {
      const p = await locate();
      if (!p) return;
      // Without an explicit choice, the store is the nearest one from the position just taken.
      const target = storeId || (sortByDistance(stores.data ?? [], p)[0]?.id ?? selected);
      const fields = { storeId: target, latitude: p.latitude, longitude: p.longitude, accuracyM: p.accuracyM, note: note || undefined };
      reading = { storeId: target, latitude: p.latitude, longitude: p.longitude, accuracyM: p.accuracyM, capturedAt: new Date().toISOString() };
      let r: { attendance: Attendance };
      if (photo) {
        const form = new FormData();
        for (const [k, v] of Object.entries(fields)) if (v !== undefined) form.append(k, String(v));
        form.append("photo", photo, photo.name || "photo.jpg");
        r = await api.request<{ attendance: Attendance }>("POST", "/api/attendance/punch-in", { form });
      } else {
        r = await api.post<{ attendance: Attendance }>("/api/attendance/punch-in", fields);
      }
      setPhoto(null);
      setNote("");
      onPunchedIn(r.attendance);
    } catch (err) {
      setError(describeError(err));
      // GPS drift: the refused reading may go to a manager as a geofence exception.
      if (err instanceof ApiError && err.code === "outside_geofence" && reading) setRefused(reading);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card punch" onSubmit={submit} aria-label="Punch in">
      <div className="locbar">
        {geo.locating ? (
          <span role="status">Finding your position…</span>
        ) : geo.pos ? (
          <span>
            Your position is known to ±{Math.round(geo.pos.accuracyM)} m.
          </span>
        ) : (
          <span>Position unknown.</span>
        )}
        <button type="button" className="btn btn-small" onClick={() => void locate()} disabled={geo.locating}>
          Update location
        </button>
      </div>
      {geo.error && (
        <Notice kind="warn">
          <strong>Location needed.</strong> {geo.error.message}
        </Notice>
      )}
      {stores.loading && !stores.data ? (
        <Loading text="Loading stores…" />
      ) : stores.error ? (
        <ErrorBox error={stores.error} onRetry={stores.reload} />
      ) : sorted.length === 0 ? (
        <Empty>No active stores yet. Ask your manager to add one.</Empty>
      ) : (
        <fieldset className="storelist">
          <legend>Store {geo.pos ? "(nearest first)" : ""}</legend>
          {sorted.slice(0, 20).map((s) => {
            const inside = s.distanceM !== null && s.distanceM <= s.geofenceRadiusM;
            return (
              <label key={s.id} className={`storeopt ${selected === s.id ? "selected" : ""}`}>
                <input type="radio" name="store" value={s.id} checked={selected === s.id} onChange={() => setStoreId(s.id)} />
                <span className="storeopt-main">
                  <strong>{s.name}</strong>
                  <small className="muted">{s.address}</small>
                </span>
                <span className="storeopt-dist">
                  {s.distanceM === null ? "" : formatDistance(s.distanceM)}
                  {s.distanceM !== null && <Badge value={inside ? "in range" : "too far"} tone={inside ? "ok" : "warn"} />}
                </span>
              </label>
            );
          })}
        </fieldset>
      )}
      <label className="field">
        <span>Photo (optional)</span>
        <input
          type="file"
          name="photo"
          accept="image/*"
          capture="environment"
          onChange={(e) => setPhoto(e.target.files?.[0] ?? null)}
        />
      </label>
      {preview && <img className="photo-preview" src={preview} alt="Photo to send with the punch-in" />}
      <label className="field">
        <span>Note (optional)</span>
        <input type="text" name="note" maxLength={500} value={note} onChange={(e) => setNote(e.target.value)} />
      </label>
      {error && (
        <div className="notice notice-error" role="alert">
          {error}
        </div>
      )}
      {refused && <ExceptionRequest reading={refused} />}
      <button type="submit" className="btn btn-primary btn-block btn-big" disabled={busy || !selected}>
        {busy ? "Punching in…" : "Punch in"}
      </button>
    </form>
  );
}

/** A punch-in reading, as a geofence exception request carries it. */
interface Reading {
  storeId: string;
  latitude: number;
  longitude: number;
  accuracyM: number;
  capturedAt: string;
}

/** After a 422 outside_geofence: ask a manager to accept the reading as a visit of that store. */
function ExceptionRequest({ reading }: { reading: Reading }) {
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState<ApprovalRequest | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (sent)
    return (
      <Notice>
        Exception requested. Your manager will review it; once approved, the visit appears in your attendance.
      </Notice>
    );
  const send = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.post<{ request: ApprovalRequest }>("/api/approvals", {
        type: "geofence_exception",
        payload: reading,
        reason: reason || undefined,
      });
      setSent(r.request);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="card exception" aria-label="Geofence exception">
      <p className="small">Are you at the store and your phone places you elsewhere? A manager can accept this reading.</p>
      <label className="field">
        <span>Reason (optional)</span>
        <input type="text" name="reason" maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} />
      </label>
      {error && (
        <div className="notice notice-error" role="alert">
          {error}
        </div>
      )}
      <button type="button" className="btn" disabled={busy} onClick={() => void send()}>
        {busy ? "Sending…" : "Request an exception"}
      </button>
    </div>
  );
}

function OnShift({ attendance: a, store, onChange }: { attendance: Attendance; store?: Store; onChange: (a: Attendance) => void }) {
  const [breakType, setBreakType] = useState<BreakType>("lunch");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const onBreak = a.status === "on_break";
  const openBreak = (a.breaks ?? []).find((b) => !b.endedAt);

  const act = async (fn: () => Promise<{ attendance: Attendance }>) => {
    setBusy(true);
    setError(null);
    try {
      const r = await fn();
      onChange(r.attendance);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  const punchOut = () =>
    act(async () => {
      const p = await currentPosition();
      return api.post<{ attendance: Attendance }>("/api/attendance/punch-out", p);
    });

  return (
    <div className="card onshift">
      <div className="onshift-head">
        <div>
          <p className="big">{store?.name ?? "Store"}</p>
          <p className="muted small">
            Since {time(a.punchInAt)}
            {a.punchIn?.distanceM != null && <> · {formatDistance(a.punchIn.distanceM)} from the store</>}
          </p>
        </div>
        <Badge value={onBreak ? "on_break" : "working"} tone={onBreak ? "warn" : "ok"} />
      </div>
      {a.photoUrl && <AuthImage className="photo-thumb" src={a.photoUrl} alt="Photo sent with the punch-in" />}
      {onBreak ? (
        <div className="actions">
          <span>
            {label(openBreak?.type ?? "break")} break since {time(openBreak?.startedAt)}
          </span>
          <button type="button" className="btn btn-primary" disabled={busy} onClick={() => act(() => api.post("/api/attendance/breaks/end"))}>
            End break
          </button>
        </div>
      ) : (
        <div className="actions">
          <label className="field inline">
            <span>Break type</span>
            <select value={breakType} onChange={(e) => setBreakType(e.target.value as BreakType)}>
              {BREAK_TYPES.map((t) => (
                <option key={t} value={t}>
                  {label(t)}
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            className="btn"
            disabled={busy}
            onClick={() => act(() => api.post("/api/attendance/breaks/start", { type: breakType }))}
          >
            Start break
          </button>
        </div>
      )}
      {error && (
        <div className="notice notice-error" role="alert">
          {error}
        </div>
      )}
      <button type="button" className="btn btn-danger btn-block btn-big" disabled={busy || onBreak} onClick={punchOut}>
        {busy ? "Working…" : "Punch out"}
      </button>
      {onBreak && <p className="muted small">End your break before punching out.</p>}
      <StartAudit storeId={a.storeId} />
    </div>
  );
}

/** "Start audit" inside the open visit: the audit is linked to this punch-in by the server. */
function StartAudit({ storeId }: { storeId: string }) {
  const templates = useAsync((s) => api.get<Page<AuditTemplate>>("/api/audits/templates", { active: true, limit: 100 }, s), "audit-templates");
  const drafts = useAsync((s) => api.get<Page<Audit>>("/api/audits", { storeId, status: "draft", limit: 20 }, s), `drafts-${storeId}`);
  const [templateId, setTemplateId] = useState("");
  const [error, setError] = useState<string | null>(null);
  const list = templates.data?.items ?? [];
  if (templates.error || list.length === 0) return null;
  const chosen = templateId || list[0].id;
  const start = async () => {
    setError(null);
    try {
      const r = await api.post<{ audit: Audit }>("/api/audits", { templateId: chosen, storeId });
      navigate(`/audits/${r.audit.id}`);
    } catch (e) {
      setError(describeError(e));
    }
  };
  return (
    <div className="start-audit" aria-label="Store audit">
      <h3>Store audit</h3>
      {(drafts.data?.items ?? []).map((d) => (
        <p key={d.id}>
          <a href={`/audits/${d.id}`} onClick={(e) => { e.preventDefault(); navigate(`/audits/${d.id}`); }}>
            Continue {d.templateName ?? "audit"}
          </a>
        </p>
      ))}
      <div className="actions">
        <label className="field inline">
          <span>Template</span>
          <select value={chosen} onChange={(e) => setTemplateId(e.target.value)}>
            {list.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="btn" onClick={start}>
          Start audit
        </button>
      </div>
      {error && (
        <div className="notice notice-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

function DayTotals({ tick }: { tick: number }) {
  const day = useAsync(
    (s) => api.get<Page<Attendance>>("/api/attendance", { from: startOfDay(), to: endOfDay(), limit: 100 }, s),
    `day-${tick}`,
  );
  const items = day.data?.items ?? [];
  if (day.error) return null; // the attendance card already reports connectivity problems
  if (items.length === 0) return null;
  const sum = (k: "workedMinutes" | "breakMinutes" | "netMinutes" | "overtimeMinutes") =>
    items.reduce((n, a) => n + (a.status === "closed" ? (a[k] ?? 0) : 0), 0);
  const visits = items.length;
  const open = items.some((a) => a.status !== "closed");
  return (
    <section className="section" aria-labelledby="day-title">
      <h2 id="day-title">Today's totals</h2>
      <div className="card">
        {open && <p className="muted small">Times count finished visits; the current one is added when you punch out.</p>}
        <dl className="kv">
          <div>
            <dt>Visits</dt>
            <dd>{visits}</dd>
          </div>
          <div>
            <dt>Worked</dt>
            <dd>{minutes(sum("workedMinutes"))}</dd>
          </div>
          <div>
            <dt>Breaks</dt>
            <dd>{minutes(sum("breakMinutes"))}</dd>
          </div>
          <div>
            <dt>Net</dt>
            <dd>{minutes(sum("netMinutes"))}</dd>
          </div>
        </dl>
      </div>
    </section>
  );
}

function TodayTasks({ storeById }: { storeById: Map<string, Store> }) {
  const todos = useAsync((s) => api.get<Page<Todo>>("/api/todos", { sort: "dueAt", limit: 100 }, s), "todos");
  const items = todos.data?.items ?? [];
  const todayStart = new Date(startOfDay()).getTime();
  const open = items.filter((t) => t.status === "pending" || t.status === "in_progress");
  const doneToday = items.filter((t) => t.status === "completed" && t.completedAt && new Date(t.completedAt).getTime() >= todayStart);
  const update = (t: Todo) => {
    if (!todos.data) return;
    todos.setData({ ...todos.data, items: todos.data.items.map((x) => (x.id === t.id ? t : x)) });
  };
  return (
    <section className="section" aria-labelledby="tasks-title">
      <h2 id="tasks-title">Today's tasks</h2>
      {todos.loading && !todos.data ? (
        <Loading />
      ) : todos.error ? (
        <ErrorBox error={todos.error} onRetry={todos.reload} />
      ) : open.length === 0 && doneToday.length === 0 ? (
        <Empty>No tasks for today.</Empty>
      ) : (
        <div className="stack">
          {open.map((t) => (
            <TaskCard key={t.id} todo={t} storeName={t.storeId ? storeById.get(t.storeId)?.name : undefined} onChange={update} />
          ))}
          {doneToday.length > 0 && <h3 className="subhead">Done today</h3>}
          {doneToday.map((t) => (
            <TaskCard key={t.id} todo={t} storeName={t.storeId ? storeById.get(t.storeId)?.name : undefined} onChange={update} />
          ))}
        </div>
      )}
    </section>
  );
}
