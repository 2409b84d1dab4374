// SPDX-License-Identifier: MIT
// A small stack navigator (the app has few screens and no deep links).
import { createContext, useContext } from "react";
import type { AuditTemplate, Store } from "@dtm/api-client";

export type Route =
  | { name: "today" }
  | { name: "store"; store: Store }
  | { name: "punchIn"; store: Store }
  | { name: "visit" }
  | { name: "tasks"; storeId: string }
  | { name: "audits" }
  | { name: "audit"; template: AuditTemplate; auditKey: string }
  | { name: "punchOut" };

export interface Nav {
  push: (r: Route) => void;
  back: () => void;
  reset: (r: Route) => void;
  logout: () => void;
}

const Ctx = createContext<Nav | null>(null);
export const NavProvider = Ctx.Provider;
export function useNav(): Nav {
  const n = useContext(Ctx);
  if (!n) throw new Error("useNav outside NavProvider");
  return n;
}
