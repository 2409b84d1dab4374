// SPDX-License-Identifier: MIT
import { registerRootComponent } from "expo";
import App from "./src/App";

registerRootComponent(App);
