// SPDX-License-Identifier: MIT
import { fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, REFRESH_KEY } from "../api/client";
import { App } from "../App";
import { apiError, json, mockFetch, sampleUser, tokenPair } from "../test/fetchMock";

afterEach(async () => {
  vi.stubGlobal("fetch", mockFetch({ "POST /api/auth/logout": () => new Response(null, { status: 204 }) }).fn);
  await api.logout();
  vi.unstubAllGlobals();
  window.history.replaceState(null, "", "/");
});

function signIn() {
  fireEvent.change(screen.getByLabelText("Email"), { target: { value: "m@example.com" } });
  fireEvent.change(screen.getByLabelText("Password"), { target: { value: "secret-secret" } });
  fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
}

describe("Login with two-factor sign-in", () => {
  it("asks for the code after the password, shows a wrong code's error, then signs in", async () => {
    let tries = 0;
    const f = mockFetch({
      "POST /api/auth/login": () => json(200, { mfaRequired: true, mfaToken: "mfa-1", expiresIn: 300 }),
      "POST /api/auth/mfa/verify": () => (++tries === 1 ? apiError(401, "invalid_code", "The code is wrong") : json(200, tokenPair(1, sampleUser))),
    });
    vi.stubGlobal("fetch", f.fn);
    render(<App />);
    signIn();
    const code = await screen.findByLabelText("Code from your authenticator app");
    expect(localStorage.getItem(REFRESH_KEY)).toBeNull();
    fireEvent.change(code, { target: { value: "123456" } });
    fireEvent.click(screen.getByRole("button", { name: "Verify" }));
    expect(await screen.findByRole("alert")).toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: "Verify" }));
    expect(await screen.findByRole("navigation", { name: "Main" }, { timeout: 5000 })).toBeInTheDocument();
    const verify = f.calls.filter((c) => c.path === "/api/auth/mfa/verify");
    expect(verify.length).toBe(2);
    expect(localStorage.getItem(REFRESH_KEY)).not.toBeNull();
  });

  it("a required enrolment shows the QR code, confirms, shows the recovery codes, then signs in", async () => {
    const f = mockFetch({
      "POST /api/auth/login": () => json(200, { mfaRequired: true, mfaEnrollmentRequired: true, mfaToken: "mfa-2", expiresIn: 300 }),
      "POST /api/auth/mfa/enroll": () => json(200, { secret: "JBSWY3DPEHPK3PXP", otpauthUri: "otpauth://totp/dtm:m", qrSvg: "<svg xmlns='http://www.w3.org/2000/svg'/>" }),
      "POST /api/auth/mfa/enroll/confirm": () => json(200, { ...tokenPair(1, sampleUser), recoveryCodes: ["aaaa-bbbb-cccc-dddd", "eeee-ffff-gggg-hhhh"] }),
    });
    vi.stubGlobal("fetch", f.fn);
    render(<App />);
    signIn();
    expect(await screen.findByTestId("totp-secret")).toHaveTextContent("JBSWY3DPEHPK3PXP");
    expect(screen.getByAltText("QR code of the authenticator key")).toBeInTheDocument();
    fireEvent.change(screen.getByLabelText("Code"), { target: { value: "654321" } });
    fireEvent.click(screen.getByRole("button", { name: "Turn on" }));
    expect(await screen.findByText("aaaa-bbbb-cccc-dddd")).toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    expect(await screen.findByRole("navigation", { name: "Main" }, { timeout: 5000 })).toBeInTheDocument();
  });
});
