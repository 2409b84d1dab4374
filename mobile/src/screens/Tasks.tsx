// SPDX-License-Identifier: MIT
// Tasks at a store with their checklists; a tick is a queued change (shown ticked at once, sent
// when online, with the time it was ticked).
import { useCallback, useState } from "react";
import { Pressable, Text, View } from "react-native";
import type { Page, Todo } from "@dtm/api-client";
import { cachedGet } from "../offline/cache";
import { useServices, useWaiting } from "../services";
import { useNav } from "../nav";
import { withPendingTicks } from "../field";
import { errorText, hhmm, Note, Screen, styles, colors, useLoad } from "../ui";

export function Tasks({ storeId }: { storeId: string }) {
  const { db, api, field } = useServices();
  const nav = useNav();
  const waiting = useWaiting();
  const fetchTodos = useCallback(() => cachedGet<Page<Todo>>(db, api, "/api/todos", { storeId, limit: 100, sort: "dueAt" }), [db, api, storeId]);
  const loaded = useLoad(fetchTodos);
  const [tickError, setError] = useState<string | null>(null);
  const todos = loaded.data ? loaded.data.data.items.filter((t) => t.status !== "cancelled") : null;
  const asOf = loaded.data && loaded.data.fromCache ? loaded.data.fetchedAt : null;
  const error = tickError ?? loaded.error;
  return (
    <Screen title="Tasks" onBack={nav.back}>
      {asOf && <Note tone="muted">Offline: tasks as of {hhmm(asOf)}.</Note>}
      {error && <Note tone="bad">{error}</Note>}
      {todos && todos.length === 0 && <Note>No tasks at this store.</Note>}
      {todos?.map((raw) => {
        const t = withPendingTicks(raw, waiting);
        return (
          <View key={t.id} style={styles.card} role="listitem" aria-label={`Task ${t.title}`}>
            <Text style={styles.strong}>{t.title}</Text>
            <Note tone="muted">
              {t.priority} · {t.status.replace("_", " ")}
              {t.dueAt ? ` · due ${new Date(t.dueAt).toLocaleString("en-GB", { dateStyle: "short", timeStyle: "short" })}` : ""}
            </Note>
            {t.description ? <Note>{t.description}</Note> : null}
            {t.checklist.map((i) => (
              <Pressable
                key={i.id}
                role="checkbox"
                aria-checked={i.done}
                aria-label={i.text}
                onPress={async () => {
                  try {
                    await field.tick(raw, i.id, !i.done);
                  } catch (e) {
                    setError(errorText(e));
                  }
                }}
                style={{ flexDirection: "row", gap: 8, alignItems: "center", paddingVertical: 6 }}
              >
                <View style={{ width: 22, height: 22, borderRadius: 4, borderWidth: 2, borderColor: colors.brand, backgroundColor: i.done ? colors.brand : "#fff" }} />
                <Text style={[styles.note, i.done && { textDecorationLine: "line-through", color: colors.muted }]}>{i.text}</Text>
              </Pressable>
            ))}
          </View>
        );
      })}
    </Screen>
  );
}
