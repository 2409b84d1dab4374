// SPDX-License-Identifier: MIT
import { Text, View } from "react-native";
import type { Store } from "@dtm/api-client";
import { useShift } from "../services";
import { useNav } from "../nav";
import { Btn, Note, Screen, styles } from "../ui";

export function StoreScreen({ store }: { store: Store }) {
  const nav = useNav();
  const shift = useShift();
  const here = shift && shift.status !== "closed" && shift.storeId === store.id;
  const elsewhere = shift && shift.status !== "closed" && shift.storeId !== store.id;
  return (
    <Screen title={store.name} onBack={nav.back}>
      <View style={styles.card}>
        <Text style={styles.strong}>{store.code}</Text>
        <Note>{store.address}</Note>
        <Note tone="muted">Punch-in allowed within {store.geofenceRadiusM} m.</Note>
      </View>
      {here ? (
        <Btn label="Open visit" onPress={() => nav.push({ name: "visit" })} />
      ) : elsewhere ? (
        <Note>You are punched in at {shift?.storeName}. Punch out there first.</Note>
      ) : (
        <Btn label="Punch in here" onPress={() => nav.push({ name: "punchIn", store })} />
      )}
      <Btn label="Tasks at this store" kind="plain" onPress={() => nav.push({ name: "tasks", storeId: store.id })} />
    </Screen>
  );
}
