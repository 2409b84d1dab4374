// SPDX-License-Identifier: MIT
// The app once its services exist: the session (restored from the stored refresh token, or the
// last user when offline) and the screens.
import { useCallback, useEffect, useState } from "react";
import { View, Text } from "react-native";
import type { User } from "@dtm/api-client";
import { getMeta, setMeta } from "./offline/db";
import { ServicesProvider, type Services } from "./services";
import { NavProvider, type Nav, type Route } from "./nav";
import { Login } from "./screens/Login";
import { Today } from "./screens/Today";
import { StoreScreen } from "./screens/StoreScreen";
import { PunchIn } from "./screens/PunchIn";
import { Visit } from "./screens/Visit";
import { Tasks } from "./screens/Tasks";
import { AuditForm, Audits } from "./screens/Audits";
import { PunchOut } from "./screens/PunchOut";
import { styles } from "./ui";

function Current({ route, user }: { route: Route; user: User }) {
  switch (route.name) {
    case "today":
      return <Today user={user} />;
    case "store":
      return <StoreScreen store={route.store} />;
    case "punchIn":
      return <PunchIn store={route.store} />;
    case "visit":
      return <Visit />;
    case "tasks":
      return <Tasks storeId={route.storeId} />;
    case "audits":
      return <Audits />;
    case "audit":
      return <AuditForm template={route.template} auditKey={route.auditKey} />;
    case "punchOut":
      return <PunchOut />;
  }
}

export function Root({ services, online = true }: { services: Services; online?: boolean }) {
  const { api, db, sync, field } = services;
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [stack, setStack] = useState<Route[]>([{ name: "today" }]);

  useEffect(() => {
    let live = true;
    (async () => {
      const cached = await getMeta<User>(db, "user");
      let u: User | null = null;
      if (api.hasStoredSession()) {
        try {
          u = await api.restore();
        } catch {
          u = cached; // offline: keep working as the last user; the token is refreshed when online
        }
      }
      if (!live) return;
      if (u) await setMeta(db, "user", u);
      setUser(u);
      if (u) await sync.start(online);
    })();
    return () => {
      live = false;
    };
  }, [api, db, sync, online]);

  const signedIn = useCallback(
    async (u: User) => {
      await setMeta(db, "user", u);
      setUser(u);
      await sync.start(online);
      sync.kick();
      if (!field.current) {
        try {
          const cur = await api.get<{ punchedIn: boolean; attendance: import("@dtm/api-client").Attendance | null }>("/api/attendance/current");
          if (cur.punchedIn && cur.attendance) {
            const st = await api.get<{ store: import("@dtm/api-client").Store }>(`/api/stores/${cur.attendance.storeId}`);
            await field.adopt(cur.attendance, st.store);
          }
        } catch {
          // Not essential: the server still knows the visit.
        }
      }
    },
    [api, db, sync, field, online],
  );

  const nav: Nav = {
    push: (r) => setStack((s) => [...s, r]),
    back: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    reset: (r) => setStack(r.name === "today" ? [r] : [{ name: "today" }, r]),
    logout: async () => {
      await api.logout();
      await setMeta(db, "user", null);
      setUser(null);
      setStack([{ name: "today" }]);
    },
  };

  let body;
  if (user === undefined) {
    body = (
      <View style={[styles.screen, styles.body]}>
        <Text>Loading…</Text>
      </View>
    );
  } else if (user === null) {
    body = <Login onSignedIn={(u) => void signedIn(u)} />;
  } else {
    body = <Current route={stack[stack.length - 1]} user={user} />;
  }
  return (
    <ServicesProvider value={services}>
      <NavProvider value={nav}>{body}</NavProvider>
    </ServicesProvider>
  );
}
