// SPDX-License-Identifier: MIT
// Vite plugin: the API reference page. Emits dist/api-docs/index.html and Redoc's standalone
// bundle (npm `redoc`, no CDN) as a content-hashed file under dist/assets/api-docs/. The gateway
// answers GET /api/docs with that page (src/http/router.c); Redoc reads /api/openapi.yaml.
// The service worker does not precache these files (sw-plugin.ts): the field app never needs them.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Plugin } from "vite";

export const API_DOCS_ASSETS = "assets/api-docs/";

export function apiDocs(): Plugin {
  return {
    name: "dtm-api-docs",
    apply: "build",
    generateBundle() {
      const require = createRequire(import.meta.url);
      // The bundle's one outside address is the sidebar's "API docs by Redocly" logo, fetched from
      // Redocly's CDN: it becomes an empty inline image (the attribution link stays). Any other
      // CDN address a later Redoc brings fails the build.
      const redoc = readFileSync(require.resolve("redoc/bundles/redoc.standalone.js"), "utf8").replaceAll(
        "https://cdn.redoc.ly/redoc/logo-mini.svg",
        "data:image/svg+xml,%3Csvg%20xmlns%3D%22http%3A%2F%2Fwww.w3.org%2F2000%2Fsvg%22%20width%3D%221%22%20height%3D%221%22%2F%3E",
      );
      const cdn = /https:\/\/cdn\.[^"'`\s]*/.exec(redoc);
      if (cdn) this.error(`redoc.standalone.js loads ${cdn[0]}: serve it locally or drop it`);
      const version = (require("redoc/package.json") as { version: string }).version;
      const hash = createHash("sha256").update(redoc).digest("hex").slice(0, 12);
      const script = `${API_DOCS_ASSETS}redoc.standalone.${hash}.js`;
      this.emitFile({ type: "asset", fileName: script, source: redoc });
      // <redoc spec-url> starts Redoc by itself once the standalone bundle has loaded.
      const page = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="generator" content="redoc ${version}" />
    <title>dtm API reference</title>
    <style>body { margin: 0; padding: 0; }</style>
  </head>
  <body>
    <noscript>The reference needs JavaScript; the document itself is <a href="/api/openapi.yaml">/api/openapi.yaml</a>.</noscript>
    <redoc spec-url="/api/openapi.yaml" hide-hostname="true"></redoc>
    <script src="/${script}"></script>
  </body>
</html>
`;
      this.emitFile({ type: "asset", fileName: "api-docs/index.html", source: page });
    },
  };
}
