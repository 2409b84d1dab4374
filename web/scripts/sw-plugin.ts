// SPDX-License-Identifier: MIT
// Vite plugin: emits dist/sw.js from src/sw-template.js with the build's file list and a version
// derived from it, so every deploy installs a fresh app-shell cache and drops the old one.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Plugin } from "vite";
import { API_DOCS_ASSETS } from "./api-docs-plugin.ts";

export function serviceWorker(): Plugin {
  return {
    name: "dtm-service-worker",
    apply: "build",
    generateBundle(_opts, bundle) {
      const files = Object.keys(bundle)
        .filter((f) => /\.(js|css|svg|png|webmanifest)$/.test(f) && !f.endsWith(".map"))
        .filter((f) => !f.startsWith(API_DOCS_ASSETS)) // the API reference is not the field app
        .sort();
      const shell = ["/", "/manifest.webmanifest", "/icons/icon.svg", "/icons/icon-192.png", "/icons/icon-512.png"];
      const precache = [...shell, ...files.map((f) => "/" + f)];
      const version = createHash("sha256").update(precache.join("\n")).digest("hex").slice(0, 12);
      const template = readFileSync(fileURLToPath(new URL("../src/sw-template.js", import.meta.url)), "utf8");
      const source = template
        .replace("__VERSION__", JSON.stringify(version))
        .replace("__PRECACHE__", JSON.stringify([...new Set(precache)]));
      this.emitFile({ type: "asset", fileName: "sw.js", source });
    },
  };
}
