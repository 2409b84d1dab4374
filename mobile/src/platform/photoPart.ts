// SPDX-License-Identifier: MIT
// React Native's FormData uploads files by URI: the photo (kept in SQLite until accepted) is
// written to a cache file for the upload.
import { File, Paths } from "expo-file-system";

export async function photoPart(p: { mime: string; base64: string }): Promise<object> {
  const ext = p.mime === "image/png" ? "png" : "jpg";
  const f = new File(Paths.cache, `upload-${Date.now()}.${ext}`);
  f.write(p.base64, { encoding: "base64" });
  return { uri: f.uri, name: `photo.${ext}`, type: p.mime };
}
