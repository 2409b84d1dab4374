// SPDX-License-Identifier: MIT
// The notification bell in the header: the unread count, kept live by the notifications stream
// (GET /api/notifications/stream, resumed with Last-Event-ID by followEvents), and a panel with
// the latest notifications. The count is always re-read from the server after an event, so a
// notification that arrived while the stream was reconnecting is never missed or counted twice.
import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../api/client";
import { followEvents } from "../api/sse";
import { navigate } from "../router";

export interface AppNotification {
  id: string;
  userId: string;
  type: string;
  title: string;
  body: string;
  link: string | null;
  readAt: string | null;
  createdAt: string;
}

interface Page {
  items: AppNotification[];
  unreadCount: number;
}

export default function Bell() {
  const [count, setCount] = useState(0);
  const [open, setOpen] = useState(false);
  const [items, setItems] = useState<AppNotification[] | null>(null);
  const [error, setError] = useState(false);
  const openRef = useRef(open);
  useEffect(() => {
    openRef.current = open;
  });

  const refresh = useCallback(async () => {
    try {
      if (openRef.current) {
        const page = await api.get<Page>("/api/notifications", { limit: 10 });
        setItems(page.items);
        setCount(page.unreadCount);
      } else {
        const r = await api.get<{ count: number }>("/api/notifications/unread-count");
        setCount(r.count);
      }
      setError(false);
    } catch {
      setError(true);
    }
  }, []);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const later = (ms = 150) => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void refresh(), ms);
    };
    later(0);
    const stop = followEvents(api, "/api/notifications/stream", {
      onEvent: (ev) => {
        if (ev.event === "notification") later();
      },
      onState: (ok) => {
        if (ok) later();
      },
    });
    return () => {
      stop();
      if (timer) clearTimeout(timer);
    };
  }, [refresh]);

  const readOne = async (n: AppNotification) => {
    setOpen(false);
    if (!n.readAt) {
      try {
        await api.post(`/api/notifications/${n.id}/read`);
      } catch {
        /* the count is re-read below either way */
      }
      void refresh();
    }
    if (n.link) navigate(n.link);
  };

  const readAll = async () => {
    try {
      await api.post("/api/notifications/read-all");
    } finally {
      void refresh();
    }
  };

  const label = count === 0 ? "Notifications, none unread" : `Notifications, ${count} unread`;
  return (
    <div className="bell">
      <button
        type="button"
        className="btn btn-small bell-button"
        aria-label={label}
        aria-expanded={open}
        aria-haspopup="true"
        onClick={() => {
          openRef.current = !open;
          setOpen(!open);
          if (!open) void refresh();
        }}
      >
        <span aria-hidden="true">🔔</span>
        {count > 0 && (
          <span className="bell-count" data-testid="bell-count">
            {count > 99 ? "99+" : count}
          </span>
        )}
      </button>
      {open && (
        <div className="bell-panel" role="region" aria-label="Notifications">
          <div className="bell-head">
            <strong>Notifications</strong>
            <button type="button" className="btn btn-small" onClick={readAll} disabled={count === 0}>
              Mark all read
            </button>
          </div>
          {error && <p className="muted">Notifications cannot be loaded right now.</p>}
          {items && items.length === 0 && <p className="muted">Nothing yet.</p>}
          <ul>
            {(items ?? []).map((n) => (
              <li key={n.id} className={n.readAt ? "read" : "unread"}>
                <button type="button" onClick={() => void readOne(n)}>
                  <span className="bell-title">{n.title}</span>
                  {n.body && <span className="bell-body">{n.body}</span>}
                  <time dateTime={n.createdAt}>{new Date(n.createdAt).toLocaleString()}</time>
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
