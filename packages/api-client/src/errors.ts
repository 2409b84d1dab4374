// SPDX-License-Identifier: MIT
// ApiError: every failure of a call to /api, with the error body of DESIGN.md
// ({"error": {code, message, details}, "requestId"}) mapped to one shape, and describeError()
// turning it into a sentence a person can act on.

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  readonly requestId: string | null;
  readonly retryAfterS: number | null;

  constructor(
    status: number,
    code: string,
    message: string,
    details: unknown = null,
    requestId: string | null = null,
    retryAfterS: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
    this.retryAfterS = retryAfterS;
  }
}

const STATUS_CODES: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  413: "payload_too_large",
  415: "unsupported_media_type",
  422: "unprocessable",
  423: "locked",
  429: "rate_limited",
  502: "bad_gateway",
  503: "unavailable",
  504: "timeout",
};

/** Builds an ApiError from a non-2xx response (reads its body; never throws). */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  const requestId = res.headers.get("X-Request-Id");
  const ra = res.headers.get("Retry-After");
  const retryAfterS = ra !== null && /^\d+$/.test(ra.trim()) ? Number(ra.trim()) : null;
  let code = STATUS_CODES[res.status] ?? `http_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  let details: unknown = null;
  let rid = requestId;
  try {
    const text = await res.text();
    if (text) {
      const body = JSON.parse(text) as {
        error?: { code?: unknown; message?: unknown; details?: unknown };
        requestId?: unknown;
      };
      if (body && typeof body === "object" && body.error && typeof body.error === "object") {
        if (typeof body.error.code === "string" && body.error.code) code = body.error.code;
        if (typeof body.error.message === "string" && body.error.message)
          message = body.error.message;
        if (body.error.details !== undefined) details = body.error.details;
      }
      if (body && typeof body.requestId === "string") rid = body.requestId;
    }
  } catch {
    // Not JSON (a proxy's HTML page, an empty body): keep the status-derived code.
  }
  return new ApiError(res.status, code, message, details, rid, retryAfterS);
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** Reads {distanceM, radiusM} from an outside_geofence error's details (object or array form). */
export function geofenceDetails(err: ApiError): { distanceM: number; radiusM: number } | null {
  const d = err.details;
  const pick = (o: unknown) => {
    if (!o || typeof o !== "object") return null;
    const r = o as Record<string, unknown>;
    const distanceM = num(r.distanceM);
    const radiusM = num(r.radiusM);
    return distanceM !== null && radiusM !== null ? { distanceM, radiusM } : null;
  };
  if (Array.isArray(d)) {
    for (const x of d) {
      const p = pick(x);
      if (p) return p;
    }
    return null;
  }
  return pick(d);
}

/** "250 m", "1.2 km" (with a no-break space, so the unit never wraps alone). */
export function formatDistance(m: number): string {
  if (m < 1000) return `${Math.round(m)}\u00a0m`;
  return `${(m / 1000).toFixed(m < 10000 ? 1 : 0)}\u00a0km`;
}

/** A sentence for people: what went wrong and, where we know, what to do about it. */
export function describeError(err: unknown): string {
  if (!(err instanceof ApiError)) {
    if (err instanceof Error && err.message) return err.message;
    return "Something went wrong. Please try again.";
  }
  switch (err.code) {
    case "outside_geofence": {
      const g = geofenceDetails(err);
      if (g)
        return `You are ${formatDistance(g.distanceM)} from the store; punching in is allowed within ${formatDistance(g.radiusM)}. Move closer to the store and try again.`;
      return "You are outside the store's geofence. Move closer to the store and try again.";
    }
    case "inaccurate_location":
      return "Your location is not precise enough (accuracy must be within 200 m). Go outside or near a window, turn on precise location, and try again.";
    case "already_punched_in":
      return "You are already punched in. Punch out first.";
    case "not_punched_in":
      return "You are not punched in.";
    case "already_on_break":
      return "You are already on a break.";
    case "not_on_break":
      return "You are not on a break.";
    case "invalid_credentials":
      return "Wrong email or password.";
    case "account_disabled":
      return "This account has been deactivated. Ask your administrator.";
    case "account_locked":
      return "Too many failed attempts: this account is locked for 15 minutes.";
    case "email_taken":
      return "A user with this email already exists.";
    case "code_taken":
      return "A store with this code already exists.";
    case "already_completed":
      return "This task is already completed.";
    case "not_completed":
      return "This task is not completed.";
    case "self_approval":
      return "You cannot decide your own request.";
    case "already_decided":
      return "Someone has already decided this step.";
    case "not_pending":
      return "This request is no longer pending.";
    case "network_error":
      return "Cannot reach the server. Check your connection and try again.";
    case "session_expired":
      return "Your session has expired. Please sign in again.";
  }
  switch (err.status) {
    case 401:
      return err.message || "Please sign in again.";
    case 403:
      return "You are not allowed to do this.";
    case 404:
      return "Not found. It may have been removed.";
    case 413:
      return "The file is too large (5 MB at most).";
    case 415:
      return "This file type is not accepted (use a JPEG, PNG or WebP photo).";
    case 429:
      return err.retryAfterS
        ? `Too many requests. Try again in ${err.retryAfterS} s.`
        : "Too many requests. Try again shortly.";
    case 502:
    case 503:
    case 504:
      return "The service is temporarily unavailable. Try again in a moment.";
  }
  const fields = validationDetails(err.details);
  const base = err.message || `Request failed (HTTP ${err.status}).`;
  return fields ? `${base}: ${fields}` : base;
}

/** "title must be 1..200 characters; email is invalid" from [{field, message}] details. */
function validationDetails(d: unknown): string {
  if (!Array.isArray(d)) return "";
  return d
    .map((x) => {
      if (typeof x === "string") return x;
      if (!x || typeof x !== "object") return "";
      const r = x as Record<string, unknown>;
      const field = typeof r.field === "string" ? r.field : typeof r.path === "string" ? r.path : "";
      const msg = typeof r.message === "string" ? r.message : typeof r.issue === "string" ? r.issue : "";
      return [field, msg].filter(Boolean).join(" ");
    })
    .filter(Boolean)
    .join("; ");
}
