// SPDX-License-Identifier: MIT
import { afterEach, describe, expect, it, vi } from "vitest";
import { currentPosition, distanceM, GeoError, sortByDistance } from "./geo";

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("distanceM", () => {
  it("matches known great-circle distances", () => {
    // Paris (Notre-Dame) to London (Big Ben): about 341 km
    const d = distanceM({ latitude: 48.853, longitude: 2.3499 }, { latitude: 51.5007, longitude: -0.1246 });
    expect(d / 1000).toBeGreaterThan(338);
    expect(d / 1000).toBeLessThan(345);
    // 0.001° of latitude is ~111 m
    expect(distanceM({ latitude: 0, longitude: 0 }, { latitude: 0.001, longitude: 0 })).toBeCloseTo(111.2, 0);
    expect(distanceM({ latitude: 10, longitude: 20 }, { latitude: 10, longitude: 20 })).toBe(0);
  });

  it("crosses the antimeridian the short way", () => {
    const d = distanceM({ latitude: 0, longitude: 179.999 }, { latitude: 0, longitude: -179.999 });
    expect(d).toBeLessThan(300);
  });
});

describe("sortByDistance", () => {
  const stores = [
    { id: "far", name: "Far", latitude: 48.9, longitude: 2.35 },
    { id: "near", name: "Near", latitude: 48.8567, longitude: 2.3522 },
    { id: "broken", name: "Broken", latitude: Number.NaN, longitude: 2 },
    { id: "mid", name: "Mid", latitude: 48.86, longitude: 2.36 },
  ];

  it("puts the nearest first and places without coordinates last", () => {
    const s = sortByDistance(stores, { latitude: 48.8566, longitude: 2.3522 });
    expect(s.map((x) => x.id)).toEqual(["near", "mid", "far", "broken"]);
    expect(s[0].distanceM).toBeLessThan(20);
    expect(s[3].distanceM).toBeNull();
  });

  it("sorts by name without a position", () => {
    const s = sortByDistance(stores, null);
    expect(s.map((x) => x.id)).toEqual(["broken", "far", "mid", "near"]);
    expect(s.every((x) => x.distanceM === null)).toBe(true);
  });

  it("does not modify its input", () => {
    const copy = stores.map((x) => x.id);
    sortByDistance(stores, { latitude: 0, longitude: 0 });
    expect(stores.map((x) => x.id)).toEqual(copy);
  });
});

describe("currentPosition", () => {
  const stubGeo = (impl: (ok: PositionCallback, err: PositionErrorCallback) => void) =>
    vi.stubGlobal("navigator", { ...navigator, geolocation: { getCurrentPosition: impl } });

  it("resolves with latitude, longitude and a rounded accuracy", async () => {
    stubGeo((ok) => ok({ coords: { latitude: 1.5, longitude: 2.5, accuracy: 12.6 } } as GeolocationPosition));
    await expect(currentPosition()).resolves.toEqual({ latitude: 1.5, longitude: 2.5, accuracyM: 13 });
  });

  it("explains what to do when permission is denied", async () => {
    stubGeo((_ok, err) => err({ code: 1, message: "denied" } as GeolocationPositionError));
    const e = await currentPosition().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GeoError);
    expect((e as GeoError).kind).toBe("denied");
    expect((e as GeoError).message).toMatch(/Allow location for this site/);
  });

  it("maps timeouts and unsupported browsers", async () => {
    stubGeo((_ok, err) => err({ code: 3, message: "timeout" } as GeolocationPositionError));
    expect(((await currentPosition().catch((x: unknown) => x)) as GeoError).kind).toBe("timeout");
    vi.stubGlobal("navigator", { ...navigator, geolocation: undefined });
    expect(((await currentPosition().catch((x: unknown) => x)) as GeoError).kind).toBe("unsupported");
  });
});
