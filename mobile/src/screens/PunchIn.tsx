// SPDX-License-Identifier: MIT
// Punch-in: the position from expo-location with its accuracy, the distance to the store against its
// geofence, a camera photo, then the punch-in goes into the outbox (it is sent when online).
import { useRef, useState } from "react";
import { Image, Text, View } from "react-native";
import type { Store } from "@dtm/api-client";
import { useServices } from "../services";
import { useNav } from "../nav";
import type { Position } from "../field";
import { distanceM } from "../geo";
import { Btn, errorText, Note, Screen, styles, useLoad } from "../ui";

export function PunchIn({ store }: { store: Store }) {
  const { locate, Camera, field } = useServices();
  const nav = useNav();
  const loc = useLoad(locate);
  const pos: Position | null = loc.data;
  const locError = loc.error;
  const [photo, setPhoto] = useState<{ mime: string; base64: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const take = useRef<(() => Promise<{ mime: string; base64: string } | null>) | null>(null);


  const d = pos ? distanceM(pos, store) : null;
  const inRange = d !== null && pos !== null && d <= store.geofenceRadiusM + Math.min(pos.accuracyM, 50);

  const punch = async () => {
    if (!pos) return;
    setBusy(true);
    setError(null);
    try {
      await field.punchIn(store, pos, photo);
      nav.reset({ name: "visit" });
    } catch (e) {
      setError(errorText(e));
      setBusy(false);
    }
  };

  return (
    <Screen title={`Punch in · ${store.name}`} onBack={nav.back}>
      <View style={styles.card} aria-label="Location">
        {pos ? (
          <>
            <Text style={styles.strong}>Accuracy ±{Math.round(pos.accuracyM)} m</Text>
            <Note tone={inRange ? "ok" : "bad"}>
              {Math.round(d ?? 0)} m from the store (allowed: {store.geofenceRadiusM} m){inRange ? " · in range" : " · too far"}
            </Note>
            {pos.accuracyM > 200 && <Note tone="bad">Location not precise enough (must be within 200 m). Go near a window or outside.</Note>}
          </>
        ) : (
          <Note tone="muted">{locError ?? "Finding your location…"}</Note>
        )}
        <Btn label="Locate again" kind="plain" onPress={loc.reload} />
      </View>
      <View style={styles.card} aria-label="Photo">
        {photo ? (
          <>
            <Image accessibilityLabel="Punch-in photo" source={{ uri: `data:${photo.mime};base64,${photo.base64}` }} style={{ width: 160, height: 120, borderRadius: 6 }} />
            <Btn label="Retake photo" kind="plain" onPress={() => setPhoto(null)} />
          </>
        ) : (
          <>
            <Camera onReady={(t) => (take.current = t)} />
            <Btn
              label="Take photo"
              kind="plain"
              onPress={async () => {
                try {
                  const p = take.current ? await take.current() : null;
                  if (p) setPhoto(p);
                  else setError("The camera is not ready yet.");
                } catch (e) {
                  setError(errorText(e));
                }
              }}
            />
          </>
        )}
      </View>
      {!inRange && pos && <Note>You can still punch in; the server decides, and you will be told if it refuses.</Note>}
      {error && <Note tone="bad">{error}</Note>}
      <Btn label={photo ? "Punch in with photo" : "Punch in"} name="Punch in" disabled={!pos || busy} onPress={punch} />
    </Screen>
  );
}
