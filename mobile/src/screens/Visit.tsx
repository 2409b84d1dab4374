// SPDX-License-Identifier: MIT
// The open visit: breaks, the way to tasks and audits, and punch-out.
import { useState } from "react";
import { Text, View } from "react-native";
import { BREAK_TYPES } from "@dtm/api-client";
import { useServices, useShift } from "../services";
import { useNav } from "../nav";
import { totals } from "../field";
import { Btn, errorText, hhmm, Note, Screen, styles } from "../ui";

export function Visit() {
  const { field, locate } = useServices();
  const shift = useShift();
  const nav = useNav();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!shift || shift.status === "closed") {
    return (
      <Screen title="Visit" onBack={() => nav.reset({ name: "today" })}>
        <Note>No open visit.</Note>
      </Screen>
    );
  }
  const run = (f: () => Promise<unknown>) => async () => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const t = totals(shift);
  const open = shift.breaks.find((b) => !b.endedAt);
  return (
    <Screen title={`Visit · ${shift.storeName}`} onBack={() => nav.reset({ name: "today" })}>
      <View style={styles.card} aria-label="Visit">
        <Text style={styles.strong}>Punched in at {hhmm(shift.punchInAt)}</Text>
        <Note tone="muted">
          Accuracy ±{Math.round(shift.accuracyM)} m · {shift.withPhoto ? "photo taken" : "no photo"} · {shift.server ? "accepted by the server" : "waiting to sync"}
        </Note>
        <Note>
          {t.workedMinutes} min so far, {t.breakMinutes} min of breaks
        </Note>
      </View>
      <View style={styles.card} aria-label="Breaks">
        {open ? (
          <>
            <Text style={styles.strong}>
              On a {open.type} break since {hhmm(open.startedAt)}
            </Text>
            <Btn label="End break" disabled={busy} onPress={run(() => field.endBreak())} />
          </>
        ) : (
          <>
            <Text style={styles.strong}>Take a break</Text>
            <View style={styles.row}>
              {BREAK_TYPES.map((b) => (
                <Btn key={b} label={b[0].toUpperCase() + b.slice(1)} name={`Start ${b} break`} kind="plain" disabled={busy} onPress={run(() => field.startBreak(b))} />
              ))}
            </View>
          </>
        )}
        {shift.breaks.filter((b) => b.endedAt).map((b, i) => (
          <Note key={i} tone="muted">
            {b.type}: {hhmm(b.startedAt)}–{hhmm(b.endedAt as string)}
          </Note>
        ))}
      </View>
      <Btn label="Tasks" kind="plain" onPress={() => nav.push({ name: "tasks", storeId: shift.storeId })} />
      <Btn label="Audits" kind="plain" onPress={() => nav.push({ name: "audits" })} />
      {error && <Note tone="bad">{error}</Note>}
      <Btn
        label="Punch out"
        kind="danger"
        disabled={busy}
        onPress={run(async () => {
          let pos = null;
          try {
            pos = await locate();
          } catch {
            pos = null; // the punch-out position is optional
          }
          await field.punchOut(pos);
          nav.reset({ name: "punchOut" });
        })}
      />
    </Screen>
  );
}
