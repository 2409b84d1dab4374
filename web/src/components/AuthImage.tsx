// SPDX-License-Identifier: MIT
// An image behind the API's bearer auth (punch-in photos): fetched with the token, shown from a
// Blob URL, released on unmount. A plain <img src> cannot send the Authorization header.
import { useEffect, useState } from "react";
import { api } from "../api/client";

export function AuthImage({ src, alt, className }: { src: string; alt: string; className?: string }) {
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    const ctl = new AbortController();
    let objectUrl: string | null = null;
    api
      .raw("GET", src, { signal: ctl.signal, headers: { Accept: "image/*" } })
      .then((r) => r.blob())
      .then((b) => {
        objectUrl = URL.createObjectURL(b);
        setUrl(objectUrl);
      })
      .catch((e: unknown) => {
        if (!(e instanceof DOMException && e.name === "AbortError")) setFailed(true);
      });
    return () => {
      ctl.abort();
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [src]);
  if (failed) return <span className="muted small">Photo unavailable</span>;
  if (!url) return <span className="muted small">Loading photo…</span>;
  return <img className={className} src={url} alt={alt} />;
}
