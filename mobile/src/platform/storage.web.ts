// SPDX-License-Identifier: MIT
// In a browser the refresh token lives in localStorage, as in the web client.
import type { Storage } from "@dtm/api-client";

export function sessionStorage(): Storage {
  return globalThis.localStorage;
}
