// SPDX-License-Identifier: MIT
// Where the API client keeps the refresh token on a phone: expo-sqlite's key-value store (its
// synchronous calls match the client's Storage interface).
import KV from "expo-sqlite/kv-store";
import type { Storage } from "@dtm/api-client";

export function sessionStorage(): Storage {
  return {
    getItem: (k) => KV.getItemSync(k),
    setItem: (k, v) => KV.setItemSync(k, v),
    removeItem: (k) => void KV.removeItemSync(k),
  };
}
