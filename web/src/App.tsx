// SPDX-License-Identifier: MIT
// Session gate: restores the session from the stored refresh token, shows the login page when there
// is none, and loads the signed-in shell (a separate chunk) otherwise.
import { lazy, Suspense, useEffect, useState } from "react";
import { api } from "./api/client";
import type { User } from "./api/types";
import { ErrorBox, Loading } from "./components/ui";
import { Login } from "./pages/Login";

const Shell = lazy(() => import("./Shell"));

type State = { kind: "restoring" } | { kind: "anon" } | { kind: "user"; user: User } | { kind: "error"; error: unknown };

export function App() {
  const [state, setState] = useState<State>(() =>
    api.hasStoredSession() ? { kind: "restoring" } : { kind: "anon" },
  );
  const [attempt, setAttempt] = useState(0);

  useEffect(() => api.onSession((u) => setState(u ? { kind: "user", user: u } : { kind: "anon" })), []);

  useEffect(() => {
    if (!api.hasStoredSession() || api.user) return;
    let live = true;
    api
      .restore()
      .then((u) => {
        if (live && !u) setState({ kind: "anon" });
      })
      .catch((e: unknown) => {
        if (live) setState({ kind: "error", error: e });
      });
    return () => {
      live = false;
    };
  }, [attempt]);

  switch (state.kind) {
    case "restoring":
      return (
        <main className="center-page">
          <Loading text="Signing you in…" />
        </main>
      );
    case "error":
      return (
        <main className="center-page">
          <ErrorBox
            error={state.error}
            onRetry={() => {
              setState({ kind: "restoring" });
              setAttempt((a) => a + 1);
            }}
          />
        </main>
      );
    case "anon":
      return <Login />;
    case "user":
      return (
        <Suspense
          fallback={
            <main className="center-page">
              <Loading />
            </main>
          }
        >
          <Shell user={state.user} />
        </Suspense>
      );
  }
}
