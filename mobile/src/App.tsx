// SPDX-License-Identifier: MIT
// The entry point: opens the local database, builds the services on the real device APIs, wires
// the sync triggers (foreground, connectivity) and shows the app.
import { useEffect, useState } from "react";
import { Platform, Text, View } from "react-native";
import { StatusBar } from "expo-status-bar";
import { openDatabaseAsync } from "expo-sqlite";
import * as Crypto from "expo-crypto";
import NetInfo from "@react-native-community/netinfo";
import { createServices, watchDevice, type Services } from "./services";
import { sessionStorage } from "./platform/storage";
import { photoPart } from "./platform/photoPart";
import { DeviceCamera, locate } from "./platform/device";
import { Root } from "./Root";

// The server: same origin in a browser; on a phone, the address given at build time.
const API_URL = Platform.OS === "web" ? "" : (process.env.EXPO_PUBLIC_DTM_API_URL ?? "http://127.0.0.1:3000");

export default function App() {
  const [services, setServices] = useState<Services | null>(null);
  const [online, setOnline] = useState(true);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stop: (() => void) | null = null;
    (async () => {
      if (Platform.OS === "web" && typeof navigator !== "undefined" && "serviceWorker" in navigator) {
        // The app shell, its worker and the SQLite wasm stay available offline (dist/sw.js).
        navigator.serviceWorker.register("/sw.js").catch(() => undefined);
      }
      const db = await openDatabaseAsync("dtm.db");
      const s = await createServices({
        db,
        storage: sessionStorage(),
        baseUrl: API_URL,
        newId: () => Crypto.randomUUID(),
        photoPart,
        locate,
        Camera: DeviceCamera,
      });
      const st = await NetInfo.fetch();
      setOnline(st.isConnected !== false);
      stop = watchDevice(s.sync);
      setServices(s);
    })().catch((e) => setError(String(e)));
    return () => {
      stop?.();
    };
  }, []);
  if (error)
    return (
      <View style={{ padding: 24 }}>
        <Text>The app could not start: {error}</Text>
      </View>
    );
  if (!services) return null;
  return (
    <>
      <StatusBar style="dark" />
      <Root services={services} online={online} />
    </>
  );
}
