// SPDX-License-Identifier: MIT
// The login page: part of the initial bundle, so it stays small.
import { useState, type FormEvent } from "react";
import { api, MfaRequired } from "../api/client";
import { describeError } from "../api/errors";
import { RecoveryCodes, TotpEnrolment } from "../components/mfa";

export function Login() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [mfa, setMfa] = useState<MfaRequired | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.login(email.trim(), password);
    } catch (err) {
      if (err instanceof MfaRequired) setMfa(err);
      else setError(describeError(err));
      setBusy(false);
    }
  };

  if (mfa) return <main className="login-page">{mfa.enroll ? <Enrol token={mfa.token} /> : <SecondFactor token={mfa.token} />}</main>;

  return (
    <main className="login-page">
      <form className="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <div className="brand brand-lg" aria-hidden="true">
          <img src="/icons/icon.svg" alt="" width="40" height="40" /> dtm
        </div>
        <h1 id="login-title">Sign in</h1>
        <p className="muted">Field force tracking for retail merchandising.</p>
        <label className="field">
          <span>Email</span>
          <input
            type="email"
            name="email"
            autoComplete="username"
            inputMode="email"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </label>
        <label className="field">
          <span>Password</span>
          <input
            type="password"
            name="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && (
          <div className="notice notice-error" role="alert">
            {error}
          </div>
        )}
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

/** The login's second step: the authenticator's code, or one of the recovery codes. */
function SecondFactor({ token }: { token: string }) {
  const [code, setCode] = useState("");
  const [recovery, setRecovery] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.verifyMfa(token, recovery ? { recoveryCode: code.trim() } : { code: code.trim() });
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  };
  return (
    <form className="card login-card" onSubmit={submit} aria-labelledby="mfa-title">
      <h1 id="mfa-title">Two-factor sign-in</h1>
      <label className="field">
        <span>{recovery ? "Recovery code" : "Code from your authenticator app"}</span>
        <input
          name="code"
          autoComplete="one-time-code"
          inputMode={recovery ? "text" : "numeric"}
          pattern={recovery ? undefined : "[0-9]{6}"}
          required
          autoFocus
          value={code}
          onChange={(e) => setCode(e.target.value)}
        />
      </label>
      {error && (
        <div className="notice notice-error" role="alert">
          {error}
        </div>
      )}
      <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
        Verify
      </button>
      <button type="button" className="btn btn-link" onClick={() => setRecovery(!recovery)}>
        {recovery ? "Use the authenticator code" : "Use a recovery code"}
      </button>
    </form>
  );
}

/** A role that must use two-factor sign-in sets it up before its first sign-in. */
function Enrol({ token }: { token: string }) {
  const [codes, setCodes] = useState<string[] | null>(null);
  if (codes)
    return (
      <div className="card login-card">
        <h1>Save your recovery codes</h1>
        <RecoveryCodes codes={codes} />
        <button type="button" className="btn btn-primary btn-block" onClick={() => api.signedIn()}>
          Continue
        </button>
      </div>
    );
  return (
    <div className="card login-card">
      <h1>Set up two-factor sign-in</h1>
      <p className="muted">Your role requires a second factor.</p>
      <TotpEnrolment start={() => api.enrolStart(token)} confirm={(code) => api.enrolConfirm(token, code)} onDone={setCodes} />
    </div>
  );
}
