// SPDX-License-Identifier: MIT
// TOTP enrolment (QR code, secret, confirmation) and the recovery codes, shared by the login's
// enrolment step and the Account page.
import { useEffect, useState, type FormEvent } from "react";
import { describeError } from "../api/errors";
import type { TotpSetup } from "../api/types";
import { Loading, Notice } from "./ui";

export function RecoveryCodes({ codes }: { codes: string[] }) {
  return (
    <div>
      <p>Each code signs you in once if you lose your authenticator. They are shown only now: keep them somewhere safe.</p>
      <ul className="recovery-codes" aria-label="Recovery codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Scan (or type) the secret, then confirm with the first code; onDone gets the recovery codes. */
export function TotpEnrolment({
  start,
  confirm,
  onDone,
}: {
  start: () => Promise<TotpSetup>;
  confirm: (code: string) => Promise<string[]>;
  onDone: (codes: string[]) => void;
}) {
  const [setup, setSetup] = useState<TotpSetup | null>(null);
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    start().then(
      (s) => live && setSetup(s),
      (e) => live && setError(describeError(e))
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- one setup per mount
  }, []);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onDone(await confirm(code.trim()));
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  };
  if (!setup) return error ? <Notice kind="error">{error}</Notice> : <Loading />;
  return (
    <form onSubmit={submit} className="totp-enrol">
      <p>Scan this code with an authenticator app (or enter the key by hand), then type the 6-digit code it shows.</p>
      <img className="qr" src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(setup.qrSvg)}`} alt="QR code of the authenticator key" width="200" height="200" />
      <p>
        Key: <code data-testid="totp-secret">{setup.secret}</code>
      </p>
      <label className="field">
        <span>Code</span>
        <input name="code" autoComplete="one-time-code" inputMode="numeric" pattern="[0-9]{6}" required value={code} onChange={(e) => setCode(e.target.value)} />
      </label>
      {error && <Notice kind="error">{error}</Notice>}
      <button type="submit" className="btn btn-primary" disabled={busy}>
        Turn on
      </button>
    </form>
  );
}
