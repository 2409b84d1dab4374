// SPDX-License-Identifier: MIT
// The screens on the real services (outbox, sync engine, cache on SQLite), with a fake transport:
// sign-in and today's route order; an offline punch-in with location accuracy and photo that waits
// in the queue and goes once online; a refused punch-in shown with what to do, its dependents
// stopped, and discarded; a checklist tick shown at once and sent with its capture time.
import { fireEvent, render, screen, waitFor } from "@testing-library/react-native";
import { memoryStorage } from "@dtm/api-client";
import { View, Text } from "react-native";
import { useEffect } from "react";
import { testDb } from "../test/sqlDb";
import { FakeApi, storeA } from "../test/fakeApi";
import { createServices, type CameraProps, type Services } from "../services";
import { Root } from "../Root";

function FakeCamera({ onReady }: CameraProps) {
  useEffect(() => onReady(async () => ({ mime: "image/jpeg", base64: "/9j/4AAQSkZJRg==" })), [onReady]);
  return (
    <View aria-label="Camera">
      <Text>camera</Text>
    </View>
  );
}

let api: FakeApi;
let services: Services;
let n = 0;

beforeEach(async () => {
  api = new FakeApi();
  services = await createServices({
    db: await testDb(),
    storage: memoryStorage(),
    fetch: api.fetch,
    newId: () => `id-${++n}`,
    photoPart: async (p) => new Blob([p.base64], { type: p.mime }), // Jest has the WHATWG FormData
    locate: async () => ({ latitude: 48.85662, longitude: 2.35223, accuracyM: 12 }),
    Camera: FakeCamera,
    syncDelayMs: 60000,
  });
});
afterEach(async () => {
  services.sync.stop();
  await services.api.logout(); // also stops the token renewal timer
});

async function signIn() {
  await render(<Root services={services} />);
  await fireEvent.changeText(await screen.findByLabelText("Email"), "mia@example.com");
  await fireEvent.changeText(screen.getByLabelText("Password"), "secret-pass");
  await fireEvent.press(screen.getByRole("button", { name: "Sign in" }));
  await screen.findByText("Today · Mia");
  await waitFor(() => expect(screen.getByLabelText("Sync status").props.children).toMatch(/synced at/));
}

async function punchInAtAlpha() {
  await fireEvent.press(await screen.findByRole("button", { name: "Open Alpha Market" }));
  await fireEvent.press(screen.getByRole("button", { name: "Punch in here" }));
  await screen.findByText("Accuracy ±12 m");
  expect(screen.getByText(/m from the store \(allowed: 100 m\) · in range/)).toBeTruthy();
  await fireEvent.press(screen.getByRole("button", { name: "Take photo" }));
  await screen.findByLabelText("Punch-in photo");
  await fireEvent.press(screen.getByRole("button", { name: "Punch in" }));
  await screen.findByText("Punched in at " + new Date(services.field.current!.punchInAt).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" }));
}

test("wrong password is said in words; then today's visits come in route order", async () => {
  await render(<Root services={services} />);
  await fireEvent.changeText(await screen.findByLabelText("Email"), "mia@example.com");
  await fireEvent.changeText(screen.getByLabelText("Password"), "nope");
  await fireEvent.press(screen.getByRole("button", { name: "Sign in" }));
  await screen.findByText("Wrong email or password.");
  await fireEvent.changeText(screen.getByLabelText("Password"), "secret-pass");
  await fireEvent.press(screen.getByRole("button", { name: "Sign in" }));
  await screen.findByLabelText("Visit 1: Beta Foods");
  expect(screen.getAllByLabelText(/^Visit \d/).map((i) => i.props["aria-label"] ?? i.props.accessibilityLabel)).toEqual(["Visit 1: Beta Foods", "Visit 2: Alpha Market"]);
  await waitFor(() => expect(screen.getByLabelText("Sync status").props.children).toMatch(/^All changes synced · synced at/));
});

test("offline punch-in with accuracy and photo waits in the queue, then is sent once with its key", async () => {
  await signIn();
  api.online = false;
  services.sync.setOnline(false);
  await punchInAtAlpha();
  await waitFor(() => expect(screen.getByLabelText("Sync status").props.children).toMatch(/^1 change waiting · offline/));
  expect(api.writes()).toHaveLength(0);
  api.online = true;
  services.sync.setOnline(true);
  await waitFor(() => expect(screen.getByLabelText("Sync status").props.children).toMatch(/^All changes synced/), { timeout: 3000 }).catch((e) => {
    throw new Error(`${e.message} lastError=${JSON.stringify(services.sync.current.lastError)} fetch=${api.errors.join("; ")}`);
  });
  const w = api.writes();
  expect(w).toHaveLength(1);
  expect(w[0].path).toBe("/api/attendance/punch-in");
  expect(w[0].headers["Idempotency-Key"]).toMatch(/^id-/);
  expect(w[0].body).toBeInstanceOf(FormData); // multipart with the photo
  await screen.findByText(/accepted by the server/);
});

test("a refused punch-in is shown with what to do; its break waits; discard clears the visit", async () => {
  await signIn();
  api.refusePunchIn = true;
  services.sync.setOnline(false);
  await punchInAtAlpha();
  await fireEvent.press(screen.getByRole("button", { name: "Start coffee break" }));
  services.sync.setOnline(true);
  const alert = await screen.findByLabelText(`Rejected: Punch-in at ${storeA.name}`);
  expect(alert).toBeTruthy();
  expect(screen.getByText(/discard this punch-in and punch in again there/)).toBeTruthy();
  // The default normalizer turns the no-break spaces into spaces.
  expect(screen.getByText(/You are 850 m from the store; punching in is allowed within 100 m/)).toBeTruthy();
  expect(screen.getByText(/wait until you decide/)).toBeTruthy();
  expect(api.writes().map((x) => x.path)).toEqual(["/api/attendance/punch-in"]); // the break was not sent
  await fireEvent.press(screen.getByRole("button", { name: `Discard Punch-in at ${storeA.name}` }));
  await waitFor(() => expect(screen.queryByLabelText(`Rejected: Punch-in at ${storeA.name}`)).toBeNull());
  expect(services.field.current).toBeNull();
  expect(await services.outbox.waiting()).toEqual([]);
});

test("a checklist tick shows at once and is sent with its capture time", async () => {
  await signIn();
  await fireEvent.press(await screen.findByRole("button", { name: "Open Alpha Market" }));
  await fireEvent.press(screen.getByRole("button", { name: "Tasks at this store" }));
  const box = await screen.findByRole("checkbox", { name: "Front row faced" });
  expect(box).not.toBeChecked();
  services.sync.setOnline(false);
  await fireEvent.press(box);
  await waitFor(() => expect(screen.getByRole("checkbox", { name: "Front row faced" })).toBeChecked());
  services.sync.setOnline(true);
  await waitFor(() => expect(api.writes()).toHaveLength(1));
  const w = api.writes()[0];
  expect(w.path).toBe("/api/todos/t1/checklist/i1");
  expect(w.body).toMatchObject({ done: true });
  expect(Date.parse((w.body as { capturedAt: string }).capturedAt)).toBeLessThanOrEqual(Date.now());
});
