// SPDX-License-Identifier: MIT
// The web client's API: the shared client (packages/api-client) with the browser's localStorage and
// navigator.locks, as one instance for the whole app.
import { ApiClient } from "@dtm/api-client";

export * from "@dtm/api-client/client";

export const api = new ApiClient();
