// SPDX-License-Identifier: MIT
// Live team view: who is in which store, on break or absent. The list comes from
// GET /api/attendance/team and is re-read whenever the SSE stream /api/attendance/events reports a
// punch or a break, so the page follows the team without polling.
import { useEffect, useMemo, useRef, useState } from "react";
import { api } from "../api/client";
import { activeStores } from "../api/lookups";
import { followEvents, type SseEvent } from "../api/sse";
import type { TeamView } from "../api/types";
import { Empty, ErrorBox, Loading, PageHeader } from "../components/ui";
import { fullName, isoDay, label, time } from "../lib/format";
import { useAsync } from "../lib/useAsync";
import type { PageProps } from "../Shell";

/** Team member statuses of GET /api/attendance/team ("done": came and left today). */
export const MEMBER_STATUS: Record<string, string> = {
  present: "Present",
  on_break: "On break",
  absent: "Absent",
  done: "Punched out",
  punched_out: "Punched out",
};

interface FeedItem {
  key: number;
  at: Date;
  text: string;
}

export function describeEvent(ev: SseEvent, names: Map<string, string>): string {
  let who = "Someone";
  let kind = ev.event;
  try {
    const d = JSON.parse(ev.data) as Record<string, unknown>;
    const att = (d.attendance && typeof d.attendance === "object" ? d.attendance : d) as Record<string, unknown>;
    const uid = (typeof d.userId === "string" && d.userId) || (typeof att.userId === "string" && att.userId) || "";
    const user = d.user as Record<string, unknown> | undefined;
    if (user && typeof user === "object") who = fullName(user as { firstName?: string; lastName?: string; email?: string });
    else if (uid && names.has(uid)) who = names.get(uid)!;
    if (kind === "message" && typeof d.type === "string") kind = d.type;
  } catch {
    // non-JSON payload: the event name alone still says what happened
  }
  const what: Record<string, string> = {
    "punch-in": "punched in",
    punch_in: "punched in",
    "punch-out": "punched out",
    punch_out: "punched out",
    "break-start": "started a break",
    break_start: "started a break",
    break_started: "started a break",
    "break-end": "ended a break",
    break_end: "ended a break",
    break_ended: "ended a break",
    punched_in: "punched in",
    punched_out: "punched out",
  };
  return `${who} ${what[kind] ?? label(kind).toLowerCase()}`;
}

export default function Team(_props: PageProps) {
  const [date, setDate] = useState(isoDay());
  const [storeId, setStoreId] = useState("");
  const stores = useAsync((s) => activeStores(s), "stores");
  const team = useAsync((s) => api.get<TeamView>("/api/attendance/team", { date, storeId }, s), `${date}|${storeId}`);
  const [live, setLive] = useState<"connecting" | "live" | "offline">("connecting");
  const [feed, setFeed] = useState<FeedItem[]>([]);
  const storeName = useMemo(() => new Map((stores.data ?? []).map((s) => [s.id, s.name])), [stores.data]);
  const names = useMemo(() => new Map((team.data?.members ?? []).map((m) => [m.user.id, fullName(m.user)])), [team.data]);
  const namesRef = useRef(names);
  const reloadRef = useRef(team.reload);
  useEffect(() => {
    namesRef.current = names;
    reloadRef.current = team.reload;
  });

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    let n = 0;
    const stop = followEvents(api, "/api/attendance/events", {
      onEvent: (ev) => {
        setFeed((f) => [{ key: n++, at: new Date(), text: describeEvent(ev, namesRef.current) }, ...f].slice(0, 20));
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => reloadRef.current(), 250);
      },
      onState: (ok) => setLive(ok ? "live" : "offline"),
    });
    return () => {
      stop();
      if (timer) clearTimeout(timer);
    };
  }, []);

  const members = team.data?.members ?? [];
  const s = team.data?.summary;
  return (
    <div>
      <PageHeader title="Team">
        <span className={`live live-${live}`} role="status" aria-live="polite">
          <span className="dot" aria-hidden="true" />
          {live === "live" ? "Live" : live === "connecting" ? "Connecting…" : "Reconnecting…"}
        </span>
      </PageHeader>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Team filters">
        <label className="field">
          <span>Date</span>
          <input type="date" value={date} onChange={(e) => setDate(e.target.value || isoDay())} />
        </label>
        <label className="field">
          <span>Store</span>
          <select value={storeId} onChange={(e) => setStoreId(e.target.value)}>
            <option value="">All stores</option>
            {(stores.data ?? []).map((st) => (
              <option key={st.id} value={st.id}>
                {st.name}
              </option>
            ))}
          </select>
        </label>
      </form>
      {s && (
        <ul className="kpis" aria-label="Team summary">
          <li className="kpi">
            <span className="kpi-value">{s.total}</span>
            <span className="kpi-label">Team</span>
          </li>
          <li className="kpi kpi-ok">
            <span className="kpi-value" data-testid="present-count">{s.present}</span>
            <span className="kpi-label">Present</span>
          </li>
          <li className="kpi kpi-warn">
            <span className="kpi-value">{s.onBreak}</span>
            <span className="kpi-label">On break</span>
          </li>
          <li className="kpi kpi-muted">
            <span className="kpi-value">{s.absent}</span>
            <span className="kpi-label">Absent</span>
          </li>
        </ul>
      )}
      <div className="grid-2">
        <section aria-labelledby="members-title">
          <h2 id="members-title">Members</h2>
          {team.loading && !team.data ? (
            <Loading />
          ) : team.error ? (
            <ErrorBox error={team.error} onRetry={team.reload} />
          ) : members.length === 0 ? (
            <Empty>No merchandisers in this view.</Empty>
          ) : (
            <ul className="members">
              {members.map((m) => (
                <li key={m.user.id} className="card member" data-testid={`member-${m.user.email}`}>
                  <div>
                    <strong>{fullName(m.user)}</strong>
                    <small className="muted">
                      {m.attendance
                        ? `${storeName.get(m.attendance.storeId) ?? "Store"} · in ${time(m.attendance.punchInAt)}${m.attendance.punchOutAt ? ` · out ${time(m.attendance.punchOutAt)}` : ""}`
                        : m.user.email}
                    </small>
                  </div>
                  <span className={`badge badge-${m.status}`}>{MEMBER_STATUS[m.status] ?? label(m.status)}</span>
                </li>
              ))}
            </ul>
          )}
        </section>
        <section aria-labelledby="feed-title">
          <h2 id="feed-title">Activity</h2>
          {feed.length === 0 ? (
            <Empty>Punches and breaks appear here as they happen.</Empty>
          ) : (
            <ol className="feed" aria-live="polite">
              {feed.map((f) => (
                <li key={f.key}>
                  <time dateTime={f.at.toISOString()}>{f.at.toLocaleTimeString()}</time> {f.text}
                </li>
              ))}
            </ol>
          )}
        </section>
      </div>
    </div>
  );
}
