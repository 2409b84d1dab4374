// SPDX-License-Identifier: MIT
// The phone's sensors for the screens: position (expo-location) and the camera (expo-camera).
import { useEffect, useRef } from "react";
import { View } from "react-native";
import * as Location from "expo-location";
import { CameraView, useCameraPermissions } from "expo-camera";
import type { Position } from "../field";
import type { CameraProps } from "../services";
import { Btn, Note } from "../ui";

export async function locate(): Promise<Position> {
  const perm = await Location.requestForegroundPermissionsAsync();
  if (perm.status !== "granted") throw new Error("dtm needs your location to punch in. Allow it in the settings.");
  const p = await Location.getCurrentPositionAsync({ accuracy: Location.Accuracy.High });
  return { latitude: p.coords.latitude, longitude: p.coords.longitude, accuracyM: p.coords.accuracy ?? 9999 };
}

/** A base64 photo from takePictureAsync's answer (web gives a data: URI, native the base64). */
export function photoFrom(p: { uri?: string; base64?: string } | undefined): { mime: string; base64: string } | null {
  if (!p) return null;
  const m = p.uri ? /^data:(image\/[a-z]+);base64,(.*)$/s.exec(p.uri) : null;
  if (m) return { mime: m[1], base64: m[2] };
  if (p.base64) return { mime: "image/jpeg", base64: p.base64.replace(/^data:[^,]*,/, "") };
  return null;
}

export function DeviceCamera({ onReady }: CameraProps) {
  const [perm, request] = useCameraPermissions();
  const ref = useRef<CameraView>(null);
  useEffect(() => {
    onReady(async () => photoFrom(await ref.current?.takePictureAsync({ base64: true, quality: 0.5, imageType: "jpg" })));
  }, [onReady]);
  if (!perm) return <Note tone="muted">Starting the camera…</Note>;
  if (!perm.granted) return <Btn label="Allow the camera" kind="plain" onPress={() => void request()} />;
  return (
    <View style={{ height: 220, borderRadius: 6, overflow: "hidden" }} aria-label="Camera">
      <CameraView ref={ref} style={{ flex: 1 }} facing="back" />
    </View>
  );
}
