// SPDX-License-Identifier: MIT
export * from "@dtm/api-client/types";
