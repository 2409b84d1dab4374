// SPDX-License-Identifier: MIT
// NetInfo's own Jest mock (its native module does not exist under Jest).
/* global jest */
jest.mock("@react-native-community/netinfo", () => require("@react-native-community/netinfo/jest/netinfo-mock.js"));
