// SPDX-License-Identifier: MIT
// @dtm/api-client: the HTTP client of shared/API.md, used by web/ and mobile/.
export * from "./client";
export * from "./errors";
export * from "./types";
