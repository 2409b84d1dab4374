// SPDX-License-Identifier: MIT
// Distances (haversine, as the attendance service computes them) and the browser's geolocation.

export interface LatLng {
  latitude: number;
  longitude: number;
}

const EARTH_RADIUS_M = 6371008.8;

/** Great-circle distance in metres. */
export function distanceM(a: LatLng, b: LatLng): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLng = (b.longitude - a.longitude) * rad;
  const s =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(s)));
}

export type WithDistance<T> = T & { distanceM: number | null };

/**
 * Sorts places by distance from `from` (nearest first); places with no valid coordinates go last,
 * ties keep their name order. Without a position, sorts by name and distanceM is null.
 */
export function sortByDistance<T extends LatLng & { name?: string }>(
  places: T[],
  from: LatLng | null,
): WithDistance<T>[] {
  const valid = (p: LatLng) =>
    Number.isFinite(p.latitude) &&
    Number.isFinite(p.longitude) &&
    Math.abs(p.latitude) <= 90 &&
    Math.abs(p.longitude) <= 180;
  const withD = places.map((p) => ({
    ...p,
    distanceM: from && valid(from) && valid(p) ? distanceM(from, p) : null,
  }));
  const byName = (a: T, b: T) => (a.name ?? "").localeCompare(b.name ?? "");
  return withD.sort((a, b) => {
    if (a.distanceM === null && b.distanceM === null) return byName(a, b);
    if (a.distanceM === null) return 1;
    if (b.distanceM === null) return -1;
    return a.distanceM - b.distanceM || byName(a, b);
  });
}

export interface Position {
  latitude: number;
  longitude: number;
  accuracyM: number;
}

export class GeoError extends Error {
  readonly kind: "denied" | "unavailable" | "timeout" | "unsupported";
  constructor(kind: GeoError["kind"], message: string) {
    super(message);
    this.name = "GeoError";
    this.kind = kind;
  }
}

export const GEO_MESSAGES: Record<GeoError["kind"], string> = {
  denied:
    "Location permission is off. Allow location for this site in your browser's settings (the lock or info icon next to the address, then Location → Allow) and turn on your phone's location, then try again.",
  unavailable:
    "Your position could not be determined. Turn on your phone's location (GPS), move near a window or outside, and try again.",
  timeout: "Getting your position took too long. Check that location is on and try again.",
  unsupported: "This browser cannot share your location. Use a recent browser on your phone.",
};

/** The current position, with errors mapped to GeoError and a message that says what to do. */
export function currentPosition(timeoutMs = 15000): Promise<Position> {
  return new Promise((resolve, reject) => {
    if (typeof navigator === "undefined" || !navigator.geolocation) {
      reject(new GeoError("unsupported", GEO_MESSAGES.unsupported));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (p) =>
        resolve({
          latitude: p.coords.latitude,
          longitude: p.coords.longitude,
          accuracyM: Math.max(1, Math.round(p.coords.accuracy || 1)),
        }),
      (e) => {
        const kind = e.code === 1 ? "denied" : e.code === 3 ? "timeout" : "unavailable";
        reject(new GeoError(kind, GEO_MESSAGES[kind]));
      },
      { enableHighAccuracy: true, timeout: timeoutMs, maximumAge: 0 },
    );
  });
}
