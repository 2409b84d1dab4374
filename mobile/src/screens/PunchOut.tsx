// SPDX-License-Identifier: MIT
// After the punch-out: the day's totals (the server's once it has the punch-out; until then the
// phone's estimate from the capture times, marked as such).
import { Text, View } from "react-native";
import { useServices, useShift } from "../services";
import { useNav } from "../nav";
import { totals } from "../field";
import { Btn, hhmm, Note, Screen, styles } from "../ui";

const hm = (m: number) => `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;

export function PunchOut() {
  const { field } = useServices();
  const shift = useShift();
  const nav = useNav();
  if (!shift || !shift.punchOutAt) {
    return (
      <Screen title="Punch-out" onBack={() => nav.reset({ name: "today" })}>
        <Note>No finished visit.</Note>
      </Screen>
    );
  }
  const t = totals(shift);
  return (
    <Screen title="Day totals" onBack={() => nav.reset({ name: "today" })}>
      <View style={styles.card} aria-label="Day totals">
        <Text style={styles.strong}>
          {shift.storeName}: {hhmm(shift.punchInAt)}–{hhmm(shift.punchOutAt)}
        </Text>
        <Note>Worked {hm(t.workedMinutes)}</Note>
        <Note>Breaks {hm(t.breakMinutes)}</Note>
        <Note>Net {hm(t.netMinutes)}</Note>
        <Note>Overtime {hm(t.overtimeMinutes)}</Note>
        <Note tone={t.confirmed ? "ok" : "muted"}>{t.confirmed ? "Confirmed by the server." : "Estimated on the phone; confirmed once synced."}</Note>
      </View>
      <Btn
        label="Done"
        onPress={async () => {
          await field.clear();
          nav.reset({ name: "today" });
        }}
      />
    </Screen>
  );
}
