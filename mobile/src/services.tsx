// SPDX-License-Identifier: MIT
// Everything the screens use, built once at start and handed down through a context (tests build
// the same objects on a test database and a fake transport).
import { createContext, useContext, useEffect, useState, type ComponentType } from "react";
import { AppState } from "react-native";
import NetInfo from "@react-native-community/netinfo";
import { ApiClient, type Storage } from "@dtm/api-client";
import { migrate, type Db } from "./offline/db";
import { Outbox, type Change } from "./offline/queue";
import { apiSender, SyncEngine, type PhotoPart, type SyncStatus } from "./offline/sync";
import { Field, type Position, type Shift } from "./field";

/** A camera view: shows the preview and hands back a photo when asked. */
export interface CameraProps {
  onReady: (take: () => Promise<{ mime: string; base64: string } | null>) => void;
}

export interface Services {
  db: Db;
  api: ApiClient;
  outbox: Outbox;
  sync: SyncEngine;
  field: Field;
  locate: () => Promise<Position>;
  Camera: ComponentType<CameraProps>;
}

export interface ServiceDeps {
  db: Db;
  storage: Storage;
  baseUrl?: string;
  fetch?: typeof fetch;
  newId: () => string;
  photoPart: PhotoPart;
  locate: () => Promise<Position>;
  Camera: ComponentType<CameraProps>;
  syncDelayMs?: number;
}

export async function createServices(d: ServiceDeps): Promise<Services> {
  await migrate(d.db);
  const api = new ApiClient({ baseUrl: d.baseUrl ?? "", fetch: d.fetch, storage: d.storage, locks: null });
  const outbox = new Outbox(d.db, d.newId);
  const sync = new SyncEngine(outbox, apiSender(api, d.photoPart), d.db, { baseDelayMs: d.syncDelayMs ?? 1000 });
  const field = new Field(d.db, outbox, d.newId);
  await field.load();
  return { db: d.db, api, outbox, sync, field, locate: d.locate, Camera: d.Camera };
}

/** Foreground and connectivity triggers for the sync engine (React Native's AppState, NetInfo). */
export function watchDevice(sync: SyncEngine): () => void {
  const subs: (() => void)[] = [];
  const app = AppState.addEventListener("change", (s) => {
    if (s === "active") sync.foreground();
  });
  subs.push(() => app.remove());
  subs.push(
    NetInfo.addEventListener((st) => {
      sync.setOnline(st.isConnected !== false);
    }),
  );
  return () => subs.forEach((f) => f());
}

const Ctx = createContext<Services | null>(null);
export const ServicesProvider = Ctx.Provider;

export function useServices(): Services {
  const s = useContext(Ctx);
  if (!s) throw new Error("useServices outside ServicesProvider");
  return s;
}

export function useSyncStatus(): SyncStatus {
  const { sync } = useServices();
  const [s, setS] = useState<SyncStatus>(sync.current);
  useEffect(() => sync.subscribe(setS), [sync]);
  return s;
}

export function useShift(): Shift | null {
  const { field } = useServices();
  const [s, setS] = useState<Shift | null>(field.current);
  useEffect(() => field.subscribe(setS), [field]);
  return s;
}

/** The changes still waiting (re-read whenever the queue changes). */
export function useWaiting(): Change[] {
  const { outbox } = useServices();
  const [w, setW] = useState<Change[]>([]);
  useEffect(() => {
    let live = true;
    const load = () => void outbox.waiting().then((x) => live && setW(x));
    load();
    const off = outbox.onChange(load);
    return () => {
      live = false;
      off();
    };
  }, [outbox]);
  return w;
}
