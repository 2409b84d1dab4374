// SPDX-License-Identifier: MIT
// The few building blocks the screens share: a screen frame with the sync indicator, buttons,
// notes. Roles and labels are set so screen readers (and the tests) find things by name.
import { useEffect, useState, type ReactNode } from "react";
import { Pressable, ScrollView, StyleSheet, Text, View } from "react-native";
import { ApiError, describeError } from "@dtm/api-client";
import { useServices, useShift, useSyncStatus } from "./services";
import { whatToDo } from "./field";

export const colors = { ink: "#1b1f24", muted: "#5b6470", line: "#d8dde3", brand: "#0b5cad", bad: "#b3261e", ok: "#1e7d32", bg: "#f6f7f9" };

const hhmm = (iso: string) => new Date(iso).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
export { hhmm };

export function Btn(props: { label: string; onPress: () => void; kind?: "primary" | "plain" | "danger"; disabled?: boolean; name?: string }) {
  const kind = props.kind ?? "primary";
  return (
    <Pressable
      role="button"
      aria-label={props.name ?? props.label}
      aria-disabled={props.disabled}
      disabled={props.disabled}
      onPress={props.onPress}
      style={[styles.btn, kind === "primary" && styles.btnPrimary, kind === "danger" && styles.btnDanger, props.disabled && styles.btnDisabled]}
    >
      <Text style={[styles.btnText, kind !== "plain" && styles.btnTextOn]}>{props.label}</Text>
    </Pressable>
  );
}

export function Note({ children, tone }: { children: ReactNode; tone?: "bad" | "ok" | "muted" }) {
  return <Text style={[styles.note, tone === "bad" && { color: colors.bad }, tone === "ok" && { color: colors.ok }, tone === "muted" && { color: colors.muted }]}>{children}</Text>;
}

export function H({ children }: { children: ReactNode }) {
  return (
    <Text role="heading" style={styles.h}>
      {children}
    </Text>
  );
}

export function errorText(e: unknown): string {
  return describeError(e);
}

/** "3 changes waiting · synced at 10:42", offline state, and what the server refused. */
export function SyncBar() {
  const s = useSyncStatus();
  const { outbox, field, sync } = useServices();
  const shift = useShift();
  let line: string;
  if (s.waiting > 0) line = `${s.waiting} ${s.waiting === 1 ? "change" : "changes"} waiting`;
  else if (s.rejected.length === 0 && s.blocked === 0) line = "All changes synced";
  else line = "Nothing waiting to send";
  const parts = [line];
  if (!s.online) parts.push("offline");
  else if (s.syncing) parts.push("syncing…");
  if (s.syncedAt) parts.push(`synced at ${hhmm(s.syncedAt)}`);
  return (
    <View style={styles.sync}>
      <Text role="status" aria-label="Sync status" style={styles.syncText}>
        {parts.join(" · ")}
      </Text>
      {s.needsLogin && <Note tone="bad">Sign in again to send your changes.</Note>}
      {s.online && s.waiting > 0 && s.lastError && !s.syncing && (
        <Note tone="muted">
          Last try: {describeError(new ApiError(s.lastError.status, s.lastError.code, s.lastError.message))} Retrying automatically.
        </Note>
      )}
      {s.rejected.map((c) => (
        <View key={c.key} role="alert" aria-label={`Rejected: ${c.label}`} style={styles.rejected}>
          <Text style={styles.rejTitle}>Not accepted: {c.label}</Text>
          <Note tone="bad">
            {c.error ? describeError(new ApiError(c.error.status, c.error.code, c.error.message, c.error.details)) : ""}
          </Note>
          <Note>{whatToDo(c)}</Note>
          {s.blocked > 0 && <Note tone="muted">Changes made after it in the same visit or task wait until you decide.</Note>}
          <Btn
            label="Discard"
            name={`Discard ${c.label}`}
            kind="danger"
            onPress={async () => {
              await outbox.discard(c.key);
              if (c.kind === "punchIn" && shift && shift.chain === c.chain) await field.clear();
              sync.kick();
            }}
          />
        </View>
      ))}
    </View>
  );
}

export function Screen({ title, children, onBack }: { title: string; children: ReactNode; onBack?: () => void }) {
  return (
    <View style={styles.screen}>
      <View style={styles.top}>
        {onBack ? <Btn label="‹ Back" name="Back" kind="plain" onPress={onBack} /> : null}
        <H>{title}</H>
      </View>
      <SyncBar />
      <ScrollView contentContainerStyle={styles.body}>{children}</ScrollView>
    </View>
  );
}

export const styles = StyleSheet.create({
  screen: { flex: 1, backgroundColor: colors.bg },
  top: { flexDirection: "row", alignItems: "center", gap: 8, paddingHorizontal: 12, paddingTop: 12 },
  h: { fontSize: 20, fontWeight: "700", color: colors.ink, flexShrink: 1 },
  body: { padding: 12, gap: 10 },
  btn: { paddingVertical: 12, paddingHorizontal: 14, borderRadius: 8, borderWidth: 1, borderColor: colors.line, backgroundColor: "#fff", alignItems: "center" },
  btnPrimary: { backgroundColor: colors.brand, borderColor: colors.brand },
  btnDanger: { backgroundColor: colors.bad, borderColor: colors.bad },
  btnDisabled: { opacity: 0.5 },
  btnText: { color: colors.ink, fontSize: 16, fontWeight: "600" },
  btnTextOn: { color: "#fff" },
  note: { color: colors.ink, fontSize: 14 },
  sync: { marginHorizontal: 12, marginTop: 8, padding: 8, borderRadius: 8, backgroundColor: "#e8eef5", gap: 6 },
  syncText: { color: colors.ink, fontSize: 13, fontWeight: "600" },
  rejected: { borderLeftWidth: 4, borderLeftColor: colors.bad, paddingLeft: 8, gap: 4, backgroundColor: "#fff", padding: 8, borderRadius: 6 },
  rejTitle: { fontWeight: "700", color: colors.bad },
  card: { backgroundColor: "#fff", borderRadius: 8, borderWidth: 1, borderColor: colors.line, padding: 12, gap: 6 },
  row: { flexDirection: "row", gap: 8, flexWrap: "wrap" },
  input: { borderWidth: 1, borderColor: colors.line, borderRadius: 8, padding: 10, fontSize: 16, backgroundColor: "#fff" },
  label: { fontSize: 14, color: colors.muted },
  strong: { fontSize: 16, fontWeight: "600", color: colors.ink },
});

/**
 * Loads something for a screen: the value or the error sentence, and reload(). State is only set
 * in the promise's callbacks (never synchronously in the effect) and not after unmount.
 */
export function useLoad<T>(fn: () => Promise<T>): { data: T | null; error: string | null; reload: () => void } {
  const [state, setState] = useState<{ data: T | null; error: string | null }>({ data: null, error: null });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    fn().then(
      (data) => live && setState({ data, error: null }),
      (e) => live && setState((s) => ({ data: s.data, error: errorText(e) })),
    );
    return () => {
      live = false;
    };
  }, [fn, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}
