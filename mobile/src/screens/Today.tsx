// SPDX-License-Identifier: MIT
// Today: the day's visits in route order (GET /api/visits/today, cached for offline use), and the
// open visit, if any.
import { useCallback } from "react";
import { Text, View } from "react-native";
import type { Store, User } from "@dtm/api-client";
import { cachedGet } from "../offline/cache";
import { useServices, useShift } from "../services";
import { useNav } from "../nav";
import { Btn, hhmm, Note, Screen, styles, useLoad } from "../ui";

export interface TodayVisit {
  id: string;
  storeId: string;
  sequence: number;
  plannedStart: string | null;
  status: string;
  store: Store | null;
}

export function Today({ user }: { user: User }) {
  const { db, api } = useServices();
  const nav = useNav();
  const shift = useShift();
  const fetchPlan = useCallback(() => cachedGet<{ date: string; items: TodayVisit[] }>(db, api, "/api/visits/today"), [db, api]);
  const { data, error, reload } = useLoad(fetchPlan);
  const visits = data ? data.data.items : null;
  const asOf = data && data.fromCache ? data.fetchedAt : null;

  return (
    <Screen title={`Today · ${user.firstName}`}>
      {shift && shift.status !== "closed" && (
        <View style={styles.card} aria-label="Current visit">
          <Text style={styles.strong}>
            {shift.status === "on_break" ? "On a break" : "Punched in"} at {shift.storeName} since {hhmm(shift.punchInAt)}
          </Text>
          <Btn label="Open visit" onPress={() => nav.push({ name: "visit" })} />
        </View>
      )}
      {asOf && <Note tone="muted">Offline: the plan as of {hhmm(asOf)}.</Note>}
      {error && <Note tone="bad">{error}</Note>}
      {visits && visits.length === 0 && <Note>No visits planned for today.</Note>}
      {visits?.map((v, i) => (
        <View key={v.id} style={styles.card} role="listitem" aria-label={`Visit ${i + 1}: ${v.store?.name ?? v.storeId}`}>
          <Text style={styles.strong}>
            {i + 1}. {v.store?.name ?? "Store"}
            {v.plannedStart ? ` · ${v.plannedStart}` : ""}
          </Text>
          {v.store && <Note tone="muted">{v.store.address}</Note>}
          <Note tone="muted">{v.status.replace("_", " ")}</Note>
          {v.store && <Btn label="Open store" name={`Open ${v.store.name}`} kind="plain" onPress={() => nav.push({ name: "store", store: v.store as Store })} />}
        </View>
      ))}
      <View style={styles.row}>
        <Btn label="Refresh" kind="plain" onPress={reload} />
        <Btn label="Log out" kind="plain" onPress={nav.logout} />
      </View>
    </Screen>
  );
}
