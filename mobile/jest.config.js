// SPDX-License-Identifier: MIT
// jest-expo (React Native preset) for the app's unit and screen tests. The shared API client is
// TypeScript source outside mobile/ (packages/api-client), so Babel transforms it too.
module.exports = {
  preset: "jest-expo",
  roots: ["<rootDir>/src"],
  // Modules the linked package imports (Babel helpers) resolve from mobile/node_modules.
  modulePaths: ["<rootDir>/node_modules"],
  testMatch: ["**/__tests__/**/*.test.ts?(x)"],
  transformIgnorePatterns: [
    "node_modules/(?!((jest-)?react-native|@react-native(-community)?)|expo(nent)?|@expo(nent)?/.*|@expo-google-fonts/.*|react-navigation|@react-navigation/.*|@sentry/react-native|native-base|react-native-svg|@dtm/.*)",
  ],
};
