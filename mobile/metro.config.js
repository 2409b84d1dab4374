// SPDX-License-Identifier: MIT
// Metro for the app: the shared API client lives outside mobile/ (packages/api-client, linked with
// file:), and expo-sqlite's web build needs its .wasm as an asset and a cross-origin-isolated page
// (SharedArrayBuffer), hence the COOP/COEP headers on the dev server.
const path = require("node:path");
const { getDefaultConfig } = require("expo/metro-config");

const config = getDefaultConfig(__dirname);
config.watchFolders = [path.resolve(__dirname, "../packages")];
config.resolver.nodeModulesPaths = [path.resolve(__dirname, "node_modules")];
config.resolver.assetExts.push("wasm");
config.server.enhanceMiddleware = (middleware) => (req, res, next) => {
  res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
  res.setHeader("Cross-Origin-Embedder-Policy", "require-corp");
  return middleware(req, res, next);
};
module.exports = config;
