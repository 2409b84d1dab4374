// SPDX-License-Identifier: MIT
// Vite build of the dtm web client. The app is served by the dtm gateway at "/" (history fallback),
// so the dev server proxies /api to a running dtm (DTM_DEV_API, default http://127.0.0.1:3000).
import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";
import { serviceWorker } from "./scripts/sw-plugin.ts";
import { apiDocs } from "./scripts/api-docs-plugin.ts";

export default defineConfig({
  plugins: [react(), apiDocs(), serviceWorker()],
  build: {
    outDir: "dist",
    target: "es2022",
    sourcemap: false,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 300,
  },
  server: {
    port: 47173,
    strictPort: true,
    proxy: {
      "/api": { target: process.env.DTM_DEV_API ?? "http://127.0.0.1:3000", changeOrigin: false },
    },
  },
  test: {
    environment: "happy-dom",
    setupFiles: ["./vitest.setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
  },
});
