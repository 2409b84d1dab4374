// SPDX-License-Identifier: MIT
// The signed-in application: header, role-based navigation and the routes (each page is its own chunk).
import { lazy, Suspense, useEffect, useRef, useState, type ComponentType, type LazyExoticComponent } from "react";
import { api } from "./api/client";
import type { Role, User } from "./api/types";
import Bell from "./components/Bell";
import { Loading } from "./components/ui";
import { fullName, label } from "./lib/format";
import { Link, matchPath, navigate, useLocation } from "./router";

const Today = lazy(() => import("./pages/Today"));
const Dashboard = lazy(() => import("./pages/Dashboard"));
const Team = lazy(() => import("./pages/Team"));
const Tasks = lazy(() => import("./pages/Tasks"));
const TaskDetail = lazy(() => import("./pages/TaskDetail"));
const Stores = lazy(() => import("./pages/Stores"));
const Reports = lazy(() => import("./pages/Reports"));
const Users = lazy(() => import("./pages/Users"));
const Account = lazy(() => import("./pages/Account"));
const Audits = lazy(() => import("./pages/Audits"));
const AuditDetail = lazy(() => import("./pages/AuditDetail"));
const Approvals = lazy(() => import("./pages/Approvals"));

export interface PageProps {
  user: User;
  params: Record<string, string>;
}

interface Route {
  path: string;
  page: LazyExoticComponent<ComponentType<PageProps>>;
  roles: Role[];
  nav?: string;
}

const ALL: Role[] = ["admin", "manager", "merchandiser"];
const STAFF: Role[] = ["admin", "manager"];

const ROUTES: Route[] = [
  { path: "/", page: Today, roles: ["merchandiser"], nav: "Today" },
  { path: "/", page: Dashboard, roles: STAFF, nav: "Dashboard" },
  { path: "/team", page: Team, roles: STAFF, nav: "Team" },
  { path: "/tasks", page: Tasks, roles: ALL, nav: "Tasks" },
  { path: "/tasks/:id", page: TaskDetail, roles: ALL },
  { path: "/stores", page: Stores, roles: STAFF, nav: "Stores" },
  { path: "/reports", page: Reports, roles: STAFF, nav: "Reports" },
  { path: "/audits", page: Audits, roles: STAFF, nav: "Audits" },
  { path: "/audits/:id", page: AuditDetail, roles: ALL },
  { path: "/approvals", page: Approvals, roles: ALL, nav: "Approvals" },
  { path: "/users", page: Users, roles: ["admin"], nav: "Users" },
  { path: "/account", page: Account, roles: ALL, nav: "Account" },
];

export default function Shell({ user }: { user: User }) {
  const loc = useLocation();
  const path = loc.split("?")[0];
  const [busy, setBusy] = useState(false);
  const routes = ROUTES.filter((r) => r.roles.includes(user.role));
  let match: { route: Route; params: Record<string, string> } | null = null;
  for (const r of routes) {
    const params = matchPath(r.path, path);
    if (params) {
      match = { route: r, params };
      break;
    }
  }
  // On navigation: a title per page, and focus to the content so screen readers start there.
  const title = match?.route.nav ?? (match ? (match.route.path.startsWith("/audits") ? "Audit" : "Task") : "Not found");
  const first = useRef(true);
  useEffect(() => {
    document.title = `${title} · dtm`;
    if (first.current) {
      first.current = false;
      return;
    }
    document.getElementById("main")?.focus({ preventScroll: true });
  }, [path, title]);

  const isActive = (p: string) => (p === "/" ? path === "/" : path === p || path.startsWith(p + "/"));

  const logout = async () => {
    setBusy(true);
    await api.logout();
    navigate("/", { replace: true });
  };

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link href="/" className="brand" aria-label="dtm home">
          <img src="/icons/icon.svg" alt="" width="28" height="28" /> dtm
        </Link>
        <nav className="mainnav" aria-label="Main">
          {routes
            .filter((r) => r.nav)
            .map((r) => (
              <Link key={r.nav} href={r.path} aria-current={isActive(r.path) ? "page" : undefined}>
                {r.nav}
              </Link>
            ))}
        </nav>
        <div className="userbox">
          <Bell />
          <span className="who" title={user.email}>
            {fullName(user)} <small>{label(user.role)}</small>
          </span>
          <button type="button" className="btn btn-small" onClick={logout} disabled={busy}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading />}>
          {match ? (
            <match.route.page user={user} params={match.params} />
          ) : (
            <div className="state state-empty">
              <h1>Page not found</h1>
              <p>
                <Link href="/">Go to the start page</Link>
              </p>
            </div>
          )}
        </Suspense>
      </main>
    </div>
  );
}
